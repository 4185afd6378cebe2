"""Conditions, Observations, AllergyIntolerances and Procedures: diagnosis, body size, assessments, labs, risks."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from .index import Item
from .mapping import Code, CodeSet, FhirMapping, RiskFactorSpec, words
from .report import ReportBuilder
from .values import (
    Quantity,
    array,
    codeable_text,
    codings,
    fhir_date,
    finite,
    first_date,
    is_obj,
    quantity,
    status_code,
)

__all__ = [
    "BOHAN_PETER_OBSERVATIONS",
    "DIAGNOSIS_OBSERVATIONS",
    "PREVENTIVE_CARE_OBSERVATIONS",
    "ObsValue",
    "ObservationReader",
    "abo_group",
    "condition_status",
    "observation_reader",
    "outcome_of",
    "recent",
    "risk_votes",
]

_OBS_OK = frozenset({"final", "amended", "corrected", "preliminary"})
DIAGNOSIS_OBSERVATIONS = (
    "ibm_features",
    "statin_exposure",
    "anti_hmgcr",
    "anti_srp",
    "finger_flexor_weakness",
    "myotoxic_exposure",
    "thyroid_function_normal",
    "eular_acr_score",
    "eular_acr_with_biopsy",
)
"""Observation kinds that feed a ``diagnosis`` field of the same name."""
BOHAN_PETER_OBSERVATIONS = (
    "symmetric_proximal_weakness",
    "biopsy_myositis",
    "raised_muscle_enzymes",
    "myopathic_emg",
    "rash",
)
"""The Bohan & Peter items, each read from the Observation kind ``bp_<item>``."""
PREVENTIVE_CARE_OBSERVATIONS = {
    "cancer_screening": "cancer_screening_on",
    "bone_protection": "bone_protection",
    "live_vaccine": "live_vaccine_on",
}
"""Observation kind -> the ``preventive_care`` field it feeds."""
_ABO = re.compile(r"^\s*(AB|A|B|O)(?![A-Za-z])")
_NOT_CURRENT = frozenset({"inactive", "remission", "resolved"})


@dataclass(slots=True)
class ObsValue:
    """One usable Observation: its kind (mapping key), date, value and resource (read-only)."""

    kind: str
    day: date
    item: Item
    quantity: Quantity | None
    concept: Mapping[str, Any] | None
    boolean: bool | None
    text: str | None
    uln: Quantity | None
    code: Code
    moment: date | None = None  # valueDateTime, as a date


class ObservationReader:
    """Classifies Observations by the mapping's code lists and keeps the usable ones, per kind."""

    def __init__(self, mapping: FhirMapping) -> None:
        self.mapping = mapping
        self.kinds: list[tuple[str, CodeSet]] = [(k, v) for k, v in mapping.observations.items()]
        self.kinds += [(f"lab:{k}", v) for k, v in mapping.labs.items()]
        for key in mapping.risk_factors:
            local = Code(mapping.local_system, "rf-" + key.replace("_", "-"))
            self.kinds.append((f"rf:{key}", CodeSet([local])))
        self._risks = list(mapping.risk_factors.items())
        self._risk_exact: dict[tuple[str, str], list[tuple[str, Code]]] = {}
        self._risk_prefix = [(k, c) for k, spec in self._risks for c in spec.conditions.codes if c.prefix]
        self._risk_starts = tuple({c.code for _, c in self._risk_prefix})
        """Every prefix code: a value that starts with none of them needs no scan."""
        for key, spec in self._risks:
            for pair, c in spec.conditions.exact.items():
                self._risk_exact.setdefault(pair, []).append((key, c))
        self._dx = list(mapping.diagnoses.items())
        self._dx_exact: dict[tuple[str, str], int] = {}  # (system, code) -> the first condition listing it
        for pos, (_, codes) in enumerate(self._dx):
            for pair in codes.exact:
                self._dx_exact.setdefault(pair, pos)
        self._dx_prefix = [(pos, c) for pos, (_, codes) in enumerate(self._dx) for c in codes.codes if c.prefix]
        self._dx_starts = tuple({c.code for _, c in self._dx_prefix})
        # one lookup for every exact code (first kind wins, as in table order); prefixes scanned after
        self._exact: dict[tuple[str, str], tuple[str, Code]] = {}
        self._prefix: list[tuple[str, Code]] = []
        for kind, codes in self.kinds:
            for c in codes.codes:
                if c.prefix:
                    self._prefix.append((kind, c))
                else:
                    self._exact.setdefault((c.system, c.code), (kind, c))

    def diagnoses_of(self, pairs: list[tuple[str, str]]) -> list[tuple[str, Code]]:
        """Every condition of the table's ``diagnoses`` (in table order) that one of a Condition's codings is,
        each with the code that matched (``CodeSet.match``): one index lookup per coding, and most Conditions
        (not myositis) match none."""
        hits: set[int] = set()
        for pair in pairs:
            pos = self._dx_exact.get(pair)
            if pos is not None:
                hits.add(pos)
            if self._dx_prefix and pair[1].startswith(self._dx_starts):
                hits.update(p for p, c in self._dx_prefix if pair[0] == c.system and pair[1].startswith(c.code))
        out = []
        for pos in sorted(hits):
            name, codes = self._dx[pos]
            hit = codes.match(pairs)
            if hit is not None:  # (always: the index holds the set's own codes)
                out.append((name, hit))
        return out

    def risk_hits(self, pairs: list[tuple[str, str]]) -> list[tuple[str, RiskFactorSpec, Code]]:
        """The risk factors a Condition's codings assert, in table order, each with the code that matched
        (the first pair, in order, that matches one of the factor's codes: as ``CodeSet.match``)."""
        found: dict[str, Code] = {}
        for pair in pairs:
            for key, code in self._risk_exact.get(pair, ()):
                found.setdefault(key, code)
            system, value = pair
            if not value.startswith(self._risk_starts):
                continue
            for key, code in self._risk_prefix:  # by factor, then code, as each factor's CodeSet scans them
                if key not in found and system == code.system and value.startswith(code.code):
                    found[key] = code
        if not found:
            return []
        return [(k, spec, found[k]) for k, spec in self._risks if k in found]

    def classify(self, item: Item) -> tuple[str, Code] | None:
        """The kind (mapping key) of an Observation's code, or ``None`` when the table does not list it."""
        concept = item.resource.get("code")
        exact = self._exact
        if type(concept) is dict and type(items := concept.get("coding")) is list:  # the usual shape, inline
            for coding in items:
                if type(coding) is dict:
                    system, code = coding.get("system"), coding.get("code")
                    if type(system) is str and type(code) is str:
                        hit = exact.get((system[:-1] if system[-1:] == "/" else system, code))
                        if hit is not None:
                            return hit
            if not self._prefix:
                return None
        pairs = codings(concept)
        for pair in pairs:
            hit = exact.get(pair)
            if hit is not None:
                return hit
        if self._prefix:
            for system, code in pairs:
                for kind, c in self._prefix:
                    if system == c.system and code.startswith(c.code):
                        return kind, c
        return None

    def read(self, item: Item, kind: str, code: Code, rb: ReportBuilder) -> ObsValue | None:
        """The Observation's value, or ``None`` (reported) when its status, date or value is unusable."""
        res = item.resource
        status = res.get("status")
        if status not in _OBS_OK:
            rb.ignored[item.kind] += 1
            return None
        if status == "preliminary":
            rb.warn(item.ref, _field(kind), "preliminary result used")
        day, _, problem = item.day()  # a panel's component is an Item of its own: dated the same way
        if day is None:
            rb.warn(item.ref, _field(kind), f"no usable effective date ({problem or 'absent'}): not mapped")
            return None
        if "dataAbsentReason" in res:
            if any(k.startswith("value") for k in res):  # FHIR obs-6 forbids both: which one is meant is unknown
                rb.warn(item.ref, _field(kind), "a value and a dataAbsentReason (invalid FHIR): not mapped")
            else:
                rb.warn(item.ref, _field(kind), "no value (dataAbsentReason): not mapped")
            return None
        raw = res.get("valueQuantity")
        q = None if raw is None else quantity(raw)
        if type(q) is str:
            rb.warn(item.ref, _field(kind), f"valueQuantity unusable ({q}): not mapped")
            return None
        if q is None and "valueInteger" in res:
            number = finite(res["valueInteger"])
            if number is None:
                rb.warn(item.ref, _field(kind), "valueInteger unusable (out of range): not mapped")
                return None
            q = Quantity(number, None, None)
        uln = None
        ranges = res.get("referenceRange")
        if ranges:
            for rr in array(ranges):
                high = quantity(rr.get("high")) if is_obj(rr) else None
                if type(high) is Quantity:
                    uln = high
                    break
        boolean = res.get("valueBoolean")
        concept = res.get("valueCodeableConcept")
        text = res.get("valueString")
        moment = res.get("valueDateTime")
        if moment is not None:
            moment = fhir_date(moment)
        if code.system and not code.verified:
            rb.warn(item.ref, _field(kind), f"matched the unverified default code {code.label()}")
        return ObsValue(
            kind,
            day,
            item,
            q,  # type: ignore[arg-type]  # a str was returned above
            concept if concept is None or is_obj(concept) else None,
            boolean if type(boolean) is bool else None,
            text if type(text) is str else None,
            uln,
            code,
            moment if type(moment) is date else None,
        )


