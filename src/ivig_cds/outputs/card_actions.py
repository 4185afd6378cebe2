"""The actions on CDS Hooks cards: card codes (data), override reasons, lab-order and dose-change suggestions.

A suggestion is made only where the action is clear: a draft ``ServiceRequest`` for a serum IgA level or a
creatinine that the pre-IVIG screen lacks, and, for a draft IVIG order whose days match the plan, an update
of that ``MedicationRequest`` to the planned grams per day. Pure Python; no web imports.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ivig_cds.model.format import format_value
from ivig_cds.model.yaml_safe import load_rule_yaml

if TYPE_CHECKING:  # annotations only: no import of the engine at run time
    from ivig_cds.model.evaluation import Evaluation

__all__ = [
    "DoseCheck",
    "DraftOrder",
    "card_codes",
    "dose_check",
    "lab_suggestions",
    "num",
    "override_reasons",
    "prune",
]


@dataclass(frozen=True)
class DraftOrder:
    """The draft IVIG order a card is about, as the EHR sent it and as the patient file read it.

    Attributes:
        resource: The draft ``MedicationRequest`` (the update suggestion is a copy of it).
        g_per_kg_per_day: The ordered daily dose in g/kg (the patient file's ``ivig_order``).
        days: The ordered consecutive infusion days, when the order says.
    """

    resource: Mapping[str, Any]
    g_per_kg_per_day: float | None = None
    days: int | None = None


@lru_cache(maxsize=1)
def card_codes() -> dict[str, Any]:
    data = load_rule_yaml(Path(__file__).with_name("card_codes.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def num(value: float | None, unit: str = "") -> str:
    """A number with at most one decimal, no trailing zeros (``not recorded`` for ``None``)."""
    return "not recorded" if value is None else format_value(value, "message", decimals=1) + unit


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, (str, list, dict)) and not value)


def prune(value: Any) -> Any:
    """Drop nulls and empty strings, arrays and objects (the JSON rules of CDS Hooks)."""
    if isinstance(value, dict):
        out = {k: prune(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if not _empty(v)}
    if isinstance(value, list):
        return [v for v in (prune(v) for v in value) if not _empty(v)]
    return value


def override_reasons() -> list[dict[str, str]]:
    """The override reasons offered on every card (each Coding with its display)."""
    spec = card_codes()["override_reasons"]
    return [{"system": spec["system"], "code": c["code"], "display": c["display"]} for c in spec["codes"]]


def lab_suggestions(gaps: Sequence[str], card: str, subject: str) -> list[dict[str, Any]]:
    """A "create ServiceRequest" suggestion for each lab order that fills one of the screen ``gaps``."""
    out = []
    for order in card_codes()["lab_orders"]:
        if not any(token in gap for gap in gaps for token in order["match"]):
            continue
        resource = {
            "resourceType": "ServiceRequest",
            "status": "draft",
            "intent": "proposal",
            "code": {"coding": [dict(order["coding"])], "text": order["text"]},
            "subject": {"reference": subject},
            "reasonCode": [{"text": "Pre-IVIG screen (ivig-cds)"}],
        }
        out.append(
            {
                "uuid": str(uuid.uuid5(uuid.UUID(card), f"lab|{order['key']}")),
                "label": order["label"],
                "actions": [
                    {
                        "type": "create",
                        "description": f"Create a draft order: {order['text']}",
                        "resource": resource,
                    }
                ],
            }
        )
    return out


@dataclass(frozen=True)
class DoseCheck:
    """A draft order's daily grams against the plan, and the dose-change suggestion when one is clear."""

    ordered_g: float | None
    planned_g: float
    differs: bool
    suggestion: dict[str, Any] | None
    note: str


def dose_check(ev: Evaluation, order: DraftOrder, tolerance_pct: float, card: str) -> DoseCheck | None:
    """Compare the draft order with the dose plan (None without a plan); ``card`` is the card's uuid."""
    plan = ev.dose_plan
    if plan is None:
        return None
    planned = plan.grams_per_day
    if order.g_per_kg_per_day is None:
        return DoseCheck(None, planned, False, None, "the draft order's dose could not be read")
    ordered = round(order.g_per_kg_per_day * plan.actual_weight_kg, 1)
    differs = abs(ordered - planned) > planned * tolerance_pct / 100
    if not differs:
        return DoseCheck(ordered, planned, False, None, "the ordered daily dose matches the plan")
    if order.days != plan.days_per_course:
        # Another schedule (e.g. 0.4 g/kg over 5 days): changing the daily grams alone would be unsafe.
        days = "not stated" if order.days is None else f"{order.days} days"
        note = f"the draft order's days ({days}) differ from the plan's {plan.days_per_course}: review the course"
        return DoseCheck(ordered, planned, True, None, note)
    basis = f"{num(plan.g_per_kg_per_day)} g/kg on {plan.weight_basis} weight {num(plan.dosing_weight_kg)} kg"
    resource = _dose_update(order.resource, planned)
    if resource is None:
        return DoseCheck(ordered, planned, True, None, "the draft order's dosage has several steps: review it")
    suggestion = {
        "uuid": str(uuid.uuid5(uuid.UUID(card), "dose")),
        "label": f"Change the dose to {num(planned)} g/day",
        "actions": [
            {
                "type": "update",
                "description": f"Set the draft IVIG order's dose to {num(planned)} g per day ({basis})",
                "resource": resource,
            }
        ],
    }
    return DoseCheck(ordered, planned, True, suggestion, "the ordered daily dose differs from the plan")


def _dose_update(resource: Mapping[str, Any], grams: float) -> dict[str, Any] | None:
    """The draft MedicationRequest with its one dose set to ``grams`` g; None when the dosage is ambiguous."""
    new = copy.deepcopy(dict(resource))
    instructions = new.get("dosageInstruction") or [{}]
    if not isinstance(instructions, list) or len(instructions) != 1 or not isinstance(instructions[0], dict):
        return None
    rates = instructions[0].get("doseAndRate") or [{}]
    if not isinstance(rates, list) or len(rates) != 1 or not isinstance(rates[0], dict):
        return None
    unit = card_codes()["dose_unit"]
    rates[0] = {**rates[0], "doseQuantity": {"value": grams, **unit}}
    rates[0].pop("doseRange", None)
    instructions[0] = {**instructions[0], "doseAndRate": rates}
    new["dosageInstruction"] = instructions
    pruned = prune(new)
    assert isinstance(pruned, dict)
    return pruned
