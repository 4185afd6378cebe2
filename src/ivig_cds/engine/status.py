"""The status block and the dose plan, assembled from the rules' conclusions as ``rules/status.yaml`` says.

Adding a status field takes its line in ``status.yaml`` and its field on the ``Status`` model:
rules conclude values (``exclusive``, ``precedence``, ``collect``), or the field is read from the
patient fact (``fact``, rounded for display only), from another field's concluding rules
(``reasons``) or from the evaluation itself (``context``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ivig_cds.engine.findings import trusted
from ivig_cds.errors import EngineError, RuleFileError
from ivig_cds.facts.derive import Derived
from ivig_cds.model.evaluation import DosePlan, Status, StatusSource
from ivig_cds.rulebook.spec import RuleBook

__all__ = ["assemble_status", "check_status_table", "dose_plan"]


def check_status_table(book: RuleBook) -> None:
    """Every ``Status`` field has a line in the status table (a load error otherwise)."""
    missing = [name for name in Status.model_fields if name not in book.status]
    if missing:
        raise RuleFileError("status.yaml", f"no line for the Status field(s) {', '.join(missing)}")


def assemble_status(
    book: RuleBook, fired: Mapping[str, Any], derived: Derived, context: Mapping[str, Any]
) -> tuple[Status, list[StatusSource], dict[str, Any]]:
    """The status, which rule set each value, and every status-table value (internal ones included).

    Raises:
        EngineError: Two rules concluded different values of an ``exclusive`` field.
    """
    concluded: dict[str, list[tuple[Any, str]]] = {}
    versions = {rid: book.rules[rid].spec.version for rid in fired}
    for rid in sorted(fired):
        for name, value in book.rules[rid].spec.sets.items():
            concluded.setdefault(name, []).append((value, rid))
    values: dict[str, Any] = {}
    sources: list[StatusSource] = []
    for name, spec in book.status.items():
        if not spec.concluded:
            continue
        got = concluded.get(name, [])
        distinct = {v for v, _ in got}
        if spec.mode == "collect":
            values[name] = [v for v in spec.values if v in distinct]
        elif not got:
            values[name] = spec.default
        elif spec.mode == "exclusive" and len(distinct) > 1:
            detail = ", ".join(f"{rid}={v!r}" for v, rid in got)
            raise EngineError(f"rules concluded conflicting values for status.{name}: {detail}")
        else:
            values[name] = next(v for v in spec.values if v in distinct)
        for v, rid in got:
            sources.append(  # trusted: a status field's name, a value from a validated rule, its id and version
                trusted(StatusSource, {"field": name, "value": v, "rule_id": rid, "rule_version": versions[rid]})
            )
    p = derived.patient
    for name, spec in book.status.items():
        if spec.mode == "fact":
            raw = p.get(str(spec.source))
            values[name] = round(raw, spec.round) if spec.round is not None and raw is not None else raw
        elif spec.mode == "reasons":
            shown = values[str(spec.source)]
            values[name] = sorted({rid for v, rid in concluded.get(str(spec.source), []) if v == shown})
        elif spec.mode == "context":
            values[name] = context[str(spec.source)]
    for name, spec in book.status.items():
        if any(values[other] != wanted for other, wanted in spec.when):
            values[name] = [] if spec.mode == "collect" else spec.default
    status = Status(**{name: values[name] for name in Status.model_fields})
    return status, sources, values


def dose_plan(
    derived: Derived, thresholds: Mapping[str, Any], weight_basis: str, basis_rule: str | None
) -> DosePlan | None:
    """The seed regimen on the dosing weight (actual, or adjusted when a rule chose it)."""
    p, t = derived.patient, thresholds
    actual = p.get("weight_kg")
    if actual is None:
        return None
    weight = p["adjusted_weight_kg"] if weight_basis == "adjusted" else float(actual)
    per_day = round(weight * float(t["dose_g_per_kg_per_day"]), 1)
    days = int(t["days_per_course"])
    return DosePlan(
        weight_basis=weight_basis,  # type: ignore[arg-type]
        dosing_weight_kg=round(float(weight), 1),
        actual_weight_kg=float(actual),
        g_per_kg_per_day=float(t["dose_g_per_kg_per_day"]),
        grams_per_day=per_day,
        days_per_course=days,
        interval_weeks=int(t["interval_weeks"]),
        courses_in_first_phase=str(t["courses_in_first_phase"]),
        grams_per_course=round(per_day * days, 1),
        basis_rule=basis_rule,
    )
