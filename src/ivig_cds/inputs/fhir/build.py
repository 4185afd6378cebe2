"""Build one patient file from FHIR R4 resources: select the patient, map every resource, validate, report."""

from __future__ import annotations

import bisect
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ivig_cds.errors import FieldError, InputError
from ivig_cds.inputs.files import check_patient_id
from ivig_cds.model.patient import Patient

from .index import READ_TYPES, STATUSES, Index, Item
from .labs import labs
from .mapping import FhirMapping, load_mapping
from .report import MappingReport, ReportBuilder
from .screen import adverse_events, procedures, risk_factors
from .sections import assessments, convert, demographics, diagnosis, observations, preventive_care
from .therapy import map_medications
from .values import is_obj, reference

__all__ = ["FhirInputError", "MappingResult", "check_fhir_as_of", "map_entries", "not_a_list", "type_name"]


class FhirInputError(InputError):
    """FHIR input that cannot make a valid patient file; ``report`` says what was read before it failed."""

    what = "FHIR input"

    def __init__(self, source: str, errors: list[FieldError], report: MappingReport) -> None:
        super().__init__(source, errors)
        self.report = report


@dataclass(frozen=True)
class MappingResult:
    """The outcome of mapping: the patient (``None`` when ``errors``), its document (partial when there are
    errors, ``None`` when no patient was selected), the report and the errors."""

    patient: Patient | None
    document: dict[str, Any] | None
    report: MappingReport
    errors: list[FieldError]

    def raise_for_errors(self, source: str) -> Patient:
        """The patient, or :class:`FhirInputError` listing every problem."""
        if self.patient is None:
            raise FhirInputError(source, self.errors, self.report)
        return self.patient


def not_a_list(value: object, where: str) -> FieldError | None:
    """An error at ``where`` unless ``value`` is a list (or another iterable) of resources: ``None``, a number,
    a string or one object is not (a string or a dict would be iterated as characters or keys)."""
    if isinstance(value, str | bytes | bytearray | Mapping) or not isinstance(value, Iterable):
        return FieldError(
            where, f"expected a list of FHIR resources (JSON objects), got {type_name(value)}", "fhir_shape"
        )
    return None


def type_name(value: object) -> str:
    """The JSON-ish name of a value's type for an error (never the value: it may be patient data)."""
    return "None" if value is None else type(value).__name__


def check_fhir_as_of(as_of: object) -> tuple[date | None, list[FieldError]]:
    """``as_of`` as a date (a ``date`` or an ISO ``YYYY-MM-DD`` string, checked as ``Engine.evaluate`` checks
    it), or the error (loc ``as_of``) that a datetime, a bad string or a number gives."""
    if as_of is None:
        return None, []
    from ivig_cds.inputs.files import check_as_of

    try:
        return check_as_of(as_of, None), []
    except InputError as exc:
        return None, exc.errors


def _table(mapping: object) -> FhirMapping:
    """The table in force: ``None`` is the built-in one; a path is loaded (a bad file is its RuleFileError)."""
    if mapping is None:
        return load_mapping()
    if isinstance(mapping, FhirMapping):
        return mapping
    if isinstance(mapping, str | os.PathLike):
        return load_mapping(Path(mapping))
    raise TypeError(
        f"mapping must be a FhirMapping (load_mapping(path)), a path or None, not {type(mapping).__name__}"
    )


def map_entries(
    entries: Iterable[tuple[str, Mapping[str, Any], str | None]],
    *,
    as_of: date | str | None = None,
    mapping: FhirMapping | str | os.PathLike[str] | None = None,
    patient_id: str | None = None,
    draft_orders: Iterable[Mapping[str, Any]] = (),
    initial_errors: Sequence[FieldError] = (),
    rb: ReportBuilder | None = None,
) -> MappingResult:
    """Map ``(location, resource, fullUrl)`` entries to a patient file without raising for bad input (a
    ``mapping`` or ``patient_id`` of the wrong type is a caller's mistake: a TypeError)."""
    check_patient_id(patient_id)
    table = _table(mapping)
    rb = rb or ReportBuilder()
    day, as_of_errors = check_fhir_as_of(as_of)
    bad_drafts = not_a_list(draft_orders, "draft_orders")
    if bad_drafts is not None:
        as_of_errors.append(bad_drafts)
        draft_orders = ()
    index = Index.of(entries)
    drafts_index = Index.of((f"draft_orders[{i}]", r, None) for i, r in enumerate(draft_orders))
    errors = list(initial_errors) + as_of_errors + index.errors + drafts_index.errors
    for ref, more in sorted(index.repeats.items()):
        rb.warn(ref, "(input)", f"the same resource appears {more + 1} times: read once")
    patient_item = _select(index, patient_id, errors) if not initial_errors else None

    def report() -> MappingReport:
        return rb.build(
            version=table.version,
            source="default"
            if table.source.endswith("rules/fhir/mapping.yaml") or "/_rules/fhir/" in table.source
            else table.source.rsplit("/", 1)[-1],
            patient=patient_item.ref if patient_item else None,
            as_of=day.isoformat() if day else None,
        )

    if patient_item is None or errors:
        return MappingResult(None, None, report(), errors)
    unread: list[Item] = []
    groups = _patient_items(index, patient_item, day, rb, unread)
    doc, problems = _document(index, patient_item, groups, list(drafts_index.items), unread, table, day, rb)
    totals = Counter({kind: len(group) for kind, group in index.by_kind.items()})
    totals.update({kind: len(group) for kind, group in drafts_index.by_kind.items()})  # draft_orders too
    rb.settle(totals)
    errors += problems
    if errors:  # the partial document still shows a site what was mapped
        return MappingResult(None, doc, report(), errors)
    try:
        patient = Patient.model_validate(doc)
    except ValidationError as exc:
        errors = [
            _locate(doc, e["loc"], e["msg"], e["type"], rb)
            for e in exc.errors(include_url=False, include_input=False, include_context=False)
        ]
        return MappingResult(None, doc, report(), errors)
    return MappingResult(patient, doc, report(), [])


