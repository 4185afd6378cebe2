"""Worker processes for a batch: a small pool that knows which record each worker holds, so a death loses nothing.

Each worker builds its engine once and receives small chunks of records; results come back as their
contract JSON text and a small digest (the parent never rebuilds a model it only forwards). If a
worker dies, the parent notices (its process sentinel), records a failure for the record it was
evaluating, hands the rest of its chunk to a fresh worker, and carries on.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import signal
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from ivig_cds.batch.evaluate import Evaluator, Task, evaluate_record
from ivig_cds.batch.records import Digest, Failure, Record, Result
from ivig_cds.errors import FieldError, IvigCdsError, PluginError

__all__ = ["ProcessPool"]

_CHUNK_MAX = 16


def _worker_main(
    conn: multiprocessing.connection.Connection, make_engine: Any, as_of: Any, keep: bool, patient_id: Any = None
) -> None:
    """Worker loop: build the engine once, then evaluate each chunk received, one result per record."""
    # Ctrl-C reaches the whole process group: the parent stops the run and the workers; a worker
    # that took it itself would only print a traceback over the parent's message
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        engine = make_engine()
    except Exception as exc:
        conn.send(("engine_error", str(exc) if isinstance(exc, IvigCdsError) else type(exc).__name__))
        return
    conn.send(("ready", None))
    while True:
        try:
            chunk = conn.recv()
        except EOFError:
            return
        if chunk is None:
            return
        for i, record in chunk:
            try:
                result = evaluate_record(engine, i, record, as_of, keep, patient_id)
            except PluginError as exc:  # strict plugins: the run stops, as it would in one process
                conn.send(("fatal", str(exc)))
                return
            ev = result.evaluation
            if ev is not None:  # the contract JSON, written once here: the parent forwards it as it is
                result = replace(
                    result, evaluation=None, evaluation_json=ev.to_json(indent=None), digest=Digest.of(ev)
                )
            conn.send(("result", result))


def _death_message(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        how = f"killed by {name}"
    else:
        how = f"exit code {code}"
    return f"worker process died ({how}) while evaluating this record; please report"


@dataclass
class _Worker:
    proc: Any
    conn: multiprocessing.connection.Connection
    inflight: deque[tuple[int, Record]] = field(default_factory=deque)
    ready: bool = False


class ProcessPool:
    """A small process pool that knows which record each worker holds, so a death loses nothing."""

    def __init__(
        self,
        make_engine: Callable[[], Evaluator],
        as_of: date | None,
        keep: bool,
        jobs: int,
        patient_id: str | None = None,
    ) -> None:
        self._ctx = multiprocessing.get_context("spawn")  # no fork: the parent may run a progress thread
        self._args = (make_engine, as_of, keep, patient_id)
        self._jobs = jobs
        self._workers: list[_Worker] = []

    def _spawn(self) -> _Worker:
        parent, child = self._ctx.Pipe(duplex=True)
        proc = self._ctx.Process(target=_worker_main, args=(child, *self._args), daemon=True)
        # started with SIGINT ignored (kept across exec): a Ctrl-C while the worker still imports would
        # otherwise print its traceback; the parent alone handles the interrupt
        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
        try:
            proc.start()
        finally:
            if main:  # None: a handler not set from Python; Python's own is the closest to restore
                signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)
        child.close()
        worker = _Worker(proc, parent)
        self._workers.append(worker)
        return worker

    def run(self, tasks: list[Task]) -> Iterator[Result]:
        pending: deque[tuple[int, Record]] = deque(tasks)
        chunk = max(1, min(_CHUNK_MAX, len(tasks) // (self._jobs * 4)))
        idle_deaths = 0
        try:
            for _ in range(self._jobs):
                self._spawn()
            while pending or any(w.inflight for w in self._workers):
                for w in self._workers:
                    if w.ready and not w.inflight and pending:
                        batch = [pending.popleft() for _ in range(min(chunk, len(pending)))]
                        w.inflight.extend(batch)
                        w.conn.send(batch)
                waitables: list[Any] = [w.conn for w in self._workers] + [w.proc.sentinel for w in self._workers]
                for obj in multiprocessing.connection.wait(waitables):
                    worker = next((w for w in self._workers if obj is w.conn or obj == w.proc.sentinel), None)
                    if worker is None or worker not in self._workers:
                        continue
                    alive, results = self._drain(worker)
                    yield from results
                    if alive:
                        continue
                    # the worker is gone: fail the record it held, requeue the rest of its chunk
                    self._workers.remove(worker)
                    worker.proc.join(timeout=5)
                    if worker.inflight:
                        i, record = worker.inflight.popleft()
                        msg = _death_message(worker.proc.exitcode)
                        fail = Failure(record.source, (FieldError("", msg, "worker"),), "failed")
                        yield Result(i, record.source, failure=fail)
                        pending.extendleft(reversed(worker.inflight))
                    else:
                        idle_deaths += 1
                    if idle_deaths > 2 * self._jobs:
                        why = _death_message(worker.proc.exitcode)
                        raise IvigCdsError(f"worker processes keep dying before evaluating ({why})")
                    if pending and len(self._workers) < self._jobs:
                        self._spawn()
                if not self._workers and pending:
                    self._spawn()
        finally:
            self._shutdown()

    def _drain(self, worker: _Worker) -> tuple[bool, list[Result]]:
        """Read everything the worker sent; return (still alive, results)."""
        out: list[Result] = []
        try:
            while worker.conn.poll():
                kind, payload = worker.conn.recv()
                if kind == "result":
                    worker.inflight.popleft()
                    out.append(payload)
                elif kind == "ready":
                    worker.ready = True
                elif kind == "engine_error":
                    raise IvigCdsError(f"cannot build the engine: {payload}")
                elif kind == "fatal":
                    raise IvigCdsError(payload)
        except (EOFError, OSError):
            return False, out
        return worker.proc.is_alive() or worker.conn.poll(), out

    def _shutdown(self) -> None:
        for w in self._workers:
            with contextlib.suppress(OSError):
                w.conn.send(None)
        for w in self._workers:
            w.proc.join(timeout=2)
            if w.proc.is_alive():
                w.proc.kill()
                w.proc.join(timeout=2)
            w.conn.close()
        self._workers.clear()
