"""Pydantic models of the patient file, version 1.1 (``docs/patient-file.md``; ``schema_version`` stays 1)."""

from __future__ import annotations

import enum
import re
from datetime import date, datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, ValidationError, model_validator
from pydantic.config import JsonDict
from pydantic_core import InitErrorDetails, PydanticCustomError

from ivig_cds.model.vocab import (
    AboGroup,
    AdverseEventSeverity,
    AdverseEventType,
    Agent,
    Classification,
    Condition,
    Criteria,
    Dysphagia,
    LabTest,
    Sex,
    TherapyOutcome,
)

__all__ = [
    "AboGroup",
    "AdverseEvent",
    "AdverseEventSeverity",
    "AdverseEventType",
    "Agent",
    "Assessment",
    "BohanPeterItems",
    "Classification",
    "Condition",
    "ContractModel",
    "Criteria",
    "Demographics",
    "Diagnosis",
    "Dysphagia",
    "GlucocorticoidDose",
    "IsoDate",
    "IvigCourse",
    "IvigOrder",
    "Lab",
    "LabTest",
    "NonNegative",
    "Patient",
    "PreventiveCare",
    "RiskFactors",
    "Sex",
    "Therapy",
    "TherapyOutcome",
    "Vas10",
    "check_iso_date",
]

# ---------------------------------------------------------------- constrained types

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Derivations step up to a few years around each date; year 1 / 9999 overflow Python's date.
_EARLIEST, _LATEST = date(1800, 1, 1), date(2200, 12, 31)


_PARSED: dict[str, date] = {}  # valid date strings seen (a record's dates recur): bounded below


def check_iso_date(value: object) -> date:
    """Accept a ``YYYY-MM-DD`` string or a ``date`` (YAML makes those); refuse anything looser."""
    if type(value) is str:
        hit = _PARSED.get(value)
        if hit is not None:
            return hit
    # datetime is a subclass of date: a time of day would be silently dropped, so refuse it first.
    if isinstance(value, datetime):
        raise PydanticCustomError("iso_date", "expected a date without a time of day (YYYY-MM-DD)")
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        text = value
        try:
            value = date.fromisoformat(value)
        except ValueError:
            raise PydanticCustomError("iso_date", "not a valid calendar date (YYYY-MM-DD)") from None
        if _EARLIEST <= value <= _LATEST and type(text) is str:
            if len(_PARSED) >= 65536:
                _PARSED.clear()
            _PARSED[text] = value
    if isinstance(value, date):
        if not _EARLIEST <= value <= _LATEST:
            raise PydanticCustomError("iso_date", "date out of range (1800-01-01 to 2200-12-31)")
        return value
    raise PydanticCustomError("iso_date", "expected an ISO date string YYYY-MM-DD")


def _check_not_bool(value: object) -> object:
    """Refuse booleans for literal numbers (``True == 1`` in Python)."""
    if isinstance(value, bool):
        raise PydanticCustomError("int_type", "Input should be a valid integer, not a boolean")
    return value


def _check_is_text(value: object) -> object:
    """Refuse non-strings for vocabulary fields (pydantic would take ``bytes``)."""
    if not isinstance(value, str):
        raise PydanticCustomError("string_type", "Input should be a valid string")
    return value


_E = TypeVar("_E", bound=enum.StrEnum)

IsoDate = Annotated[date, BeforeValidator(check_iso_date)]
"""A calendar date, ``YYYY-MM-DD`` in the file."""
Number = Annotated[float, Strict()]
"""A JSON number: ints and floats, never strings or booleans; NaN/Infinity are refused by the config."""
NonNegative = Annotated[float, Strict(), Field(ge=0)]
"""A JSON number ≥ 0."""
Vas10 = Annotated[float, Strict(), Field(ge=0, le=10)]
"""A 0-10 cm visual analogue scale."""
Flag = Annotated[bool, Strict()]
"""A real boolean: ``"true"``, ``1`` and ``"yes"`` are refused."""
Text = Annotated[str, Strict()]
"""A real string: numbers are refused."""
Vocab = Annotated[_E, BeforeValidator(_check_is_text)]
"""A member of a closed vocabulary, spelled exactly."""
SourceRef = Annotated[str, Strict(), Field(min_length=1, max_length=256)]
"""Where a record came from (for FHIR input ``"<ResourceType>/<id>"``); findings echo it."""


def _source_field() -> Any:
    return Field(
        default=None,
        description="Where this record came from (1-256 chars; FHIR: '<ResourceType>/<id>'); findings echo it.",
    )


