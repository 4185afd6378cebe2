"""Batch evaluation loses nothing: every record yields a result or an error record, in input order."""

from __future__ import annotations

import io
import json
import os
import signal
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from ivig_cds import Engine, Evaluation, Patient
from ivig_cds.batch import EngineSpec, Failure, Record, Result, Tally, collect_records, run_batch

_BASE: dict[str, Any] = {}


@pytest.fixture(autouse=True)
def _base(minimal_patient_dict: dict[str, Any]) -> None:
    """The contract's minimal example, which every record here starts from."""
    _BASE.clear()
    _BASE.update(minimal_patient_dict)


def _doc(patient_id: str, **changes: Any) -> dict[str, Any]:
    data = json.loads(json.dumps(_BASE))
    data["patient_id"] = patient_id
    data.update(changes)
    return data


@pytest.fixture
def messy(tmp_path: Path) -> Path:
    """A directory with good files, a broken JSON file, an NDJSON file broken in the middle and an invalid file."""
    (tmp_path / "a.json").write_text(json.dumps(_doc("a")))
    (tmp_path / "b_broken.json").write_text('{"schema_version": 1, "patient_id": ')
    lines = [json.dumps(_doc("c1")), '{"patient_id": "c2", ', "", json.dumps(_doc("c3"))]
    (tmp_path / "c.ndjson").write_text("\n".join(lines) + "\n")
    bad = _doc("d")
    bad["demographics"]["weight_kg"] = 5
    (tmp_path / "d_invalid.json").write_text(json.dumps(bad))
    (tmp_path / "e.yaml").write_text("schema_version: 1\npatient_id: e\n" + _yaml_tail())
    (tmp_path / "notes.txt").write_text("not a patient file")
    return tmp_path


def _yaml_tail() -> str:
    import yaml

    rest = {k: v for k, v in _doc("e").items() if k not in ("schema_version", "patient_id")}
    return str(yaml.safe_dump(rest))


EXPECTED_SOURCES = [
    "a.json",
    "b_broken.json",
    "c.ndjson:1",
    "c.ndjson:2",
    "c.ndjson:4",
    "d_invalid.json",
    "e.yaml",
]


def _names(items: list[Record | Failure] | list[Result], root: Path) -> list[str]:
    return [i.source.replace(str(root) + os.sep, "") for i in items]


def _results(items: list[Record | Failure], jobs: int = 1) -> list[Result]:
    return list(run_batch(items, make_engine=EngineSpec(backend="reference"), jobs=jobs))


def test_a_directory_expands_to_sorted_patient_files_and_ndjson_lines(messy: Path) -> None:
    items = collect_records([str(messy)])
    assert _names(items, messy) == EXPECTED_SOURCES
    assert all(isinstance(i, Record) for i in items)


def test_missing_inputs_become_failures_in_place(messy: Path) -> None:
    items = collect_records([str(messy / "a.json"), str(messy / "nope.json"), str(messy / "e.yaml")])
    assert isinstance(items[1], Failure)
    assert items[1].errors[0].msg == "file not found"


def test_a_messy_batch_loses_nothing_and_keeps_order(messy: Path) -> None:
    results = _results(collect_records([str(messy)]))
    assert _names(results, messy) == EXPECTED_SOURCES
    assert [r.index for r in results] == list(range(7))
    evaluated = [r.evaluation.patient_id for r in results if r.evaluation is not None]
    assert evaluated == ["a", "c1", "c3", "e"]
    invalid = {r.source.rsplit(os.sep, 1)[-1]: r.failure for r in results if r.failure is not None}
    assert set(invalid) == {"b_broken.json", "c.ndjson:2", "d_invalid.json"}
    assert invalid["d_invalid.json"].errors[0].loc == "demographics.weight_kg"
    tally = Tally()
    for r in results:
        tally.add(r)
    assert tally.line() == "7 records: 4 evaluated, 3 invalid"


