"""ivig-cds: clinical decision support for IVIG in refractory polymyositis, on declarative rules.

Everything an embedding program or a plugin author needs is importable from here::

    from ivig_cds import Engine, Severity, hookimpl, FactDeriver, FactField

The errors form one tree (:mod:`ivig_cds.errors`): ``IvigCdsError`` > ``InputError``,
``RuleFileError``, ``EngineError``, ``PluginError``.
"""

from __future__ import annotations

from ivig_cds import _compat
from ivig_cds._version import __version__
from ivig_cds.engine.config import EngineSpec
from ivig_cds.engine.engine import Engine, Trace, evaluate
from ivig_cds.errors import EngineError, FieldError, InputError, IvigCdsError, PluginError, RuleFileError
from ivig_cds.facts.fields import FactField
from ivig_cds.model.evaluation import (
    AsOfSource,
    DosePlan,
    Eligibility,
    Evaluation,
    Finding,
    Outcome,
    Response,
    ResponseLevel,
    Severity,
    Status,
)
from ivig_cds.model.patient import Patient
from ivig_cds.plugins.spec import (
    EvaluationContext,
    FactDeriver,
    OutputFormat,
    OutputRecord,
    Writer,
    WriterOptions,
    hookimpl,
)

_compat.install()

__all__ = [
    "AsOfSource",
    "DosePlan",
    "Eligibility",
    "Engine",
    "EngineError",
    "EngineSpec",
    "Evaluation",
    "EvaluationContext",
    "FactDeriver",
    "FactField",
    "FieldError",
    "Finding",
    "InputError",
    "IvigCdsError",
    "Outcome",
    "OutputFormat",
    "OutputRecord",
    "Patient",
    "PluginError",
    "Response",
    "ResponseLevel",
    "RuleFileError",
    "Severity",
    "Status",
    "Trace",
    "Writer",
    "WriterOptions",
    "__version__",
    "evaluate",
    "hookimpl",
]
