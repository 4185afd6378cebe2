"""The rich console view, rendered deterministically at a fixed width without colour."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import pytest
from rich.console import Console
from rich.panel import Panel

from builders import day, eligible, relapse_candidate
from ivig_cds import Engine, Evaluation
from ivig_cds.console.evaluation import render_evaluation, status_lines
from ivig_cds.console.timeline import COURSE, STOP, TimelineView, timeline_data
from ivig_cds.inputs.files import load_patient


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(backend="reference")


def _render(ev: Evaluation, patient: object = None, width: int = 100) -> list[str]:
    buf = io.StringIO()
    render_evaluation(ev, Console(file=buf, width=width, color_system=None), patient)  # type: ignore[arg-type]
    return buf.getvalue().splitlines()


def test_minimal_patient_view(engine: Engine, minimal_patient_dict: dict[str, Any]) -> None:
    patient = load_patient(minimal_patient_dict)
    lines = _render(engine.evaluate(patient), patient)
    assert lines[0].startswith("╭─ ivig-cds · patient demo-001 ─")
    assert lines[1] == "│ as of 2024-06-01   46 y female · 64 kg   polymyositis (definite)".ljust(99) + "│"
    assert (
        "│ Eligibility    screen incomplete — record creatinine/eGFR (180 d), hyperprolinemia".ljust(99) + "│"
        in lines
    )
    # RESP-008 and the two missing screen items (then the advisories: observation, steroid dependence, bone)
    assert any(line.startswith("│ Alerts         3 WARNINGS  ") for line in lines)
    assert "│ 64 g/day × 2 days every 4 weeks (128 g per course)".ljust(99) + "│" in lines
    assert any(line.startswith("│  WARNING   RESP-008          Dysphagia mild") for line in lines)
    # raw values, not prose: true / null
    assert any("values: dysphagia_worsened=true, dysphagia_latest=mild," in line for line in lines)
    assert any("dysphagia_previous=null" in line for line in lines)
    # data gaps grouped by where they are recorded
    assert "│  advisory  SAFETY-012        Pregnancy".ljust(99) + "│" in lines
    assert "│                              risk_factors: pregnant".ljust(99) + "│" in lines
    assert lines[-1] == "Decision support only: a clinician must review every recommendation."
    assert all(len(line) <= 100 for line in lines)
    assert not any("\x1b[" in line for line in lines)


def test_a_stop_finding_stands_out(engine: Engine) -> None:
    ev = engine.evaluate(eligible().risk(prior_ig_anaphylaxis=True).build())
    lines = _render(ev)
    assert any(line.startswith("│   STOP     ") for line in lines)
    assert "│ Eligibility    contraindicated" in "\n".join(lines)
    assert status_lines(ev)[1][2] == "bold white on red"


def test_timeline_marks_courses_and_discontinuation_at_100_and_80_columns() -> None:
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


def test_no_timeline_without_dated_records() -> None:
    data = eligible().build()
    data["glucocorticoid_doses"] = []
    assert timeline_data(load_patient(data), date(2024, 6, 1)) is None
