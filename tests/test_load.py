"""Load: one Engine shared by many threads gives the sequential results; bursts queue; errors surface.

* 8 threads x 250 evaluations (``IVIG_CDS_LOAD_FULL=1``: x 2,000) with a tiny GIL switch interval,
  each result equal to the sequential one;
* 1,100 threads started together: all succeed, and the live durable sessions per ruleset never
  exceed :data:`ivig_cds._durable.MAX_LIVE_SESSIONS` (durable's C core fails at 1,025); a sleep
  injected inside every session keeps them live, so the cap is really reached;
* a rule action that raises, or a durable C call that fails, is an :class:`EngineError`, never a
  partial result; and the failed sessions are cleaned up (thousands of failures in a row, more
  than durable's session cap, leave the engine working).
"""

from __future__ import annotations

import json
import os
import random
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest

from builders import eligible
from ivig_cds import Engine, EngineError
from ivig_cds.backends import _durable
from strategies import cohort

FULL = os.environ.get("IVIG_CDS_LOAD_FULL") == "1"
THREADS = 8
PER_THREAD = 2000 if FULL else 250


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(entry_points=False)


@pytest.fixture(scope="module")
def docs() -> list[dict[str, Any]]:
    return cohort(PER_THREAD, seed=4242)


@pytest.fixture(scope="module")
def expected(engine: Engine, docs: list[dict[str, Any]]) -> list[str]:
    return [engine.evaluate(d).to_json() for d in docs]


@contextmanager
def switch_interval(seconds: float) -> Iterator[None]:
    old = sys.getswitchinterval()
    sys.setswitchinterval(seconds)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


def test_threads_give_the_sequential_results(
    engine: Engine, docs: list[dict[str, Any]], expected: list[str]
) -> None:
    def worker(seed: int) -> list[tuple[int, str]]:
        order = list(range(len(docs)))
        random.Random(seed).shuffle(order)
        return [(i, engine.evaluate(docs[i]).to_json()) for i in order]

    with switch_interval(1e-5), ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(worker, range(THREADS)))
    assert sum(len(r) for r in results) == THREADS * PER_THREAD
    for per_thread in results:
        for i, got in per_thread:
            assert got == expected[i], f"thread result differs for {docs[i]['patient_id']}"


class _SlowDurable:
    """Stands in for the durable C module: sleeps (GIL released) inside every live session."""

    def __init__(self, real: Any, pause: float) -> None:
        self._real = real
        self._pause = pause

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def start_action_for_state(self, handle: int, state: int) -> Any:
        time.sleep(self._pause)
        return self._real.start_action_for_state(handle, state)


def _burst(engine: Engine, docs: list[dict[str, Any]], n: int) -> list[str | BaseException]:
    start = threading.Barrier(n)
    results: list[str | BaseException] = [""] * n

    def worker(k: int) -> None:
        start.wait()
        try:
            results[k] = engine.evaluate(docs[k % len(docs)]).to_json()
        except BaseException as exc:  # collected and asserted by the caller
            results[k] = exc

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads)
    return results


def _assert_all_ok(results: list[str | BaseException], docs: list[dict[str, Any]], expected: list[str]) -> None:
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, f"{len(errors)} evaluations failed, first: {errors[0]!r}"
    for k, got in enumerate(results):
        assert got == expected[k % len(docs)]


def test_1100_threads_at_once_all_succeed(engine: Engine, docs: list[dict[str, Any]], expected: list[str]) -> None:
    """More simultaneous evaluations than durable's 1,024 live sessions per ruleset."""
    backend = engine._backend
    assert isinstance(backend._lock, threading.BoundedSemaphore)
    assert backend._lock._initial_value == _durable.MAX_LIVE_SESSIONS < 1025
    _assert_all_ok(_burst(engine, docs, 1100), docs, expected)


