"""Patient-file sections from the Patient, Observations and Conditions: body size, diagnosis, visits, labs."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from itertools import pairwise
from typing import Any

from ivig_cds.errors import FieldError

from .clinical import (
    BOHAN_PETER_OBSERVATIONS,
    DIAGNOSIS_OBSERVATIONS,
    ObsValue,
    abo_group,
    condition_status,
    field_of,
    observation_reader,
)
from .index import Item, check_shape
from .mapping import FhirMapping
from .report import ReportBuilder
from .values import codings, fhir_date, first_date, is_obj

__all__ = ["assessments", "convert", "demographics", "diagnosis", "moment_key", "observations", "preventive_care"]

_SEX = {"female": "female", "male": "male", "other": "other", "unknown": "unknown"}
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


_PANEL_ONLY = frozenset({"code", "component", "dataAbsentReason"})


def observations(items: list[Item], table: FhirMapping, rb: ReportBuilder) -> dict[str, list[ObsValue]]:
    reader = observation_reader(table)
    out: dict[str, list[ObsValue]] = {}
    for item in items:
        if item.kind != "Observation":
            continue
        if "component" not in item.resource:  # the usual Observation: one code, one value
            found = reader.classify(item)
            if found is None:
                rb.ignored[item.kind] += 1
            elif (value := reader.read(item, found[0], found[1], rb)) is not None:
                group = out.get(found[0])
                if group is None:
                    out[found[0]] = [value]
                else:
                    group.append(value)
            continue
        parts = [item]
        if not any(k.startswith("value") for k in item.resource):  # a panel: its components carry the values
            for comp in item.resource.get("component") or []:
                if is_obj(comp) and is_obj(comp.get("code")):
                    # the panel's own dataAbsentReason is about its (absent) value, not the components'
                    inner = {k: v for k, v in item.resource.items() if k not in _PANEL_ONLY}
                    inner.update(
                        {
                            k: v
                            for k, v in comp.items()
                            if k == "code" or k.startswith("value") or k in ("referenceRange", "dataAbsentReason")
                        }
                    )
                    problem = check_shape(inner, item.loc)
                    if problem is not None:  # a component's element of the wrong JSON type
                        rb.warn(item.ref, "component", f"{problem.msg}: this component is not mapped")
                        continue
                    parts.append(Item(item.kind, item.id, item.loc, inner, item.full_url, item.pos))
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
    for kind, values in out.items():
        # values on strictly later days, in input order (the usual record): already in order, none at one moment
        if len(values) > 1 and any(a.day >= b.day for a, b in pairwise(values)):
            values.sort(key=moment_key)
            if kind not in _ALL_KEPT and not kind.startswith("rf:"):
                out[kind] = _without_conflicts(values, rb, _units_of(kind, table))
    return out


_ALL_KEPT = frozenset({"ivig_adverse_event", "live_vaccine"})
"""Kinds read whole, where values at one moment do not conflict: every adverse event of a course, the latest
vaccine by its own date. (Risk-factor answers vote: a yes and a no at once is "present", warned.)"""


def moment_key(o: ObsValue) -> tuple[date, str, int]:
    """The order of a kind's values: date, then the time as written, then input position."""
    return o.day, str(o.item.resource.get("effectiveDateTime", "")), o.item.pos


def _units_of(kind: str, table: FhirMapping) -> Any:
    """The unit table of a kind's values (``None``: compared as written)."""
    key = kind[4:] if kind.startswith("lab:") else {"weight": "weight_kg", "height": "height_cm"}.get(kind)
    return table.units.get(key) if key is not None else None


def _said(o: ObsValue, units: Any = None) -> tuple[Any, ...]:
    """What a value says, for comparing two at one moment: a quantity in the field's unit is compared by
    value (:func:`_apart`: 186 µmol/L and 2.1 mg/dL of creatinine are one result), the rest as written."""
    q = o.quantity
    concept = (tuple(codings(o.concept)), str(o.concept.get("text"))) if o.concept is not None else None
    amount: Any = (q.value, q.unit, q.comparator) if q else None
    if _converted(o, units) is not None:  # compared by value apart (_apart)
        amount = "quantity"
    return amount, concept, o.boolean, o.text, o.moment


