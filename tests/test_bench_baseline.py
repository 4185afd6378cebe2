"""The benchmark's plain-Python floor (``bench/baseline.py``) computes the same status block as the engine.

Equality only: the bench times the baseline; no test here measures anything.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from ivig_cds import Engine
from strategies import cohort

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(
    [
        *(REPO / "examples").glob("*.json"),
        *(REPO / "examples" / "seed_cohort" / "patients").glob("*.json"),
        *(REPO / "examples" / "fhir").glob("*.json"),
    ]
)


def _load_baseline() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_baseline", REPO / "bench" / "baseline.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


baseline = _load_baseline()


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(entry_points=False)


def test_covers_every_status_field() -> None:
    from ivig_cds.model.evaluation import Status

    assert set(baseline.STATUS_FIELDS) == set(Status.model_fields)


def test_generated_cohort_matches_engine(engine: Engine) -> None:
    docs = cohort(300, seed=14)
    assert baseline.check_against_engine(engine, docs) == 300
    assert baseline.check_against_engine(engine, docs[:100], "2023-01-15") == 100


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.relative_to(REPO / "examples").as_posix() for p in EXAMPLES])
def test_example_matches_engine(engine: Engine, path: Path) -> None:
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    for as_of in (None, "2024-06-01"):
        assert baseline.check_against_engine(engine, [doc], as_of) == 1


def test_conflict_is_loud() -> None:
    from ivig_cds.errors import EngineError

    with pytest.raises(EngineError, match="conflicting"):
        baseline._one("response", ["responder", "non_responder"], "insufficient_data")