# ---------------------------------------------------------------- base model

Loc = tuple[str | int, ...]
_Problem = tuple[Loc, str, str, object]  # (location, message, error type, offending value)


def _raise_errors(title: str, errors: list[_Problem]) -> None:
    """Raise one ``ValidationError`` whose entries keep their own locations (relative to the model)."""
    if errors:
        details = [
            InitErrorDetails(type=PydanticCustomError(kind, msg), loc=loc, input=value)
            for loc, msg, kind, value in errors
        ]
        raise ValidationError.from_exception_data(title, details)


_NULL_DEFAULTS: dict[type[Any], frozenset[str]] = {}  # per model class: computed once, not per validation


def _null_default_fields(model: type[BaseModel]) -> frozenset[str]:
    """Optional fields whose default is not ``None`` (``null`` in the file means that default)."""
    found = _NULL_DEFAULTS.get(model)
    if found is None:
        found = _NULL_DEFAULTS[model] = frozenset(
            name
            for name, info in model.model_fields.items()
            if not info.is_required() and (info.default_factory is not None or info.default is not None)
        )
    return found


def _document_null_defaults(schema: JsonDict, model: type[Any]) -> None:
    """Let the JSON Schema accept ``null`` where the model maps ``null`` to the field's default."""
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return
    for name in _null_default_fields(model):
        prop = properties.get(name)
        if not isinstance(prop, dict):
            continue
        kept = {"description", "default", "title"}
        inner: JsonDict = {k: v for k, v in prop.items() if k not in kept}
        outer: JsonDict = {k: v for k, v in prop.items() if k in kept}
        outer["anyOf"] = [inner, {"type": "null"}]
        properties[name] = outer


