"""The audit observer writes one record per evaluation and never a patient identifier or value."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import ivig_cds_audit as audit
import pytest

from ivig_cds import Engine

PATIENT: dict[str, Any] = {
    "schema_version": 1,
    "patient_id": "secret-mrn-12345",
    "as_of": "2024-06-01",
    "demographics": {"birth_date": "1961-07-13", "sex": "female", "weight_kg": 66.6, "height_cm": 161},
    "diagnosis": {"condition": "polymyositis", "diagnosed_on": "2020-03-04", "classification": "definite"},
    "therapies": [
        {"agent": "prednisone", "start": "2020-03-04", "stop": None, "outcome": "inadequate_response"},
        {"agent": "methotrexate", "start": "2020-04-01", "stop": "2021-01-01", "outcome": "inadequate_response"},
    ],
}


def test_one_record_per_evaluation_without_identifiers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "audit.ndjson"
    monkeypatch.setenv(audit.AUDIT_ENV, str(log))
    engine = Engine(plugins=[("audit", audit)], entry_points=False)
    ev1 = engine.evaluate(PATIENT)
    engine.evaluate(PATIENT)
    lines = log.read_text().splitlines()
    assert len(lines) == 2
    rec = json.loads(lines[0])
    assert set(rec) == {
        "time",
        "input_sha256",
        "ruleset_hash",
        "rulesets",
        "plugins",
        "engine",
        "status",
        "rules_fired",
        "plugin_failures",
    }
    assert rec["ruleset_hash"] == ev1.engine.ruleset_hash
    assert rec["status"] == ev1.status.model_dump(mode="json")
    assert rec["rules_fired"] == sorted({f.rule_id for f in ev1.findings})
    assert len(rec["input_sha256"]) == 64 and rec["input_sha256"] == json.loads(lines[1])["input_sha256"]
    text = log.read_text()
    for secret in ("secret-mrn-12345", "1961-07-13", "2020-03-04", "66.6", "2024-06-01"):
        assert secret not in text


def test_no_log_configured_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(audit.AUDIT_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    Engine(plugins=[("audit", audit)], entry_points=False).evaluate(PATIENT)
    assert list(tmp_path.iterdir()) == []


def test_unwritable_log_is_a_reported_plugin_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(audit.AUDIT_ENV, str(tmp_path / "missing-dir" / "audit.ndjson"))
    ev = Engine(plugins=[("audit", audit)], entry_points=False).evaluate(PATIENT)
    assert [(f.plugin, f.hook) for f in ev.engine.plugin_failures] == [("audit", "observe_evaluation")]
    assert any(f.rule_id == "PLUGIN-001" and f.severity == "warning" for f in ev.findings)