def test_a_burst_queues_at_the_session_cap(
    engine: Engine, docs: list[dict[str, Any]], expected: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With sessions kept live (a sleep inside each) the cap is reached and never passed, in any
    stratum. The cap is lowered to 8, and the first sessions wait until 8 are live at once, so the
    cap is reached however slowly the machine starts the burst's threads (no timing assumption)."""
    cap = 8
    live: dict[int, int] = {}
    peak: dict[int, int] = {}
    count_lock = threading.Condition()
    full = threading.Event()  # set once `cap` sessions were live together
    original = _durable.DurableBackend._run_session

    def counting(self: Any, handle: int, *args: Any) -> Any:
        with count_lock:
            live[handle] = live.get(handle, 0) + 1
            peak[handle] = max(peak.get(handle, 0), live[handle])
            if sum(live.values()) >= cap:
                full.set()
                count_lock.notify_all()
            elif not full.is_set():
                count_lock.wait_for(full.is_set, timeout=30)
        try:
            return original(self, handle, *args)
        finally:
            with count_lock:
                live[handle] -= 1

    monkeypatch.setattr(_durable.DurableBackend, "_run_session", counting)
    monkeypatch.setattr(_durable, "_dre", _SlowDurable(_durable._dre, 0.01))
    monkeypatch.setattr(engine._backend, "_lock", threading.BoundedSemaphore(cap))
    _assert_all_ok(_burst(engine, docs, 300), docs, expected)
    assert full.is_set(), "the burst never had the cap of sessions live at once"
    assert set(peak) == set(engine._backend._handles)
    assert max(peak.values()) <= cap  # never passed in any stratum (reached, counting all: `full`)
    assert sum(live.values()) == 0


def test_one_permit_covers_every_stratum(engine: Engine) -> None:
    """Each evaluation holds one permit while it runs all strata (one live session at a time)."""
    backend = engine._backend
    assert len(backend._handles) >= 2
    acquired: list[int] = []

    class Recorder:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def __enter__(self) -> Any:
            acquired.append(1)
            return self.inner.__enter__()

        def __exit__(self, *exc: Any) -> Any:
            return self.inner.__exit__(*exc)

    real = backend._lock
    backend._lock = Recorder(real)
    try:
        engine.evaluate(eligible().build())
    finally:
        backend._lock = real
    assert acquired == [1]


def _failing_recorder(rule_to_fail: str) -> Callable[..., Any]:
    original = _durable.DurableBackend._recorder

    def recorder(self: Any, rule: Any, chain: bool) -> Callable[[Any], None]:
        record = original(self, rule, chain)

        def action(c: Any) -> None:
            if rule.id == rule_to_fail:
                raise RuntimeError("recorder exploded")
            record(c)

        return action

    return recorder


def test_an_action_error_is_an_engine_error_never_a_partial_result(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_durable.DurableBackend, "_recorder", _failing_recorder("SAFETY-008"))
    broken = Engine(entry_points=False)
    doc = eligible().risk(diabetes=True).build()  # SAFETY-008 fires (and is chained: SAFETY-008B)
    for _ in range(1100):  # more failures than durable's session cap: each failed session is deleted
        with pytest.raises(EngineError, match="recorder exploded"):
            broken.evaluate(doc)
    fine = eligible().risk(diabetes=False).build()
    fine["demographics"]["birth_date"] = "1990-01-01"
    ev = broken.evaluate(fine)
    assert "SAFETY-008" not in ev.status.eligibility_reasons
    monkeypatch.undo()
    assert Engine(entry_points=False).evaluate(fine).to_json() == ev.to_json()


class _FailingDurable:
    """The durable C module, with one call failing on every n-th use; counts sessions made and deleted."""

    def __init__(self, real: Any, name: str, nth: int) -> None:
        self._real, self._name, self._nth, self.calls = real, name, nth, 0
        self.created: set[str] = set()
        self.deleted: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._real, name)

        def wrapped(*args: Any) -> Any:
            if name == self._name:
                self.calls += 1
                if self.calls % self._nth == 0:
                    raise RuntimeError(f"{name} failed")
            result = attr(*args)
            if name in ("assert_facts", "assert_fact"):
                self.created.add(json.loads(args[1])[0]["sid"] if name == "assert_facts" else "")
            elif name == "delete_state":
                self.deleted.append(args[1])
            return result

        return wrapped


@pytest.mark.parametrize("call", ["assert_facts", "start_action_for_state", "complete_and_start_action"])
def test_a_durable_failure_is_an_engine_error_and_no_session_leaks(
    engine: Engine, docs: list[dict[str, Any]], expected: list[str], call: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = _FailingDurable(_durable._dre, call, 3)
    monkeypatch.setattr(_durable, "_dre", fake)
    failed = 0
    for i in range(300):
        doc = docs[i % len(docs)]
        try:
            got = engine.evaluate(doc).to_json()
        except EngineError as exc:
            assert f"{call} failed" in str(exc)
            failed += 1
            continue
        assert got == expected[i % len(docs)]
    assert failed > 30
    fake.created.discard("")
    assert sorted(fake.deleted) == sorted(fake.created), "a durable session was not deleted"
    monkeypatch.undo()
    assert [engine.evaluate(d).to_json() for d in docs[:50]] == expected[:50]


def test_results_are_json_identical_across_engines(docs: list[dict[str, Any]], expected: list[str]) -> None:
    """A second Engine in the same process (its own durable host) gives the same bytes."""
    other = Engine(entry_points=False)
    got = [other.evaluate(d).to_json() for d in docs[:100]]
    assert got == expected[:100]