_STALE = "dated more than {} days before as_of: says nothing about today, not mapped"


def recent(res: Mapping[str, Any], paths: tuple[str, ...], as_of: date | None, mapping: FhirMapping) -> bool:
    """Whether a record is dated within the table's current-risk window of ``as_of`` (no ``as_of``: yes)."""
    if as_of is None:
        return True
    day, _, _ = first_date(res, *paths)
    return day is not None and (as_of - day).days <= mapping.current_days


_READERS: dict[int, tuple[FhirMapping, ObservationReader]] = {}


def observation_reader(mapping: FhirMapping) -> ObservationReader:
    """The reader of ``mapping``, built once per table (tables are immutable)."""
    hit = _READERS.get(id(mapping))
    if hit is None or hit[0] is not mapping:
        if len(_READERS) > 32:
            _READERS.clear()
        hit = _READERS[id(mapping)] = (mapping, ObservationReader(mapping))
    return hit[1]


def _field(kind: str) -> str:
    if kind.startswith("lab:"):
        return "labs"
    if kind.startswith("rf:"):
        return f"risk_factors.{kind[3:]}"
    if kind in ("weight", "height", "abo_group"):
        return {"weight": "demographics.weight_kg", "height": "demographics.height_cm"}.get(
            kind, "demographics.abo_group"
        )
    if kind in DIAGNOSIS_OBSERVATIONS or kind in ("classification", "criteria"):
        return f"diagnosis.{kind}"
    if kind.startswith("bp_"):
        return f"diagnosis.bohan_peter_items.{kind[3:]}"
    if kind in PREVENTIVE_CARE_OBSERVATIONS:
        return f"preventive_care.{PREVENTIVE_CARE_OBSERVATIONS[kind]}"
    if kind == "pregnancy":
        return "risk_factors.pregnant"
    if kind == "ivig_adverse_event":
        return "ivig_courses.adverse_events"
    return "assessments"


