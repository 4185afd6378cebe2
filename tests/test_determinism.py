"""Determinism: record order in the file does not change the result; a shared Engine is thread-safe."""

from __future__ import annotations

import copy
import json
import random
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from builders import (
    AS_OF,
    TIS_17_5,
    TIS_20,
    TIS_40,
    TIS_60,
    PatientBuilder,
    day,
    eligible,
    relapse_candidate,
    responder,
)
from ivig_cds import Engine

LISTS = ("therapies", "glucocorticoid_doses", "assessments", "labs", "ivig_courses")
_INDEXED = re.compile(r"^(therapies|glucocorticoid_doses|assessments|labs|ivig_courses)\[(\d+)\]$")


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine()


def rich_patient() -> dict[str, Any]:
    """A discontinued responder with a relapse, several of every record, one failed steroid-sparing agent."""
    b = relapse_candidate()
    b.course(day(84), days=3, dose=0.7, product="Carimune NF")  # DOSE-001, SAFETY-008B
    b.assessment(day(-40), mmt8=48, dysphagia="mild").assessment(day(35), mmt8=60, ck_u_per_l=700)
    b.assessment(day(150), mmt8=68, ck_u_per_l=180, dysphagia="none")
    b.assessment(day(240), mmt8=50, ck_u_per_l=500, dysphagia="severe")
    b.therapy(
        "azathioprine",
        "2021-06-01",
        "2021-07-15",
        outcome="inadequate_response",
        dose_changed_on=["2021-06-15", "2021-07-01"],
    )  # too short: REFRACTORY-003
    b.therapy("mycophenolate", "2022-01-01", None, outcome="ongoing", dose_changed_on=["2022-03-01", "2022-06-01"])
    b.gc(day(30), 15).gc(day(60), 9).gc(day(120), 12)
    b.lab("2024-02-01", "egfr_ml_min_1_73m2", 55).lab("2024-03-01", "creatinine_mg_dl", 1.2)
    b.lab("2024-02-15", "hemoglobin_g_dl", 12.5).lab("2023-06-01", "egfr_ml_min_1_73m2", 70)
    b.demographics(abo_group="A").risk(diabetes=True, pregnant=None)
    return b.as_of(day(260)).build()


