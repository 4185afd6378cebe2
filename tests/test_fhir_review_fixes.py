"""The FHIR fixes of this release, after a review of them: a lab said twice in two units, bags charted
under one order, a burst with a duration only, a stop after a per-course order, the same infusion in two
time zones, a draft order in grams, censored eGFRs, a therapy stopped without an end, absurd timings."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_helpers import ATC, LOINC, RXNORM, UCUM, base, dosage, ivig_admin, med_request, obs, qty, warnings_of
from ivig_cds import Engine
from ivig_cds.fhir import map_resources
from ivig_cds.verdict import verdict

AS_OF = "2020-06-01"


def _map(*resources: dict[str, Any], **kw: Any) -> Any:
    result = map_resources([*base(), *resources], as_of=AS_OF, **kw)
    assert result.patient is not None, result.errors
    return result


def _labs(result: Any) -> list[float]:
    return [round(lab.value, 2) for lab in result.patient.labs]


def test_one_creatinine_in_two_units_at_one_moment_is_one_result() -> None:
    old = obs("c0", LOINC, "2160-0", "2020-03-01", valueQuantity=qty(0.8, "mg/dL"))
    ca = obs("ca", LOINC, "2160-0", "2020-05-01T08:00:00Z", valueQuantity=qty(2.1, "mg/dL"))
    cb = obs("cb", LOINC, "14682-9", "2020-05-01T08:00:00Z", valueQuantity=qty(186, "umol/L"))
    result = _map(old, ca, cb)
    assert _labs(result)[:2] == [0.8, 2.1] and result.report.incomplete == {}
    # two that truly differ at the latest moment: neither, and the older ones are not read as today's
    cc = obs("cc", LOINC, "2160-0", "2020-05-01T08:00:00Z", valueQuantity=qty(3.0, "mg/dL"))
    result = _map(old, ca, cc)
    assert result.patient.labs == [] and "labs" in result.report.incomplete


def _given(rid: str, when: str, *ids: tuple[str, str]) -> dict[str, Any]:
    res = ivig_admin(rid, when, qty(35, "g"))
    res["identifier"] = [{"system": s, "value": v} for s, v in ids]
    return res


def test_bags_charted_under_one_order_are_each_an_infusion() -> None:
    bags = [
        _given(rid, when, ("urn:order", "ORD1"), ("urn:mar", str(i)))
        for i, (rid, when) in enumerate(
            (
                ("a", "2020-02-01T09:00:00Z"),
                ("b", "2020-02-01T13:00:00Z"),
                ("c", "2020-02-02T09:00:00Z"),
                ("d", "2020-02-02T13:00:00Z"),
            )
        )
    ]
    result = _map(*bags)
    assert [(c.days, c.dose_g_per_kg_per_day) for c in result.patient.ivig_courses] == [(2, 1.0)]
    assert not any("read once" in w for w in warnings_of(result.report))
    # the first bag resent after the second: still a repeat of the first, not a third bag
    again = _given("a2", "2020-02-01T09:00:00Z", ("urn:order", "ORD1"), ("urn:mar", "0"))
    result = _map(*bags, again)
    assert [(c.days, c.dose_g_per_kg_per_day) for c in result.patient.ivig_courses] == [(2, 1.0)]
    assert any("read once" in w for w in warnings_of(result.report, "MedicationAdministration/a2"))


def test_one_infusion_in_two_time_zones_or_units_is_not_summed() -> None:
    a = ivig_admin("a", "2020-02-01T10:00:00-05:00", qty(70, "g"))
    b = ivig_admin("b", "2020-02-01T15:00:00Z", {"value": 70, "unit": "gram", "system": UCUM, "code": "g"})
    result = _map(a, b)
    assert result.patient.ivig_courses == []  # 2 g/kg would be a dose never given
    assert result.report.incomplete == {
        "ivig_courses": ["MedicationAdministration/a", "MedicationAdministration/b"]
    }


def test_a_burst_with_a_duration_only_ends_after_it() -> None:
    burst = dosage(qty(40, "mg"))
    burst["timing"]["repeat"]["boundsDuration"] = qty(5, "d")
    result = _map(med_request("o1", "8640", burst, authoredOn="2020-05-01"))
    assert [(str(d.date), d.prednisone_mg_per_day) for d in result.patient.glucocorticoid_doses] == [
        ("2020-05-01", 40.0),
        ("2020-05-06", 0),
    ]


def test_a_stop_on_an_unknown_day_after_a_per_course_order_is_incomplete() -> None:
    given = [
        ivig_admin(f"a{i}", d, qty(1, "g/kg"))
        for i, d in enumerate(("2020-01-06", "2020-01-07", "2020-02-03", "2020-02-04"))
    ]
    o1 = med_request(
        "o1", "J06BA02", dosage(qty(1, "g/kg"), "2020-01-06", "2020-01-07"), system=ATC, status="completed"
    )
    o2 = med_request(
        "o2",
        "J06BA02",
        dosage(qty(1, "g/kg"), "2020-02-03", "2020-12-31"),
        system=ATC,
        status="stopped",
        authoredOn="2020-02-01",
    )
    result = _map(*given, o1, o2)
    assert result.patient.ivig_discontinued_on is None
    assert result.report.incomplete == {"ivig_discontinued_on": ["MedicationRequest/o2"]}


def test_a_draft_order_in_grams_is_not_divided_by_a_weight_of_years_ago() -> None:
    from fhir_helpers import patient, polymyositis, weight

    order = med_request("dr", "J06BA02", dosage(qty(70, "g")), system=ATC, status="draft", authoredOn="2020-05-30")
    result = map_resources(
        [patient(), weight(70, "2016-01-01"), polymyositis()], as_of=AS_OF, draft_orders=[order]
    )
    assert result.patient is not None and result.patient.ivig_order is not None
    assert result.patient.ivig_order.dose_g_per_kg_per_day is None


def _egfr(rid: str, day: str, value: float, comparator: str | None = None) -> dict[str, Any]:
    extra = {"comparator": comparator} if comparator else {}
    return obs(rid, LOINC, "33914-3", day, valueQuantity=qty(value, "mL/min/{1.73_m2}", **extra))


def test_a_censored_egfr_within_the_earlier_one_keeps_it_and_is_not_incomplete() -> None:
    result = _map(_egfr("e1", "2019-06-01", 75), _egfr("e2", "2020-05-01", 60, ">"))
    assert _labs(result) == [75.0] and result.report.incomplete == {}
    assert any("is within it, read" in w for w in warnings_of(result.report, "Observation/e2"))
    result = _map(_egfr("e1", "2019-06-01", 55), _egfr("e2", "2020-05-01", 60, ">"))  # contradicted: not today's
    assert result.patient.labs == [] and result.report.incomplete == {"labs": ["Observation/e2"]}
    # one moment: a censored value and a number are never "later" by their input order
    pair = (_egfr("n", "2020-05-01", 52), _egfr("a", "2020-05-01", 60, ">"))
    for resources in (pair, pair[::-1]):
        assert _map(*resources).report.incomplete == {}


def test_a_therapy_stopped_without_an_end_is_no_sign_of_unmapped_ivig() -> None:
    mtx = med_request(
        "mtx", "6851", dosage(qty(15, "mg"), "2019-02-01", unit="wk"), status="stopped", system=RXNORM
    )
    result = _map(mtx)
    assert result.report.incomplete == {"therapies.stop": ["MedicationRequest/mtx"]}
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in [*base(), mtx]]}
    lines = {line.label: line.text for line in verdict(Engine().evaluate(bundle, as_of=AS_OF)).lines}
    assert "may not be mapped" not in lines["Working?"] and "may not be mapped" not in lines["Relapse?"]


@pytest.mark.parametrize(
    "repeat",
    [
        {"boundsPeriod": {"start": "2020-01-01"}, "boundsDuration": qty(1e308, "wk")},
        {"count": 3, "period": 1e308, "periodUnit": "wk"},
        {"count": 3, "frequency": 1e-320, "period": 1, "periodUnit": "d"},
    ],
)
def test_absurd_timings_are_mapped_or_warned_never_a_crash(repeat: dict[str, Any]) -> None:
    d = dosage(qty(10, "mg"), "2020-01-01")
    d["timing"]["repeat"].update(repeat)
    result = map_resources([*base(), med_request("gc", "8640", d)], as_of=AS_OF)
    assert result.patient is not None, result.errors


def test_a_gender_that_is_no_r4_code_is_said_so_without_its_value() -> None:
    from fhir_helpers import patient, polymyositis, weight

    result = map_resources([patient(gender="fem"), weight(), polymyositis()], as_of=AS_OF)
    assert result.patient is not None and result.patient.demographics.sex.value == "unknown"
    notes = warnings_of(result.report, "Patient/p1")
    assert "Patient.gender not an R4 code (male, female, other, unknown): sex 'unknown'" in notes
    assert not any("fem" in n.replace("female", "") for n in notes)