class ContractModel(BaseModel):
    """Base of every patient-file model: unknown fields, mutation and NaN/Infinity are refused."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, allow_inf_nan=False, json_schema_extra=_document_null_defaults
    )

    @model_validator(mode="before")
    @classmethod
    def _null_means_default(cls, data: Any) -> Any:
        # The contract says null and absent both mean "not recorded": give null the default too.
        if isinstance(data, dict) and None in data.values():  # most records hold no null: passed as they are
            defaulted = _null_default_fields(cls)
            return {k: v for k, v in data.items() if not (v is None and k in defaulted)}
        return data


# ---------------------------------------------------------------- records


class Demographics(ContractModel):
    """Who the patient is, as far as dosing needs."""

    birth_date: IsoDate = Field(description="Date of birth; age is computed at `as_of`.")
    sex: Vocab[Sex] = Field(description="Sex, used by the ideal-body-weight formula.")
    weight_kg: Number = Field(ge=20, le=350, description="Actual body weight in kilograms (20-350).")
    height_cm: Number | None = Field(
        default=None, ge=100, le=250, description="Height in cm (100-250), for ideal body weight."
    )
    abo_group: Vocab[AboGroup] | None = Field(default=None, description="ABO blood group (haemolysis risk).")
    source: SourceRef | None = _source_field()


class BohanPeterItems(ContractModel):
    """The Bohan & Peter 1975 criteria items as recorded (addition to contract 1.1; each true/false/null)."""

    symmetric_proximal_weakness: Flag | None = Field(
        default=None, description="Item 1: symmetric proximal weakness."
    )
    biopsy_myositis: Flag | None = Field(default=None, description="Item 2: muscle biopsy showing myositis.")
    raised_muscle_enzymes: Flag | None = Field(default=None, description="Item 3: raised skeletal-muscle enzymes.")
    myopathic_emg: Flag | None = Field(default=None, description="Item 4: myopathic electromyography.")
    rash: Flag | None = Field(default=None, description="Item 5: typical dermatomyositis rash.")


class Diagnosis(ContractModel):
    """The working diagnosis and its features."""

    condition: Vocab[Condition] = Field(description="The working diagnosis of the myopathy.")
    diagnosed_on: IsoDate = Field(description="Date of diagnosis.")
    classification: Vocab[Classification] = Field(description="Category under the `criteria` set.")
    criteria: Vocab[Criteria] | None = Field(default=None, description="Which classification criteria set.")
    ibm_features: Flag | None = Field(
        default=None, description="Finger-flexor weakness, rimmed vacuoles or other ENMC 2011 IBM features."
    )
    statin_exposure: Flag | None = Field(default=None, description="Exposure to statins.")
    anti_hmgcr: Flag | None = Field(default=None, description="Anti-HMGCR antibodies (necrotizing myopathy).")
    anti_srp: Flag | None = Field(default=None, description="Anti-SRP antibodies (necrotizing myopathy).")
    finger_flexor_weakness: Flag | None = Field(
        default=None, description="Finger-flexor weakness on examination (addition: DX-005)."
    )
    myotoxic_exposure: Flag | None = Field(
        default=None,
        description="Exposure to a myotoxic drug or toxin other than statins, e.g. colchicine, zidovudine,"
        " alcohol excess (addition: DX-008).",
    )
    thyroid_function_normal: Flag | None = Field(
        default=None, description="Thyroid function (TSH) checked and normal (addition: DX-008)."
    )
    bohan_peter_items: BohanPeterItems | None = Field(
        default=None, description="The Bohan & Peter items as recorded (addition: DX-002)."
    )
    eular_acr_score: Number | None = Field(
        default=None, ge=0, le=30, description="EULAR/ACR 2017 total score, 0-30 (addition: DX-003)."
    )
    eular_acr_with_biopsy: Flag | None = Field(
        default=None, description="The EULAR/ACR 2017 score includes muscle-biopsy items (addition: DX-003)."
    )
    source: SourceRef | None = _source_field()


class Therapy(ContractModel):
    """A prior or current myositis treatment."""

    agent: Vocab[Agent] = Field(description="Drug or procedure.")
    start: IsoDate = Field(description="Start date; for a procedure, the date it was done.")
    stop: IsoDate | None = Field(description="Stop date; null means ongoing.")
    outcome: Vocab[TherapyOutcome] = Field(description="How the treatment went.")
    dose_changed_on: list[IsoDate] = Field(default_factory=list, description="Dates the dose changed.")
    source: SourceRef | None = _source_field()

    @model_validator(mode="after")
    def check_dates_within_therapy(self) -> Therapy:
        """Check ``stop`` ≥ ``start`` and every ``dose_changed_on`` date within [start, stop]."""
        errors: list[_Problem] = []
        if self.stop is not None and self.stop < self.start:
            errors.append((("stop",), "stop is before start", "date_order", self.stop))
        # With stop before start the window is meaningless: report that alone.
        for i, changed in enumerate(self.dose_changed_on if not errors else []):
            if changed < self.start or (self.stop is not None and changed > self.stop):
                msg = "dose change is outside the therapy (before start or after stop)"
                errors.append((("dose_changed_on", i), msg, "date_order", changed))
        _raise_errors(type(self).__name__, errors)
        return self


class GlucocorticoidDose(ContractModel):
    """One step of the glucocorticoid dose: holds from `date` until the next step."""

    date: IsoDate = Field(description="Date this dose starts.")
    prednisone_mg_per_day: Number = Field(ge=0, le=2000, description="Daily mg, prednisone-equivalent.")
    source: SourceRef | None = _source_field()


class Assessment(ContractModel):
    """Core set measures on one date; any field but `date` may be absent."""

    date: IsoDate = Field(description="Date of the assessment.")
    mmt8: NonNegative | None = Field(default=None, description="MMT8 score, on the `mmt8_max` scale.")
    mmt8_max: Annotated[Literal[80, 150], BeforeValidator(_check_not_bool)] = Field(
        default=80, description="Scale of `mmt8`: 80 or 150."
    )
    ck_u_per_l: NonNegative | None = Field(default=None, description="Creatine kinase in U/L.")
    ck_uln_u_per_l: Number = Field(default=200, gt=0, description="The lab's CK upper limit of normal, U/L.")
    physician_global_cm: Vas10 | None = Field(default=None, description="Physician global VAS, 0-10 cm.")
    patient_global_cm: Vas10 | None = Field(default=None, description="Patient global activity VAS, 0-10 cm.")
    haq: Number | None = Field(default=None, ge=0, le=3, description="HAQ disability index, 0-3.")
    extramuscular_global_cm: Vas10 | None = Field(default=None, description="Extramuscular activity VAS, 0-10 cm.")
    dysphagia: Vocab[Dysphagia] | None = Field(default=None, description="Oesophageal involvement.")
    source: SourceRef | None = _source_field()

    @model_validator(mode="after")
    def check_mmt8_within_scale(self) -> Assessment:
        """Check ``mmt8`` ≤ ``mmt8_max``."""
        if self.mmt8 is not None and self.mmt8 > self.mmt8_max:
            msg = f"mmt8 is above mmt8_max ({self.mmt8_max})"
            _raise_errors(type(self).__name__, [(("mmt8",), msg, "mmt8_scale", self.mmt8)])
        return self


class Lab(ContractModel):
    """One safety lab result."""

    date: IsoDate = Field(description="Date of the sample.")
    test: Vocab[LabTest] = Field(description="Which test; the unit is in its name.")
    value: NonNegative = Field(description="Result, in the unit named by `test`.")
    source: SourceRef | None = _source_field()


class AdverseEvent(ContractModel):
    """An adverse event during an IVIG course."""

    type: Vocab[AdverseEventType] = Field(description="What happened.")
    severity: Vocab[AdverseEventSeverity] = Field(description="How severe it was.")
    source: SourceRef | None = _source_field()


class IvigCourse(ContractModel):
    """One IVIG course: consecutive infusion days at one daily dose."""

    start: IsoDate = Field(description="First infusion day of the course.")
    days: Annotated[int, Strict()] = Field(ge=1, le=5, description="Consecutive infusion days (1-5).")
    dose_g_per_kg_per_day: Number = Field(ge=0.1, le=2.0, description="Daily dose in g per kg (0.1-2.0).")
    product: Text | None = Field(
        default=None, description="IVIG product name, free text (recognised through the terminology table)."
    )
    max_rate_mg_kg_min: Number | None = Field(
        default=None, gt=0, description="Highest infusion rate reached, mg/kg/min."
    )
    adverse_events: list[AdverseEvent] = Field(default_factory=list, description="Adverse events.")
    source: SourceRef | None = _source_field()


class IvigOrder(ContractModel):
    """The IVIG course being ordered or considered now (an EHR's draft order maps here)."""

    product: Text | None = Field(default=None, description="The product chosen, free text.")
    dose_g_per_kg_per_day: Number | None = Field(
        default=None, ge=0.1, le=2.0, description="Ordered daily dose in g per kg (0.1-2.0)."
    )
    days: Annotated[int, Strict()] | None = Field(
        default=None, ge=1, le=5, description="Consecutive infusion days (1-5)."
    )
    start: IsoDate | None = Field(default=None, description="Planned first infusion day.")
    max_rate_mg_kg_min: Number | None = Field(
        default=None, gt=0, description="Planned highest infusion rate, mg/kg/min."
    )
    source: SourceRef | None = _source_field()


class PreventiveCare(ContractModel):
    """Preventive care around IVIG and glucocorticoids (addition to contract 1.1; every field optional)."""

    cancer_screening_on: IsoDate | None = Field(
        default=None,
        description="Date of the latest age- and sex-appropriate malignancy screening for the myositis (DX-009).",
    )
    bone_protection: Flag | None = Field(
        default=None,
        description="Calcium and vitamin D, or a bone-protective drug, taken at `as_of` (STER-006).",
    )
    live_vaccine_on: IsoDate | None = Field(
        default=None,
        description="Date a live vaccine (e.g. measles, varicella) was given or is planned (SAFETY-016).",
    )
    source: SourceRef | None = _source_field()


class RiskFactors(ContractModel):
    """IVIG safety screen: each key true, false, or null (not recorded)."""

    prior_ig_anaphylaxis: Flag | None = Field(default=None, description="Prior anaphylaxis to an Ig product.")
    iga_deficiency: Flag | None = Field(default=None, description="IgA deficiency.")
    anti_iga_antibodies: Flag | None = Field(default=None, description="Anti-IgA antibodies.")
    hyperprolinemia: Flag | None = Field(
        default=None, description="Hyperprolinemia (proline-stabilised products)."
    )
    corn_allergy: Flag | None = Field(
        default=None,
        description="Corn allergy (maltose-containing products such as Octagam: the maltose is corn-derived).",
    )
    thrombosis_history: Flag | None = Field(default=None, description="History of thrombosis.")
    hypercoagulable_state: Flag | None = Field(default=None, description="Known hypercoagulable state.")
    immobilized: Flag | None = Field(default=None, description="Prolonged immobilisation.")
    estrogen_therapy: Flag | None = Field(default=None, description="Estrogen therapy.")
    central_venous_catheter: Flag | None = Field(default=None, description="Indwelling central venous catheter.")
    cardiovascular_disease: Flag | None = Field(default=None, description="Cardiovascular disease.")
    hyperviscosity: Flag | None = Field(default=None, description="Hyperviscosity.")
    diabetes: Flag | None = Field(default=None, description="Diabetes mellitus.")
    heart_failure: Flag | None = Field(default=None, description="Heart failure.")
    volume_depletion: Flag | None = Field(default=None, description="Volume depletion.")
    sepsis: Flag | None = Field(default=None, description="Sepsis.")
    nephrotoxic_drugs: Flag | None = Field(default=None, description="Concurrent nephrotoxic drugs.")
    pregnant: Flag | None = Field(default=None, description="Pregnancy (read whatever `sex` says).")


class Patient(ContractModel):
    """A patient file, version 1: one patient up to a date."""

    schema_version: Annotated[Literal[1], BeforeValidator(_check_not_bool)] = Field(
        description="Version of the patient-file contract; always 1."
    )
    patient_id: Text = Field(min_length=1, max_length=128, description="Opaque id, echoed in every output.")
    as_of: IsoDate | None = Field(
        default=None, description="Evaluate as of this date (default today); later records are ignored."
    )
    demographics: Demographics = Field(description="Birth date, sex and body size.")
    diagnosis: Diagnosis = Field(description="Working diagnosis.")
    therapies: list[Therapy] = Field(description="Prior and current myositis treatments (may be empty).")
    glucocorticoid_doses: list[GlucocorticoidDose] = Field(
        default_factory=list, description="Dose steps, each until the next."
    )
    assessments: list[Assessment] = Field(default_factory=list, description="Core set measures over time.")
    labs: list[Lab] = Field(default_factory=list, description="Safety labs over time.")
    ivig_courses: list[IvigCourse] = Field(default_factory=list, description="IVIG courses given.")
    ivig_discontinued_on: IsoDate | None = Field(default=None, description="IVIG stopped on this date.")
    ivig_order: IvigOrder | None = Field(
        default=None, description="The IVIG course being ordered or considered now (an EHR draft order)."
    )
    risk_factors: RiskFactors = Field(default_factory=RiskFactors, description="IVIG safety screen.")
    preventive_care: PreventiveCare | None = Field(
        default=None, description="Malignancy screening, bone protection, live vaccines (addition)."
    )

    def _dates_before(self, born: date) -> list[tuple[Loc, date]]:
        """Every date in the file except the birth date that is before ``born``, with its location (a
        location is built only for such a date: the usual file has none)."""
        found: list[tuple[Loc, date | None]] = [
            (("as_of",), self.as_of),
            (("diagnosis", "diagnosed_on"), self.diagnosis.diagnosed_on),
            (("ivig_discontinued_on",), self.ivig_discontinued_on),
        ]
        for i, therapy in enumerate(self.therapies):
            if therapy.start < born:
                found.append((("therapies", i, "start"), therapy.start))
            if therapy.stop is not None and therapy.stop < born:
                found.append((("therapies", i, "stop"), therapy.stop))
            changed = therapy.dose_changed_on
            found += [(("therapies", i, "dose_changed_on", j), d) for j, d in enumerate(changed) if d < born]
        for key in ("glucocorticoid_doses", "assessments", "labs"):
            found += [((key, i, "date"), r.date) for i, r in enumerate(getattr(self, key)) if r.date < born]
        found += [
            (("ivig_courses", i, "start"), c.start) for i, c in enumerate(self.ivig_courses) if c.start < born
        ]
        if self.ivig_order is not None:
            found.append((("ivig_order", "start"), self.ivig_order.start))
        care = self.preventive_care
        if care is not None:
            found.append((("preventive_care", "cancer_screening_on"), care.cancer_screening_on))
            found.append((("preventive_care", "live_vaccine_on"), care.live_vaccine_on))
        return [(loc, d) for loc, d in found if d is not None and d < born]

    def _dates_before_birth(self) -> list[_Problem]:
        """Every date in the file (``as_of`` included) that is before ``demographics.birth_date``."""
        msg = "date is before demographics.birth_date"
        return [(loc, msg, "date_before_birth", d) for loc, d in self._dates_before(self.demographics.birth_date)]

    def _discontinued_before_first_course(self) -> list[_Problem]:
        """``ivig_discontinued_on`` when it is before the first IVIG course started."""
        stopped = self.ivig_discontinued_on
        if stopped is None or not self.ivig_courses:
            return []
        first = min(range(len(self.ivig_courses)), key=lambda i: self.ivig_courses[i].start)
        if stopped >= self.ivig_courses[first].start:
            return []
        msg = f"IVIG discontinued before the first course started (ivig_courses[{first}].start)"
        return [(("ivig_discontinued_on",), msg, "date_order", stopped)]

    @model_validator(mode="after")
    def check_dates_plausible(self) -> Patient:
        """Check no date precedes the birth date and IVIG is not discontinued before it started."""
        # One validator for both checks, so a file breaking both reports both.
        errors = self._dates_before_birth() + self._discontinued_before_first_course()
        _raise_errors(type(self).__name__, errors)
        return self
