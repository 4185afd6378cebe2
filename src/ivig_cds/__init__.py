"""ivig-cds: clinical decision support for IVIG in refractory polymyositis, on declarative rules."""

from __future__ import annotations

from ivig_cds import _compat
from ivig_cds._version import __version__
from ivig_cds.engine import Engine, evaluate
from ivig_cds.errors import EngineError, FieldError, InputError, IvigCdsError, PluginError, RuleFileError
from ivig_cds.model.evaluation import Evaluation, Finding, Status
from ivig_cds.model.patient import Patient
from ivig_cds.plugins.spec import hookimpl

_compat.install()

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