def _converted(o: ObsValue, units: Any) -> float | None:
    q = o.quantity
    return units.convert(q.value, q.unit) if q is not None and units is not None and not q.comparator else None


def _apart(values: list[ObsValue], units: Any) -> bool:
    """Whether quantities said at one moment differ by more than 2 % in the field's unit (a unit's rounding)."""
    amounts = [v for o in values if (v := _converted(o, units)) is not None]
    return bool(amounts) and max(amounts) > min(amounts) * 1.02 + 1e-9


def _without_conflicts(values: list[ObsValue], rb: ReportBuilder, units: Any = None) -> list[ObsValue]:
    """``values`` (sorted) without those that disagree with another at the same date and time: which of two
    creatinines or weights recorded at one moment is right is unknown, and the input order must not decide."""
    moments = [moment_key(o)[:2] for o in values]
    if len(set(moments)) == len(moments):  # the usual case: no two at one moment
        return values
    kept: list[ObsValue] = []
    i = 0
    while i < len(values):
        j = i + 1
        while j < len(values) and moments[j] == moments[i]:
            j += 1
        run = values[i:j]
        # a value with a comparator is never read (its reader says so): it conflicts with nothing
        usable = [o for o in run if not (o.quantity and o.quantity.comparator)]
        if len(usable) > 1 and (len({_said(o, units) for o in usable}) > 1 or _apart(usable, units)):
            kept += [o for o in run if all(o is not u for u in usable)]
            if j == len(values) and values[0].kind.startswith("lab:"):  # the latest result is unknown: the
                rb.incomplete("labs", run[0].item.ref)  # older ones are left out too (never read as today's)
                kept = [o for o in run if all(o is not u for u in usable)]
            for o in usable:
                others = sorted({x.item.ref for x in usable if x.item.ref != o.item.ref})
                where = ", ".join(others[:2]) + (", ..." if len(others) > 2 else "")
                rb.warn(
                    o.item.ref,
                    field_of(o.kind),
                    f"another value at the same date and time ({where or 'this resource'}) differs:"
                    " neither is read",
                )
        else:
            kept += run
        i = j
    return kept


def convert(
    o: ObsValue, kind: str, table: FhirMapping, rb: ReportBuilder, *, unitless_ok: bool = False
) -> float | None:
    """An Observation's quantity in the patient-file unit of ``kind``; ``None`` (reported) when it cannot be."""
    q = o.quantity
    if q is None:
        rb.warn(o.item.ref, field_of(o.kind), "no valueQuantity: not mapped")
        return None
    if q.comparator:
        rb.warn(
            o.item.ref, field_of(o.kind), f"value with comparator {q.comparator!r}: not mapped (never a guess)"
        )
        return None
    if q.unit is None and unitless_ok:
        return q.value
    units = table.units[kind]
    value = units.convert(q.value, q.unit)
    if value is None:
        rb.warn(
            o.item.ref,
            field_of(o.kind),
            f"unit {str(q.unit)[:32]!r} is not one of {', '.join(units.units)}: not mapped",
        )
        return None
    if q.unit != units.units[0]:
        rb.convert(o.item.ref, field_of(o.kind), f"{q.unit} → {units.units[0]}")
    rb.used("Observation", o.item.ref)
    if q.value < 0:
        rb.warn(o.item.ref, field_of(o.kind), "negative value: not mapped")
        return None
    if q.value == 0 and kind in _POSITIVE:
        rb.warn(o.item.ref, field_of(o.kind), "zero: not a body measurement, not mapped")
        return None
    return value


_POSITIVE = frozenset({"weight_kg", "height_cm"})
"""Units whose zero is an error in the record, not a value (a weight of 0 kg would divide doses by zero)."""


