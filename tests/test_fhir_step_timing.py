"""When a dose step holds, from FHIR timing: a sequence taper written in durations, a pulse of a counted
number of doses, an order stopped before its planned end. None may read as a dose held to this day, or as
no dose at all, without saying so."""

from __future__ import annotations

from typing import Any

from fhir_helpers import ATC, LOCAL, UCUM, base, dosage, ivig_admin, med_request, qty, warnings_of
from ivig_cds import Engine
from ivig_cds.console.status import status_rows
from ivig_cds.fhir import map_resources
from ivig_cds.verdict import verdict

AS_OF = "2024-06-01"


def _step(mg: float, sequence: int | None, days: int | None = None, start: str | None = None) -> dict[str, Any]:
    repeat: dict[str, Any] = {"frequency": 1, "period": 1, "periodUnit": "d"}
    if days:
        repeat["boundsDuration"] = {"value": days, "unit": "d", "system": UCUM, "code": "d"}
    if start:
        repeat["boundsPeriod"] = {"start": start}
    out: dict[str, Any] = {"timing": {"repeat": repeat}, "doseAndRate": [{"doseQuantity": qty(mg, "mg")}]}
    if sequence is not None:
        out["sequence"] = sequence
    return out


def _map(*resources: dict[str, Any]) -> Any:
    result = map_resources([*base(), *resources], as_of=AS_OF)
    assert result.patient is not None, result.errors
    return result


def _doses(result: Any) -> list[tuple[str, float]]:
    return [(str(d.date), d.prednisone_mg_per_day) for d in result.patient.glucocorticoid_doses]


def test_a_sequence_taper_in_durations_places_each_step_after_the_one_before() -> None:
    taper = med_request(
        "pred", "8640", _step(20, 3), _step(40, 1, 14, "2024-03-01"), _step(30, 2, 14), authoredOn="2024-03-01"
    )  # the steps in any order: the sequence decides
    result = _map(taper)
    assert _doses(result) == [("2024-03-01", 40.0), ("2024-03-15", 30.0), ("2024-03-29", 20.0)]
    assert result.patient.therapies[0].stop is None  # 20 mg goes on: not "steroid-free"
    assert result.report.incomplete == {}


def test_steps_that_cannot_be_placed_leave_the_doses_incomplete() -> None:
    # no step has a start to count from: the order's 40 mg must not read as the whole course
    result = _map(med_request("pred", "8640", _step(40, 1, 14), _step(30, 2, 14), _step(20, 3)))
    assert result.patient.glucocorticoid_doses == []
    assert result.report.incomplete == {"glucocorticoid_doses": ["MedicationRequest/pred"]}
    assert any("cannot be placed in time" in w for w in warnings_of(result.report, "MedicationRequest/pred"))
    # without sequence numbers the dosages are concurrent, not a chain: the later ones cannot be placed
    result = _map(med_request("pred", "8640", _step(40, None, 14, "2024-03-01"), _step(30, None, 14)))
    assert _doses(result)[0] == ("2024-03-01", 40.0)
    assert result.report.incomplete == {"glucocorticoid_doses": ["MedicationRequest/pred"]}


def _pulse(**repeat: Any) -> dict[str, Any]:
    d = dosage(qty(1000, "mg"), "2024-01-10")
    d["timing"]["repeat"].update(repeat)
    for key in [k for k, v in repeat.items() if v is None]:
        del d["timing"]["repeat"][key]
    return med_request("mp", "6902", d, authoredOn="2024-01-10")


def test_a_counted_pulse_lasts_its_doses_not_until_today() -> None:
    result = _map(_pulse(count=3))
    assert _doses(result) == [("2024-01-10", 1250.0), ("2024-01-13", 0)]
    assert str(result.patient.therapies[0].stop) == "2024-01-12"
    fired = {f.rule_id for f in Engine().evaluate(result.patient).findings}
    assert "STER-003-HIGH" not in fired  # held open, it read as 1250 mg/day to this day
    weekly = _map(_pulse(count=4, period=1, periodUnit="wk"))  # 4 weekly doses: 4 weeks
    assert [d for d, _ in _doses(weekly)] == ["2024-01-10", "2024-02-07"]


