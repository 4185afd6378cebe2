"""Dose records: MedicationStatements ``partOf`` a therapy (an order or a statement) of their drug, each
traced to the therapy at the root of its chain; and the reason a statement ``partOf`` something is not one."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from .index import Index, Item
from .mapping import FhirMapping
from .medications import DoseStep, MappingProblem, MedInfo, identify, quoted, resource_period
from .routes import local_use
from .values import reference

__all__ = [
    "REQUEST_INTENTS",
    "REQUEST_USED",
    "STATEMENT_USED",
    "DoseRecords",
    "dose_records",
    "fold_span",
]

REQUEST_INTENTS = frozenset({"order", "original-order", "reflex-order", "filler-order", "instance-order"})
REQUEST_USED = frozenset({"active", "on-hold", "completed", "stopped", "unknown"})
STATEMENT_USED = frozenset({"active", "completed", "stopped", "on-hold", "unknown"})
_GOING = frozenset({"active", "on-hold", "unknown"})


class DoseRecords:
    """``root``: a dose record's ``Type/id`` -> the therapy at the root of its ``partOf`` chain (a record of a
    record of an order is a record of the order); ``why_not``: a statement ``partOf`` something that is no
    read therapy of its drug -> why (it is a therapy of its own, warned)."""

    __slots__ = ("root", "why_not")

    def __init__(self) -> None:
        self.root: dict[str, Item] = {}
        self.why_not: dict[str, str] = {}

    @property
    def parents(self) -> set[str]:
        """The therapies whose doses are (partly) in dose records."""
        return {item.ref for item in self.root.values()}


def dose_records(items: Sequence[Item], index: Index, mapping: FhirMapping) -> DoseRecords:
    """The dose records among the patient's medication resources ``items`` (the ones read: the patient's, at
    or before ``as_of``, of an R4 status).

    A statement (taken or possibly taken) is a dose record of the first of its ``partOf`` targets that is a
    read therapy of its drug (:func:`_not_a_therapy_of`). A chain of records leads to its root therapy; a
    chain that leads back to a statement (r1 ``partOf`` r2 ``partOf`` r1) has no root: each statement of the
    loop is a therapy of its own.
    """
    read = {id(item) for item in items}
    infos: dict[int, MedInfo | None] = {}
    out = DoseRecords()
    direct: dict[str, Item] = {}
    for item in items:
        res = item.resource
        part_of = res.get("partOf")
        if item.kind != "MedicationStatement" or res.get("status") not in STATEMENT_USED:
            continue
        if not isinstance(part_of, list) or not part_of:
            continue
        reasons: list[str] = []
        for entry in part_of:
            ref = reference(entry)
            if ref is None:
                continue  # a display only: nothing to follow
            target = index.resolve_item(ref)
            if target is None:
                reasons.append(f"partOf {quoted(ref[:80])} is not in the input")
                continue
            problem = _not_a_therapy_of(item, target, read, index, mapping, infos)
            if problem is None:
                direct[item.ref] = target
                break
            reasons.append(problem)
        else:
            if reasons:
                out.why_not[item.ref] = reasons[0]
    for ref in list(direct):  # loops first: their statements are no records, so chains into them end there
        if ref not in direct:  # (a statement of a loop found already)
            continue
        chain = [ref]
        node = direct[ref]
        while node.ref in direct and node.ref not in chain:
            chain.append(node.ref)
            node = direct[node.ref]
        if node.ref in direct and node.ref in chain:
            for member in chain[chain.index(node.ref) :]:
                if member in direct:
                    out.why_not[member] = (
                        f"partOf {direct[member].ref[:80]}, whose partOf chain leads back to this statement"
                    )
                    del direct[member]
    for ref, parent in direct.items():
        seen = {ref}
        while parent.ref in direct and parent.ref not in seen:
            seen.add(parent.ref)
            parent = direct[parent.ref]
        out.root[ref] = parent
    return out


def _not_a_therapy_of(
    item: Item, target: Item, read: set[int], index: Index, mapping: FhirMapping, infos: dict[int, MedInfo | None]
) -> str | None:
    """Why ``target`` holds no dose record of ``item``; ``None`` when it does: a read order or statement
    (not a draft, a proposal, entered-in-error, another patient's, after ``as_of``), not acting locally, of
    the same agent - or, for a glucocorticoid, of any glucocorticoid (doses add up as prednisone-equivalent:
    a prednisone record of a prednisolone course)."""
    if target is item:
        return "partOf itself"
    res = target.resource
    status = res.get("status")
    shown = f"status {status}" if isinstance(status, str) and status.isascii() and len(status) < 40 else "status"
    if target.kind not in ("MedicationRequest", "MedicationStatement"):
        return f"partOf {target.ref[:80]}, not a dose record of it (a {target.kind} is no therapy)"
    if id(target) not in read:
        return f"partOf {target.ref[:80]}, which is not read (another patient's, after as_of, or not an R4 status)"
    if target.kind == "MedicationRequest" and status not in REQUEST_USED:
        return f"partOf {target.ref[:80]}, which is no therapy ({shown})"
    if target.kind == "MedicationRequest" and res.get("intent") not in REQUEST_INTENTS:
        return f"partOf {target.ref[:80]}, which is no therapy (not an order: its intent)"
    if target.kind == "MedicationStatement" and status not in STATEMENT_USED:
        return f"partOf {target.ref[:80]}, which is no therapy ({shown})"
    mine, theirs = _info(item, index, mapping, infos), _info(target, index, mapping, infos)
    steroids = mapping.glucocorticoids
    if (
        mine is None
        or theirs is None
        or mine.agent is None
        or not (mine.agent == theirs.agent or (mine.agent in steroids and theirs.agent in steroids))
    ):
        return f"partOf {target.ref[:80]}, not a dose record of it (not a therapy of this drug)"
    if local_use(item, mine, index, mapping) is not None or local_use(target, theirs, index, mapping) is not None:
        return f"partOf {target.ref[:80]}, not a dose record of it (one of them acts locally)"
    return None


def _info(item: Item, index: Index, mapping: FhirMapping, infos: dict[int, MedInfo | None]) -> MedInfo | None:
    key = id(item)
    if key not in infos:
        try:
            infos[key] = identify(item, index, mapping)
        except MappingProblem:
            infos[key] = None
    return infos[key]


def fold_span(therapy: dict[str, Any], record: Item, steps: Sequence[DoseStep], outcome: str) -> None:
    """Widen a therapy by one of its dose records: the record's days are days of the therapy (a statement
    partOf a January order that says methotrexate was taken to June: the trial lasted to June), and a known
    outcome of the record is the therapy's when its own is unknown."""
    start, end = resource_period(record)
    if start is None and steps:
        start = min(s.start for s in steps)
    if end is None and steps and all(s.end is not None for s in steps):
        end = max(s.end for s in steps if s.end is not None)
    if start is not None and start.isoformat() < therapy["start"]:
        therapy["start"] = start.isoformat()
    stop = therapy["stop"]
    if stop is not None:
        if (
            end is None
            and record.resource.get("status") in _GOING
            and not (steps and all(s.mg_per_day == 0 for s in steps))
        ):
            therapy["stop"] = None  # still taken, the record says (not: a dose of 0 mg from a day on)
        elif end is not None and end > date.fromisoformat(stop):
            therapy["stop"] = end.isoformat()
    if therapy["outcome"] == "unknown" and outcome != "unknown":
        therapy["outcome"] = outcome