def _deceased(res: Mapping[str, Any], as_of: date | None) -> bool:
    """Whether the Patient is recorded as deceased by ``as_of`` (a death dated after it is not yet known)."""
    if res.get("deceasedBoolean") is True:
        return True
    raw = res.get("deceasedDateTime")
    died = fhir_date(raw)
    if died is None:
        return False
    if isinstance(died, date):
        return as_of is None or died <= as_of
    if as_of is not None and died == "partial date":  # a partial date counts unless all of it is after as_of
        year, _, month = str(raw).partition("-")
        first = (int(year), int(month[:2]) if month else 1)
        return first <= (as_of.year, as_of.month)
    return True


def demographics(
    patient: Item,
    obs: dict[str, list[ObsValue]],
    table: FhirMapping,
    rb: ReportBuilder,
    errors: list[FieldError],
    as_of: date | None = None,
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
    if _deceased(res, as_of):
        rb.warn(
            ref, "demographics", "the Patient is recorded as deceased (Patient.deceased[x]): review the record"
        )
    gender = res.get("gender")
    out["sex"] = _SEX.get(gender, "unknown") if isinstance(gender, str) else "unknown"
    if gender not in _SEX:
        how = "absent" if gender is None else "not an R4 code (male, female, other, unknown)"  # never echoed
        rb.warn(ref, "demographics.sex", f"Patient.gender {how}: sex 'unknown'")
    for kind, key, unit in (("weight", "weight_kg", "weight_kg"), ("height", "height_cm", "height_cm")):
        values = [(o, v) for o in obs.get(kind, []) if (v := convert(o, unit, table, rb)) is not None]
        if values:
            out[key] = round(values[-1][1], 3)
            # demographics.source is the Patient: the report names the Observation each value came from
            rb.convert(values[-1][0].item.ref, f"demographics.{key}", f"the patient's {kind}: the latest one read")
            if (
                kind == "weight"
                and as_of is not None
                and (as_of - values[-1][0].day).days > table.weight_warn_days
            ):
                rb.warn(
                    values[-1][0].item.ref,
                    "demographics.weight_kg",
                    f"the latest body weight is more than {table.weight_warn_days} days before as_of:"
                    " confirm it before dosing",
                )
    if "weight_kg" not in out:
        said = rb.notes_on("demographics.weight_kg")  # a weight recorded but not readable: say which, and why
        why = f": {said[0][0]}: {said[0][1]}" if said else ""
        more = f" (and {len(said) - 1} more: see the mapping warnings)" if len(said) > 1 else ""
        errors.append(
            FieldError(
                "demographics.weight_kg",
                f"no usable body-weight Observation (LOINC 29463-7, at or before as_of){why}{more}",
                "fhir_missing",
            )
        )
    groups = [(o, g) for o in obs.get("abo_group", []) if (g := abo_group(o)) is not None]
    if groups:
        out["abo_group"] = groups[-1][1]
        rb.used("Observation", groups[-1][0].item.ref)
    return out


def diagnosis(
    conditions: list[Item],
    obs: dict[str, list[ObsValue]],
    table: FhirMapping,
    rb: ReportBuilder,
    errors: list[FieldError],
) -> dict[str, Any]:
    found: list[tuple[int, date | None, str, Item, str | None, str]] = []
    reader = observation_reader(table)
    for item in conditions:
        diagnosed = reader.diagnoses_of(codings(item.resource.get("code")))
        if not diagnosed:
            continue
        # one Condition coded as two myositis conditions (PM and IBM): the one that outranks, as across Conditions
        name, hit = min(diagnosed, key=lambda d: table.diagnosis_precedence.index(d[0]))
        if len(diagnosed) > 1:
            rb.warn(
                item.ref,
                "diagnosis.condition",
                f"coded as several conditions ({', '.join(sorted(n for n, _ in diagnosed))}): {name} is used"
                " (diagnosis_precedence), review the Condition's codes",
            )
        verification, _ = condition_status(item.resource)
        if verification in ("refuted", "entered-in-error"):
            rb.used(item.kind, item.ref)
            continue
        if not hit.verified:
            rb.warn(item.ref, "diagnosis.condition", f"matched the unverified default code {hit.label()}")
        day, path, problem = first_date(item.resource, "onsetDateTime", "onsetPeriod.start", "recordedDate")
        # the first date present is the one meant: a partial one is said as such, not as no date at all
        why = f"Condition.{path} unusable ({problem}): a full date (YYYY-MM-DD) is needed" if problem else ""
        found.append((table.diagnosis_precedence.index(name), day, name, item, verification, why))
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
    _, day, name, item, verification, why = found[0]
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
            FieldError(
                f"diagnosis.diagnosed_on ({item.ref})",
                why or "no onset or recorded date",
                "fhir_value" if why else "fhir_missing",
            )
        )
    else:
        out["diagnosed_on"] = day.isoformat()
    classification = table.classification.get(verification or "", "unknown")
    site = _answer(obs.get("classification", []), table.answers["classification"], rb)
    out["classification"] = site or classification
    criteria = _answer(obs.get("criteria", []), table.answers["criteria"], rb)
    if criteria:
        out["criteria"] = criteria
    for key in DIAGNOSIS_OBSERVATIONS:
        if key == "eular_acr_score":
            scores = [
                (o, v)
                for o in obs.get(key, [])
                if (v := convert(o, "score", table, rb, unitless_ok=True)) is not None
            ]
            if scores:
                out[key] = scores[-1][1]
            continue
        if (flag := _latest_flag(obs.get(key, []), rb)) is not None:
            out[key] = flag
    items = {k: v for k in BOHAN_PETER_OBSERVATIONS if (v := _latest_flag(obs.get(f"bp_{k}", []), rb)) is not None}
    if items:
        out["bohan_peter_items"] = items
    return out


