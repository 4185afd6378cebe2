"""Dose records (statements ``partOf`` a therapy): what is a therapy to record, chains and loops, the days a
therapy of unknown dose is known, and what a record says of its therapy's days and outcome."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from fhir_helpers import RXNORM, SUBJECT, base, dosage, med_request, qty, statement, warnings_of
from ivig_cds import Engine
from ivig_cds.fhir import patient_from_bundle, patient_from_resources

AS_OF = "2021-01-01"
BUNDLE = Path(__file__).resolve().parents[1] / "examples" / "fhir" / "polymyositis-bundle.json"


_statement = statement


def _mtx(parent: str) -> dict[str, Any]:
    period = {"start": "2020-01-01", "end": "2020-06-30"}
    return _statement("m1", "6851", effectivePeriod=period, partOf=[{"reference": parent}])


def _record(rid: str, start: str, end: str | None, parent: str, mg: float = 10) -> dict[str, Any]:
    period = {"start": start, **({"end": end} if end else {})}
    return _statement(
        rid, "8640", effectivePeriod=period, partOf=[{"reference": parent}], dosage=[dosage(qty(mg, "mg"))]
    )


def _doses(p: Any) -> list[tuple[str, float]]:
    return [(str(d.date), d.prednisone_mg_per_day) for d in p.glucocorticoid_doses]


_ADMIN = {
    "resourceType": "MedicationAdministration",
    "id": "ma",
    "status": "completed",
    "subject": SUBJECT,
    "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "6851"}]},
    "effectiveDateTime": "2020-01-01",
}


@pytest.mark.parametrize(
    ("parent", "ref", "said"),
    [
        (med_request("mo", "6851", status="entered-in-error"), "MedicationRequest/mo", "status entered-in-error"),
        (med_request("mo", "6851", status="cancelled"), "MedicationRequest/mo", "status cancelled"),
        (med_request("mo", "6851", status="draft"), "MedicationRequest/mo", "status draft"),
        (med_request("mo", "6851", intent="proposal"), "MedicationRequest/mo", "intent"),
        (med_request("mo", "6851", intent="plan"), "MedicationRequest/mo", "intent"),
        (
            _statement("ms", "6851", "not-taken", effectivePeriod={"start": "2020-01-01"}),
            "MedicationStatement/ms",
            "status not-taken",
        ),
        (_ADMIN, "MedicationAdministration/ma", "is no therapy"),
        (med_request("mo", "6851", authoredOn="2021-06-01"), "MedicationRequest/mo", "after as_of"),
        (None, "MedicationRequest/gone", "is not in the input"),
    ],
)
def test_a_statement_part_of_what_is_no_read_therapy_is_a_therapy_of_its_own(
    parent: dict[str, Any] | None, ref: str, said: str
) -> None:
    """Methotrexate taken January to June, recorded partOf an order that is no therapy (entered in error, a
    draft, a proposal, not taken, after as_of, absent): the trial was lost with no word, and a refractory
    patient looked not refractory. It is a therapy of its own, warned."""
    p, report = patient_from_resources([*base(), *([parent] if parent else []), _mtx(ref)], as_of=AS_OF)
    assert [(t.agent.value, t.source, str(t.start), str(t.stop)) for t in p.therapies] == [
        ("methotrexate", "MedicationStatement/m1", "2020-01-01", "2020-06-30")
    ]
    warned = warnings_of(report, "MedicationStatement/m1")
    assert any(said in w and "read as a therapy of its own" in w for w in warned), warned


def test_a_stopped_order_without_an_end_leaves_its_records_therapies() -> None:
    order = med_request("mo", "6851", status="stopped")  # when it stopped is unknown: not mapped
    p, _ = patient_from_resources([*base(), order, _mtx("MedicationRequest/mo")], as_of=AS_OF)
    assert [(t.source, str(t.stop)) for t in p.therapies] == [("MedicationStatement/m1", "2020-06-30")]


def test_immunosuppressants_recorded_under_erroneous_orders_still_make_the_example_refractory() -> None:
    bundle = json.loads(BUNDLE.read_text())
    before = Engine(backend="reference").evaluate(bundle, as_of="2024-06-01")
    changed = copy.deepcopy(bundle)
    for entry in list(changed["entry"]):
        res = entry["resource"]
        if res["resourceType"] == "MedicationStatement":
            order = med_request(f"{res['id']}-order", res["medicationCodeableConcept"]["coding"][0]["code"])
            order.update(status="entered-in-error", subject=res["subject"])
            order["medicationCodeableConcept"] = res["medicationCodeableConcept"]
            changed["entry"].append({"fullUrl": f"MedicationRequest/{order['id']}", "resource": order})
            res["partOf"] = [{"reference": f"MedicationRequest/{order['id']}"}]
    after = Engine(backend="reference").evaluate(changed, as_of="2024-06-01")
    patient, _ = patient_from_bundle(changed, as_of="2024-06-01")
    assert sorted(t.agent.value for t in patient.therapies) == [
        "azathioprine",
        "methotrexate",
        "mycophenolate",
        "prednisone",
    ]

    fired = sorted(f.rule_id for f in after.findings)
    assert fired == sorted(f.rule_id for f in before.findings)
    assert "REFRACTORY-001" in fired and "REFRACTORY-101" not in fired  # refractory, as before


def test_a_completed_statement_of_unknown_dose_with_an_end_is_unknown_where_no_record_is() -> None:
    """A completed prednisone statement January to June, no dose; a record of 10 mg for January: February to
    June read 0 mg (a taper that never happened)."""
    parent = _statement("o1", "8640", effectivePeriod={"start": "2020-01-01", "end": "2020-06-30"})
    rec = _record("r1", "2020-01-01", "2020-01-31", "MedicationStatement/o1")
    p, report = patient_from_resources([*base(), parent, rec], as_of=AS_OF)
    assert report.incomplete == {"glucocorticoid_doses": ["MedicationStatement/o1"]}
    assert any("cover only part of its period" in w for w in warnings_of(report, "MedicationStatement/o1"))
    full = _record("r1", "2020-01-01", "2020-06-30", "MedicationStatement/o1")  # every day recorded: complete
    p, report = patient_from_resources([*base(), parent, full], as_of=AS_OF)
    assert report.incomplete == {} and _doses(p) == [("2020-01-01", 10.0), ("2020-07-01", 0.0)]


def test_an_ended_order_without_an_end_is_unknown_between_its_records() -> None:
    """A stopped order of unknown dose, no end; records for January and March: February is inside the
    order (it ran to March at least), its dose unknown - not 0 mg."""
    order = med_request("o1", "8640", status="stopped")
    jan = _record("r0", "2020-01-01", "2020-01-31", "MedicationRequest/o1")
    mar = _record("r1", "2020-03-01", "2020-03-31", "MedicationRequest/o1")
    p, report = patient_from_resources([*base(), order, jan, mar], as_of=AS_OF)
    assert report.incomplete == {"glucocorticoid_doses": ["MedicationRequest/o1"]}
    assert [t.agent.value for t in p.therapies] == ["prednisone"]  # the records' days, one therapy
    feb = _record("r2", "2020-02-01", "2020-02-29", "MedicationRequest/o1")
    p, report = patient_from_resources([*base(), order, jan, feb, mar], as_of=AS_OF)
    assert report.incomplete == {}  # known by its records, tiled
    assert _doses(p)[-1] == ("2020-04-01", 0.0) and {mg for _, mg in _doses(p)[:-1]} == {10.0}


def test_an_order_without_a_start_runs_from_its_first_record() -> None:
    order = med_request("o1", "8640")
    del order["authoredOn"]
    rec = _record("r1", "2020-01-01", "2020-01-31", "MedicationRequest/o1")
    _, report = patient_from_resources([*base(), order, rec], as_of=AS_OF)
    assert report.incomplete == {"glucocorticoid_doses": ["MedicationRequest/o1"]}  # active: Feb on unknown


def test_statements_part_of_each_other_are_therapies_of_their_own() -> None:
    a = _record("r1", "2020-01-01", None, "MedicationStatement/r2")
    b = _record("r2", "2020-01-01", None, "MedicationStatement/r1")
    a["status"] = b["status"] = "active"
    p, report = patient_from_resources([*base(), a, b], as_of=AS_OF)
    assert _doses(p) == [("2020-01-01", 20.0)]  # two statements, added (and warned as an overlap)
    assert [t.agent.value for t in p.therapies] == ["prednisone"]
    for ref in ("MedicationStatement/r1", "MedicationStatement/r2"):
        assert any("leads back to this statement" in w for w in warnings_of(report, ref))
    c = _record("r3", "2020-01-01", None, "MedicationStatement/r1")  # a record of a loop's statement
    c["status"] = "active"
    p, report = patient_from_resources([*base(), a, b, c], as_of=AS_OF)
    assert _doses(p) == [("2020-01-01", 20.0)]  # r3 replaces r1's plan on its days


def test_a_record_of_a_record_is_a_record_of_the_order() -> None:
    order = med_request("o1", "8640", dosage(qty(20, "mg"), "2020-01-01"))
    r1 = _record("r1", "2020-01-01", "2020-01-31", "MedicationRequest/o1", mg=15)
    r2 = _record("r2", "2020-02-01", "2020-02-29", "MedicationStatement/r1", mg=10)
    p, report = patient_from_resources([*base(), order, r1, r2], as_of=AS_OF)
    assert _doses(p) == [("2020-01-01", 15.0), ("2020-02-01", 10.0), ("2020-03-01", 20.0)]
    assert [t.source for t in p.therapies] == ["MedicationRequest/o1"] and report.incomplete == {}


def test_a_record_says_how_long_the_therapy_lasted_and_how_it_went() -> None:
    """A methotrexate order for January; a statement partOf it says methotrexate was taken to June and
    failed: the trial lasted to June (the refractory rules count its days), its outcome the statement's."""
    order = med_request(
        "mo", "6851", dosage(qty(15, "mg"), "2020-01-01", "2020-01-31", unit="wk"), status="completed"
    )
    rec = _mtx("MedicationRequest/mo")
    rec["statusReason"] = [{"text": "treatment failure"}]
    p, _ = patient_from_resources([*base(), order, rec], as_of=AS_OF)
    assert [(t.source, str(t.start), str(t.stop), t.outcome.value) for t in p.therapies] == [
        ("MedicationRequest/mo", "2020-01-01", "2020-06-30", "inadequate_response")
    ]
    rec["status"] = "active"
    del rec["effectivePeriod"]["end"]  # still taken: the therapy goes on
    p, _ = patient_from_resources([*base(), order, rec], as_of=AS_OF)
    assert [t.stop for t in p.therapies] == [None]


