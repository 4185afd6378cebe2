"""The console view, rendered deterministically at 100 and 80 columns without colour: exact lines."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import pytest
from rich.console import Console
from rich.panel import Panel

from builders import TIS_17_5, day, eligible, relapse_candidate, with_response
from ivig_cds import Engine, Evaluation
from ivig_cds.console.evaluation import render_evaluation
from ivig_cds.console.timeline import COURSE, STOP, TimelineView, timeline_data
from ivig_cds.inputs.files import load_patient


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(backend="reference")


def _render(engine: Engine, data: dict[str, Any], width: int = 100, timeline: bool = True) -> list[str]:
    patient = load_patient(data)
    buf = io.StringIO()
    ev: Evaluation = engine.evaluate(patient)
    render_evaluation(ev, Console(file=buf, width=width, color_system=None), patient if timeline else None)
    return buf.getvalue().splitlines()


RENAL = eligible().lab("2024-05-01", "egfr_ml_min_1_73m2", 45).demographics(abo_group="B")
RECENT_CHANGE = eligible().gc("2024-05-10", 15)  # prednisone 20 -> 15 mg/d 22 days before as_of
RELAPSE = relapse_candidate().assessment(day(150), mmt8=50, ck_u_per_l=900).as_of(day(160))
NON_RESPONDER = with_response(eligible(), TIS_17_5, n_courses=6, assessed_at=160)


def test_screen_incomplete_says_what_to_record_first_at_100(
    engine: Engine, minimal_patient_dict: dict[str, Any]
) -> None:
    lines = _render(engine, minimal_patient_dict)
    assert lines[1] == "│ as of 2024-06-01   46 y female · 64 kg   polymyositis (definite)".ljust(99) + "│"
    assert lines[4:20] == [
        "╭─ Status ─────────────────────────────────────────────────────────────────────────────────────────╮",
        "│ IVIG            not yet: record creatinine or eGFR (within 180 days), hyperprolinemia (yes/no)   │",
        "│                 first                                                                            │",
        "│ Working?        no IVIG course yet                                                               │",
        "│ Relapse?        not applicable: no IVIG yet                                                      │",
        "│                                                                                                  │",
        "│ Eligibility     pre-IVIG screen incomplete                                                       │",
        "│   record first  creatinine or eGFR (within 180 days); hyperprolinemia (yes/no)                   │",
        "│ Refractory      yes                                                                              │",
        "│ Response        not started                                                                      │",
        "│ Steroid taper   —                                                                                │",
        "│ Outcome         not started                                                                      │",
        "│ Alerts          3 WARNINGS · 3 advisories                                                        │",
        "│ Data gaps       14 rules could not decide: record the values below                               │",
        "╰──────────────────────────────────────────────────────────────────────────────────────────────────╯",
        "╭─ Dose plan (seed regimen) ───────────────────────────────────────────────────────────────────────╮",
    ]
    assert all(len(line) <= 100 for line in lines)
    assert lines[-1] == "Decision support only: a clinician must review every recommendation."


def test_screen_incomplete_at_80(engine: Engine, minimal_patient_dict: dict[str, Any]) -> None:
    lines = _render(engine, minimal_patient_dict, width=80)
    assert lines[4:22] == [
        "╭─ Status ─────────────────────────────────────────────────────────────────────╮",
        "│ IVIG            not yet: record creatinine or eGFR (within 180 days),        │",
        "│                 hyperprolinemia (yes/no) first                               │",
        "│ Working?        no IVIG course yet                                           │",
        "│ Relapse?        not applicable: no IVIG yet                                  │",
        "│                                                                              │",
        "│ Eligibility     pre-IVIG screen incomplete                                   │",
        "│   record first  creatinine or eGFR (within 180 days); hyperprolinemia        │",
        "│                 (yes/no)                                                     │",
        "│ Refractory      yes                                                          │",
        "│ Response        not started                                                  │",
        "│ Steroid taper   —                                                            │",
        "│ Outcome         not started                                                  │",
        "│ Alerts          3 WARNINGS · 3 advisories                                    │",
        "│ Data gaps       14 rules could not decide: record the values below           │",
        "╰──────────────────────────────────────────────────────────────────────────────╯",
        "╭─ Dose plan (seed regimen) ───────────────────────────────────────────────────╮",
        "│ 64 g/day × 2 days every 4 weeks (128 g per course)                           │",
    ]
    assert all(len(line) <= 80 for line in lines)


def test_precautions_are_named_in_the_verdict_and_grouped_by_level(engine: Engine) -> None:
    lines = _render(engine, RENAL.build())
    assert lines[4:20] == [
        "╭─ Status ─────────────────────────────────────────────────────────────────────────────────────────╮",
        "│ IVIG           can start with precautions — renal risk: creatinine before and after, hydrate,    │",
        "│                rate ≤ 3.3 mg/kg/min; haemolysis risk (blood group B): check Hb at baseline and   │",
        "│                5–10 days after each course                                                       │",
        "│ Working?       no IVIG course yet                                                                │",
        "│ Relapse?       not applicable: no IVIG yet                                                       │",
        "│                                                                                                  │",
        "│ Eligibility    eligible with precautions                                                         │",
        "│   precautions  Renal risk factors (SAFETY-008); Haemolysis risk (non-O, high dose) (SAFETY-011)  │",
        "│ Refractory     yes                                                                               │",
        "│ Response       not started                                                                       │",
        "│ Steroid taper  —                                                                                 │",
        "│ Outcome        not started                                                                       │",
        "│ Alerts         2 WARNINGS · 2 advisories                                                         │",
        "│ Data gaps      2 rules could not decide: record the values below                                 │",
        "╰──────────────────────────────────────────────────────────────────────────────────────────────────╯",
    ]


def test_only_the_stability_window_blocks_eligible_from_the_change_plus_60_days(engine: Engine) -> None:
    lines = _render(engine, RECENT_CHANGE.build(), width=80)
    assert lines[4:21] == [
        "╭─ Status ─────────────────────────────────────────────────────────────────────╮",
        "│ IVIG            not yet: background therapy changed 2024-05-10; eligible     │",
        "│                 from 2024-07-09                                              │",
        "│ Working?        no IVIG course yet                                           │",
        "│ Relapse?        not applicable: no IVIG yet                                  │",
        "│                                                                              │",
        "│ Eligibility     not eligible                                                 │",
        "│   not eligible  Background therapy not stable before IVIG (REFRACTORY-005)   │",
        "│ Refractory      yes                                                          │",
        "│ Response        not started                                                  │",
        "│ Steroid taper   —                                                            │",
        "│ Outcome         not started                                                  │",
        "│ Alerts          1 WARNING · 2 advisories                                     │",
        "│ Data gaps       1 rule could not decide: record the values below             │",
        "╰──────────────────────────────────────────────────────────────────────────────╯",
        "╭─ Dose plan (seed regimen) · for reference only: not eligible ────────────────╮",
        "│ 64 g/day × 2 days every 4 weeks (128 g per course)                           │",
    ]


def test_relapse_after_discontinuation_and_the_plan_for_a_restart(engine: Engine) -> None:
    lines = _render(engine, RELAPSE.build())
    assert lines[4:20] == [
        "╭─ Status ─────────────────────────────────────────────────────────────────────────────────────────╮",
        "│ IVIG           can be restarted — no contraindication or precaution found                        │",
        "│ Working?       yes — responder, minimal improvement (best TIS 35, latest 5: below 20 now);       │",
        "│                prednisone unchanged since course 1                                               │",
        "│ Relapse?       RELAPSE 2 months after stopping — review re-treatment or another agent            │",
        "│                                                                                                  │",
        "│ Eligibility    eligible                                                                          │",
        "│ Refractory     yes                                                                               │",
        "│ Response       responder · minimal improvement · best TIS 35 · latest TIS 5                      │",
        "│ Steroid taper  0% reduction since course 1 (not beyond 50%)                                      │",
        "│ Outcome        relapse, 2 months after stopping                                                  │",
        "│ Alerts         2 WARNINGS · 1 advisory                                                           │",
        "│ Data gaps      1 rule could not decide: record the values below                                  │",
        "╰──────────────────────────────────────────────────────────────────────────────────────────────────╯",
        "╭─ Dose plan (seed regimen) · if IVIG is restarted (stopped 2024-04-07) ───────────────────────────╮",
        "│ 64 g/day × 2 days every 4 weeks (128 g per course)                                               │",
    ]
    assert not any("first phase" in line for line in lines)


def test_a_non_responder_after_6_courses_reads_stop_and_the_plan_is_for_reference(engine: Engine) -> None:
    lines = _render(engine, NON_RESPONDER.build())
    assert lines[0:21] == [
        "╭─ ivig-cds · patient pt-001 ──────────────────────────────────────────────────────────────────────╮",
        "│ as of 2024-06-16   44 y female · 64 kg   polymyositis (definite)                                 │",
        "│ 6 IVIG courses since 2024-01-08                                                                  │",
        "╰──────────────────────────────────────────────────────────────────────────────────────────────────╯",
        "╭─ Status ─────────────────────────────────────────────────────────────────────────────────────────╮",
        "│ IVIG           stop IVIG — no response after 6 courses: change strategy                          │",
        "│ Working?       no — best TIS 17.5 (response from 20); prednisone unchanged since course 1        │",
        "│ Relapse?       not applicable: IVIG not stopped                                                  │",
        "│                                                                                                  │",
        "│ Eligibility    eligible                                                                          │",
        "│ Refractory     yes                                                                               │",
        "│ Response       non-responder · best TIS 17.5 · latest TIS 17.5                                   │",
        "│ Steroid taper  0% reduction since course 1 (not beyond 50%)                                      │",
        "│ Outcome        non-responder                                                                     │",
        "│ Alerts         1 WARNING · 1 advisory                                                            │",
        "│ Data gaps      2 rules could not decide: record the values below                                 │",
        "╰──────────────────────────────────────────────────────────────────────────────────────────────────╯",
        "╭─ Dose plan (seed regimen) · for reference only: stop IVIG (no response) ─────────────────────────╮",
        "│ 64 g/day × 2 days every 4 weeks (128 g per course)                                               │",
        "│ 1 g/kg/day on actual weight 64 kg                                                                │",
        "╰──────────────────────────────────────────────────────────────────────────────────────────────────╯",
    ]


def test_a_stop_finding_stands_out(engine: Engine) -> None:
    lines = _render(engine, eligible().risk(prior_ig_anaphylaxis=True).build())
    assert any(line.startswith("│   STOP     SAFETY-001") for line in lines)
    verdict = lines[5].split(None, 2)[2]
    assert verdict.startswith("do not give: contraindicated — Prior severe reaction to immunoglobulin")


def test_data_gaps_are_counted_apart_and_never_as_advisories(engine: Engine) -> None:
    lines = _render(engine, eligible().set("demographics.abo_group", None).build())
    alerts = next(line for line in lines if line.startswith("│ Alerts"))
    # two real advisories (SAFETY-014, STER-004); the two DATA-001 gaps are not among them
    assert alerts == "│ Alerts         2 advisories".ljust(99) + "│"
    assert "│ Data gaps      2 rules could not decide: record the values below".ljust(99) + "│" in lines
    gap = next(line for line in lines if "SAFETY-011" in line and "gap" in line)
    assert gap.startswith("│   gap      SAFETY-011        Haemolysis risk (non-O, high dose)")


def test_values_and_thresholds_are_clinical_names_with_units(engine: Engine) -> None:
    text = "\n".join(_render(engine, RENAL.build(), timeline=False))
    assert "values: eGFR 45 mL/min/1.73 m², creatinine 0.8 mg/dL," in text
    assert "thresholds: renal risk below eGFR 60 mL/min/1.73 m², renal risk " in text
    assert "egfr_ml_min" not in text and "patient." not in text  # the raw names stay in JSON and explain


def test_the_timeline_marks_courses_and_discontinuation_at_100_and_80_columns() -> None:
    data = relapse_candidate().assessment(day(150), mmt8=50, ck_u_per_l=900).as_of(day(160)).build()
    patient = load_patient(data)
    tl = timeline_data(patient, date.fromisoformat(data["as_of"]))
    assert tl is not None and len(tl.courses) == 3 and tl.discontinued == day(90)
    for width in (100, 80):
        buf = io.StringIO()
        Console(file=buf, width=width, color_system=None).print(Panel(TimelineView(tl)))
        lines = buf.getvalue().splitlines()
        assert all(len(line) == width for line in lines)
        ivig = next(line for line in lines if line.startswith("│ IVIG"))
        plot = ivig.split(" 3 courses")[0]
        assert plot.count(COURSE) == 3 and plot.count(STOP) == 1
        assert plot.index(COURSE) < plot.index(STOP)
        assert any(line.startswith("│ MMT-8 ") for line in lines)
        assert any(line.startswith("│ Prednisone") for line in lines)
    narrow = io.StringIO()
    Console(file=narrow, width=60, color_system=None).print(TimelineView(tl))
    assert all(len(line) <= 60 for line in narrow.getvalue().splitlines())


def test_the_timeline_shows_nothing_after_as_of() -> None:
    """The prednisone label read the file's last dose (40 -> 5) while the evaluation said 25 -> 10."""
    b = eligible().no_gc().gc("2020-01-01", 40).gc("2023-01-01", 25).gc("2024-03-01", 10).gc("2025-01-01", 5)
    data = b.courses(3).assessment(day(-7), mmt8=50).assessment(day(70), mmt8=60).as_of(day(100)).build()
    patient = load_patient(data)
    tl = timeline_data(patient, day(100))
    assert tl is not None
    prednisone = next(s for s in tl.series if s.name == "Prednisone")
    assert [v for _, v in prednisone.points] == [40, 25, 10]
    buf = io.StringIO()
    Console(file=buf, width=100, color_system=None).print(TimelineView(tl))
    row = next(line for line in buf.getvalue().splitlines() if line.startswith("Prednisone"))
    assert row.rstrip().endswith("25→10 mg/d")