def _locate(
    doc: Mapping[str, Any], loc: Sequence[str | int], msg: str, kind: str, rb: ReportBuilder
) -> FieldError:
    """A validation error located at the patient-file field and the resource the record came from."""
    from ivig_cds.inputs.files import format_loc

    node: Any = doc
    source = None
    for part in loc:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            break
        if is_obj(node) and isinstance(node.get("source"), str):
            source = node["source"]
    if tuple(loc[:2]) in (("demographics", "weight_kg"), ("demographics", "height_cm")):
        read = rb.notes_on(f"demographics.{loc[1]}", conversions=True)  # the Observation the value came from
        source = read[0][0] if read else source
    where = format_loc(loc)
    return FieldError(f"{where} ({source})" if source else where, msg, kind)


def _select(index: Index, patient_id: str | None, errors: list[FieldError]) -> Item | None:
    patients = list(index.of_kind("Patient"))
    if patient_id is not None:
        chosen = [p for p in patients if p.id == patient_id]
        if not chosen:
            errors.append(FieldError("Patient", "no Patient resource with the requested id", "fhir_patient"))
            return None
        return _with_usable_id(chosen[0], errors)
    if not patients:
        errors.append(FieldError("Patient", "no Patient resource in the input", "fhir_patient"))
        return None
    if len(patients) > 1:
        errors.append(
            FieldError(
                "Patient",
                f"{len(patients)} Patient resources: say which one (patient_id / --patient-id)",
                "fhir_patient",
            )
        )
        return None
    if patients[0].id is None:
        errors.append(FieldError(patients[0].loc, "the Patient resource has no id", "fhir_patient"))
        return None
    return _with_usable_id(patients[0], errors)


def _with_usable_id(item: Item, errors: list[FieldError]) -> Item | None:
    """The Patient, unless its id is empty or blank: no subject could name it, so every resource would be
    "not the Patient of the input" - one clear error instead of a warning per resource."""
    if item.id is not None and not item.id.strip():
        what = "the Patient resource has no usable id (empty or blank): no resource can name it as its subject"
        errors.append(FieldError(item.loc, what, "fhir_patient"))
        return None
    return item


_GROUPS = ("Observation", "Condition", "Procedure", "AllergyIntolerance")
_MEDICATIONS = "Medication"  # requests, statements and administrations: one group, in input order


