"""FHIR input after a clinical review: an immunoglobulin allergy by any of its names, the latest lab result
that cannot be read, creatinine in µmol/L by its own LOINC code, venous and arterial thrombosis codes, a
draft order's days from its bounds. Each changed what the evaluation says."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_helpers import (
    ATC,
    LOINC,
    SNOMED,
    SUBJECT,
    UCUM,
    base,
    condition,
    ivig_admin,
    med_request,
    obs,
    qty,
    warnings_of,
)
from ivig_cds import Engine
from ivig_cds.fhir import map_resources

AS_OF = "2024-06-01"


def _map(*resources: dict[str, Any], **kw: Any) -> Any:
    result = map_resources([*base(), *resources], as_of=AS_OF, **kw)
    assert result.patient is not None, result.errors
    return result


def _fired(result: Any) -> set[str]:
    return {f.rule_id for f in Engine().evaluate(result.patient).findings}


@pytest.mark.parametrize("name", ["Immune Globulins", "Gamma globulin", "gammaglobulins", "Immune globulin"])
def test_an_anaphylaxis_to_immunoglobulin_by_any_of_its_names_contraindicates(name: str) -> None:
    allergy = {
        "resourceType": "AllergyIntolerance",
        "id": "al",
        "patient": SUBJECT,
        "verificationStatus": {"coding": [{"code": "confirmed"}]},
        "code": {"text": name},
        "recordedDate": "2020-01-01",
        "reaction": [{"manifestation": [{"coding": [{"system": SNOMED, "code": "39579001"}]}]}],
    }
    result = _map(allergy)
    assert result.patient.risk_factors.prior_ig_anaphylaxis is True
    assert "SAFETY-001" in _fired(result)


def test_a_later_iga_that_cannot_be_read_leaves_the_older_one_flagged_as_not_current() -> None:
    old = obs("iga1", LOINC, "2458-8", "2019-05-01", valueQuantity=qty(150, "mg/dL"))
    new = obs("iga2", LOINC, "2458-8", "2024-05-01", valueQuantity=qty(7, "mg/dL", comparator="<"))
    result = _map(old, new)
    assert result.patient.labs == []  # the 150 of 2019 is not today's IgA: the IgA is not recorded
    assert result.report.incomplete == {"labs": ["Observation/iga2"]}
    assert any("evaluated as the current one" in w for w in warnings_of(result.report, "Observation/iga2"))
    assert "SCREEN-002" in _fired(result)  # "record the IgA": with the 2019 value kept, no screen step asked
    # an unreadable result before a readable one says nothing the newer does not
    result = _map(obs("iga0", LOINC, "2458-8", "2018-05-01", valueQuantity=qty(7, "mg/dL", comparator="<")), old)
    assert result.report.incomplete == {}


def test_creatinine_in_umol_per_l_by_its_own_loinc_code_is_read() -> None:
    before = obs("cr1", LOINC, "2160-0", "2024-04-25", valueQuantity=qty(0.9, "mg/dL"))
    course = [ivig_admin("a1", "2024-05-06", qty(1, "g/kg")), ivig_admin("a2", "2024-05-07", qty(1, "g/kg"))]
    after = obs("cr2", LOINC, "14682-9", "2024-05-12", valueQuantity=qty(220, "umol/L"))
    result = _map(before, *course, after)
    assert [round(lab.value, 2) for lab in result.patient.labs] == [0.9, 2.49]
    assert any("unverified default code" in w for w in warnings_of(result.report, "Observation/cr2"))
    assert "SAFETY-009" in _fired(result)  # the rise that stops IVIG


@pytest.mark.parametrize("code", ["65198009", "195189003", "404223003", "233935004"])
def test_venous_and_arterial_thrombosis_codes_are_a_thrombosis_history(code: str) -> None:
    result = _map(condition("t", SNOMED, code))
    assert result.patient.risk_factors.thrombosis_history is True


def _draft(repeat: dict[str, Any]) -> dict[str, Any]:
    timing = {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d", **repeat}}
    dose = {"timing": timing, "doseAndRate": [{"doseQuantity": qty(1, "g/kg")}]}
    return med_request("dr", "J06BA02", dose, system=ATC, status="draft", authoredOn="2024-05-30")


def test_a_draft_order_days_come_from_its_bounds_too() -> None:
    five = {"value": 5, "unit": "d", "system": UCUM, "code": "d"}
    for repeat in (
        {"count": 5},
        {"boundsPeriod": {"start": "2024-06-03", "end": "2024-06-07"}},
        {"boundsPeriod": {"start": "2024-06-03"}, "boundsDuration": five},
    ):
        result = _map(draft_orders=[_draft(repeat)])
        assert result.patient.ivig_order is not None and result.patient.ivig_order.days == 5, repeat
        assert "DOSE-012" in _fired(result)  # 5 g/kg a course: more than 2
    result = _map(draft_orders=[_draft({"boundsPeriod": {"start": "2024-06-03", "end": "2024-06-12"}})])
    assert result.patient.ivig_order is not None and result.patient.ivig_order.days is None
    assert "timing.repeat.boundsPeriod is not 1-5 daily infusions: days not mapped" in warnings_of(result.report)


def test_grams_are_divided_by_a_weight_of_the_last_year_only() -> None:
    from fhir_helpers import patient, polymyositis, weight

    course = [ivig_admin("g1", "2024-03-04", qty(70, "g")), ivig_admin("g2", "2024-03-05", qty(70, "g"))]
    old = map_resources([patient(), weight(50, "2019-01-01"), polymyositis(), *course], as_of=AS_OF)
    assert old.patient is not None and old.patient.ivig_courses == []  # 70 g ÷ 50 kg of 2019: 1.4 g/kg?
    assert old.report.incomplete == {
        "ivig_courses": ["MedicationAdministration/g1", "MedicationAdministration/g2"]
    }
    recent = map_resources([patient(), weight(70, "2023-09-04"), polymyositis(), *course], as_of=AS_OF)
    assert recent.patient is not None
    assert [c.dose_g_per_kg_per_day for c in recent.patient.ivig_courses] == [1.0]


def test_a_refuted_dvt_rules_out_that_dvt_not_a_history_of_thrombosis() -> None:
    from fhir_helpers import LOCAL

    refuted = condition("dvt", SNOMED, "128053003", "refuted", onsetDateTime="2012-03-01")
    result = _map(refuted)
    assert result.patient.risk_factors.thrombosis_history is None  # unknown: a data gap, never "no"
    assert any("not read as absent" in w for w in warnings_of(result.report, "Condition/dvt"))
    pe = condition("pe", SNOMED, "59282003", onsetDateTime="2021-03-01")
    assert _map(refuted, pe).patient.risk_factors.thrombosis_history is True
    answer = obs("rf", LOCAL, "rf-thrombosis-history", "2024-05-20", valueBoolean=False)
    assert _map(answer).patient.risk_factors.thrombosis_history is False  # the screening answer says no


def test_a_weight_that_cannot_be_read_is_named_with_why() -> None:
    from fhir_helpers import patient, polymyositis

    stone = obs("wt", LOINC, "29463-7", "2024-05-01", valueQuantity=qty(12, "stone"))
    result = map_resources([patient(), stone, polymyositis()], as_of=AS_OF)
    (error,) = [e for e in result.errors if e.loc == "demographics.weight_kg"]
    assert "Observation/wt: unit 'stone' is not one of" in error.msg
    huge = obs("wt", LOINC, "29463-7", "2024-05-01", valueQuantity=qty(987654, "kg"))
    result = map_resources([patient(), huge, polymyositis()], as_of=AS_OF)
    assert [e.loc for e in result.errors] == ["demographics.weight_kg (Observation/wt)"]  # not the Patient


@pytest.mark.parametrize("value", ["/data/bundle.json", None, [{"resourceType": "Bundle"}]])
def test_a_bundle_that_is_no_parsed_object_is_said_so(value: Any) -> None:
    from ivig_cds.fhir import map_bundle

    (error,) = map_bundle(value).errors
    assert error.msg.startswith("expected a FHIR Bundle (a parsed JSON object), got ")
    assert ("a path?" in error.msg) == isinstance(value, str)
    assert "/data/bundle.json" not in error.msg  # the value itself is never echoed
