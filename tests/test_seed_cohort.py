"""The synthetic seed cohort: the generator is deterministic and the engine reproduces the seed's numbers."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SEED_DIR = Path(__file__).resolve().parents[1] / "examples" / "seed_cohort"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"seed_cohort_{name}", SEED_DIR / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


generate = load("generate")
compare = load("compare")


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.glob("*.json"))}


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("seed")
    assert generate.main(["--out", str(out)]) == 0
    return out


def run_compare(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = compare.main([*args, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_generator_is_deterministic(cohort: Path, tmp_path: Path) -> None:
    assert generate.main(["--out", str(tmp_path)]) == 0
    first, second = snapshot(cohort), snapshot(tmp_path)
    assert list(first) == [f"seed-{i:03d}.json" for i in range(1, 36)]
    assert first == second


def test_committed_files_are_current(cohort: Path) -> None:
    """examples/seed_cohort/patients is what generate.py writes (regenerate after editing it)."""
    assert snapshot(SEED_DIR / "patients") == snapshot(cohort)


@pytest.mark.parametrize("plugins", [[], ["--core-only"]], ids=["installed-plugins", "core"])
def test_engine_reproduces_the_seed(cohort: Path, capsys: pytest.CaptureFixture[str], plugins: list[str]) -> None:
    code, report = run_compare(capsys, "--dir", str(cohort), *plugins)
    mismatches = [row for row in report["outcomes"] + report["inputs"] if not row["match"]]
    assert mismatches == []
    assert code == 0 and report["all_match"] is True
    engine = {row["measure"]: row["engine"] for row in report["outcomes"]}
    assert engine["Clinical responders (TIS >= 20)"] == "25/35 (71.4%)"
    assert engine["Months to relapse, mean"] == "17.1"
    assert engine["Months to relapse, range"] == "4-23"


def test_compare_fails_on_a_changed_outcome(
    cohort: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for path in cohort.glob("*.json"):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    # stop one IVIG-dependent patient's IVIG: the engine no longer calls them dependent
    for path in sorted(tmp_path.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        if "ivig_discontinued_on" not in doc:
            doc["ivig_discontinued_on"] = doc["ivig_courses"][-1]["start"]
            path.write_text(json.dumps(doc), encoding="utf-8")
            break
    code, report = run_compare(capsys, "--dir", str(tmp_path), "--core-only")
    assert code == 1 and report["all_match"] is False
    failed = {row["measure"] for row in report["outcomes"] if not row["match"]}
    assert "IVIG-dependent" in failed