def _patient_items(
    index: Index, patient: Item, as_of: date | None, rb: ReportBuilder, unread: list[Item]
) -> dict[str, list[Item]]:
    """The resources of ``patient`` (by subject), dated at or before ``as_of``, by group (:data:`_GROUPS`, and
    ``"Medication"`` for the requests, statements and administrations); the rest counted. Medication
    resources refused for a status that is not an R4 code are added to ``unread``: whether the drug was
    given is unknown, so ``map_medications`` says when it is IVIG, a glucocorticoid or an unknown drug."""
    groups: dict[str, list[Item]] = {kind: [] for kind in (*_GROUPS, _MEDICATIONS)}
    several = len(index.by_kind.get("Patient", ())) > 1
    mine: set[str] = set()  # subject references that are the patient (every resource names one)
    for item in index.items:
        kind = item.kind
        if item is patient or kind == "Medication":
            continue
        if kind not in READ_TYPES:
            rb.ignored[kind] += 1
            continue
        res = item.resource
        subject = res.get("subject")
        ref = subject.get("reference") if type(subject) is dict else None
        if type(ref) is not str or not ref:
            ref = reference(subject) or reference(res.get("patient"))
        if ref is None:
            if kind == "Patient":  # another patient of the input: not this one's, and no subject to warn about
                rb.ignored[kind] += 1
                continue
            if several:
                rb.ignored[kind] += 1
                rb.warn(item.ref, "(subject)", "no subject, and the input holds several patients: ignored")
                continue
            rb.warn(item.ref, "(subject)", "no subject: taken as the patient's (the input holds one patient)")
        elif ref not in mine:
            target = index.subject(ref)
            if target is not patient:
                rb.ignored[kind] += 1
                if target is None:
                    rb.warn(item.ref, "(subject)", "subject is not the Patient of the input: ignored")
                continue
            mine.add(ref)
        if as_of is not None:
            day = item.day()[0]
            if day is not None and day > as_of:
                rb.after[kind] += 1
                continue
        codes = STATUSES.get(kind)
        if codes is not None and type(status := res.get("status")) is str and status not in codes:
            rb.ignored[kind] += 1
            rb.warn(item.ref, "(status)", f"status is not a FHIR R4 {kind} status code: not read")
            if kind.startswith("Medication"):
                unread.append(item)
            continue
        group = groups.get(kind)
        if group is None and kind.startswith("Medication"):
            group = groups[_MEDICATIONS]
        if group is not None:  # (another Patient naming this one is read by nothing: counted at the end)
            group.append(item)
    return groups


def _document(
    index: Index,
    patient: Item,
    groups: dict[str, list[Item]],
    drafts: list[Item],
    unread: list[Item],
    table: FhirMapping,
    as_of: date | None,
    rb: ReportBuilder,
) -> tuple[dict[str, Any], list[FieldError]]:
    errors: list[FieldError] = []
    medications = groups[_MEDICATIONS]  # requests, statements and administrations, in input order
    obs = observations(groups["Observation"], table, rb)
    person = demographics(patient, obs, table, rb, errors, as_of)
    weights = [  # in time order (date, then time as written): the latest of a day is its last
        (o.day, kg, o.item.ref)
        for o in obs.get("weight", [])
        if (kg := convert(o, "weight_kg", table, rb)) is not None
    ]

    days = [d for d, _, _ in weights]

    def weight_at(day: date) -> tuple[float, str] | None:
        k = bisect.bisect_right(days, day)  # the latest weight on or before the day, if recent: a weight years
        if not k or (day - days[k - 1]).days > table.course_weight_days:  # old would make grams a wrong g/kg
            return None
        return weights[k - 1][1], weights[k - 1][2]

    # the weight a draft order's grams are divided by: the latest, and with as_of one of the year before it
    current = weight_at(as_of) if as_of is not None else (weights[-1][1], weights[-1][2]) if weights else None
    conditions = groups["Condition"]
    dx = diagnosis(conditions, obs, table, rb, errors)
    meds = map_medications(index, medications, drafts, table, weight_at, current, as_of, rb, unread)
    errors += [FieldError(f"{p.item.loc} ({p.item.ref})", p.message, "fhir_reference") for p in meds.problems]
    therapies = meds.therapies + procedures(groups["Procedure"], table, rb)
    position = {i.ref: i.pos for group in (medications, groups["Procedure"]) for i in group}  # therapy sources
    therapies.sort(key=lambda t: (t["start"], position.get(t["source"], 0)))
    adverse_events(obs.get("ivig_adverse_event", []), index, meds, table, rb)
    doc: dict[str, Any] = {"schema_version": 1, "patient_id": patient.id}
    if as_of is not None:
        doc["as_of"] = as_of.isoformat()
    doc.update(demographics=person, diagnosis=dx, therapies=therapies)
    for key, value in (
        ("glucocorticoid_doses", meds.glucocorticoid_doses),
        ("assessments", assessments(obs, table, rb)),
        ("labs", labs(obs, table, rb)),
        ("ivig_courses", meds.ivig_courses),
    ):
        if value:
            doc[key] = value
    if meds.ivig_discontinued_on:
        doc["ivig_discontinued_on"] = meds.ivig_discontinued_on
    if meds.ivig_order is not None:
        doc["ivig_order"] = meds.ivig_order
    risks = risk_factors(conditions, groups["AllergyIntolerance"], obs, table, as_of, rb)
    for item in conditions:  # neither a myositis diagnosis nor a risk factor of the table
        if not rb.was_used(item.ref):
            rb.ignored[item.kind] += 1
    if risks:
        doc["risk_factors"] = risks
    care = preventive_care(obs, rb)
    if care is not None:
        doc["preventive_care"] = care
    return doc, errors
