"""The plugin hook specifications: every way a plugin can extend ivig-cds.

Hooks are grouped under banners. Each docstring says what the hook receives, what it returns,
when it is called and whether the first result wins. Implement them with::

    from ivig_cds import hookimpl

    @hookimpl
    def register_rules(register):
        register(Path(__file__).parent / "rules.yaml")

Every hook is called once per :class:`~ivig_cds.Engine` (registration hooks) or once per
evaluation (``adjust_findings``, ``observe_evaluation``), one plugin at a time: a plugin that
raises is reported in the result (``engine.plugin_failures`` and a ``PLUGIN-001`` warning) and
the others still run. Arguments are always passed by keyword.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from ivig_cds.model.evaluation import Evaluation, Finding
    from ivig_cds.plugins.host import EvaluationContext, FactDeriver, OutputFormatSpec

__all__ = ["PROJECT", "hookimpl", "hookspec"]

PROJECT = "ivig_cds"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --------------------------------------------------------------------------------------------
# Registration: called once when an Engine is built
# --------------------------------------------------------------------------------------------


@hookspec
def register_rules(register: Callable[[Path | Mapping[str, Any]], None]) -> None:
    """Register declarative rule files (YAML paths) or rule-file-shaped mappings.

    Args:
        register: Call it once per rule file: ``register(Path(...))`` or ``register({...})``.
            Rule ids of a plugin must carry its namespace, ``<plugin_name>:FAMILY-NNN``
            (the built-in rules have none). A rule file may declare new ``thresholds``.

    Returns:
        Nothing; results are collected through ``register``.

    Called once per Engine, before the rules are compiled. Not firstresult.
    """


@hookspec
def register_fact_derivers(register: Callable[[FactDeriver], None]) -> None:
    """Register functions that add facts (or fields of the ``patient`` fact) for rules to test.

    Args:
        register: Call it with a :class:`~ivig_cds.plugins.FactDeriver`: its name, the fact type,
            the typed fields it fills (they join the fact catalog so rules are validated against
            them) and ``derive(patient, as_of, thresholds) -> dict | list[dict]``.

    Called once per Engine; each deriver then runs once per evaluation. Not firstresult.
    """


@hookspec
def provide_thresholds() -> Mapping[str, Any] | None:
    """Return site values for named thresholds (e.g. ``{"low_dose_gc_mg": 5}``).

    Returns:
        A mapping of threshold name to value, or ``None``. Unknown names and wrong types are
        plugin errors. Values given to ``Engine(thresholds=...)`` win over every plugin; two
        plugins giving different values for one threshold is a plugin error.

    Called once per Engine, before the rules are compiled. Not firstresult.
    """


@hookspec
def register_output_formats(register: Callable[[OutputFormatSpec], None]) -> None:
    """Register output formats, usable as ``ivig-cds evaluate --format NAME`` and from the API.

    Args:
        register: Call it with an :class:`~ivig_cds.plugins.OutputFormatSpec` (name, description,
            ``render(evaluations) -> str``, media type). Names are unique across plugins.

    Called once per Engine. Not firstresult.
    """


# --------------------------------------------------------------------------------------------
# Per evaluation
# --------------------------------------------------------------------------------------------


@hookspec
def adjust_findings(evaluation: Evaluation, findings: list[Finding]) -> list[Finding] | None:
    """Return an adjusted list of findings (add local findings, add links), or ``None`` to leave them.

    Args:
        evaluation: The evaluation so far (status, dose plan, findings before this plugin).
        findings: A copy of the current findings; return a new list.

    Returns:
        The new findings, or ``None``. Core safety takes precedence: an adjustment that drops,
        downgrades or rewrites a core ``stop`` or ``warning`` finding is rejected whole and
        reported as a plugin failure. Findings a plugin adds are marked with its name (``origin``).

    Called once per evaluation, plugin by plugin in name order. Not firstresult.
    """


@hookspec
def observe_evaluation(evaluation: Evaluation, context: EvaluationContext) -> None:
    """Observe a finished evaluation (audit trail, metrics, EHR write-back).

    Args:
        evaluation: The final result. Observers cannot change it.
        context: Identifiers safe to log: the input's SHA-256, the ruleset hash, the plugins in force.

    Called once per evaluation, after ``adjust_findings``. Not firstresult.
    """