def test_the_first_part_of_that_is_a_therapy_of_its_drug_holds_the_record() -> None:
    procedure = {
        "resourceType": "Procedure",
        "id": "pe",
        "status": "completed",
        "subject": SUBJECT,
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "127788007"}]},
        "performedDateTime": "2020-01-01",
    }
    order = med_request("o1", "8640", dosage(qty(20, "mg"), "2020-01-01"))
    rec = _record("r1", "2020-01-01", "2020-01-31", "Procedure/pe")
    rec["partOf"].append({"reference": "MedicationRequest/o1"})
    p, report = patient_from_resources([*base(), procedure, order, rec], as_of=AS_OF)
    assert _doses(p) == [("2020-01-01", 10.0), ("2020-02-01", 20.0)]  # not 30: the record replaces the plan
    assert report.incomplete == {}


_FAILED = [{"text": "treatment failure"}]


def test_a_therapy_made_of_its_records_keeps_its_own_outcome() -> None:
    """An order stopped for failure, without an end date (not mapped), and its record January to June: the
    trial is the record's days with the order's outcome - a lost failure made a refractory patient look not
    refractory."""
    order = med_request("mo", "6851", status="stopped", statusReason=_FAILED[0])
    p, report = patient_from_resources([*base(), order, _mtx("MedicationRequest/mo")], as_of=AS_OF)
    assert [(t.source, str(t.stop), t.outcome.value) for t in p.therapies] == [
        ("MedicationStatement/m1", "2020-06-30", "inadequate_response")
    ]
    assert any(
        c.resource == "MedicationRequest/mo" and "its dose records are the therapy" in c.message
        for c in report.conversions
    )


