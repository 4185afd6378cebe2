"""Build one patient file from FHIR R4 resources: select the patient, map every resource, validate, report."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import ValidationError

from ivig_cds.errors import FieldError, InputError
from ivig_cds.patient import Patient

from .clinical import ObservationReader, ObsValue, abo_group, condition_status, field_of, outcome_of, risk_votes
from .index import READ_TYPES, Index, Item
from .mapping import FhirMapping, contains_words, load_mapping, words
from .report import MappingReport, ReportBuilder
from .therapy import MedicationResult, map_medications
from .values import codeable_text, codings, fhir_date, first_date

__all__ = ["FhirInputError", "MappingResult", "map_entries"]

_SEX = {"female": "female", "male": "male", "other": "other", "unknown": "unknown"}
_DATED = {
    "Observation": ("effectiveDateTime", "effectivePeriod.start", "effectiveInstant"),
    "Condition": ("onsetDateTime", "onsetPeriod.start", "recordedDate"),
    "MedicationStatement": ("effectivePeriod.start", "effectiveDateTime"),
    "MedicationAdministration": ("effectiveDateTime", "effectivePeriod.start"),
    "AllergyIntolerance": ("onsetDateTime", "recordedDate"),
    "Procedure": ("performedDateTime", "performedPeriod.start"),
    "MedicationRequest": ("authoredOn",),
}
_ASSESSMENT_FIELDS = {
    "mmt8": "mmt8",
    "mmt8_150": "mmt8",
    "ck": "ck_u_per_l",
    "physician_global": "physician_global_cm",
    "patient_global": "patient_global_cm",
    "extramuscular_global": "extramuscular_global_cm",
    "haq": "haq",
    "dysphagia": "dysphagia",
}


class FhirInputError(InputError):
    """FHIR input that cannot make a valid patient file; ``report`` says what was read before it failed."""

    def __init__(self, source: str, errors: list[FieldError], report: MappingReport) -> None:
        super().__init__(source, errors)
        self.report = report


@dataclass(frozen=True)
class MappingResult:
    """The outcome of mapping: the patient (``None`` when ``errors``), its document, the report, the errors."""

    patient: Patient | None
    document: dict[str, Any] | None
    report: MappingReport
    errors: list[FieldError]

    def raise_for_errors(self, source: str) -> Patient:
        """The patient, or :class:`FhirInputError` listing every problem."""
        if self.patient is None:
            raise FhirInputError(source, self.errors, self.report)
        return self.patient


def map_entries(
    entries: Iterable[tuple[str, Mapping[str, Any], str | None]],
    *,
    as_of: date | None = None,
    mapping: FhirMapping | None = None,
    patient_id: str | None = None,
    draft_orders: Iterable[Mapping[str, Any]] = (),
    initial_errors: Sequence[FieldError] = (),
    rb: ReportBuilder | None = None,
) -> MappingResult:
    """Map ``(location, resource, fullUrl)`` entries to a patient file without raising for bad input."""
    table = mapping or load_mapping()
    rb = rb or ReportBuilder()
    index = Index.of(entries)
    drafts_index = Index.of((f"draft_orders[{i}]", r, None) for i, r in enumerate(draft_orders))
    errors = list(initial_errors) + index.errors + drafts_index.errors
    patient_item = _select(index, patient_id, errors)

    def report() -> MappingReport:
        return rb.build(
            version=table.version,
            source="default"
            if table.source.endswith("rules/fhir/mapping.yaml") or "/_rules/fhir/" in table.source
            else table.source.rsplit("/", 1)[-1],
            patient=patient_item.ref if patient_item else None,
            as_of=as_of.isoformat() if as_of else None,
        )

    if patient_item is None or errors:
        return MappingResult(None, None, report(), errors)
    items = _patient_items(index, patient_item, as_of, rb)
    doc, problems = _document(index, patient_item, items, list(drafts_index.items), table, as_of, rb)
    errors += problems
    if errors:
        return MappingResult(None, None, report(), errors)
    try:
        patient = Patient.model_validate(doc)
    except ValidationError as exc:
        errors = [
            _locate(doc, e["loc"], e["msg"], e["type"])
            for e in exc.errors(include_url=False, include_input=False, include_context=False)
        ]
        return MappingResult(None, None, report(), errors)
    return MappingResult(patient, doc, report(), [])


def _locate(doc: Mapping[str, Any], loc: Sequence[str | int], msg: str, kind: str) -> FieldError:
    """A validation error located at the patient-file field and the resource the record came from."""
    from ivig_cds.patient_io import format_loc

    node: Any = doc
    source = None
    for part in loc:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            break
        if isinstance(node, Mapping) and isinstance(node.get("source"), str):
            source = node["source"]
    where = format_loc(loc)
    return FieldError(f"{where} ({source})" if source else where, msg, kind)


def _select(index: Index, patient_id: str | None, errors: list[FieldError]) -> Item | None:
    patients = list(index.of_kind("Patient"))
    if patient_id is not None:
        chosen = [p for p in patients if p.id == patient_id]
        if not chosen:
            errors.append(FieldError("Patient", "no Patient resource with the requested id", "fhir_patient"))
            return None
        return chosen[0]
    if not patients:
        errors.append(FieldError("Patient", "no Patient resource in the input", "fhir_patient"))
        return None
    if len(patients) > 1:
        errors.append(
            FieldError("Patient", f"{len(patients)} Patient resources: say which one (patient_id)", "fhir_patient")
        )
        return None
    if patients[0].id is None:
        errors.append(FieldError(patients[0].loc, "the Patient resource has no id", "fhir_patient"))
        return None
    return patients[0]


def _patient_items(index: Index, patient: Item, as_of: date | None, rb: ReportBuilder) -> list[Item]:
    """The resources of ``patient`` (by subject), dated at or before ``as_of``; the rest counted."""
    kept = []
    for item in index.items:
        if item is patient or item.kind == "Medication":
            continue
        if item.kind not in READ_TYPES:
            rb.ignored[item.kind] += 1
            continue
        ref, target = index.subject_of(item)
        if ref is None:
            rb.warn(item.ref, "(subject)", "no subject: taken as the patient's (the input holds one patient)")
        elif target is not patient:
            rb.ignored[item.kind] += 1
            if target is None:
                rb.warn(item.ref, "(subject)", "subject is not the Patient of the input: ignored")
            continue
        day, _, _ = first_date(item.resource, *_DATED.get(item.kind, ()))
        if as_of is not None and day is not None and day > as_of:
            rb.after[item.kind] += 1
            continue
        kept.append(item)
    return kept


def _document(
    index: Index,
    patient: Item,
    items: list[Item],
    drafts: list[Item],
    table: FhirMapping,
    as_of: date | None,
    rb: ReportBuilder,
) -> tuple[dict[str, Any], list[FieldError]]:
    errors: list[FieldError] = []
    obs = _observations(items, table, rb)
    demographics = _demographics(patient, obs, table, rb, errors)
    weights = sorted(
        (o.day, kg, o.item.ref)
        for o in obs.get("weight", [])
        if (kg := _convert(o, "weight_kg", table, rb)) is not None
    )

    def weight_at(day: date) -> tuple[float, str] | None:
        before = [(d, kg, ref) for d, kg, ref in weights if d <= day]
        return (before[-1][1], before[-1][2]) if before else None

    current = (weights[-1][1], weights[-1][2]) if weights else None
    conditions = [i for i in items if i.kind == "Condition"]
    diagnosis = _diagnosis(conditions, obs, table, rb, errors)
    meds = map_medications(
        index, [i for i in items if i.kind.startswith("Medication")], drafts, table, weight_at, current, as_of, rb
    )
    errors += [FieldError(f"{p.item.loc} ({p.item.ref})", p.message, "fhir_reference") for p in meds.problems]
    therapies = meds.therapies + _procedures([i for i in items if i.kind == "Procedure"], table, rb)
    _adverse_events(obs.get("ivig_adverse_event", []), index, meds, table, rb, errors)
    doc: dict[str, Any] = {"schema_version": 1, "patient_id": patient.id}
    if as_of is not None:
        doc["as_of"] = as_of.isoformat()
    doc.update(demographics=demographics, diagnosis=diagnosis, therapies=therapies)
    for key, value in (
        ("glucocorticoid_doses", meds.glucocorticoid_doses),
        ("assessments", _assessments(obs, table, rb)),
        ("labs", _labs(obs, table, rb)),
        ("ivig_courses", meds.ivig_courses),
    ):
        if value:
            doc[key] = value
    if meds.ivig_discontinued_on:
        doc["ivig_discontinued_on"] = meds.ivig_discontinued_on
    if meds.ivig_order is not None:
        doc["ivig_order"] = meds.ivig_order
    risks = _risk_factors(conditions, [i for i in items if i.kind == "AllergyIntolerance"], obs, table, as_of, rb)
    if risks:
        doc["risk_factors"] = risks
    return doc, errors


def _observations(items: list[Item], table: FhirMapping, rb: ReportBuilder) -> dict[str, list[ObsValue]]:
    reader = ObservationReader(table)
    out: dict[str, list[ObsValue]] = {}
    for item in items:
        if item.kind != "Observation":
            continue
        parts = [item]
        if not any(k.startswith("value") for k in item.resource):  # a panel: its components carry the values
            for comp in item.resource.get("component") or []:
                if isinstance(comp, Mapping) and isinstance(comp.get("code"), Mapping):
                    inner = {k: v for k, v in item.resource.items() if k not in ("code", "component")}
                    inner.update(
                        {
                            k: v
                            for k, v in comp.items()
                            if k == "code" or k.startswith("value") or k in ("referenceRange", "dataAbsentReason")
                        }
                    )
                    parts.append(Item(item.kind, item.id, item.loc, inner, item.full_url))
            parts = parts[1:] or parts
        matched = False
        for part in parts:
            found = reader.classify(part)
            if found is None:
                continue
            matched = True
            value = reader.read(part, found[0], found[1], rb)
            if value is not None:
                out.setdefault(found[0], []).append(value)
        if not matched:
            rb.ignored[item.kind] += 1
    for values in out.values():
        values.sort(key=lambda o: (o.day, str(o.item.resource.get("effectiveDateTime", "")), o.item.ref))
    return out


def _convert(
    o: ObsValue, kind: str, table: FhirMapping, rb: ReportBuilder, *, unitless_ok: bool = False
) -> float | None:
    """An Observation's quantity in the patient-file unit of ``kind``; ``None`` (reported) when it cannot be."""
    field = field_of(o.kind)
    if o.quantity is None:
        rb.warn(o.item.ref, field, "no valueQuantity: not mapped")
        return None
    if o.quantity.comparator:
        rb.warn(o.item.ref, field, f"value with comparator {o.quantity.comparator!r}: not mapped (never a guess)")
        return None
    if o.quantity.unit is None and unitless_ok:
        return o.quantity.value
    value = table.unit(kind).convert(o.quantity.value, o.quantity.unit)
    if value is None:
        rb.warn(
            o.item.ref,
            field,
            f"unit {str(o.quantity.unit)[:32]!r} is not one of {', '.join(table.unit(kind).units)}: not mapped",
        )
        return None
    if o.quantity.unit != table.unit(kind).units[0]:
        rb.convert(o.item.ref, field, f"{o.quantity.unit} → {table.unit(kind).units[0]}")
    rb.used("Observation", o.item.ref)
    if o.quantity.value < 0:
        rb.warn(o.item.ref, field, "negative value: not mapped")
        return None
    return value


