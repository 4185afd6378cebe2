"""The plain-language verdict: what each status reads as, first on the screen (no rich)."""

from __future__ import annotations

from typing import Any

import pytest

from builders import TIS_17_5, day, eligible, relapse_candidate, responder, with_response
from ivig_cds import Engine
from ivig_cds.verdict import eligibility_groups, plan_note, verdict


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(backend="reference")


def _v(engine: Engine, data: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(line.label, line.tone, line.text) for line in verdict(engine.evaluate(data)).lines]


def test_eligible_from_the_change_date_plus_the_stability_window(engine: Engine) -> None:
    ev = engine.evaluate(eligible().gc("2024-05-10", 15).build())
    v = verdict(ev)
    assert v.eligible_from == "2024-07-09" and not v.stop_ivig
    assert v.ivig.text == "not yet: background therapy changed 2024-05-10; eligible from 2024-07-09"
    # with a course already given the window is judged against course 1: no date to wait for
    started = engine.evaluate(eligible().gc("2023-12-20", 15).courses(1).build())
    assert verdict(started).eligible_from is None
    # and not when another reason makes the patient not eligible too
    other = engine.evaluate(eligible().gc("2024-05-10", 15).diagnosis(classification="possible").build())
    assert verdict(other).eligible_from is None
    assert verdict(other).ivig.text.startswith("not eligible — ")


def test_precautions_after_the_window_are_said_with_it(engine: Engine) -> None:
    text = _v(engine, eligible().gc("2024-05-10", 15).demographics(abo_group="A").build())[0][2]
    assert text == (
        "not yet: background therapy changed 2024-05-10; eligible from 2024-07-09 — then with precautions:"
        " haemolysis risk (blood group A): check Hb at baseline and 5–10 days after each course"
    )


def test_the_verbs_follow_the_courses(engine: Engine) -> None:
    assert _v(engine, eligible().build())[0] == (
        "IVIG",
        "good",
        "can start — no contraindication or precaution found",
    )
    assert _v(engine, responder().build())[0][2].startswith("can continue")
    stopped = relapse_candidate().build()
    assert _v(engine, stopped)[0][2].startswith("can be restarted")


def test_a_non_responder_after_the_first_phase_reads_stop(engine: Engine) -> None:
    ev = engine.evaluate(with_response(eligible(), TIS_17_5, n_courses=6).build())
    v = verdict(ev)
    assert v.stop_ivig
    assert (v.ivig.tone, v.ivig.text) == ("bad", "stop IVIG — no response after 6 courses: change strategy")
    assert v.working.text == "no — best TIS 17.5 (response from 20); prednisone unchanged since course 1"
    note = plan_note(ev)
    assert note.reference_only and note.title == "for reference only: stop IVIG (no response)" and note.phase == ""


def test_relapse_and_remission_lines(engine: Engine) -> None:
    relapse = relapse_candidate().assessment(day(150), mmt8=50).as_of(day(160)).build()
    assert _v(engine, relapse)[2] == (
        "Relapse?",
        "bad",
        "RELAPSE 2 months after stopping — review re-treatment or another agent",
    )
    follow = relapse_candidate().assessment(day(150), mmt8=70).as_of(day(160)).build()
    label, tone, text = _v(engine, follow)[2]
    assert (label, tone) == ("Relapse?", "neutral") and text.startswith("none so far — follow-up (IVIG stopped ")
    assert _v(engine, eligible().build())[2] == ("Relapse?", "neutral", "not applicable: no IVIG yet")


def test_the_plan_after_a_discontinuation_is_for_a_restart(engine: Engine) -> None:
    note = plan_note(engine.evaluate(relapse_candidate().build()))
    assert (note.title, note.reference_only, note.phase) == (
        "if IVIG is restarted (stopped 2024-04-07)",
        False,
        "",
    )
    first = plan_note(engine.evaluate(eligible().build()))
    assert (first.title, first.phase) == ("", "4-6 courses in the first phase")
    on = plan_note(engine.evaluate(responder().build()))
    assert on.phase == "3 courses given; 4-6 in the first phase"


def test_every_level_a_rule_concluded_is_grouped(engine: Engine) -> None:
    ev = engine.evaluate(eligible().risk(prior_ig_anaphylaxis=True).demographics(abo_group="B").build())
    assert eligibility_groups(ev) == [
        ("contraindicated", ["Prior severe reaction to immunoglobulin (SAFETY-001)"]),
        ("eligible_with_precautions", ["Haemolysis risk (non-O, high dose) (SAFETY-011)"]),
    ]
    screen = engine.evaluate(eligible().risk(prior_ig_anaphylaxis=None).build())
    assert eligibility_groups(screen) == [("screen_incomplete", ["prior immunoglobulin anaphylaxis (yes/no)"])]
