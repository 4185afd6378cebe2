"""ivig-cds: clinical decision support for IVIG in refractory polymyositis, on declarative rules."""

from __future__ import annotations

__version__ = "0.1.0"

from .engine import Engine, evaluate  # noqa: E402
from .errors import EngineError, FieldError, InputError, IvigCdsError, PluginError, RuleFileError  # noqa: E402
from .evaluation import Evaluation, Finding, Status  # noqa: E402
from .patient import Patient  # noqa: E402

__all__ = [
    "Engine",
    "EngineError",
    "Evaluation",
    "FieldError",
    "Finding",
    "InputError",
    "IvigCdsError",
    "Patient",
    "PluginError",
    "RuleFileError",
    "Status",
    "__version__",
    "evaluate",
]
