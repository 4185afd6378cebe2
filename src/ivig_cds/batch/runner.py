"""Evaluate many records and lose nothing: one :class:`Result` per record, in input order, here or in workers.

A :class:`Runner` turns ``(index, record)`` tasks into results: :class:`InProcess` evaluates them in
this process, :class:`~ivig_cds.batch.pool.ProcessPool` in worker processes (each builds its own
engine once); a distributed runner fits the same protocol (``ivig_cds.arrow`` / ``ivig_cds.spark``
share the per-record evaluation, :func:`evaluate_record`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date
from typing import Protocol

from ivig_cds.batch.evaluate import Evaluator, Task, evaluate_record
from ivig_cds.batch.records import Failure, Record, Result

__all__ = ["Evaluator", "InProcess", "Runner", "Task", "default_jobs", "evaluate_record", "run_batch"]


class Runner(Protocol):
    """Turns tasks into results (any order; :func:`run_batch` restores input order)."""

    def run(self, tasks: list[Task]) -> Iterator[Result]: ...


def run_batch(
    items: Sequence[Record | Failure],
    *,
    make_engine: Callable[[], Evaluator],
    as_of: date | None = None,
    jobs: int = 1,
    keep_patient: bool = False,
    on_done: Callable[[Result], None] | None = None,
    patient_id: str | None = None,
) -> Iterator[Result]:
    """Evaluate records and yield one :class:`Result` per item, in input order.

    Args:
        items: From :func:`collect_records`; a :class:`Failure` item is passed through as its result.
        make_engine: Builds the engine (called once per process); must be picklable for ``jobs > 1``.
        as_of: Evaluate as of this date instead of each file's own.
        jobs: Worker processes; 1 evaluates in this process.
        keep_patient: Attach the validated :class:`Patient` (the console timeline needs it).
        on_done: Called as each result arrives (in completion order): drives a progress bar.
        patient_id: FHIR records: the Patient to read when one holds several (``--patient-id``).

    Raises:
        IvigCdsError: The engine could not be built (e.g. an invalid rule file).
    """
    tasks = [(i, it) for i, it in enumerate(items) if isinstance(it, Record)]
    done: dict[int, Result] = {}
    for i, it in enumerate(items):
        if isinstance(it, Failure):
            done[i] = Result(i, it.source, failure=it)
    stream: Iterable[Result]
    runner: Runner
    if jobs <= 1 or len(tasks) <= 1:
        runner = InProcess(make_engine, as_of, keep_patient, patient_id)
    else:
        from ivig_cds.batch.pool import ProcessPool

        runner = ProcessPool(make_engine, as_of, keep_patient, min(jobs, len(tasks)), patient_id)
    stream = runner.run(tasks)
    nxt = 0
    for i in sorted(done):  # pass-through failures count as done at once
        if on_done is not None:
            on_done(done[i])
    while nxt < len(items) and nxt in done:
        yield done.pop(nxt)
        nxt += 1
    for result in stream:
        if on_done is not None:
            on_done(result)
        done[result.index] = result
        while nxt < len(items) and nxt in done:
            yield done.pop(nxt)
            nxt += 1


class InProcess:
    """Evaluate in this process with one engine, built on first use."""

    def __init__(
        self,
        make_engine: Callable[[], Evaluator],
        as_of: date | None,
        keep_patient: bool,
        patient_id: str | None = None,
    ) -> None:
        self._make, self._as_of, self._keep, self._patient_id = make_engine, as_of, keep_patient, patient_id

    def run(self, tasks: list[Task]) -> Iterator[Result]:
        if not tasks:
            return
        engine = self._make()
        for i, record in tasks:
            yield evaluate_record(engine, i, record, self._as_of, self._keep, self._patient_id)


def default_jobs() -> int:
    """A sensible ``--jobs`` default: the CPUs this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