def _demographics(
    patient: Item, obs: dict[str, list[ObsValue]], table: FhirMapping, rb: ReportBuilder, errors: list[FieldError]
) -> dict[str, Any]:
    res, ref = patient.resource, patient.ref
    rb.used("Patient", ref)
    out: dict[str, Any] = {"source": ref}
    born = fhir_date(res.get("birthDate"))
    if not isinstance(born, date):
        errors.append(
            FieldError(
                f"demographics.birth_date ({ref})",
                f"Patient.birthDate is absent or not a full date ({born or 'absent'})",
                "fhir_value",
            )
        )
    else:
        out["birth_date"] = born.isoformat()
    gender = res.get("gender")
    out["sex"] = _SEX.get(gender, "unknown") if isinstance(gender, str) else "unknown"
    if gender not in _SEX:
        rb.warn(ref, "demographics.sex", "Patient.gender absent or unknown: sex 'unknown'")
    for kind, key, unit in (("weight", "weight_kg", "weight_kg"), ("height", "height_cm", "height_cm")):
        values = [(o, v) for o in obs.get(kind, []) if (v := _convert(o, unit, table, rb)) is not None]
        if values:
            out[key] = round(values[-1][1], 3)
    if "weight_kg" not in out:
        errors.append(
            FieldError(
                "demographics.weight_kg",
                "no usable body-weight Observation (LOINC 29463-7, at or before as_of)",
                "fhir_missing",
            )
        )
    groups = [(o, g) for o in obs.get("abo_group", []) if (g := abo_group(o)) is not None]
    if groups:
        out["abo_group"] = groups[-1][1]
        rb.used("Observation", groups[-1][0].item.ref)
    return out


