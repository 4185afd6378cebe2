"""One IVIG infusion recorded twice (a pharmacy and a nursing record, a resend under a new id): a day's
administrations that share a business identifier are one infusion; two with the same start time and dose
that no identifier tells apart may be one - read as neither (summing them doubles the dose)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
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


def _numbered_apart(mine: dict[str, str], theirs: dict[str, str]) -> bool:
    """Whether a system both records name gives them different values (two MAR rows of one order)."""
    return any(system in theirs and theirs[system] != value for system, value in mine.items())


def _dose(res: Mapping[str, Any]) -> object:
    """The dose as a comparable value: (value, UCUM code or unit), whatever the key order or extra keys."""
    dosage = res.get("dosage")
    dose = dosage.get("dose") if is_obj(dosage) else None
    if not is_obj(dose):
        return repr(dose)
    unit = dose.get("code") or dose.get("unit")
    return (dose.get("value"), _UNITS.get(str(unit).lower(), str(unit)))


_UNITS = {"gram": "g", "grams": "g", "gm": "g", "g": "g"}


def _start(res: Mapping[str, Any]) -> object:
    """The start as an instant when it has a time of day (in UTC when it has a zone: 10:00-05:00 is 15:00Z);
    two records of one day without times say nothing."""
    period = res.get("effectivePeriod")
    moment = res.get("effectiveDateTime") or (period.get("start") if is_obj(period) else None)
    if type(moment) is not str or "T" not in moment:
        return None
    try:
        when = datetime.fromisoformat(moment)
    except ValueError:
        return moment
    return when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo else when


def one_record_each(group: list[Given], rb: ReportBuilder) -> tuple[list[Given], list[str], bool]:
    """A day's administrations (in their order) without the repeats of one infusion.

    Returns:
        The administrations to sum, the references read as repeats (they belong to the course), and whether
        the day's dose is unknown: a repeat with another dose, or two records that may be one infusion.
    """
    kept: list[Given] = []
    repeats: list[str] = []
    unknown = False
    named: dict[tuple[str, str], list[Item]] = {}  # (system, value) -> the records kept with it
    for item, info in group:
        ids = _identifiers(item.resource)
        # a record sharing an identifier that no shared system numbers apart (bags under one order number,
        # each its own MAR row, are two infusions)
        twin = next(
            (
                other
                for key in ids.items()
                for other in named.get(key, ())
                if not _numbered_apart(ids, _identifiers(other.resource))
            ),
            None,
        )
        if twin is None:
            for key in ids.items():
                named.setdefault(key, []).append(item)
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
    timed: dict[tuple[object, object], Item] = {}  # (start, dose) -> the first record
    for item, _ in kept:
        start = _start(item.resource)
        if start is None:
            continue
        said = (start, _dose(item.resource))
        twin = timed.get(said)
        if twin is None:
            timed[said] = item
            continue
        if _numbered_apart(_identifiers(item.resource), _identifiers(twin.resource)):
            continue  # one system numbers them apart: two infusions
        rb.warn(
            item.ref,
            _FIELD,
            f"the same start time and dose as {twin.ref} and no identifier telling them apart: one infusion"
            " recorded twice, or two? The course is not mapped (summing them could double the dose)",
        )
        unknown = True
    return kept, repeats, unknown
