"""ivig-cds: clinical decision support for IVIG in refractory polymyositis, on declarative rules.

Everything an embedding program or a plugin author needs is importable from here::

    from ivig_cds import Engine, Severity, hookimpl, FactDeriver, FactField

The errors form one tree (:mod:`ivig_cds.errors`): ``IvigCdsError`` > ``InputError``,
``RuleFileError``, ``EngineError``, ``PluginError``.
"""

from __future__ import annotations

import importlib
import typing as _typing

from ivig_cds import _compat
from ivig_cds._version import __version__

if _typing.TYPE_CHECKING:  # the names, for type checkers; at run time they load on first use (see __getattr__)
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

_HOMES: dict[str, str] = {
    "EngineSpec": "ivig_cds.engine.config",
    "Engine": "ivig_cds.engine.engine",
    "Trace": "ivig_cds.engine.engine",
    "evaluate": "ivig_cds.engine.engine",
    "EngineError": "ivig_cds.errors",
    "FieldError": "ivig_cds.errors",
    "InputError": "ivig_cds.errors",
    "IvigCdsError": "ivig_cds.errors",
    "PluginError": "ivig_cds.errors",
    "RuleFileError": "ivig_cds.errors",
    "FactField": "ivig_cds.facts.fields",
    "AsOfSource": "ivig_cds.model.evaluation",
    "DosePlan": "ivig_cds.model.evaluation",
    "Eligibility": "ivig_cds.model.evaluation",
    "Evaluation": "ivig_cds.model.evaluation",
    "Finding": "ivig_cds.model.evaluation",
    "Outcome": "ivig_cds.model.evaluation",
    "Response": "ivig_cds.model.evaluation",
    "ResponseLevel": "ivig_cds.model.evaluation",
    "Severity": "ivig_cds.model.evaluation",
    "Status": "ivig_cds.model.evaluation",
    "Patient": "ivig_cds.model.patient",
    "EvaluationContext": "ivig_cds.plugins.spec",
    "FactDeriver": "ivig_cds.plugins.spec",
    "OutputFormat": "ivig_cds.plugins.spec",
    "OutputRecord": "ivig_cds.plugins.spec",
    "Writer": "ivig_cds.plugins.spec",
    "WriterOptions": "ivig_cds.plugins.spec",
    "hookimpl": "ivig_cds.plugins.spec",
}
"""Each public name -> the module that defines it (imported on first access: ``ivig-cds --version``
and ``import ivig_cds`` stay cheap; the engine, pydantic and durable load when first used)."""


_MODULES = frozenset(
    {
        "backends",
        "batch",
        "commands",
        "console",
        "engine",
        "errors",
        "facts",
        "inputs",
        "model",
        "outputs",
        "plugins",
        "rulebook",
        "cli",
        "cohort",
        "explain",
        "glossary",
        "verdict",
    }
)
"""Modules that ``ivig_cds.NAME`` still reaches after a bare ``import ivig_cds`` (imported on access; not
the optional ``arrow``, ``spark`` and ``service``, whose extras may be absent)."""


def __getattr__(name: str) -> _typing.Any:
    home = _HOMES.get(name)
    if home is None:
        if name in _MODULES:
            return importlib.import_module(f"ivig_cds.{name}")
        raise AttributeError(f"module 'ivig_cds' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # later accesses skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


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