def _diagnosis(
    conditions: list[Item],
    obs: dict[str, list[ObsValue]],
    table: FhirMapping,
    rb: ReportBuilder,
    errors: list[FieldError],
) -> dict[str, Any]:
    found: list[tuple[int, date | None, str, Item, str | None]] = []
    for item in conditions:
        pairs = list(codings(item.resource.get("code")))
        for name, codes in table.diagnoses.items():
            hit = codes.match(pairs)
            if hit is None:
                continue
            verification, _ = condition_status(item.resource)
            if verification in ("refuted", "entered-in-error"):
                rb.used(item.kind, item.ref)
                break
            if not hit.verified:
                rb.warn(item.ref, "diagnosis.condition", f"matched the unverified default code {hit.label()}")
            day, _, _ = first_date(item.resource, "onsetDateTime", "onsetPeriod.start", "recordedDate")
            found.append((table.diagnosis_precedence.index(name), day, name, item, verification))
            break
    if not found:
        names = ", ".join(
            c.label() for c in table.diagnoses["polymyositis"].codes if c.system != table.local_system
        )
        errors.append(
            FieldError(
                "diagnosis",
                f"no myositis Condition ({names}, ...): a patient file needs a diagnosis",
                "fhir_missing",
            )
        )
        return {}
    found.sort(key=lambda f: (f[0], f[1] or date.max, f[3].ref))
    _, day, name, item, verification = found[0]
    for other in found[1:]:
        rb.warn(
            other[3].ref,
            "diagnosis.condition",
            f"another myositis Condition ({other[2]}); {item.ref} ({name}) is used",
        )
    rb.used(item.kind, item.ref)
    out: dict[str, Any] = {"condition": name, "source": item.ref}
    if day is None:
        errors.append(
            FieldError(f"diagnosis.diagnosed_on ({item.ref})", "no onset or recorded date", "fhir_missing")
        )
    else:
        out["diagnosed_on"] = day.isoformat()
    classification = table.classification.get(verification or "", "unknown")
    site = _answer(obs.get("classification", []), table.answers["classification"], rb)
    out["classification"] = site or classification
    criteria = _answer(obs.get("criteria", []), table.answers["criteria"], rb)
    if criteria:
        out["criteria"] = criteria
    for key in ("ibm_features", "statin_exposure", "anti_hmgcr", "anti_srp"):
        flags = [o for o in obs.get(key, []) if o.boolean is not None]
        if flags:
            out[key] = flags[-1].boolean
            rb.used("Observation", flags[-1].item.ref)
    return out


