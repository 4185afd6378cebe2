"""Write a patient file as an R4 Bundle with the default codes (test data; what the adapter reads back)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from ivig_cds.model.patient import Patient

from .clinical import BOHAN_PETER_OBSERVATIONS, DIAGNOSIS_OBSERVATIONS
from .mapping import Code, FhirMapping, load_mapping

__all__ = ["bundle_from_patient"]

_UCUM = "http://unitsofmeasure.org"
_LAB_UNITS = {
    "creatinine_mg_dl": "mg/dL",
    "egfr_ml_min_1_73m2": "mL/min/{1.73_m2}",
    "iga_mg_dl": "mg/dL",
    "hemoglobin_g_dl": "g/dL",
}
_PROCEDURES = ("plasmapheresis", "lymphopheresis", "total_body_irradiation")


def _coding(code: Code) -> dict[str, str]:
    out = {"system": code.system, "code": code.code}
    if code.display:
        out["display"] = code.display
    return out


def _qty(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": _UCUM, "code": unit}


def _local(mapping: FhirMapping, code: str) -> dict[str, Any]:
    return {"coding": [mapping.local(code)]}


def _answer(mapping: FhirMapping, kind: str, value: str) -> dict[str, Any]:
    code = next(c for c, v in mapping.answers[kind].items() if v == value)
    return _local(mapping, code)


class _Writer:
    """Accumulates resources with stable ids derived from the patient id and a counter per type."""

    def __init__(self, patient: Patient, mapping: FhirMapping) -> None:
        self.p = patient
        self.m = mapping
        self.entries: list[dict[str, Any]] = []
        self.counts: dict[str, int] = {}
        self.subject = {"reference": f"Patient/{patient.patient_id}"}

    def add(self, resource: dict[str, Any], prefix: str) -> str:
        kind = resource["resourceType"]
        n = self.counts[prefix] = self.counts.get(prefix, 0) + 1
        resource["id"] = f"{self.p.patient_id}-{prefix}-{n}"[:64]
        if kind != "Patient":
            resource["subject" if kind != "AllergyIntolerance" else "patient"] = dict(self.subject)
        self.entries.append({"fullUrl": f"{kind}/{resource['id']}", "resource": resource})
        return f"{kind}/{resource['id']}"

    def observation(
        self, code: dict[str, Any], day: date, value: dict[str, Any], prefix: str, **extra: Any
    ) -> str:
        res = {
            "resourceType": "Observation",
            "status": "final",
            "code": code,
            "effectiveDateTime": day.isoformat(),
        }
        res.update(value)
        res.update(extra)
        return self.add(res, prefix)

    def code(self, key: str) -> dict[str, Any]:
        return {"coding": [_coding(self.m.observations[key].first())]}


def bundle_from_patient(patient: Patient, *, mapping: FhirMapping | None = None) -> dict[str, Any]:
    """The patient file as a FHIR R4 ``collection`` Bundle that :func:`patient_from_bundle` reads back.

    Uses the first verified default code of each table entry, the local CodeSystem where no standard code
    is in common use, ``Bundle.timestamp`` for ``as_of``, and ids ``<patient_id>-<kind>-<n>``.

    Raises:
        TypeError: ``patient`` is not a :class:`~ivig_cds.Patient` (``Patient.model_validate`` or
            ``ivig_cds.inputs.files.load_patient`` makes one from a patient file).
    """
    if not isinstance(patient, Patient):
        raise TypeError(
            "bundle_from_patient needs a Patient (Patient.model_validate or load_patient makes one from a"
            f" patient file), got {type(patient).__name__}"
        )
    m = mapping or load_mapping()
    w = _Writer(patient, m)
    p = patient
    d = p.demographics
    person: dict[str, Any] = {
        "resourceType": "Patient",
        "gender": d.sex.value,
        "birthDate": d.birth_date.isoformat(),
    }
    w.entries.append({"fullUrl": f"Patient/{p.patient_id}", "resource": {**person, "id": p.patient_id}})
    anchor = p.diagnosis.diagnosed_on  # undated facts of the file are written as known from the diagnosis on
    # the weight twice, at the diagnosis and at as_of, so it is current at as_of and known before any course
    for day in sorted({anchor, p.as_of or anchor}):
        w.observation(w.code("weight"), day, {"valueQuantity": _qty(d.weight_kg, "kg")}, "weight")
    if d.height_cm is not None:
        w.observation(w.code("height"), anchor, {"valueQuantity": _qty(d.height_cm, "cm")}, "height")
    if d.abo_group is not None:
        w.observation(w.code("abo_group"), anchor, {"valueCodeableConcept": {"text": d.abo_group.value}}, "abo")
    _diagnosis(w)
    _therapies(w)
    _assessments(w)
    for lab in p.labs:
        code = {"coding": [_coding(m.labs[lab.test.value].first())]}
        w.observation(code, lab.date, {"valueQuantity": _qty(lab.value, _LAB_UNITS[lab.test.value])}, "lab")
    _ivig(w)
    _risks(w)
    _preventive_care(w)
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "collection", "entry": w.entries}
    if p.as_of is not None:
        bundle["timestamp"] = f"{p.as_of.isoformat()}T00:00:00Z"
    return bundle


def _diagnosis(w: _Writer) -> None:
    dx, m = w.p.diagnosis, w.m
    codes = m.diagnoses[dx.condition.value]
    coding = _coding(
        codes.first(m.systems["snomed"])
        if any(c.system == m.systems["snomed"] and c.verified for c in codes.codes)
        else codes.first()
    )
    verification = {"definite": "confirmed", "probable": "confirmed", "possible": "provisional"}.get(
        dx.classification.value
    )
    res: dict[str, Any] = {
        "resourceType": "Condition",
        "code": {"coding": [coding]},
        "clinicalStatus": {"coding": [{"system": m.systems["condition_clinical"], "code": "active"}]},
        "onsetDateTime": dx.diagnosed_on.isoformat(),
    }
    if verification:
        res["verificationStatus"] = {
            "coding": [{"system": m.systems["condition_verification"], "code": verification}]
        }
    w.add(res, "dx")
    if dx.classification.value != m.classification.get(verification or "", "unknown"):
        w.observation(
            w.code("classification"),
            dx.diagnosed_on,
            {"valueCodeableConcept": _answer(m, "classification", dx.classification.value)},
            "dx-class",
        )
    if dx.criteria is not None:
        w.observation(
            w.code("criteria"),
            dx.diagnosed_on,
            {"valueCodeableConcept": _answer(m, "criteria", dx.criteria.value)},
            "dx-criteria",
        )
    for key in DIAGNOSIS_OBSERVATIONS:
        value = getattr(dx, key)
        if value is None:
            continue
        written = (
            {"valueQuantity": _qty(value, "{score}")} if key == "eular_acr_score" else {"valueBoolean": value}
        )
        w.observation(w.code(key), dx.diagnosed_on, written, f"dx-{key.replace('_', '-')}")
    items = dx.bohan_peter_items
    for key in BOHAN_PETER_OBSERVATIONS if items is not None else ():
        value = getattr(items, key)
        if value is not None:
            w.observation(w.code(f"bp_{key}"), dx.diagnosed_on, {"valueBoolean": value}, "dx-bp")


def _preventive_care(w: _Writer) -> None:
    care, p = w.p.preventive_care, w.p
    if care is None:
        return
    if care.cancer_screening_on is not None:
        w.observation(w.code("cancer_screening"), care.cancer_screening_on, {"valueBoolean": True}, "care")
    if care.bone_protection is not None:
        # a current state, recorded as of the file's date (as the current risk factors are)
        day = p.as_of or p.diagnosis.diagnosed_on
        w.observation(w.code("bone_protection"), day, {"valueBoolean": care.bone_protection}, "care")
    if care.live_vaccine_on is not None:
        # a planned vaccine is recorded by as_of: the vaccine date itself is the value
        vaccine = care.live_vaccine_on
        day = min(vaccine, p.as_of) if p.as_of is not None else vaccine
        w.observation(w.code("live_vaccine"), day, {"valueDateTime": vaccine.isoformat()}, "care")


def _therapies(w: _Writer) -> None:
    m, p = w.m, w.p
    parent: str | None = None
    for t in p.therapies:
        outcome = {
            "coding": [_coding(m.outcome_codes[t.outcome.value].first())],
            "text": t.outcome.value.replace("_", " "),
        }
        if t.agent.value in _PROCEDURES:
            res: dict[str, Any] = {
                "resourceType": "Procedure",
                "status": "completed" if t.stop else "in-progress",
                "code": {"coding": [_coding(m.procedures[t.agent.value].first())]},
                "performedPeriod": _period(t.start, t.stop),
                "outcome": outcome,
            }
            w.add(res, "proc")
            continue
        codes = m.agents[t.agent.value]
        rx = [c for c in codes.codes if c.system == m.systems["rxnorm"] and c.verified]
        coding = _coding(rx[0] if rx else codes.first())
        coding.setdefault("display", t.agent.value)
        steps = [t.start, *t.dose_changed_on]
        res = {
            "resourceType": "MedicationStatement",
            "status": "completed" if t.stop else "active",
            "medicationCodeableConcept": {"coding": [coding], "text": t.agent.value},
            "effectivePeriod": _period(t.start, t.stop),
            "statusReason": [outcome],
            "dosage": [
                {"sequence": i + 1, "timing": {"repeat": {"boundsPeriod": {"start": s.isoformat()}}}}
                for i, s in enumerate(steps)
            ],
        }
        ref = w.add(res, "med")
        if parent is None and t.agent.value in m.glucocorticoids:
            parent = ref
    doses = p.glucocorticoid_doses
    pred = m.agents["prednisone"].first(m.systems["rxnorm"])
    for i, dose in enumerate(doses):
        end = doses[i + 1].date - timedelta(days=1) if i + 1 < len(doses) else None
        res = {
            "resourceType": "MedicationStatement",
            "status": "active" if end is None else "completed",
            "medicationCodeableConcept": {
                "coding": [{**_coding(pred), "display": "prednisone"}],
                "text": "prednisone",
            },
            "effectivePeriod": _period(dose.date, end),
            "dosage": [
                {
                    "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
                    "doseAndRate": [{"doseQuantity": _qty(dose.prednisone_mg_per_day, "mg")}],
                }
            ],
        }
        if parent is not None:
            res["partOf"] = [{"reference": parent}]
        w.add(res, "gc-dose")


def _period(start: date, stop: date | None) -> dict[str, str]:
    return {"start": start.isoformat(), **({"end": stop.isoformat()} if stop else {})}


def _ivig_concept(m: FhirMapping, product: str | None) -> dict[str, Any]:
    concept: dict[str, Any] = {"coding": [_coding(m.ivig.first())]}
    if product:
        concept["text"] = product
    return concept


def _ivig(w: _Writer) -> None:
    m, p = w.m, w.p
    for course in p.ivig_courses:
        first: str | None = None
        for day in range(course.days):
            dosage: dict[str, Any] = {"dose": _qty(course.dose_g_per_kg_per_day, "g/kg")}
            if course.max_rate_mg_kg_min is not None:  # each day: a day without a rate leaves it unknown
                dosage["rateQuantity"] = _qty(course.max_rate_mg_kg_min, "mg/kg/min")
            res = {
                "resourceType": "MedicationAdministration",
                "status": "completed",
                "medicationCodeableConcept": _ivig_concept(m, course.product),
                "effectiveDateTime": (course.start + timedelta(days=day)).isoformat(),
                "dosage": dosage,
            }
            ref = w.add(res, "ivig")
            first = first or ref
        for event in course.adverse_events:
            w.observation(
                w.code("ivig_adverse_event"),
                course.start,
                {"valueCodeableConcept": _answer(m, "adverse_event", event.type.value)},
                "ivig-ae",
                partOf=[{"reference": first}],
                component=[
                    {
                        "code": _local(m, "severity"),
                        "valueCodeableConcept": _answer(m, "severity", event.severity.value),
                    }
                ],
            )
    if p.ivig_discontinued_on is not None:
        start = min((c.start for c in p.ivig_courses), default=p.ivig_discontinued_on)
        # a stop after as_of is not known at as_of (the evaluation ignores it): an active order, its end planned
        later = p.as_of is not None and p.ivig_discontinued_on > p.as_of
        w.add(
            {
                "resourceType": "MedicationRequest",
                "status": "active" if later else "stopped",
                "intent": "order",
                "medicationCodeableConcept": _ivig_concept(m, None),
                "authoredOn": start.isoformat(),
                "dosageInstruction": [
                    {"timing": {"repeat": {"boundsPeriod": _period(start, p.ivig_discontinued_on)}}}
                ],
            },
            "ivig-stop",
        )
    _order(w)


def _order(w: _Writer) -> None:
    order = w.p.ivig_order
    if order is not None:
        dosage: dict[str, Any] = {}
        repeat: dict[str, Any] = {}
        if order.start is not None:
            repeat["boundsPeriod"] = {"start": order.start.isoformat()}
        if order.days is not None:
            repeat.update(count=order.days, frequency=1, period=1, periodUnit="d")
        if repeat:
            dosage["timing"] = {"repeat": repeat}
        rate: dict[str, Any] = {}
        if order.dose_g_per_kg_per_day is not None:
            rate["doseQuantity"] = _qty(order.dose_g_per_kg_per_day, "g/kg")
        if order.max_rate_mg_kg_min is not None:
            rate["rateQuantity"] = _qty(order.max_rate_mg_kg_min, "mg/kg/min")
        if rate:
            dosage["doseAndRate"] = [rate]
        res: dict[str, Any] = {
            "resourceType": "MedicationRequest",
            "status": "draft",
            "intent": "proposal",
            "medicationCodeableConcept": _ivig_concept(w.m, order.product),
        }
        if dosage:
            res["dosageInstruction"] = [dosage]
        w.add(res, "ivig-order")


def _risks(w: _Writer) -> None:
    m, p = w.m, w.p
    for key, value in p.risk_factors.model_dump().items():
        if value is None:
            continue
        spec = m.risk_factors[key]
        # a current state (pregnant, sepsis, ...) is recorded as of the file's date; a history at diagnosis
        anchor = (p.as_of or p.diagnosis.diagnosed_on) if spec.current else p.diagnosis.diagnosed_on
        verified = [c for c in spec.conditions.codes if c.verified and not c.prefix]
        if verified and (value or not spec.events):  # no history of events: an answer, not a refuted event
            status = "confirmed" if value else "refuted"
            w.add(
                {
                    "resourceType": "Condition",
                    "code": {"coding": [_coding(verified[0])]},
                    "verificationStatus": {
                        "coding": [{"system": m.systems["condition_verification"], "code": status}]
                    },
                    "recordedDate": anchor.isoformat(),
                },
                f"rf-{key.replace('_', '-')}",
            )
        elif key == "pregnant":
            answer = (m.pregnancy_positive if value else m.pregnancy_negative).first()
            w.observation(
                w.code("pregnancy"), anchor, {"valueCodeableConcept": {"coding": [_coding(answer)]}}, "rf-pregnant"
            )
        elif key == "prior_ig_anaphylaxis":
            status = "confirmed" if value else "refuted"
            res: dict[str, Any] = {
                "resourceType": "AllergyIntolerance",
                "code": _ivig_concept(m, "immune globulin"),
                "verificationStatus": {"coding": [{"system": m.systems["allergy_verification"], "code": status}]},
                "recordedDate": anchor.isoformat(),
            }
            if value:
                res["reaction"] = [
                    {"manifestation": [{"coding": [_coding(m.anaphylaxis.first())]}], "severity": "severe"}
                ]
            w.add(res, "rf-ig-allergy")
        else:
            code = {"coding": [m.local("rf-" + key.replace("_", "-"))]}
            w.observation(code, anchor, {"valueBoolean": value}, f"rf-{key.replace('_', '-')}")


def _assessments(w: _Writer) -> None:
    m = w.m
    for a in w.p.assessments:
        if a.mmt8 is not None:
            key = "mmt8" if a.mmt8_max == 80 else "mmt8_150"
            w.observation(w.code(key), a.date, {"valueQuantity": _qty(a.mmt8, "{score}")}, "mmt8")
        if a.ck_u_per_l is not None:
            extra: dict[str, Any] = {}
            if "ck_uln_u_per_l" in a.model_fields_set:
                extra["referenceRange"] = [{"high": _qty(a.ck_uln_u_per_l, "U/L")}]
            w.observation(w.code("ck"), a.date, {"valueQuantity": _qty(a.ck_u_per_l, "U/L")}, "ck", **extra)
        for key, attr in (
            ("physician_global", "physician_global_cm"),
            ("patient_global", "patient_global_cm"),
            ("extramuscular_global", "extramuscular_global_cm"),
        ):
            value = getattr(a, attr)
            if value is not None:
                w.observation(w.code(key), a.date, {"valueQuantity": _qty(value, "cm")}, key.replace("_", "-"))
        if a.haq is not None:
            w.observation(w.code("haq"), a.date, {"valueQuantity": _qty(a.haq, "{score}")}, "haq")
        if a.dysphagia is not None:
            w.observation(
                w.code("dysphagia"),
                a.date,
                {"valueCodeableConcept": _answer(m, "dysphagia", a.dysphagia.value)},
                "dysphagia",
            )
