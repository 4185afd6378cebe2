"""Batch inputs: command-line inputs expanded into records (one per patient), unusable inputs into error records.

Inputs are files (JSON, YAML, NDJSON, FHIR Bundles or Bulk Data NDJSON), directories (their
``*.json``, ``*.yaml``, ``*.yml``, ``*.ndjson`` and ``*.jsonl`` entries, sorted, one level deep) and
``-`` (standard input). Only regular files are read, within size limits; everything else - a broken
link, a link loop, a pipe, a device, a directory named ``*.json`` - becomes an error record naming
it. Nothing is skipped silently.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

from ivig_cds.errors import FieldError
from ivig_cds.inputs.files import MAX_DOCUMENT_BYTES
from ivig_cds.model.evaluation import SEVERITY_ORDER, Evaluation, PatientSummary, PluginFailure, Status
from ivig_cds.model.patient import Patient

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_RECORDS",
    "PATIENT_SUFFIXES",
    "Digest",
    "Failure",
    "Record",
    "Result",
    "Tally",
    "collect_records",
]

PATIENT_SUFFIXES = (".json", ".yaml", ".yml", ".ndjson", ".jsonl")
MAX_RECORDS = 1_000_000
"""Records one run accepts; past it every further input becomes one error record (split the input)."""
MAX_FILE_BYTES = 1024**3
"""Largest NDJSON file (or standard input) read, 1 GiB; each record in it is capped like a document."""
_NDJSON_SUFFIXES = (".ndjson", ".jsonl")
_STDIN = "<stdin>"
_BOM = b"\xef\xbb\xbf"


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
        what: What the input was read as, for the heading of its errors (``patient file`` or ``FHIR input``).
    """

    source: str
    errors: tuple[FieldError, ...]
    kind: Literal["invalid", "failed"] = "invalid"
    what: str = "patient file"


@dataclass(frozen=True)
class Digest:
    """What a run reads of an evaluation besides writing it: the summary table, ``--fail-on``, plugin warnings."""

    status: Status
    patient: PatientSummary
    severities: tuple[str, ...]
    plugin_failures: tuple[PluginFailure, ...]

    @classmethod
    def of(cls, evaluation: Evaluation) -> Digest:
        return cls(
            evaluation.status,
            evaluation.patient,
            tuple(str(f.severity) for f in evaluation.findings),
            tuple(evaluation.engine.plugin_failures),
        )

    def fails_on(self, level: str | None) -> bool:
        """Whether a finding is at ``level`` or more severe (``None``: never)."""
        if level is None:
            return False
        limit = SEVERITY_ORDER[level]
        return any(SEVERITY_ORDER[s] <= limit for s in self.severities)


@dataclass(frozen=True)
class Result:
    """The outcome of one record, in input order (``index``).

    A result from a worker process holds the evaluation as its contract JSON (``evaluation_json``,
    compact, exactly ``Evaluation.to_json(indent=None)``) and a :class:`Digest`: the parent forwards
    the text and builds the model only for a writer that needs one (:meth:`model`).
    """

    index: int
    source: str
    evaluation: Evaluation | None = None
    failure: Failure | None = None
    patient: Patient | None = None
    evaluation_json: str | None = None
    digest: Digest | None = None

    @property
    def evaluated(self) -> bool:
        return self.evaluation is not None or self.evaluation_json is not None

    def summary(self) -> Digest:
        """The digest of the evaluation (an evaluated result only)."""
        if self.digest is not None:
            return self.digest
        assert self.evaluation is not None
        return Digest.of(self.evaluation)

    def model(self) -> Evaluation:
        """The evaluation as a model (validated from the JSON when it came from a worker)."""
        if self.evaluation is not None:
            return self.evaluation
        assert self.evaluation_json is not None
        return Evaluation.model_validate_json(self.evaluation_json)


@dataclass
class Tally:
    """Counts for the closing line: every record is evaluated, invalid or failed."""

    records: int = 0
    evaluated: int = 0
    invalid: int = 0
    failed: int = 0

    def add(self, result: Result) -> None:
        self.records += 1
        if result.evaluated:
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


def _failure(source: str, msg: str, kind: str = "file") -> Failure:
    return Failure(source, (FieldError("", msg, kind),))


