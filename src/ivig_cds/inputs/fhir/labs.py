"""The patient file's ``labs``: creatinine, eGFR, IgA, haemoglobin, units converted - and a test whose latest
result cannot be read is never answered by an older one."""

from __future__ import annotations

from datetime import date
from typing import Any

from .clinical import ObsValue, field_of
from .mapping import FhirMapping
from .report import ReportBuilder
from .sections import convert, moment_key

__all__ = ["labs"]


_OLDER_AS_CURRENT = (
    "the test's latest result, not read: its older results are not mapped either (they would be evaluated as"
    " the current one)"
)


_WITHIN = "the test's latest result, not read (a value with a comparator): the earlier {} is within it, read"


def _within(o: ObsValue, earlier: float, test: str, table: FhirMapping) -> bool:
    """Whether a result with a comparator (">60", "<7") holds the earlier value read: then that value says
    nothing the latest contradicts (an eGFR of 75 last year, ">60" today)."""
    q = o.quantity
    bound = table.units[test].convert(q.value, q.unit) if q is not None and q.comparator else None
    if bound is None or q is None:
        return False
    return (
        earlier >= bound
        if q.comparator in (">", ">=")
        else earlier <= bound
        if q.comparator in ("<", "<=")
        else False
    )


def labs(obs: dict[str, list[ObsValue]], table: FhirMapping, rb: ReportBuilder) -> list[dict[str, Any]]:
    out: list[tuple[tuple[date, str, int], dict[str, Any]]] = []
    for test in table.labs:
        rows: list[tuple[tuple[date, str, int], dict[str, Any]]] = []
        unusable: list[ObsValue] = []
        for o in obs.get(f"lab:{test}", []):
            value = convert(o, test, table, rb)
            if value is not None:
                row = {"date": o.day.isoformat(), "test": test, "value": round(value, 6), "source": o.item.ref}
                rows.append((moment_key(o), row))
            else:
                unusable.append(o)
        latest = max(unusable, key=moment_key, default=None)
        newest = max(rows, key=lambda r: r[0], default=None)
        if newest is not None and latest is not None and moment_key(latest)[:2] > newest[0][:2]:  # a later moment
            if _within(latest, newest[1]["value"], test, table):  # ">60" now, 75 before: the 75 says no more
                rb.warn(latest.item.ref, field_of(latest.kind), _WITHIN.format(newest[1]["source"]))
            else:
                # "IgA <7 mg/dL" today, 150 five years ago: the 150 would be read as today's IgA - the test is
                # left unrecorded instead (a data gap, never an old value posing as the current one)
                rb.warn(latest.item.ref, field_of(latest.kind), _OLDER_AS_CURRENT)
                rb.incomplete("labs", latest.item.ref)
                rows = []
        out += rows
    # in time order: of two labs of one day, the later (by the time written) is last, and is the one used
    return [row for _, row in sorted(out, key=lambda r: r[0])]