def test_two_workers_give_the_same_results_as_one(messy: Path) -> None:
    for i in range(6):
        (messy / f"z{i}.json").write_text(json.dumps(_doc(f"z{i}")))
    items = collect_records([str(messy)])
    one, two = _results(items, jobs=1), _results(items, jobs=2)

    def key(r: Result) -> tuple[str, str]:
        return r.source, r.model().to_json() if r.evaluated else repr(r.failure)

    assert [key(r) for r in one] == [key(r) for r in two]
    # workers send the contract JSON and a digest; the parent forwards them without building a model
    forwarded = [r for r in two if r.evaluated]
    assert forwarded and all(r.evaluation is None and r.evaluation_json is not None for r in forwarded)
    for a, b in zip(one, two, strict=True):
        if a.evaluation is not None:
            assert b.evaluation_json == a.evaluation.to_json(indent=None)
            assert b.summary() == a.summary()


def test_stdin_takes_json_yaml_or_ndjson() -> None:
    ndjson = (json.dumps(_doc("s1")) + "\n" + json.dumps(_doc("s2")) + "\n").encode()
    items = collect_records(["-"], io.BytesIO(ndjson))
    assert [i.source for i in items] == ["<stdin>:1", "<stdin>:2"]
    pretty = json.dumps(_doc("s3"), indent=2).encode()
    assert [i.source for i in collect_records(["-"], io.BytesIO(pretty))] == ["<stdin>"]
    results = _results(
        collect_records(["-"], io.BytesIO(("schema_version: 1\npatient_id: y\n" + _yaml_tail()).encode()))
    )
    assert results[0].evaluation is not None and results[0].evaluation.patient_id == "y"


def test_as_of_and_keep_patient_are_passed_through(messy: Path) -> None:
    items = collect_records([str(messy / "a.json")])
    (r,) = run_batch(items, make_engine=EngineSpec(backend="reference"), as_of=date(2024, 1, 1), keep_patient=True)
    assert r.evaluation is not None and r.evaluation.as_of == "2024-01-01"
    assert isinstance(r.patient, Patient)


# -- a worker that dies ----------------------------------------------------------------------------


class _Crashy:
    def __init__(self, victim: str, sig: int | None) -> None:
        self._engine = Engine(backend="reference")
        self._victim, self._sig = victim, sig

    def evaluate(self, patient: Patient, *, as_of: date | None = None) -> Evaluation:
        if patient.patient_id == self._victim:
            if self._sig is not None:
                os.kill(os.getpid(), self._sig)
            os._exit(7)
        return self._engine.evaluate(patient, as_of=as_of)


@dataclass(frozen=True)
class CrashOn:
    """An engine recipe whose engine kills its worker process on one patient (picklable for spawn)."""

    victim: str
    sig: int | None = None

    def __call__(self) -> _Crashy:
        return _Crashy(self.victim, self.sig)


@pytest.mark.parametrize("sig", [None, signal.SIGKILL])
def test_a_dying_worker_loses_no_record(tmp_path: Path, sig: int | None) -> None:
    lines = [json.dumps(_doc(f"n{i}")) for i in range(9)]
    (tmp_path / "cohort.ndjson").write_text("\n".join(lines) + "\n")
    items = collect_records([str(tmp_path / "cohort.ndjson")])
    done: list[int] = []
    results = list(
        run_batch(items, make_engine=CrashOn("n4", sig), jobs=2, on_done=lambda r: done.append(r.index))
    )
    assert [r.index for r in results] == list(range(9))
    assert sorted(done) == list(range(9))
    (dead,) = [r for r in results if r.failure is not None]
    assert dead.source.endswith("cohort.ndjson:5")
    assert dead.failure is not None and dead.failure.kind == "failed"
    expected = "killed by SIGKILL" if sig else "exit code 7"
    assert expected in dead.failure.errors[0].msg
    assert [r.model().patient_id for r in results if r.evaluated] == [f"n{i}" for i in range(9) if i != 4]
