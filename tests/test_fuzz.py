"""Hardening: whatever arrives, the engine returns an Evaluation or raises InputError - nothing else.

* valid generated files (``strategies.patients``) always evaluate, to JSON with finite numbers;
* mutated files always raise :class:`~ivig_cds.InputError` naming the broken field's path;
* arbitrary JSON grafted anywhere into a valid file, and arbitrary bytes, give an Evaluation or
  an InputError, never another exception;
* the corpus in ``tests/corpus`` (``expected.json`` says what each file must give).
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from builders import eligible
from ivig_cds import Engine, Evaluation, InputError
from ivig_cds.inputs.files import load_patient
from strategies import HypothesisDraw, mutations, patients

CORPUS = Path(__file__).parent / "corpus"
EXPECTED: dict[str, dict[str, Any]] = json.loads((CORPUS / "expected.json").read_text())
SETTINGS = settings(
    deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large], max_examples=150
)


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(entry_points=False)


def _numbers(value: Any) -> Iterator[float]:
    if isinstance(value, float):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _numbers(v)
    elif isinstance(value, list):
        for v in value:
            yield from _numbers(v)


def check_evaluation(ev: Evaluation) -> None:
    """An Evaluation whose JSON parses back and holds only finite numbers."""
    assert isinstance(ev, Evaluation)
    data = json.loads(ev.to_json())
    assert data["patient_id"] == ev.patient_id
    bad = [x for x in _numbers(ev.model_dump()) if not math.isfinite(x)]
    assert not bad, f"non-finite numbers in the result: {bad}"


# ---------------------------------------------------------------- generated files


@SETTINGS
@given(doc=patients())
def test_valid_generated_files_evaluate(engine: Engine, doc: dict[str, Any]) -> None:
    check_evaluation(engine.evaluate(doc))


@SETTINGS
@given(doc=patients(), data=st.data())
def test_mutated_files_raise_input_error_naming_the_field(engine: Engine, doc: dict[str, Any], data: Any) -> None:
    options = list(mutations(doc, HypothesisDraw(data.draw)))
    what, bad, loc = data.draw(st.sampled_from(options), label="mutation")
    with pytest.raises(InputError) as info:
        engine.evaluate(bad)
    locs = [e.loc for e in info.value.errors]
    assert locs and all(locs), f"{what}: an error without a field path: {info.value.errors}"
    named = any(x == loc or x.startswith((loc + ".", loc + "[")) for x in locs)
    assert named, f"{what}: expected {loc}, got {locs}"
    assert all(e.msg for e in info.value.errors)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if prefix:
        yield prefix
    if isinstance(value, dict):
        for key, v in value.items():
            yield from _paths(v, (*prefix, key))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i))


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(["2024-02-30", "0001-01-01", "9999-12-31", "2024-06-01", "", "polymyositis"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@SETTINGS
@given(doc=patients(), data=st.data())
def test_any_json_grafted_into_a_valid_file_gives_evaluation_or_input_error(
    engine: Engine, doc: dict[str, Any], data: Any
) -> None:
    paths = list(_paths(doc))
    path = data.draw(st.sampled_from(paths), label="path")
    value = data.draw(JSON_VALUES, label="value")
    target: Any = doc
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    try:
        ev = engine.evaluate(doc)
    except InputError as exc:
        assert exc.errors and all(e.msg for e in exc.errors)
        return
    check_evaluation(ev)


@pytest.mark.parametrize("raw", [b"\x00", b"a: \x07", b"as_of: 2024-02-30", b"n: 1" + b"0" * 5000])
def test_yaml_reader_and_constructor_errors_are_input_errors(raw: bytes) -> None:
    with pytest.raises(InputError):
        load_patient(raw)


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=300) | st.text(max_size=300).map(lambda s: s.encode("utf-8", "surrogatepass")))
def test_arbitrary_bytes_give_input_error(raw: bytes) -> None:
    try:
        load_patient(raw)
    except InputError as exc:
        assert exc.errors
    else:  # pragma: no cover - a random valid patient file is not going to happen
        raise AssertionError("random bytes were accepted as a patient file")


@settings(max_examples=100, deadline=None)
@given(doc=patients(), cut=st.integers(0, 10**6))
def test_truncated_documents_give_input_error(doc: dict[str, Any], cut: int) -> None:
    text = json.dumps(doc).encode()
    cut = cut % len(text)
    assume(text[:cut].strip())
    with pytest.raises(InputError) as info:
        load_patient(text[:cut])
    assert info.value.errors[0].loc == ""


# ---------------------------------------------------------------- the corpus


def _corpus_params() -> list[Any]:
    out = []
    for name, spec in sorted(EXPECTED.items()):
        out.append(pytest.param(name, spec, id=name))
    return out


def test_corpus_manifest_lists_every_file() -> None:
    files = {p.name for p in CORPUS.iterdir() if p.suffix in (".json", ".yaml") and p.name != "expected.json"}
    assert files == set(EXPECTED)


@pytest.mark.parametrize(("name", "spec"), _corpus_params())
def test_corpus_file(engine: Engine, name: str, spec: dict[str, Any]) -> None:
    path = CORPUS / name
    if spec.get("valid"):
        check_evaluation(engine.evaluate(path))
        return
    with pytest.raises(InputError) as info:
        engine.evaluate(path)
    err = info.value
    assert err.source == str(path)
    assert err.errors
    if spec.get("loc") is not None:
        locs = [e.loc for e in err.errors]
        assert spec["loc"] in locs, f"expected an error at {spec['loc']!r}, got {locs}"
    if spec.get("msg") is not None:
        assert any(spec["msg"] in e.msg for e in err.errors), [e.msg for e in err.errors]
    assert len(str(err)) < 1000, "the error must not echo the document"
    # the same bytes given in memory (format sniffed, not taken from the suffix) give the same errors
    raw = path.read_bytes()
    if path.suffix == ".json" and raw.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] in (b"{", b"["):
        with pytest.raises(InputError) as again:
            engine.evaluate(raw)
        assert [e.loc for e in again.value.errors] == [e.loc for e in err.errors]


# ---------------------------------------------------------------- extreme but valid values


def _with_courses(doc: dict[str, Any], *starts: str) -> dict[str, Any]:
    doc["ivig_courses"] = [{"start": s, "days": 2, "dose_g_per_kg_per_day": 1.0} for s in starts]
    return doc


def test_astronomic_ck_over_tiny_uln_evaluates(engine: Engine) -> None:
    """The contract bounds CK only below (>= 0) and its ULN only above 0: CK/ULN overflows. The
    exact TIS then fails converting a Fraction beyond the float range (a raw OverflowError, not an
    IvigCdsError); with that fixed, the CK fall by course 4 is inf - inf = NaN."""
    doc = _with_courses(eligible().build(), "2024-01-08", "2024-02-05", "2024-03-04")
    doc["assessments"] = [
        {"date": "2024-01-05", "mmt8": 50, "ck_u_per_l": 1e308, "ck_uln_u_per_l": 1e-300},
        {"date": "2024-03-25", "mmt8": 60, "ck_u_per_l": 1e308, "ck_uln_u_per_l": 1e-300},
    ]
    check_evaluation(engine.evaluate(doc))


def test_tiny_baseline_glucocorticoid_dose_gives_finite_numbers(engine: Engine) -> None:
    """A baseline of 5e-324 mg/day (valid: >= 0) makes the reduction -inf %: the JSON status says
    null while the STER-001B finding says '-inf% reduction'."""
    doc = _with_courses(eligible().build(), "2024-01-08")
    doc["glucocorticoid_doses"] = [
        {"date": "2019-02-01", "prednisone_mg_per_day": 5e-324},
        {"date": "2024-03-01", "prednisone_mg_per_day": 20},
    ]
    check_evaluation(engine.evaluate(doc))


def test_extreme_values_that_are_handled(engine: Engine) -> None:
    doc = eligible().build()
    doc["labs"] += [
        {"date": "2024-05-30", "test": "iga_mg_dl", "value": 1e300},
        {"date": "2024-05-30", "test": "creatinine_mg_dl", "value": 5e-324},
    ]
    doc["assessments"].append({"date": "2024-05-30", "ck_u_per_l": 1e308, "ck_uln_u_per_l": 1e-300})
    doc["ivig_courses"] = [
        {"start": "2024-01-08", "days": 5, "dose_g_per_kg_per_day": 2.0, "product": "é" * 10_000}
    ]
    ev = engine.evaluate(copy.deepcopy(doc))
    check_evaluation(ev)
    assert "DOSE-001" in {f.rule_id for f in ev.findings}  # 10 g/kg course


# ---------------------------------------------------------------- the command line on standard input


@pytest.fixture(scope="module")
def quiet_cli() -> Iterator[None]:
    """The CLI with one shared reference engine, so each example costs an evaluation, not an engine."""
    from ivig_cds.engine.config import EngineSpec

    shared = Engine(backend="reference", entry_points=False)
    original = EngineSpec.__call__
    EngineSpec.__call__ = lambda self: shared  # type: ignore[method-assign]
    try:
        yield
    finally:
        EngineSpec.__call__ = original  # type: ignore[method-assign]


def _cli_on_stdin(raw: bytes, *argv: str) -> tuple[int, str, str]:
    import contextlib
    import io
    import sys

    from ivig_cds import cli

    out, err = io.StringIO(), io.StringIO()
    stdin = io.TextIOWrapper(io.BytesIO(raw))
    saved = sys.stdin
    sys.stdin = stdin
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(["evaluate", "-", *argv])
    finally:
        sys.stdin = saved
    return code, out.getvalue(), err.getvalue()


def _check_records(code: int, out: str, err: str) -> None:
    assert code in (0, 1, 2), f"exit {code}: {err}"
    assert "Traceback" not in err and "internal error" not in err
    for line in out.splitlines():
        doc = json.loads(line)
        assert "patient_id" in doc or set(doc) == {"error"}


NDJSON_LINES = st.lists(
    st.one_of(
        st.builds(lambda d: json.dumps(d), patients()),
        st.binary(max_size=80).map(lambda b: b.decode("latin-1")),
        st.sampled_from(["{}", "[]", "null", '{"schema_version": 1}', "{oops", "\ufeff{}"]),
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(raw=st.binary(max_size=400))
def test_cli_on_random_bytes_gives_results_or_error_records(quiet_cli: None, raw: bytes) -> None:
    _check_records(*_cli_on_stdin(raw, "-f", "ndjson"))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(lines=NDJSON_LINES)
def test_cli_on_random_ndjson_gives_a_record_per_line(quiet_cli: None, lines: list[str]) -> None:
    raw = "\n".join(lines).encode("utf-8", "surrogatepass")
    code, out, err = _cli_on_stdin(raw, "-f", "ndjson")
    _check_records(code, out, err)
    assert out  # every run writes at least one result or error record


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(raw=st.binary(max_size=300))
def test_cli_rich_view_on_random_bytes_never_fails_internally(quiet_cli: None, raw: bytes) -> None:
    code, out, err = _cli_on_stdin(raw, "--width", "80")
    assert code in (0, 1, 2) and "Traceback" not in err and "internal error" not in err
    assert "\x1b" not in out