def _ndjson_records(data: bytes, source: str) -> list[Record | Failure]:
    # Named "{source}:{lineno}" (blank lines skipped); parsing and validation happen where the record
    # is evaluated, so a broken line costs only its own record.
    out: list[Record | Failure] = []
    for lineno, line in enumerate(data.removeprefix(_BOM).split(b"\n"), start=1):
        if not line.strip():
            continue
        name = f"{source}:{lineno}"
        if len(line) > MAX_DOCUMENT_BYTES:
            out.append(_failure(name, f"record larger than {MAX_DOCUMENT_BYTES // 2**20} MiB", "too_large"))
        else:
            out.append(Record(name, text=line, fmt="json"))
    return out


def _is_ndjson_stream(data: bytes) -> bool:
    """Whether standard input holds NDJSON (several one-line JSON documents) rather than one document.

    One JSON document (pretty or not) is one record; else, when every non-blank line opens with
    ``{`` or ``[``, each line is a record (a broken first line, a BOM or a ``[]`` line stays a bad
    line of its own); else it is one YAML document.
    """
    text = data.removeprefix(_BOM)
    lines = [line.strip() for line in text.split(b"\n") if line.strip()]
    if len(lines) < 2:
        return False
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return all(line[:1] in (b"{", b"[") for line in lines)
    return False


def _regular(path: Path) -> str | None:
    """Why ``path`` cannot be read as an input file, or ``None`` when it is a regular file."""
    try:
        mode = path.stat().st_mode  # follows links
    except FileNotFoundError:
        return "broken link (its target does not exist)" if path.is_symlink() else "file not found"
    except OSError as exc:  # a link loop, a permission problem
        return f"cannot read: {exc.strerror or type(exc).__name__}"
    if stat.S_ISREG(mode):
        return None
    kind = "a directory" if stat.S_ISDIR(mode) else "a pipe" if stat.S_ISFIFO(mode) else "a device or socket"
    return f"not a regular file ({kind}); use - to read standard input"


def _read_capped(path: Path, limit: int) -> bytes | str:
    try:
        if path.stat().st_size > limit:
            return f"file larger than {limit // 2**20} MiB: split it"
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        return f"cannot read file: {exc.strerror or type(exc).__name__}"
    return data if len(data) <= limit else f"file larger than {limit // 2**20} MiB: split it"


def _file_records(path: Path) -> list[Record | Failure]:
    why = _regular(path)
    if why is not None:
        return [_failure(str(path), why)]
    if _is_fhir_ndjson(path):
        return _bulk_records([path])
    if path.suffix.lower() in _NDJSON_SUFFIXES:
        data = _read_capped(path, MAX_FILE_BYTES)
        return [_failure(str(path), data)] if isinstance(data, str) else _ndjson_records(data, str(path))
    return [Record(str(path), path=str(path))]


def _directory_records(path: Path) -> list[Record | Failure]:
    try:
        children = sorted(p for p in path.iterdir() if p.suffix.lower() in PATIENT_SUFFIXES)
    except OSError as exc:
        return [_failure(str(path), f"cannot read directory: {exc.strerror or type(exc).__name__}")]
    readable = [c for c in children if _regular(c) is None]
    bulk = [c for c in readable if _is_fhir_ndjson(c)]  # a Bulk Data export: one file per type
    out = _bulk_records(bulk) if bulk else []
    for child in children:
        if child not in bulk:
            out.extend(_file_records(child))
    return out


def _stdin_records(stdin: BinaryIO | None) -> list[Record | Failure]:
    data = stdin.read(MAX_FILE_BYTES + 1) if stdin is not None else b""
    if len(data) > MAX_FILE_BYTES:
        return [_failure(_STDIN, f"standard input larger than {MAX_FILE_BYTES // 2**20} MiB: split it")]
    if _is_ndjson_stream(data):
        return _ndjson_records(data, _STDIN)
    return [Record(_STDIN, text=data)]


def collect_records(inputs: Sequence[str], stdin: BinaryIO | None = None) -> list[Record | Failure]:
    """Expand command-line inputs into records, in order; unusable inputs become failures.

    Args:
        inputs: Files, directories (one level deep: ``*.json``, ``*.yaml``, ``*.yml``, ``*.ndjson``,
            ``*.jsonl``, sorted by name) and ``-`` for ``stdin``.
        stdin: The binary stream read for ``-``.
    """
    out: list[Record | Failure] = []
    for item in inputs:
        if item == "-":
            out.extend(_stdin_records(stdin))
            continue
        path = Path(item)
        if path.is_dir():  # follows a link to a directory; False for broken links and loops
            out.extend(_directory_records(path))
        else:
            out.extend(_file_records(path))
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
        Record(source, text=text, fmt="json") if text is not None else Failure(source, errors, what="FHIR input")
        for source, text, errors in bulk_bundles(paths)
    ]