def test_a_glucocorticoid_records_outcome_is_its_therapys() -> None:
    order = med_request("o1", "8640", dosage(qty(40, "mg"), "2020-01-01", "2020-03-31"), status="completed")
    rec = _record("r1", "2020-01-01", "2020-06-30", "MedicationRequest/o1", mg=40)
    rec["statusReason"] = _FAILED
    p, _ = patient_from_resources([*base(), order, rec], as_of=AS_OF)
    assert [(t.source, str(t.stop), t.outcome.value) for t in p.therapies] == [
        ("MedicationRequest/o1", "2020-03-31", "inadequate_response")  # its days are its doses (to June)
    ]
    assert _doses(p) == [("2020-01-01", 40.0), ("2020-07-01", 0.0)]


def test_records_that_disagree_on_the_outcome_leave_it_unknown_in_any_order() -> None:
    order = med_request(
        "mo", "6851", dosage(qty(15, "mg"), "2020-01-01", "2020-01-31", unit="wk"), status="completed"
    )
    r1 = {**_mtx("MedicationRequest/mo"), "id": "r1", "statusReason": [{"text": "intolerance"}]}
    r2 = {**_mtx("MedicationRequest/mo"), "id": "r2", "statusReason": _FAILED}
    seen = set()
    for resources in ([order, r1, r2], [r2, order, r1], [r1, r2, order]):
        p, report = patient_from_resources([*base(), *resources], as_of=AS_OF)
        seen.add(json.dumps(p.model_dump(mode="json"), sort_keys=True))
        assert [t.outcome.value for t in p.therapies] == ["unknown"]
        assert any("outcomes disagree" in w for w in warnings_of(report, "MedicationRequest/mo"))
    assert len(seen) == 1


