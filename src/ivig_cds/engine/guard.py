"""Plugins after the rules: findings adjustments that can never hide or weaken core safety, and observers.

``adjust_findings`` and ``observe_evaluation`` get deep copies, so nothing a plugin does to what it
receives reaches the result or the engine. An adjustment is compared *by value* with what it was
given: one that drops, downgrades or rewrites a core ``stop`` or ``warning`` finding is refused
whole and reported (``PLUGIN-001``); findings it adds or changes are marked with its name.
"""

from __future__ import annotations

from typing import Any

from ivig_cds.engine.findings import finding_key
from ivig_cds.model.evaluation import Evaluation, Finding
from ivig_cds.plugins.host import PluginHost
from ivig_cds.plugins.spec import EvaluationContext

__all__ = ["adjust_findings", "observe"]

Failures = list[tuple[str, str, str]]
_PROTECTED = ("stop", "warning")


def _validated(items: Any) -> list[Finding]:
    if not isinstance(items, list | tuple):
        raise TypeError(f"adjust_findings must return a list of findings or None, not {type(items).__name__}")
    # re-validated from plain data: a plugin's model_construct() cannot smuggle in an invalid finding
    return [Finding.model_validate(f.model_dump() if isinstance(f, Finding) else f) for f in items]


def adjust_findings(host: PluginHost, result: Evaluation, failures: Failures) -> Evaluation:
    """Let each plugin adjust the findings in turn (name order); core safety takes precedence."""
    findings = list(result.findings)
    for impl in host.impls("adjust_findings"):
        before = {f.model_dump_json(): f for f in findings}
        view = result.model_copy(update={"findings": list(findings)}).model_copy(deep=True)
        got = host.call_one(impl, failures, evaluation=view, findings=[f.model_copy(deep=True) for f in findings])
        if got is None:
            continue
        try:
            new = _validated(got)
            kept = {f.model_dump_json() for f in new}
            for key, core in before.items():
                if core.origin == "core" and core.severity in _PROTECTED and key not in kept:
                    raise ValueError(
                        f"it removed, downgraded or rewrote core finding {core.rule_id} ({core.severity})"
                    )
        except Exception as exc:
            host.fail(impl.plugin_name, "adjust_findings", exc, failures)
            continue
        findings = [
            before.get(key) or f.model_copy(update={"origin": impl.plugin_name})
            for f in new
            for key in [f.model_dump_json()]
        ]
    findings.sort(key=finding_key)
    return result.model_copy(update={"findings": findings})


def observe(host: PluginHost, result: Evaluation, context: EvaluationContext, failures: Failures) -> None:
    """Show the final result to each observer: a copy each, so an observer can change nothing."""
    for impl in host.impls("observe_evaluation"):
        host.call_one(impl, failures, evaluation=result.model_copy(deep=True), context=context)