def shuffled(patient: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    out = copy.deepcopy(patient)
    for key in LISTS:
        rng.shuffle(out.get(key, []))
    for therapy in out["therapies"]:
        rng.shuffle(therapy.get("dose_changed_on", []))
    return out


def canonical(patient: dict[str, Any], result_json: str) -> str:
    """The result JSON with each indexed ``sources`` path replaced by the record it points to.

    A source such as ``therapies[2]`` is a path into the submitted file, so it rightly follows the
    file's order; everything else must not depend on it.
    """
    data = json.loads(result_json)
    for f in data["findings"]:
        resolved = []
        for source in f["sources"]:
            m = _INDEXED.match(source)
            if m is None:
                resolved.append(source)
                continue
            record = dict(patient[m[1]][int(m[2])])
            if "dose_changed_on" in record:
                record["dose_changed_on"] = sorted(record["dose_changed_on"])
            resolved.append(json.dumps(record, sort_keys=True))
        f["sources"] = sorted(resolved)
    return json.dumps(data, sort_keys=True)


def test_rich_patient_exercises_many_rules(engine: Engine) -> None:
    ids = {f.rule_id for f in engine.evaluate(rich_patient()).findings}
    assert {"DOSE-001", "SAFETY-008B", "SAFETY-011", "REFRACTORY-003", "RESP-008", "OUT-004", "DATA-001"} <= ids


def test_same_input_gives_the_same_bytes(engine: Engine) -> None:
    patient = rich_patient()
    assert engine.evaluate(patient).to_json() == engine.evaluate(copy.deepcopy(patient)).to_json()
    assert Engine().evaluate(patient).to_json() == engine.evaluate(patient).to_json()


@pytest.mark.parametrize("seed", range(12))
def test_shuffled_records_give_identical_results(engine: Engine, seed: int) -> None:
    patient = rich_patient()
    expected = engine.evaluate(patient).to_json()
    mixed = shuffled(patient, random.Random(seed))
    got = engine.evaluate(mixed).to_json()
    assert canonical(mixed, got) == canonical(patient, expected)


def test_shuffled_records_without_indexed_sources_give_byte_identical_json(engine: Engine) -> None:
    patient = rich_patient()
    expected = engine.evaluate(patient).to_json()
    for seed in range(6):
        mixed = shuffled(patient, random.Random(100 + seed))
        got = json.loads(engine.evaluate(mixed).to_json())
        want = json.loads(expected)
        for data in (got, want):
            for f in data["findings"]:
                f["sources"] = [s for s in f["sources"] if not _INDEXED.match(s)]
        assert json.dumps(got, indent=2) == json.dumps(want, indent=2)


def test_refractory001_names_the_same_agent_whatever_the_order(engine: Engine) -> None:
    b = eligible().therapy("plasmapheresis", "2022-01-01", "2022-01-01")  # methotrexate also failed
    b.therapy("cyclosporine", "2021-06-01", "2021-07-01", outcome="intolerance")
    patient = b.build()
    summaries = set()
    for seed in range(8):
        ev = engine.evaluate(shuffled(patient, random.Random(seed)))
        summaries |= {f.summary for f in ev.findings if f.rule_id == "REFRACTORY-001"}
    assert len(summaries) == 1, summaries


# -- threads -----------------------------------------------------------------------------------------------


def thread_patients() -> list[dict[str, Any]]:
    """25 different patients (ids p00..p24)."""
    builders: list[PatientBuilder] = []
    for i, pair in enumerate((TIS_17_5, TIS_20, TIS_40, TIS_60)):
        builders.append(responder(pair, as_of=70 + 30 * i))
        builders.append(responder(pair, n_courses=6).risk(heart_failure=True))
    for i in range(5):
        visit = day(100 + 60 * i)
        builders.append(relapse_candidate().assessment(visit, mmt8=50 + 4 * i).as_of(day(110 + 60 * i)))
    for i, factor in enumerate(("pregnant", "diabetes", "prior_ig_anaphylaxis", "immobilized", "sepsis")):
        builders.append(eligible().risk(**{factor: True}).demographics(weight_kg=60 + 12 * i))
    builders += [
        eligible().born("2008-01-01"),
        eligible().no_therapies(),
        eligible().no_risk_factors(),
        eligible().courses(2).as_of(day(40)),
        eligible().gc(day(-20, AS_OF), 40),
        eligible().demographics(sex="other", weight_kg=140),
        eligible().diagnosis(condition="dermatomyositis", ibm_features=None),
    ]
    return [b.id(f"p{i:02d}").build() for i, b in enumerate(builders)]


def test_reference_backend_agrees_on_these_patients(engine: Engine) -> None:
    reference = Engine(backend="reference")
    for patient in [rich_patient(), *thread_patients()]:
        got = json.loads(reference.evaluate(patient).to_json())
        want = json.loads(engine.evaluate(patient).to_json())
        got["engine"].pop("backend")
        want["engine"].pop("backend")
        assert got == want, patient["patient_id"]


def test_shared_engine_across_threads_matches_sequential(engine: Engine) -> None:
    patients = thread_patients()
    assert len(patients) == 25
    sequential = {p["patient_id"]: engine.evaluate(p).to_json() for p in patients}
    assert len(set(sequential.values())) == len(patients)  # all different
    work = patients * 8  # 200 evaluations
    random.Random(7).shuffle(work)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda p: (p["patient_id"], engine.evaluate(p).to_json()), work))
    assert len(results) == 200
    for pid, out in results:
        assert out == sequential[pid], pid