def test_records_of_a_therapy_not_mapped_give_one_answer_in_any_order() -> None:
    root = _statement("s0", "8640")  # completed, no date: not mapped
    r1 = _record("r1", "2020-01-01", "2020-06-30", "MedicationStatement/s0")
    r2 = {**_record("r2", "2020-07-01", None, "MedicationStatement/s0", mg=0), "status": "active"}
    outputs = set()
    for resources in ([root, r1, r2], [root, r2, r1], [r2, r1, root]):
        p, _ = patient_from_resources([*base(), *resources], as_of=AS_OF)
        outputs.add(json.dumps(p.model_dump(mode="json"), sort_keys=True))
        assert [str(t.stop) for t in p.therapies] == ["2020-06-30"]  # 0 mg from July: stopped, not ongoing
    assert len(outputs) == 1


def test_a_record_of_a_record_replaces_that_records_dose_too() -> None:
    order = med_request("op", "8640", dosage(qty(20, "mg"), "2020-01-01", "2020-12-31"))
    x1 = _record("x1", "2020-01-01", "2020-06-30", "MedicationRequest/op", mg=15)
    x2 = _record("x2", "2020-03-01", "2020-03-31", "MedicationStatement/x1", mg=5)
    p, _ = patient_from_resources([*base(), order, x1, x2], as_of="2021-06-01")
    by_day = dict(_doses(p))
    assert by_day["2020-03-01"] == 5.0 and by_day["2020-04-01"] == 15.0 and by_day["2020-07-01"] == 20.0


def test_a_record_without_usable_days_does_not_widen_its_therapy() -> None:
    order = med_request(
        "mo", "6851", dosage(qty(15, "mg"), "2020-01-01", "2020-01-31", unit="wk"), status="completed"
    )
    undated = _statement("r1", "6851", "on-hold", partOf=[{"reference": "MedicationRequest/mo"}])
    p, _ = patient_from_resources([*base(), order, undated], as_of=AS_OF)
    assert [str(t.stop) for t in p.therapies] == ["2020-01-31"]  # not ongoing
    backwards = {**_mtx("MedicationRequest/mo"), "effectivePeriod": {"start": "2020-06-01", "end": "2019-03-01"}}
    p, report = patient_from_resources([*base(), order, backwards], as_of=AS_OF)
    assert [str(t.stop) for t in p.therapies] == ["2020-01-31"]
    assert any("ends before it starts" in w for w in warnings_of(report, "MedicationStatement/m1"))


def test_a_long_chain_of_records_is_followed_once() -> None:
    """2,000 statements each partOf the previous: every one a record of the order (once a cubic walk)."""
    order = med_request("o1", "8640", dosage(qty(20, "mg"), "2020-01-01"))
    chain = [_record("r0", "2020-01-01", None, "MedicationRequest/o1")]
    chain[0]["status"] = "active"
    for i in range(1, 2000):
        rec = _record(f"r{i}", "2020-01-01", None, f"MedicationStatement/r{i - 1}")
        rec["status"] = "active"
        chain.append(rec)
    p, report = patient_from_resources([*base(), order, *reversed(chain)], as_of=AS_OF)
    assert [t.source for t in p.therapies] == ["MedicationRequest/o1"]
    assert report.incomplete == {}


def test_a_part_of_that_is_no_reference_is_said() -> None:
    rec = _record("r1", "2020-01-01", "2020-01-31", "MedicationRequest/o1")
    rec["partOf"] = ["MedicationRequest/o1"]
    _, report = patient_from_resources([*base(), rec], as_of=AS_OF)
    assert any("no FHIR Reference" in w for w in warnings_of(report, "MedicationStatement/r1"))


def test_a_statement_without_a_status_is_said_and_a_steroid_one_leaves_the_doses_incomplete() -> None:
    pred = _record("s1", "2020-01-01", None, "MedicationRequest/none")
    del pred["status"], pred["partOf"]
    _, report = patient_from_resources([*base(), pred], as_of=AS_OF)
    assert report.incomplete == {"glucocorticoid_doses": ["MedicationStatement/s1"]}
    assert "no status (R4 requires one): not read" in warnings_of(report, "MedicationStatement/s1")
