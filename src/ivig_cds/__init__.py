"""ivig-cds: clinical decision support for IVIG in refractory polymyositis, on declarative rules."""

from __future__ import annotations

__version__ = "0.1.0"

from .engine import Engine, evaluate
from .errors import EngineError, FieldError, InputError, IvigCdsError, PluginError, RuleFileError
from .evaluation import Evaluation, Finding, Status
from .hookspecs import hookimpl
from .patient import Patient

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
    "hookimpl",
]
