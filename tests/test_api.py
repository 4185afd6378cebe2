"""The public API a developer embeds: ordered Severity, status enums, evaluate_many, to_dict, data_gaps, as_of."""

from __future__ import annotations

import json
from datetime import date

import pytest

import ivig_cds
from builders import eligible
from ivig_cds import Eligibility, Engine, Evaluation, InputError, Outcome, Severity


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(backend="reference")


def test_severity_is_ordered_and_speaks_the_contracts_words() -> None:
    assert Severity.INFO < Severity.ADVISORY < Severity.WARNING < Severity.STOP
    assert sorted(Severity) == [Severity.INFO, Severity.ADVISORY, Severity.WARNING, Severity.STOP]
    assert Severity.WARNING >= "warning" and Severity.STOP > "warning"
    assert Severity("stop") == "stop" and json.dumps(Severity.STOP) == '"stop"'
    with pytest.raises(TypeError):
        assert Severity.STOP > "urgent"


def test_findings_filter_by_severity(engine: Engine) -> None:
    ev = engine.evaluate(eligible().risk(prior_ig_anaphylaxis=True, pregnant=True).build())
    serious = [f for f in ev.findings if f.severity >= Severity.WARNING]
    assert {f.rule_id for f in serious} >= {"SAFETY-001", "SAFETY-012"}
    assert all(isinstance(f.severity, Severity) for f in ev.findings)


def test_status_values_are_enums_with_the_contracts_words(engine: Engine) -> None:
    status = engine.evaluate(eligible().build()).status
    assert status.eligibility is Eligibility.ELIGIBLE and status.eligibility == "eligible"
    assert status.outcome is Outcome.NOT_STARTED
    assert json.loads(status.model_dump_json())["eligibility"] == "eligible"


def test_evaluate_many_keeps_order_and_loses_nothing(engine: Engine) -> None:
    good = eligible().build()
    bad = {**good, "schema_version": 2}
    out = list(engine.evaluate_many([good, bad, json.dumps(good)]))
    assert isinstance(out[0], Evaluation) and isinstance(out[2], Evaluation)
    assert isinstance(out[1], InputError) and out[1].errors[0].loc == "schema_version"


def test_to_dict_is_the_json_contract(engine: Engine) -> None:
    ev = engine.evaluate(eligible().build())
    assert ev.to_dict() == json.loads(ev.to_json())
    assert "mapping" not in ev.to_dict()  # patient-file input: no mapping block


def test_data_gaps_are_the_data_001_findings(engine: Engine) -> None:
    ev = engine.evaluate(eligible().set("demographics.abo_group", None).build())
    assert ev.data_gaps and all(g.rule_id == "DATA-001" for g in ev.data_gaps)
    assert "SAFETY-011" in {g.facts["rule"] for g in ev.data_gaps}


@pytest.mark.parametrize("as_of", ["2024-05-01", date(2024, 5, 1)])
def test_as_of_takes_a_date_or_an_iso_string(engine: Engine, as_of: object) -> None:
    ev = engine.evaluate(eligible().build(), as_of=as_of)  # type: ignore[arg-type]
    assert ev.as_of == "2024-05-01" and ev.status.as_of_source == "argument"


@pytest.mark.parametrize(
    ("as_of", "message"),
    [("2024-13-01", "not a valid calendar date"), ("yesterday", "expected an ISO date"),
     ("1950-01-01", "before demographics.birth_date"), (20240501, "expected an ISO date")],
)  # fmt: skip
def test_a_bad_as_of_is_an_input_error(engine: Engine, as_of: object, message: str) -> None:
    with pytest.raises(InputError) as caught:
        engine.evaluate(eligible().build(), as_of=as_of)  # type: ignore[arg-type]
    assert caught.value.errors[0].loc == "as_of" and message in caught.value.errors[0].msg


def test_without_as_of_the_date_is_todays_in_utc(engine: Engine) -> None:
    fixed = Engine(backend="reference", clock=lambda: date(2024, 6, 1))
    ev = fixed.evaluate(eligible().as_of(None).build())
    assert (ev.as_of, ev.status.as_of_source) == ("2024-06-01", "today")
    assert (
        ivig_cds.engine.engine.today_utc()
        == __import__("datetime").datetime.now(__import__("datetime").UTC).date()
    )


def test_engine_is_a_context_manager_that_closes_its_backend() -> None:
    with Engine(entry_points=False) as e:
        assert e.evaluate(eligible().build()).status.eligibility == "eligible"
    assert e._backend._handles == []  # type: ignore[attr-defined]