def test_a_count_that_cannot_be_read_is_not_held_open() -> None:
    result = _map(_pulse(count=3, period=None))  # 3 doses of 1 g, per what?
    assert result.patient.glucocorticoid_doses == []
    assert result.report.incomplete == {"glucocorticoid_doses": ["MedicationRequest/mp"]}
    assert "timing.repeat.count/boundsRange not read: the step is not mapped" in warnings_of(result.report)


def test_a_steroid_stopped_before_its_planned_end_is_not_held_to_as_of() -> None:
    stopped = med_request(
        "p2", "8640", dosage(qty(20, "mg"), "2024-01-01", "2024-12-31"), status="stopped", authoredOn="2024-01-01"
    )
    result = _map(stopped)
    assert result.patient.glucocorticoid_doses == [] and result.patient.therapies == []
    assert result.report.incomplete == {
        "glucocorticoid_doses": ["MedicationRequest/p2"],
        "therapies.stop": ["MedicationRequest/p2"],
    }
    # a completed order ran to its end: after as_of, it was going on then
    completed = dict(stopped, status="completed")
    result = _map(completed)
    assert _doses(result) == [("2024-01-01", 20.0)]  # held to as_of (the end is after it)
    assert result.report.incomplete == {}


def test_failed_immunosuppressants_without_an_end_date_make_not_refractory_a_provisional_answer() -> None:
    fail = {"coding": [{"system": LOCAL, "code": "outcome-inadequate-response"}]}
    pred = med_request("pred", "8640", dosage(qty(20, "mg"), "2022-01-01"), authoredOn="2022-01-01")
    stopped = [
        med_request(rid, code, dosage(qty(mg, "mg"), start), status="stopped", authoredOn=start, statusReason=fail)
        for rid, code, mg, start in (("mtx", "6851", 15, "2022-02-01"), ("aza", "1256", 150, "2022-10-01"))
    ]
    result = _map(pred, *stopped)
    assert [t.agent for t in result.patient.therapies] == ["prednisone"]
    assert result.report.incomplete == {"therapies.stop": ["MedicationRequest/aza", "MedicationRequest/mtx"]}
    bundle = {"resourceType": "Bundle", "type": "collection"}
    bundle["entry"] = [{"resource": r} for r in [*base(), pred, *stopped]]
    evaluation = Engine().evaluate(bundle, as_of=AS_OF)
    lines = {line.label: (line.tone, line.text) for line in verdict(evaluation).lines}
    assert lines["IVIG"][0] == "warn" and lines["IVIG"][1].startswith("not eligible on the mapped record")
    assert "medications in the record are not mapped" in lines["IVIG"][1]
    rows = {label: text.plain for label, text in status_rows(evaluation)}
    assert rows["Refractory"].startswith("no on the mapped record")


def test_an_ivig_order_completed_after_as_of_was_going_on_then() -> None:
    order = med_request(
        "o1", "J06BA02", dosage(qty(1, "g/kg"), "2024-01-08", "2024-12-31"), system=ATC, status="completed"
    )
    given = [ivig_admin(f"a{i}", day, qty(1, "g/kg")) for i, day in enumerate(("2024-05-06", "2024-05-07"))]
    result = _map(order, *given)
    assert result.patient.ivig_discontinued_on is None and result.report.incomplete == {}


def test_a_sequence_taper_in_counted_doses_places_each_step_after_the_one_before() -> None:
    def counted(mg: float, sequence: int, count: int | None, start: str | None = None) -> dict[str, Any]:
        step = _step(mg, sequence, start=start)
        if count is not None:
            step["timing"]["repeat"]["count"] = count
        return step

    taper = med_request(
        "pred",
        "8640",
        counted(40, 1, 14, "2024-03-01"),
        counted(30, 2, 14),
        counted(20, 3, None),
        authoredOn="2024-03-01",
    )
    result = _map(taper)
    assert _doses(result) == [("2024-03-01", 40.0), ("2024-03-15", 30.0), ("2024-03-29", 20.0)]
    assert result.report.incomplete == {}