def _latest_flag(values: list[ObsValue], rb: ReportBuilder) -> bool | None:
    """The valueBoolean of the latest Observation that has one."""
    flags = [o for o in values if o.boolean is not None]
    if not flags:
        return None
    rb.used("Observation", flags[-1].item.ref)
    return flags[-1].boolean


def preventive_care(obs: dict[str, list[ObsValue]], rb: ReportBuilder) -> dict[str, Any] | None:
    """``preventive_care`` from the local Observations: screening date, bone protection, live vaccine date."""
    out: dict[str, Any] = {}
    used: list[ObsValue] = []
    screened = [o for o in obs.get("cancer_screening", []) if o.boolean is True]
    if screened:
        out["cancer_screening_on"] = screened[-1].day.isoformat()
        used.append(screened[-1])
    protected = [o for o in obs.get("bone_protection", []) if o.boolean is not None]
    if protected:
        out["bone_protection"] = protected[-1].boolean
        used.append(protected[-1])
    vaccines = [o for o in obs.get("live_vaccine", []) if o.moment is not None]
    if vaccines:
        latest = max(vaccines, key=lambda o: (o.moment or o.day, o.day, o.item.pos))
        out["live_vaccine_on"] = (latest.moment or latest.day).isoformat()
        used.append(latest)
    for o in obs.get("live_vaccine", []):
        if o.moment is None:
            rb.warn(
                o.item.ref, "preventive_care.live_vaccine_on", "no valueDateTime (the vaccine date): not mapped"
            )
    if not out:
        return None
    for o in used:
        rb.used("Observation", o.item.ref)
    out["source"] = max(used, key=lambda o: (o.day, o.item.pos)).item.ref
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


def assessments(obs: dict[str, list[ObsValue]], table: FhirMapping, rb: ReportBuilder) -> list[dict[str, Any]]:
    by_day: dict[date, dict[str, Any]] = {}
    for kind, key in _ASSESSMENT_FIELDS.items():
        for o in obs.get(kind, []):
            if kind == "dysphagia":
                value: Any = _answer([o], table.answers["dysphagia"], rb)
            elif kind in ("mmt8", "mmt8_150", "haq"):
                value = convert(o, "score", table, rb, unitless_ok=True)
            elif kind == "ck":
                value = convert(o, "ck_u_per_l", table, rb)
            else:
                value = convert(o, "vas_cm", table, rb)
            if value is None:
                continue
            row = by_day.get(o.day)
            if row is None:
                row = by_day[o.day] = {"date": o.day.isoformat(), "source": o.item.ref}
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
