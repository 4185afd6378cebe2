"""Smoke test of the installed ``ivig-cds`` entry point, in a subprocess like a user runs it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest


def _entry_point() -> str:
    beside = Path(sys.executable).with_name("ivig-cds")
    found = str(beside) if beside.exists() else shutil.which("ivig-cds")
    if found is None:
        pytest.skip("the ivig-cds entry point is not installed")
    return found


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "IVIG_CDS_DEBUG")}
    env["IVIG_CDS_LOAD_PLUGINS"] = ""
    return subprocess.run(
        [_entry_point(), *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def test_version_and_json_through_the_entry_point(tmp_path: Path, minimal_patient_dict: dict[str, Any]) -> None:
    done = _run("--version")
    assert done.returncode == 0 and done.stdout.startswith("ivig-cds ")
    path = tmp_path / "demo.json"
    path.write_text(json.dumps(minimal_patient_dict))
    done = _run("evaluate", str(path), "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"]["eligibility"] == "screen_incomplete"  # no renal lab in the file
    rich = _run("evaluate", str(path))
    assert rich.returncode == 0 and "\x1b[" not in rich.stdout  # not a terminal: no colour codes


def test_invalid_input_exits_2_without_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"schema_version": 1')
    done = _run("evaluate", str(path))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and f"invalid patient file {path}" in done.stderr