def _answer(values: list[ObsValue], answers: Mapping[str, str], rb: ReportBuilder) -> str | None:
    """The latest Observation whose value code is one of ``answers`` (local codes)."""
    chosen = None
    for o in values:
        codes = [c for _, c in codings(o.concept)] if o.concept else []
        got = next((answers[c] for c in codes if c in answers), None)
        if got is None:
            rb.warn(o.item.ref, field_of(o.kind), "value code not one of the local answer codes: not mapped")
            continue
        chosen = got
        rb.used("Observation", o.item.ref)
    return chosen


def _assessments(obs: dict[str, list[ObsValue]], table: FhirMapping, rb: ReportBuilder) -> list[dict[str, Any]]:
    by_day: dict[date, dict[str, Any]] = {}
    for kind, key in _ASSESSMENT_FIELDS.items():
        for o in obs.get(kind, []):
            if kind == "dysphagia":
                value: Any = _answer([o], table.answers["dysphagia"], rb)
            elif kind in ("mmt8", "mmt8_150", "haq"):
                value = _convert(o, "score", table, rb, unitless_ok=True)
            elif kind == "ck":
                value = _convert(o, "ck_u_per_l", table, rb)
            else:
                value = _convert(o, "vas_cm", table, rb)
            if value is None:
                continue
            row = by_day.setdefault(o.day, {"date": o.day.isoformat(), "source": o.item.ref})
            if key in row:
                rb.warn(o.item.ref, f"assessments.{key}", "a second value on the same date: the later one is used")
            row[key] = value
            if kind == "mmt8_150":
                row["mmt8_max"] = 150
            if kind in ("mmt8", "mmt8_150"):
                row["source"] = o.item.ref
            if kind == "ck" and o.uln is not None:
                uln = table.unit("ck_u_per_l").convert(o.uln.value, o.uln.unit)
                if uln is not None and uln > 0:
                    row["ck_uln_u_per_l"] = uln
                else:
                    rb.warn(
                        o.item.ref,
                        "assessments.ck_uln_u_per_l",
                        "referenceRange.high unusable: the default ULN applies",
                    )
    return [by_day[d] for d in sorted(by_day)]