def test_a_small_mmt8_change_is_drawn_small() -> None:
    """MMT-8 44 -> 45 was drawn from the lowest bar to the highest (rows scaled per row)."""
    data = with_response(eligible(), ({"mmt8": 44}, {"mmt8": 45}), n_courses=3).build()
    patient = load_patient(data)
    tl = timeline_data(patient, date.fromisoformat(data["as_of"]))
    assert tl is not None
    buf = io.StringIO()
    Console(file=buf, width=100, color_system=None).print(TimelineView(tl))
    lines = buf.getvalue().splitlines()
    row = next(line for line in lines if line.startswith("MMT-8"))
    bars = [ch for ch in row[12 : 100 - 25] if ch.strip()]  # the plot: after the label, before the note
    assert bars == ["▄", "▅"]
    assert lines[-1] == "bars: each row low→high; MMT-8 over ≥ 8 points, CK over ≥ ×2 (log)"


def test_no_timeline_without_dated_records() -> None:
    data = eligible().build()
    data["glucocorticoid_doses"] = []
    assert timeline_data(load_patient(data), date(2024, 6, 1)) is None


def test_terminal_escapes_in_patient_text_are_shown_not_sent(engine: Engine) -> None:
    nasty = "x\x1b]0;owned\x07\x1b[2J"
    data = eligible(patient_id=nasty).course("2024-01-08", product="Priv\x1b[31migen").build()
    lines = _render(engine, data)
    text = "\n".join(lines)
    assert "\x1b" not in text and "\x07" not in text
    assert lines[0].startswith("╭─ ivig-cds · patient x\\x1b]0;owned\\x07\\x1b[2J ─")
