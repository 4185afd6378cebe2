"""FHIR Bulk Data NDJSON (one resource per line, one file per type): one patient file per Patient, memory-bounded.

Pass 1 reads every line once and keeps only where it is (file, offset, length) and which patient it
belongs to; pass 2 reads each patient's lines back and maps them. Memory grows with the number of
resources (about 100 bytes each) plus the largest patient, not with the size of the export; ``Medication``
resources (shared by everyone) are kept in memory. A line that is not JSON, or resources of a Patient
that is not in the export, give their own error result; nothing stops the run.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO

from ivig_cds.errors import FieldError
from ivig_cds.model.patient import Patient

from .build import map_entries
from .index import READ_TYPES
from .mapping import FhirMapping, load_mapping
from .report import MappingReport
from .values import reference

__all__ = ["BulkResult", "bulk_files", "iter_bulk_groups", "iter_bulk_patients"]

_SUFFIXES = (".ndjson", ".jsonl")


@dataclass(frozen=True)
class BulkResult:
    """One Patient of an export: its patient file and report, or the errors that kept it from being built.

    ``source`` is ``file:line`` of the Patient resource (or of the first line concerned): no identifier.
    """

    source: str
    patient: Patient | None
    report: MappingReport | None
    errors: list[FieldError] = field(default_factory=list)


def bulk_files(sources: Iterable[str | os.PathLike[str]] | str | os.PathLike[str]) -> list[Path]:
    """The NDJSON files of ``sources``: files as given, directories expanded (``*.ndjson``, sorted)."""
    items = [sources] if isinstance(sources, str | os.PathLike) else list(sources)
    out: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            out += sorted(p for p in path.iterdir() if p.suffix.lower() in _SUFFIXES and p.is_file())
        else:
            out.append(path)
    return out


def _owner(resource: Mapping[str, Any]) -> str | None:
    if resource.get("resourceType") == "Patient":
        rid = resource.get("id")
        return rid if isinstance(rid, str) else None
    ref = reference(resource.get("subject")) or reference(resource.get("patient"))
    if ref is None:
        return None
    parts = ref.split("/_history/")[0].rstrip("/").split("/")
    return parts[-1] if len(parts) >= 2 and parts[-2] == "Patient" else None


_WHOLE_MAX = 10 * 1024 * 1024
"""A file whose first line is not JSON is parsed whole (to recognise one pretty-printed Bundle) up to this size."""


def _not_ndjson(path: Path) -> str | None:
    """Why ``path`` is not NDJSON, when it plainly is one multi-line JSON document (a pretty-printed Bundle):
    one error for the file instead of one per line. ``None``: NDJSON, or lines whose errors are their own."""
    try:
        with path.open("rb") as handle:
            first = next((line for line in handle if line.strip()), b"")
    except OSError:
        return None  # the main pass reports it
    head = first.strip()
    if not head:
        return None
    if head not in (b"{", b"["):
        try:
            json.loads(head)
            return None  # a JSON line: NDJSON (or at worst a line of something else, said per line)
        except (ValueError, RecursionError):
            pass
    doc: object = None
    try:
        if path.stat().st_size <= _WHOLE_MAX:
            doc = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):
        doc = None
    if isinstance(doc, Mapping) and doc.get("resourceType") == "Bundle":
        what = "one JSON Bundle over several lines"
    elif doc is not None or head in (b"{", b"["):
        what = "one JSON document over several lines"
    else:
        return None
    return f"not NDJSON (one resource per line): the file is {what}; give a Bundle as a .json file"


def iter_bulk_groups(
    sources: Iterable[str | os.PathLike[str]] | str | os.PathLike[str],
) -> Iterator[tuple[str, list[tuple[str, Mapping[str, Any], str | None]], list[FieldError]]]:
    """``(source, entries, errors)`` per Patient, in export order; entries are ``(file:line, resource, None)``."""
    files = bulk_files(sources)
    where: dict[str, list[tuple[int, int, int, int]]] = {}  # patient id -> (file, offset, length, lineno)
    patients: list[tuple[str, str]] = []  # (patient id, file:line), in order
    shared: list[tuple[str, Mapping[str, Any], str | None]] = []
    orphans: dict[str, str] = {}
    for f_index, path in enumerate(files):
        problem = _not_ndjson(path)
        if problem is not None:
            yield str(path), [], [FieldError(str(path), problem, "parse")]
            continue
        try:
            reader = path.open("rb")
        except OSError as exc:
            yield str(path), [], [FieldError(str(path), f"cannot read file: {exc.strerror or exc}", "file")]
            continue
        with reader:
            offset = 0
            for lineno, line in enumerate(reader, start=1):
                start, offset = offset, offset + len(line)
                if not line.strip():
                    continue
                loc = f"{path}:{lineno}"
                try:
                    resource = json.loads(line)
                except (ValueError, RecursionError):
                    yield loc, [], [FieldError(loc, "not valid JSON (a truncated or broken NDJSON line)", "parse")]
                    continue
                if not isinstance(resource, Mapping):
                    yield loc, [], [FieldError(loc, "a line must hold one JSON object", "parse")]
                    continue
                kind = resource.get("resourceType")
                if kind == "Medication":
                    shared.append((loc, resource, None))
                    continue
                owner = _owner(resource)
                if owner is None:
                    if isinstance(kind, str) and kind in READ_TYPES:  # clinical data of nobody in particular
                        orphans.setdefault("", loc)
                    continue
                if kind == "Patient":
                    patients.append((owner, loc))
                where.setdefault(owner, []).append((f_index, start, len(line), lineno))
    known = {p for p, _ in patients}
    for owner, places in where.items():
        if owner not in known:
            orphans.setdefault(owner, f"{files[places[0][0]]}:{places[0][3]}")
    handles: dict[int, BinaryIO] = {}
    try:
        for owner, loc in patients:
            entries = list(shared)
            for f_index, start, length, lineno in where.get(owner, []):
                handle = handles.get(f_index)
                if handle is None:
                    handle = handles[f_index] = files[f_index].open("rb")
                handle.seek(start)
                entries.append((f"{files[f_index]}:{lineno}", json.loads(handle.read(length)), None))
            yield loc, entries, []
    finally:
        for handle in handles.values():
            handle.close()
    for owner, loc in sorted(orphans.items(), key=lambda kv: kv[1]):
        what = "resources without a Patient subject" if owner == "" else "resources of a Patient not in the export"
        yield loc, [], [FieldError(loc, f"{what}: not evaluated", "fhir_patient")]


def iter_bulk_patients(
    sources: Iterable[str | os.PathLike[str]] | str | os.PathLike[str],
    *,
    as_of: date | str | None = None,
    mapping: FhirMapping | None = None,
) -> Iterator[BulkResult]:
    """Map a Bulk Data export (NDJSON files, or a directory of them): one :class:`BulkResult` per Patient.

    Args:
        sources: NDJSON files (an ``$export`` writes one per type) and/or directories of them.
        as_of: Read resources up to this date (a ``date`` or ``YYYY-MM-DD``).
        mapping: A site mapping table.
    """
    table = mapping or load_mapping()
    for source, entries, errors in iter_bulk_groups(sources):
        if errors:
            yield BulkResult(source, None, None, errors)
            continue
        try:
            result = map_entries(entries, as_of=as_of, mapping=table)
        except Exception as exc:  # a defect met in one patient's data must not end the export's run
            problem = f"internal error while mapping ({type(exc).__name__}); please report"
            yield BulkResult(source, None, None, [FieldError(source, problem, "internal")])
            continue
        yield BulkResult(source, result.patient, result.report, result.errors)
