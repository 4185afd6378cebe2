"""Dose records: MedicationStatements ``partOf`` a therapy (an order or a statement) of their drug, each
traced to the therapy at the root of its chain; and the reason a statement ``partOf`` something is not one."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any

from .clinical import outcome_of
from .index import Index, Item
from .mapping import FhirMapping
from .medications import DoseStep, MappingProblem, MedInfo, identify, quoted, resource_period
from .report import ReportBuilder
from .routes import local_use
from .values import is_obj, reference

__all__ = [
    "REQUEST_INTENTS",
    "REQUEST_USED",
    "STATEMENT_USED",
    "DoseRecords",
    "dose_records",
    "fold_records",
    "resource_outcome",
]

REQUEST_INTENTS = frozenset({"order", "original-order", "reflex-order", "filler-order", "instance-order"})
REQUEST_USED = frozenset({"active", "on-hold", "completed", "stopped", "unknown"})
STATEMENT_USED = frozenset({"active", "completed", "stopped", "on-hold", "unknown"})
_GOING = frozenset({"active", "on-hold", "unknown"})


class DoseRecords:
    """``root``: a dose record's ``Type/id`` -> the therapy at the root of its ``partOf`` chain (a record of a
    record of an order is a record of the order); ``why_not``: a statement ``partOf`` something that is no
    read therapy of its drug -> why (it is a therapy of its own, warned)."""

    __slots__ = ("parent", "root", "why_not")

    def __init__(self) -> None:
        self.root: dict[str, Item] = {}
        self.parent: dict[str, str] = {}
        """A dose record's ``Type/id`` -> its own therapy's (the record or order it is ``partOf``)."""
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
                if not (is_obj(entry) and "reference" not in entry):  # (a display only: nothing to follow)
                    reasons.append("a partOf entry is no FHIR Reference (an object with a reference)")
                continue
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
    state: dict[str, bool] = {}  # a statement on the path being followed (True), or settled (False)
    for first in list(direct):  # loops first: their statements are no records, so chains into them end there
        path: list[str] = []
        node = first
        while node in direct and node not in state:
            state[node] = True
            path.append(node)
            node = direct[node].ref
        if state.get(node):  # back on this path: a loop, from ``node`` on
            for member in path[path.index(node) :]:
                out.why_not[member] = (
                    f"partOf {direct[member].ref[:80]}, whose partOf chain leads back to this statement"
                )
                del direct[member]
        for member in path:
            state[member] = False
    for ref in direct:  # each chain followed once: its statements share its root
        path = []
        node = ref
        while node in direct and node not in out.root:
            path.append(node)
            node = direct[node].ref
        if not path:  # (its root found already, from a statement further down its chain)
            continue
        root = out.root[node] if node in out.root else direct[path[-1]]
        for member in path:
            out.root[member] = root
    out.parent = {ref: item.ref for ref, item in direct.items()}
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


Fold = tuple[str, Item, MedInfo, list[DoseStep]]
"""A dose record to fold into its therapy: (the root therapy's ``Type/id``, the record, its drug, its steps)."""
MakeTherapy = Callable[[Item, MedInfo, list[DoseStep]], "tuple[dict[str, Any], list[date]] | None"]


def fold_records(
    folds: Sequence[Fold],
    therapies: list[tuple[dict[str, Any], list[date]]],
    roots: Mapping[str, Item],
    mapping: FhirMapping,
    rb: ReportBuilder,
    make_therapy: MakeTherapy,
) -> set[str]:
    """What dose records say of their therapies in ``therapies``: their days (not a glucocorticoid record's of
    a mapped therapy: those days are its doses) and, when the therapy's own outcome is unknown, the outcome
    they agree on. A therapy that is not mapped (no start, ended without an end date) is its records' days,
    with its own outcome when it has one. Records are taken by date, then reference: the input order never
    decides."""
    made_for: set[str] = set()  # the therapies not mapped that their records made
    mapped = {t["source"]: t for t, _ in therapies}
    groups: dict[str, list[tuple[Item, MedInfo, list[DoseStep]]]] = {}
    for root_ref, item, info, steps in folds:
        groups.setdefault(root_ref, []).append((item, info, steps))
    for root_ref in sorted(groups):
        group = sorted(groups[root_ref], key=lambda g: (_span(g[0], g[2])[0] or date.max, g[0].ref))
        therapy = mapped.get(root_ref)
        root_mapped = therapy is not None
        rest = group
        if therapy is None:
            for k, (item, info, steps) in enumerate(group):
                made = make_therapy(item, info, steps)
                if made is not None:
                    therapies.append(made)
                    therapy, rest = made[0], group[k + 1 :]
                    rb.convert(root_ref, "therapies", f"its dose records are the therapy (from {item.ref[:80]})")
                    made_for.add(root_ref)
                    break
            if therapy is None:
                continue
            therapy["outcome"] = resource_outcome(roots[root_ref].resource, mapping, rb, root_ref)
        for item, info, steps in rest:
            if not (root_mapped and info.agent in mapping.glucocorticoids):
                _widen(therapy, item, steps, rb)
        if therapy["outcome"] != "unknown":
            continue
        outcomes = {resource_outcome(item.resource, mapping, rb, item.ref) for item, _, _ in group} - {"unknown"}
        if len(outcomes) == 1:
            therapy["outcome"] = outcomes.pop()
        elif outcomes:
            rb.warn(
                root_ref,
                "therapies.outcome",
                f"its dose records' outcomes disagree ({', '.join(sorted(outcomes))}): unknown",
            )
    return made_for


def resource_outcome(res: Mapping[str, Any], mapping: FhirMapping, rb: ReportBuilder, ref: str) -> str:
    """A therapy resource's outcome, from its ``statusReason`` and ``reasonCode`` (:func:`outcome_of`)."""
    said = res.get("statusReason")
    return outcome_of(said if isinstance(said, list) else [said], res.get("reasonCode") or [], mapping, rb, ref)


def _span(record: Item, steps: Sequence[DoseStep]) -> tuple[date | None, date | None]:
    start, end = resource_period(record)
    if start is None and steps:
        start = min(s.start for s in steps)
    if end is None and steps and all(s.end is not None for s in steps):
        end = max(s.end for s in steps if s.end is not None)
    return start, end


def _widen(therapy: dict[str, Any], record: Item, steps: Sequence[DoseStep], rb: ReportBuilder) -> None:
    """Widen a therapy by one of its dose records: the record's days are days of the therapy (a statement
    partOf a January order that says methotrexate was taken to June: the trial lasted to June)."""
    start, end = _span(record, steps)
    if start is None:  # no usable start: its days are unknown, so they say nothing of the therapy's
        return
    if end is not None and end < start:
        rb.warn(record.ref, "therapies", "ends before it starts: its days are not read")
        return
    if start.isoformat() < therapy["start"]:
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
