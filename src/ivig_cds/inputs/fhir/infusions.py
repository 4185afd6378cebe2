"""One IVIG infusion recorded twice (a pharmacy and a nursing record, a resend under a new id): a day's
administrations that share a business identifier are one infusion; two with the same start time and dose
that no identifier tells apart may be one - read as neither (summing them doubles the dose)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .index import Item
from .medications import MedInfo
from .report import ReportBuilder
from .values import array, is_obj

__all__ = ["one_record_each"]

_FIELD = "ivig_courses"
Given = tuple[Item, MedInfo]


def _identifiers(res: Mapping[str, Any]) -> dict[str, str]:
    """``system -> value`` of the resource's identifiers that have both (the first of a system)."""
    out: dict[str, str] = {}
    for ident in array(res.get("identifier")):
        if is_obj(ident):
            system, value = ident.get("system"), ident.get("value")
            if type(system) is str and type(value) is str and system and value:
                out.setdefault(system, value)
    return out


def _dose(res: Mapping[str, Any]) -> object:
    dosage = res.get("dosage")
    return dosage.get("dose") if is_obj(dosage) else None


def _start(res: Mapping[str, Any]) -> str | None:
    """The start as written when it has a time of day (two records of one day without times say nothing)."""
    period = res.get("effectivePeriod")
    moment = res.get("effectiveDateTime") or (period.get("start") if is_obj(period) else None)
    return moment if type(moment) is str and "T" in moment else None


def one_record_each(group: list[Given], rb: ReportBuilder) -> tuple[list[Given], list[str], bool]:
    """A day's administrations (in their order) without the repeats of one infusion.

    Returns:
        The administrations to sum, the references read as repeats (they belong to the course), and whether
        the day's dose is unknown: a repeat with another dose, or two records that may be one infusion.
    """
    kept: list[Given] = []
    repeats: list[str] = []
    unknown = False
    named: dict[tuple[str, str], Item] = {}  # (system, value) -> the first record with it
    for item, info in group:
        ids = _identifiers(item.resource)
        twin = next((named[key] for key in ids.items() if key in named), None)
        if twin is None:
            for key in ids.items():
                named[key] = item
            kept.append((item, info))
            continue
        repeats.append(item.ref)
        if _dose(item.resource) == _dose(twin.resource):
            rb.warn(item.ref, _FIELD, f"the same identifier as {twin.ref}: one infusion recorded twice, read once")
        else:
            rb.warn(
                item.ref,
                _FIELD,
                f"the same identifier as {twin.ref} with another dose: which dose is right is unknown,"
                " the course is not mapped",
            )
            unknown = True
    timed: dict[tuple[str, str], Item] = {}  # (start, dose) -> the first record
    for item, _ in kept:
        start = _start(item.resource)
        if start is None:
            continue
        key = (start, repr(_dose(item.resource)))
        twin = timed.get(key)
        if twin is None:
            timed[key] = item
            continue
        mine, theirs = _identifiers(item.resource), _identifiers(twin.resource)
        if any(system in theirs for system in mine):  # one system numbers them apart: two infusions
            continue
        rb.warn(
            item.ref,
            _FIELD,
            f"the same start time and dose as {twin.ref} and no identifier telling them apart: one infusion"
            " recorded twice, or two? The course is not mapped (summing them could double the dose)",
        )
        unknown = True
    return kept, repeats, unknown