def field_of(kind: str) -> str:
    """The patient-file field an Observation kind feeds (for report notes)."""
    return _field(kind)


def abo_group(obs: ObsValue) -> str | None:
    """O / A / B / AB from a value code, display or text ("A Rh(D) positive" is A), else ``None``."""
    candidates = [obs.text] if obs.text else []
    if obs.concept is not None:
        candidates += [c for _, c in codings(obs.concept)] + codeable_text(obs.concept)
    for text in candidates:
        m = _ABO.match(text or "")
        if m:
            return m.group(1)
    return None


def condition_status(res: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """``(verificationStatus, clinicalStatus)`` codes of a Condition or AllergyIntolerance."""
    return status_code(res, "verificationStatus"), status_code(res, "clinicalStatus")


def outcome_of(
    said: Iterable[object], reasons: Iterable[object], mapping: FhirMapping, rb: ReportBuilder, ref: str
) -> str:
    """A therapy's outcome: from local outcome codes (of ``said`` — statusReason, Procedure.outcome — or of
    ``reasons`` — reasonCode), else from the phrases of ``said``'s free text; ``unknown`` when nothing says
    one outcome plainly. Free text is reported whenever it is read, and when it is not (negated, several
    outcomes, or a reasonCode's text: why the therapy was given, not how it went)."""
    said, reasons = [c for c in said if c], [c for c in reasons if c]
    coded = set()
    for concept in said + reasons:
        pairs = codings(concept)
        coded |= {outcome for outcome, codes in mapping.outcome_codes.items() if codes.match(pairs) is not None}
    if len(coded) == 1:
        return coded.pop()
    if coded:
        rb.warn(ref, "therapies.outcome", f"outcome codes disagree ({', '.join(sorted(coded))}): unknown")
        return "unknown"
    found: set[str] = set()
    negated = False
    for concept in said:
        for text in codeable_text(concept):
            hits, plain = _phrases(words(text), mapping)
            found |= hits
            negated = negated or (bool(hits) and not plain)
    if negated:
        rb.warn(ref, "therapies.outcome", "free-text outcome with a negation (e.g. 'no side effects'): unknown")
        return "unknown"
    if len(found) > 1:
        rb.warn(
            ref, "therapies.outcome", f"free text names several outcomes ({', '.join(sorted(found))}): unknown"
        )
        return "unknown"
    if found:
        outcome = found.pop()
        rb.warn(ref, "therapies.outcome", f"outcome {outcome} read from free text (no outcome code): confirm it")
        return outcome
    if any(_phrases(words(t), mapping)[0] for c in reasons for t in codeable_text(c)):
        rb.warn(
            ref,
            "therapies.outcome",
            "reasonCode text names an outcome: not read (it says why the therapy was given): unknown",
        )
    return "unknown"


def _phrases(found: tuple[str, ...], mapping: FhirMapping) -> tuple[set[str], bool]:
    """The outcomes whose phrases occur in ``found``, and whether no negation word stands outside them."""
    outcomes: set[str] = set()
    covered: set[int] = set()
    for outcome, phrases in mapping.outcome_phrases.items():
        for phrase in phrases:
            n = len(phrase)
            for i in range(len(found) - n + 1):
                if found[i : i + n] == phrase:
                    outcomes.add(outcome)
                    covered.update(range(i, i + n))
    plain = not any(
        found[i : i + len(neg)] == neg and not covered.issuperset(range(i, i + len(neg)))
        for neg in mapping.outcome_negations
        for i in range(len(found) - len(neg) + 1)
    )
    return outcomes, plain


def risk_votes(
    conditions: Iterable[Item], mapping: FhirMapping, as_of: date | None, rb: ReportBuilder
) -> dict[str, list[tuple[bool, str]]]:
    """Risk factors asserted by Conditions: ``key -> [(value, source)]`` (refuted: False)."""
    votes: dict[str, list[tuple[bool, str]]] = {}
    reader = observation_reader(mapping)
    for item in conditions:
        pairs = codings(item.resource.get("code"))
        for key, spec, hit in reader.risk_hits(pairs):
            verification, clinical = condition_status(item.resource)
            rb.used(item.kind, item.ref)
            if not hit.verified:
                rb.warn(item.ref, f"risk_factors.{key}", f"matched the unverified default code {hit.label()}")
            if verification == "entered-in-error":
                continue
            if verification == "refuted" and spec.events:  # a suspected DVT ruled out in 2012 says nothing of 2021
                rb.warn(
                    item.ref,
                    f"risk_factors.{key}",
                    "refuted: rules out this event, not a history of others: not read as absent",
                )
                continue
            if verification == "refuted":
                if spec.current and not recent(item.resource, ("recordedDate", "onsetDateTime"), as_of, mapping):
                    rb.warn(item.ref, f"risk_factors.{key}", _STALE.format(mapping.current_days))
                    continue
                votes.setdefault(key, []).append((False, item.ref))
            elif spec.current and clinical in _NOT_CURRENT:
                rb.warn(
                    item.ref,
                    f"risk_factors.{key}",
                    f"clinicalStatus {clinical}: says nothing about today, not mapped",
                )
            else:
                votes.setdefault(key, []).append((True, item.ref))
    return votes
