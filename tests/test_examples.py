"""The example patient files give the status examples/README.md promises, and embed.py runs."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ivig_cds import Engine, Evaluation
from ivig_cds.model.patient import RiskFactors

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def status_is(**expected: Any) -> Callable[[Evaluation], None]:
    def check(result: Evaluation) -> None:
        got = {name: getattr(result.status, name) for name in expected}
        assert got == expected

    return check


def relapse_about_17(result: Evaluation) -> None:
    status_is(response="responder", outcome="relapse", relapse_alert=True)(result)
    assert result.status.months_to_relapse is not None
    assert 16.5 <= result.status.months_to_relapse <= 17.5


def adjusted_dose(result: Evaluation) -> None:
    assert result.dose_plan is not None
    assert result.dose_plan.weight_basis == "adjusted"
    assert result.dose_plan.dosing_weight_kg == pytest.approx(73.4, abs=0.1)  # 52.4 + 0.4 x (105 - 52.4)
    assert result.dose_plan.grams_per_day == pytest.approx(73.4, abs=0.1)


def eligible_candidate(result: Evaluation) -> None:
    assert result.status.eligibility in ("eligible", "eligible_with_precautions")
    status_is(refractory=True, response="not_started", outcome="not_started")(result)


EXPECTED: dict[str, Callable[[Evaluation], None]] = {
    "remission-off-therapy.json": status_is(
        response="responder", outcome="remission_off_therapy", steroid_taper_beyond_50=True, relapse_alert=False
    ),
    "remission-low-dose-steroid.json": status_is(
        response="responder", outcome="remission_low_dose_steroid", steroid_taper_beyond_50=True
    ),
    "ivig-dependent.json": status_is(response="responder", outcome="ivig_dependent", relapse_alert=False),
    "relapse.json": relapse_about_17,
    "non-responder.json": status_is(response="non_responder", outcome="non_responder"),
    "not-refractory.json": status_is(refractory=False, eligibility="not_eligible", response="not_started"),
    "contraindicated.json": status_is(eligibility="contraindicated"),
    "obese-adjusted-weight.json": adjusted_dose,
    "new-patient-eligible.json": eligible_candidate,
}


def patient_files() -> list[Path]:
    files = []
    for path in sorted(EXAMPLES.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and "patient_id" in data:
            files.append(path)
    return files


@pytest.fixture(scope="module", params=["core", "installed-plugins"])
def engine(request: pytest.FixtureRequest) -> Engine:
    """The core rules with contract defaults, and ``Engine()`` as an integration builds it."""
    return Engine(entry_points=request.param != "core")


def test_every_example_has_an_expectation_and_a_readme_row() -> None:
    names = {p.name for p in patient_files()}
    assert names == set(EXPECTED)
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    for name in names:
        assert f"`{name}`" in readme


@pytest.mark.parametrize("path", patient_files(), ids=lambda p: p.stem)
def test_example_file_is_complete_and_pretty_printed(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    data = json.loads(text)
    assert text == json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    assert data["as_of"]
    assert set(data["risk_factors"]) == set(RiskFactors.model_fields)
    assert all(isinstance(v, bool) for v in data["risk_factors"].values())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_gives_its_status(engine: Engine, name: str) -> None:
    EXPECTED[name](engine.evaluate(EXAMPLES / name))


def test_demo_case_has_no_data_gaps(engine: Engine) -> None:
    result = engine.evaluate(EXAMPLES / "new-patient-eligible.json")
    assert [f.summary for f in result.findings if f.rule_id == "DATA-001"] == []


def test_embed_script_runs(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "embed.py")], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    for path in patient_files():
        assert json.loads(path.read_text(encoding="utf-8"))["patient_id"] in proc.stdout
    assert "therapies[0].stop" in proc.stdout
    assert "demographics.weight_kg" in proc.stdout
