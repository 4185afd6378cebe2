"""Evaluate many patient records: expand inputs, run them (in worker processes if asked), lose nothing.

Every input record yields exactly one :class:`Result`, in input order: an evaluation, or a
:class:`Failure` naming the file (or ``file:line``). Inputs are files (JSON, YAML, NDJSON),
directories (their ``*.json``, ``*.yaml``, ``*.yml`` and ``*.ndjson`` files, sorted) and ``-``
(standard input: JSON, YAML or NDJSON).

With ``jobs > 1`` each worker process builds its own engine once and receives small chunks of
records. If a worker dies, the parent notices (its process sentinel), records a failure for the
record it was evaluating, hands the rest of its chunk to a fresh worker, and carries on.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import os
import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO, Literal, Protocol

from ivig_cds.errors import FieldError, InputError, IvigCdsError
from ivig_cds.model.evaluation import Evaluation
from ivig_cds.model.patient import Patient

__all__ = [
    "PATIENT_SUFFIXES",
    "EngineSpec",
    "Failure",
    "Record",
    "Result",
    "Tally",
    "collect_records",
    "default_jobs",
    "evaluate_record",
    "run_batch",
]

PATIENT_SUFFIXES = (".json", ".yaml", ".yml", ".ndjson")
MAX_RECORDS = 1_000_000
"""Records one run accepts; past it every further input becomes one error record (split the input)."""
_NDJSON_SUFFIXES = (".ndjson", ".jsonl")
_CHUNK_MAX = 16
_STDIN = "<stdin>"


class _Evaluator(Protocol):
    def evaluate(self, patient: Patient, *, as_of: date | None = None) -> Evaluation: ...


@dataclass(frozen=True)
class EngineSpec:
    """A picklable recipe for an engine: each worker process builds its own from it.

    Attributes:
        backend: ``durable`` or ``reference``.
        thresholds: Site threshold overrides.
        plugin_paths: Local plugin files or directories (``--plugin``).
        strict_plugins: A failing plugin is fatal (``--strict-plugins``).
        fhir_mapping: A site FHIR mapping table (``--mapping``).
        strict_fhir: Validate FHIR input with the R4B models first (``--strict-fhir``).
    """

    backend: Literal["durable", "reference"] = "durable"
    thresholds: tuple[tuple[str, Any], ...] = ()
    plugin_paths: tuple[str, ...] = ()
    strict_plugins: bool = False
    fhir_mapping: str | None = None
    strict_fhir: bool = False

    def __call__(self) -> _Evaluator:
        from ivig_cds.engine.engine import Engine

        return Engine(
            backend=self.backend,
            thresholds=dict(self.thresholds) or None,
            plugin_paths=self.plugin_paths,
            strict_plugins=self.strict_plugins,
            fhir_mapping=self.fhir_mapping,
            strict_fhir=self.strict_fhir,
        )


@dataclass(frozen=True)
class Record:
    """One patient to evaluate: a file to load, or an inline document (stdin, an NDJSON line).

    Attributes:
        source: The name used in every message (``dir/a.json``, ``cohort.ndjson:3``, ``<stdin>``).
        path: A JSON/YAML file to load, or ``None``.
        text: The document itself, or ``None``.
        fmt: ``json`` / ``yaml`` for ``text``; ``None`` sniffs.
    """

    source: str
    path: str | None = None
    text: bytes | None = None
    fmt: Literal["json", "yaml"] | None = None


@dataclass(frozen=True)
class Failure:
    """An input that produced no evaluation.

    Attributes:
        source: File or ``file:line``.
        errors: The problems, each with its field path (empty path: the whole record).
        kind: ``invalid`` (the input breaks the contract, exit 2) or ``failed`` (the engine or a
            worker failed on valid-looking input: a bug to report, exit 3).
    """

    source: str
    errors: tuple[FieldError, ...]
    kind: Literal["invalid", "failed"] = "invalid"


@dataclass(frozen=True)
class Result:
    """The outcome of one record, in input order (``index``)."""

    index: int
    source: str
    evaluation: Evaluation | None = None
    failure: Failure | None = None
    patient: Patient | None = None


@dataclass
class Tally:
    """Counts for the closing line: every record is evaluated, invalid or failed."""

    records: int = 0
    evaluated: int = 0
    invalid: int = 0
    failed: int = 0

    def add(self, result: Result) -> None:
        self.records += 1
        if result.evaluation is not None:
            self.evaluated += 1
        elif result.failure is not None and result.failure.kind == "failed":
            self.failed += 1
        else:
            self.invalid += 1

    def line(self) -> str:
        """``N records: X evaluated, Y invalid`` (``, Z failed`` when any failed)."""
        noun = "record" if self.records == 1 else "records"
        text = f"{self.records} {noun}: {self.evaluated} evaluated, {self.invalid} invalid"
        return text + (f", {self.failed} failed" if self.failed else "")


# ---------------------------------------------------------------- inputs


def _failure(source: str, msg: str, kind: str = "file") -> Failure:
    return Failure(source, (FieldError("", msg, kind),))


def _ndjson_records(data: bytes, source: str) -> list[Record]:
    # Same naming as patient_io.iter_ndjson ("{source}:{lineno}", blank lines skipped); parsing and
    # validation happen in the worker, so a broken line costs only its own record.
    out = []
    for lineno, line in enumerate(data.split(b"\n"), start=1):
        if line.strip():
            out.append(Record(f"{source}:{lineno}", text=line, fmt="json"))
    return out


def _looks_like_ndjson(data: bytes) -> bool:
    lines = [line.strip() for line in data.split(b"\n") if line.strip()]
    return len(lines) > 1 and lines[0].startswith(b"{") and lines[0].endswith(b"}")


def _read(path: Path) -> bytes | Failure:
    try:
        return path.read_bytes()
    except OSError as exc:
        return _failure(str(path), f"cannot read file: {exc.strerror or type(exc).__name__}")


def _file_records(path: Path) -> list[Record | Failure]:
    if _is_fhir_ndjson(path):
        return _bulk_records([path])
    if path.suffix.lower() in _NDJSON_SUFFIXES:
        data = _read(path)
        return [data] if isinstance(data, Failure) else list(_ndjson_records(data, str(path)))
    return [Record(str(path), path=str(path))]


def collect_records(inputs: Sequence[str], stdin: BinaryIO | None = None) -> list[Record | Failure]:
    """Expand command-line inputs into records, in order; unusable inputs become failures.

    Args:
        inputs: Files, directories (non-recursive: ``*.json``, ``*.yaml``, ``*.yml``, ``*.ndjson``,
            sorted by name) and ``-`` for ``stdin``.
        stdin: The binary stream read for ``-``.
    """
    out: list[Record | Failure] = []
    for item in inputs:
        if item == "-":
            data = stdin.read() if stdin is not None else b""
            if _looks_like_ndjson(data):
                out.extend(_ndjson_records(data, _STDIN))
            else:
                out.append(Record(_STDIN, text=data))
            continue
        path = Path(item)
        if path.is_dir():
            try:
                children = sorted(
                    p for p in path.iterdir() if p.suffix.lower() in PATIENT_SUFFIXES and p.is_file()
                )
            except OSError as exc:
                out.append(_failure(item, f"cannot read directory: {exc.strerror or type(exc).__name__}"))
                continue
            bulk = [c for c in children if _is_fhir_ndjson(c)]  # a Bulk Data export: one file per type
            if bulk:
                out.extend(_bulk_records(bulk))
            for child in children:
                if child not in bulk:
                    out.extend(_file_records(child))
        elif path.exists():
            out.extend(_file_records(path))
        else:
            out.append(_failure(item, "file not found"))
    if len(out) > MAX_RECORDS:
        # nothing is silently dropped: the refused remainder is one error record that says so
        refused = len(out) - MAX_RECORDS
        first = out[MAX_RECORDS].source
        out = out[:MAX_RECORDS]
        out.append(
            _failure(
                first,
                f"record limit reached ({MAX_RECORDS} per run): this and {refused - 1} later record(s)"
                " were not evaluated; split the input",
            )
        )
    return out


def _is_fhir_ndjson(path: Path) -> bool:
    """An NDJSON file whose first record is a FHIR resource (Bulk Data), not a patient file."""
    from ivig_cds.inputs.fhir.integration import sniff_ndjson

    return path.suffix.lower() in _NDJSON_SUFFIXES and sniff_ndjson(path)


def _bulk_records(paths: list[Path]) -> list[Record | Failure]:
    """One record per Patient of a Bulk Data export (its resources as a Bundle); bad lines are failures."""
    from ivig_cds.inputs.fhir.integration import bulk_bundles

    return [
        Record(source, text=text, fmt="json") if text is not None else Failure(source, errors)
        for source, text, errors in bulk_bundles(paths)
    ]


# ---------------------------------------------------------------- evaluation


def _load(record: Record, engine: _Evaluator, as_of: date | None) -> tuple[Patient, Any]:
    """The record as a patient (FHIR input recognised by ``resourceType``) and its mapping report, if FHIR."""
    from ivig_cds.inputs.fhir.integration import load_input

    mapping, strict = getattr(engine, "fhir_mapping", None), getattr(engine, "strict_fhir", False)
    if record.path is not None:
        return load_input(record.path, as_of=as_of, mapping=mapping, strict=strict)
    return load_input(
        record.text or b"", as_of=as_of, mapping=mapping, strict=strict, name=record.source, fmt=record.fmt
    )


def evaluate_record(
    engine: _Evaluator, index: int, record: Record, as_of: date | None, keep_patient: bool = False
) -> Result:
    """Load and evaluate one record; never raises for a bad record.

    Unexpected exceptions become a ``failed`` result naming only the exception type: its message
    could quote patient data.
    """
    from ivig_cds.inputs.fhir.integration import with_mapping

    try:
        patient, report = _load(record, engine, as_of)
        evaluation = with_mapping(engine.evaluate(patient, as_of=as_of), report)
    except InputError as exc:
        return Result(index, record.source, failure=Failure(record.source, tuple(exc.errors)))
    except IvigCdsError as exc:
        fail = Failure(record.source, (FieldError("", str(exc), "engine"),), "failed")
        return Result(index, record.source, failure=fail)
    except Exception as exc:
        msg = f"internal error ({type(exc).__name__}); please report"
        return Result(
            index, record.source, failure=Failure(record.source, (FieldError("", msg, "internal"),), "failed")
        )
    return Result(index, record.source, evaluation=evaluation, patient=patient if keep_patient else None)


def run_batch(
    items: Sequence[Record | Failure],
    *,
    make_engine: Callable[[], _Evaluator],
    as_of: date | None = None,
    jobs: int = 1,
    keep_patient: bool = False,
    on_done: Callable[[Result], None] | None = None,
) -> Iterator[Result]:
    """Evaluate records and yield one :class:`Result` per item, in input order.

    Args:
        items: From :func:`collect_records`; a :class:`Failure` item is passed through as its result.
        make_engine: Builds the engine (called once per process); must be picklable for ``jobs > 1``.
        as_of: Evaluate as of this date instead of each file's own.
        jobs: Worker processes; 1 evaluates in this process.
        keep_patient: Attach the validated :class:`Patient` (the console timeline needs it).
        on_done: Called as each result arrives (in completion order): drives a progress bar.

    Raises:
        IvigCdsError: The engine could not be built (e.g. an invalid rule file).
    """
    tasks = [(i, it) for i, it in enumerate(items) if isinstance(it, Record)]
    done: dict[int, Result] = {}
    for i, it in enumerate(items):
        if isinstance(it, Failure):
            done[i] = Result(i, it.source, failure=it)
    stream: Iterable[Result]
    if jobs <= 1 or len(tasks) <= 1:
        stream = _run_here(tasks, make_engine, as_of, keep_patient)
    else:
        stream = _Pool(make_engine, as_of, keep_patient, min(jobs, len(tasks))).run(tasks)
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


def _run_here(
    tasks: list[tuple[int, Record]], make_engine: Callable[[], _Evaluator], as_of: date | None, keep: bool
) -> Iterator[Result]:
    if not tasks:
        return
    engine = make_engine()
    for i, record in tasks:
        yield evaluate_record(engine, i, record, as_of, keep)


# ---------------------------------------------------------------- worker processes


def _worker_main(conn: multiprocessing.connection.Connection, make_engine: Any, as_of: Any, keep: bool) -> None:
    """Worker loop: build the engine once, then evaluate each chunk received, one result per record."""
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
            result = evaluate_record(engine, i, record, as_of, keep)
            if result.evaluation is None:
                conn.send(("result", result))
            else:  # JSON crosses the pipe ~4x cheaper than a pickled model (measured: bench/RESULTS.md)
                conn.send(("result_json", (replace(result, evaluation=None), result.evaluation.model_dump_json())))


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


class _Pool:
    """A small process pool that knows which record each worker holds, so a death loses nothing."""

    def __init__(self, make_engine: Callable[[], _Evaluator], as_of: date | None, keep: bool, jobs: int) -> None:
        self._ctx = multiprocessing.get_context("spawn")  # no fork: the parent may run a progress thread
        self._args = (make_engine, as_of, keep)
        self._jobs = jobs
        self._workers: list[_Worker] = []

    def _spawn(self) -> _Worker:
        parent, child = self._ctx.Pipe(duplex=True)
        proc = self._ctx.Process(target=_worker_main, args=(child, *self._args), daemon=True)
        proc.start()
        child.close()
        worker = _Worker(proc, parent)
        self._workers.append(worker)
        return worker

    def run(self, tasks: list[tuple[int, Record]]) -> Iterator[Result]:
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
                elif kind == "result_json":
                    worker.inflight.popleft()
                    bare, text = payload
                    out.append(replace(bare, evaluation=Evaluation.model_validate_json(text)))
                elif kind == "ready":
                    worker.ready = True
                elif kind == "engine_error":
                    raise IvigCdsError(f"cannot build the engine: {payload}")
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


def default_jobs() -> int:
    """A sensible ``--jobs`` default: the CPUs this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