def _labs(obs: dict[str, list[ObsValue]], table: FhirMapping, rb: ReportBuilder) -> list[dict[str, Any]]:
    out = []
    for test in table.labs:
        for o in obs.get(f"lab:{test}", []):
            value = _convert(o, test, table, rb)
            if value is not None:
                out.append(
                    {"date": o.day.isoformat(), "test": test, "value": round(value, 6), "source": o.item.ref}
                )
    return sorted(out, key=lambda r: (r["date"], r["test"], r["source"]))


def _procedures(items: list[Item], table: FhirMapping, rb: ReportBuilder) -> list[dict[str, Any]]:
    out = []
    for item in items:
        pairs = list(codings(item.resource.get("code")))
        agent = next((a for a, codes in table.procedures.items() if codes.match(pairs) is not None), None)
        status = item.resource.get("status")
        if agent is None or status not in ("completed", "in-progress"):
            rb.ignored[item.kind] += 1
            continue
        start, _, _ = first_date(item.resource, "performedPeriod.start", "performedDateTime")
        if start is None:
            rb.warn(item.ref, "therapies", "no performed date: not mapped")
            continue
        end, _, _ = first_date(item.resource, "performedPeriod.end")
        stop = end if end is not None else (start if "performedDateTime" in item.resource else None)
        concepts = [
            item.resource.get("outcome"),
            item.resource.get("statusReason"),
            *(item.resource.get("reasonCode") or []),
        ]
        out.append(
            {
                "agent": agent,
                "start": start.isoformat(),
                "stop": stop.isoformat() if stop else None,
                "outcome": outcome_of([c for c in concepts if c], table),
                "source": item.ref,
            }
        )
        rb.used(item.kind, item.ref)
    return out


def _adverse_events(
    values: list[ObsValue],
    index: Index,
    meds: MedicationResult,
    table: FhirMapping,
    rb: ReportBuilder,
    errors: list[FieldError],
) -> None:
    for o in values:
        parents = o.item.resource.get("partOf") or []
        target = parents[0].get("reference") if parents and isinstance(parents[0], Mapping) else None
        course = None
        if isinstance(target, str):
            admin = index.resolve_item(target)
            if admin is None:
                errors.append(
                    FieldError(
                        f"{o.item.loc} ({o.item.ref})",
                        "partOf names a MedicationAdministration that is not in the input",
                        "fhir_reference",
                    )
                )
                continue
            course = meds.admin_course.get(admin.ref)
        if course is None:
            rb.warn(
                o.item.ref,
                "ivig_courses.adverse_events",
                "not linked (partOf) to a mapped IVIG course: not mapped",
            )
            continue
        kind = next(
            (
                table.answers["adverse_event"][c]
                for _, c in codings(o.concept)
                if c in table.answers["adverse_event"]
            ),
            None,
        )
        severity = None
        for comp in o.item.resource.get("component") or []:
            value = comp.get("valueCodeableConcept") if isinstance(comp, Mapping) else None
            severity = severity or next(
                (table.answers["severity"][c] for _, c in codings(value) if c in table.answers["severity"]), None
            )
        if kind is None or severity is None:
            rb.warn(
                o.item.ref,
                "ivig_courses.adverse_events",
                "event type or severity not a local answer code: not mapped",
            )
            continue
        meds.ivig_courses[course].setdefault("adverse_events", []).append(
            {"type": kind, "severity": severity, "source": o.item.ref}
        )
        rb.used("Observation", o.item.ref)


def _risk_factors(
    conditions: list[Item],
    allergies: list[Item],
    obs: dict[str, list[ObsValue]],
    table: FhirMapping,
    as_of: date | None,
    rb: ReportBuilder,
) -> dict[str, bool]:
    votes = risk_votes(conditions, table, as_of, rb)
    for key in table.risk_factors:
        for o in obs.get(f"rf:{key}", []):
            if o.boolean is None:
                rb.warn(o.item.ref, f"risk_factors.{key}", "no valueBoolean: not mapped")
                continue
            votes.setdefault(key, []).append((o.boolean, o.item.ref))
            rb.used("Observation", o.item.ref)
    pregnancy = obs.get("pregnancy", [])
    if pregnancy:
        latest = pregnancy[-1]
        pairs = list(codings(latest.concept)) if latest.concept else []
        if table.pregnancy_positive.match(pairs):
            votes.setdefault("pregnant", []).append((True, latest.item.ref))
        elif table.pregnancy_negative.match(pairs):
            votes.setdefault("pregnant", []).append((False, latest.item.ref))
        else:
            rb.warn(latest.item.ref, "risk_factors.pregnant", "pregnancy status value not recognised: not mapped")
        rb.used("Observation", latest.item.ref)
    for item in allergies:
        _allergy(item, table, rb, votes)
    out = {}
    for key, got in sorted(votes.items()):
        values = {v for v, _ in got}
        if values == {True, False}:
            yes = sorted(ref for v, ref in got if v)[0]
            no = sorted(ref for v, ref in got if not v)[0]
            rb.warn(yes, f"risk_factors.{key}", f"asserted here and refuted by {no}: recorded as present")
        out[key] = True in values
    return out


def _allergy(item: Item, table: FhirMapping, rb: ReportBuilder, votes: dict[str, list[tuple[bool, str]]]) -> None:
    res = item.resource
    code = res.get("code")
    pairs, texts = list(codings(code)), codeable_text(code)
    ivig = table.ivig.match(pairs) is not None or any(
        table.products.lookup(t).status in ("recognised", "generic", "ambiguous") for t in texts
    )
    corn = any(contains_words(words(t), n) for t in texts for n in table.corn_names)
    if not ivig and not corn:
        rb.ignored[item.kind] += 1
        return
    verification, _ = condition_status(res)
    rb.used(item.kind, item.ref)
    if verification == "entered-in-error":
        return
    if corn:
        votes.setdefault("corn_allergy", []).append((verification != "refuted", item.ref))
    if not ivig:
        return
    if verification == "refuted":
        votes.setdefault("prior_ig_anaphylaxis", []).append((False, item.ref))
        return
    severe = False
    for reaction in res.get("reaction") or []:
        if not isinstance(reaction, Mapping):
            continue
        manifest = [p for m in reaction.get("manifestation") or [] for p in codings(m)]
        if table.anaphylaxis.match(manifest) is not None or reaction.get("severity") == "severe":
            severe = True
    if severe:
        votes.setdefault("prior_ig_anaphylaxis", []).append((True, item.ref))
    else:
        rb.warn(
            item.ref,
            "risk_factors.prior_ig_anaphylaxis",
            "immunoglobulin allergy without anaphylaxis or a severe"
            " reaction recorded: prior_ig_anaphylaxis not set, review the allergy",
        )
