"""Read patient files (JSON, YAML, NDJSON) safely and turn every problem into an :class:`InputError`."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any, Literal, NoReturn

from pydantic import ValidationError
from pydantic_core import PydanticCustomError

from ivig_cds.errors import FieldError, InputError
from ivig_cds.inputs.hints import field_hint, line_of, yaml_lines
from ivig_cds.model.patient import Patient, check_iso_date
from ivig_cds.model.yaml_safe import YamlRejected, load_yaml

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "MAX_NESTING_DEPTH",
    "MAX_YAML_BYTES",
    "SCHEMA_ID",
    "SCHEMA_TITLE",
    "check_as_of",
    "check_patient_id",
    "format_loc",
    "iter_ndjson",
    "load_patient",
    "looks_like_document",
    "parse_document",
    "patient_json_schema",
    "validate_patient",
]

MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
"""Largest document accepted, in bytes (10 MiB); a patient file is a few kilobytes."""
MAX_YAML_BYTES = 1024 * 1024
"""Largest YAML document accepted (1 MiB, about a second to read): larger records must be JSON."""
MAX_NESTING_DEPTH = 64
"""Deepest nesting of objects and arrays accepted; the contract needs five levels."""
SCHEMA_ID = "urn:ivig-cds:schema:patient-file:1"
"""``$id`` of the published JSON Schema."""
SCHEMA_TITLE = "ivig-cds patient file, version 1"
"""``title`` of the published JSON Schema."""

Format = Literal["json", "yaml"]
_SUFFIX_FORMATS: dict[str, Format] = {".json": "json", ".yaml": "yaml", ".yml": "yaml"}
_UNKNOWN_FIELD = "unknown field (not in patient-file contract v1)"
_BOM = "\ufeff"
_TOO_DEEP = f"nesting deeper than {MAX_NESTING_DEPTH} levels"


def _fail(source: str, msg: str, kind: str = "parse") -> NoReturn:
    """Raise an :class:`InputError` about the whole document.

    ``from None`` hides the parser's exception, whose text can quote the document (patient data).
    """
    raise InputError(source, [FieldError("", msg, kind)]) from None


# ---------------------------------------------------------------- JSON


class _JsonRejected(ValueError):
    """A JSON construct the contract forbids (duplicate key, NaN); raised from the decoder's hooks."""


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Build a JSON object, refusing duplicate keys (``json`` would keep the last silently)."""
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise _JsonRejected(f"invalid JSON: duplicate key {key[:64]!r}")
        obj[key] = value
    return obj


def _refuse_constant(name: str) -> NoReturn:
    """Refuse the ``NaN`` / ``Infinity`` literals, which are not JSON."""
    raise _JsonRejected(f"invalid JSON: {name} is not a JSON number")


def _parse_json(text: str, source: str) -> object:
    # Errors are raised after the handler so the decoder's exception (it holds the document) is not chained.
    try:
        return json.loads(text, object_pairs_hook=_unique_object, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        problem = f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
    except _JsonRejected as exc:
        problem = str(exc)
    except RecursionError:
        problem = _TOO_DEEP
    except ValueError:
        # Integers longer than sys.get_int_max_str_digits() land here.
        problem = "invalid JSON: a number is too long"
    _fail(source, problem)


# ---------------------------------------------------------------- YAML


def _parse_yaml(text: str, source: str) -> object:
    # YAML costs ~1 s/MiB to construct even with libyaml (JSON: ~50 ms): larger records belong in JSON
    if len(text.encode("utf-8", errors="surrogatepass")) > MAX_YAML_BYTES:
        _fail(
            source,
            f"YAML document larger than {MAX_YAML_BYTES // 2**20} MiB (use JSON for larger records)",
            "too_large",
        )
    try:
        return load_yaml(text)
    except YamlRejected as exc:
        problem = _TOO_DEEP if "nesting depth" in exc.problem else str(exc)  # libyaml's own limit (1000)
    except RecursionError:
        problem = _TOO_DEEP
    _fail(source, problem)


# ---------------------------------------------------------------- documents


def _depth(value: object) -> int:
    """Nesting depth of objects and arrays (a flat object is 1); iterative, so deep input is safe."""
    containers = (dict, list)
    if type(value) not in containers:
        return 0
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if level > deepest:
            deepest = level
            if deepest > MAX_NESTING_DEPTH:
                break
        children = item.values() if type(item) is dict else item
        # only containers go on the stack: scalars cannot add depth
        stack.extend((child, level + 1) for child in children if type(child) in containers)
    return deepest


def _json_type_name(value: object) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def parse_document(text_or_bytes: str | bytes, *, source: str, fmt: Format | None = None) -> object:
    """Parse one JSON or YAML document, refusing anything ambiguous or oversized.

    Args:
        text_or_bytes: The document; bytes must be UTF-8 (a leading BOM is dropped).
        source: Name used in errors (a file name, ``<stdin>``).
        fmt: ``"json"`` or ``"yaml"``; ``None`` guesses JSON when the text starts with ``{`` or ``[``.

    Returns:
        The parsed top-level object (a ``dict``).

    Raises:
        InputError: Undecodable, too large, empty, malformed, duplicate keys, NaN/Infinity,
            nested deeper than :data:`MAX_NESTING_DEPTH`, or the top level is not an object.
    """
    if isinstance(text_or_bytes, bytes):
        if len(text_or_bytes) > MAX_DOCUMENT_BYTES:
            _fail(source, f"document larger than {MAX_DOCUMENT_BYTES // 2**20} MiB", "too_large")
        try:
            text = text_or_bytes.decode("utf-8")
        except UnicodeDecodeError as exc:
            _fail(source, f"not valid UTF-8 (byte offset {exc.start})", "encoding")
    else:
        text = text_or_bytes
        if len(text.encode("utf-8", errors="surrogatepass")) > MAX_DOCUMENT_BYTES:
            _fail(source, f"document larger than {MAX_DOCUMENT_BYTES // 2**20} MiB", "too_large")
    text = text.removeprefix(_BOM)
    stripped = text.lstrip()
    if not stripped:
        _fail(source, "empty document")
    if fmt is None:
        fmt = "json" if stripped[0] in "{[" else "yaml"
    data = _parse_json(text, source) if fmt == "json" else _parse_yaml(text, source)
    if _depth(data) > MAX_NESTING_DEPTH:
        _fail(source, _TOO_DEEP)
    if not isinstance(data, dict):
        _fail(source, f"top level must be an object, got {_json_type_name(data)}")
    return data


# ---------------------------------------------------------------- validation


def format_loc(loc: Sequence[str | int]) -> str:
    """Render a pydantic location as a field path.

    Args:
        loc: e.g. ``("therapies", 1, "stop")``.

    Returns:
        e.g. ``therapies[1].stop``; list indices in brackets, keys dotted.
    """
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def validate_patient(data: object, *, source: str, text: str | None = None) -> Patient:
    """Validate parsed data against the patient-file contract.

    Args:
        data: A parsed document (normally a ``dict``).
        source: Name used in errors.
        text: The YAML text ``data`` was parsed from: each error then names its line.

    Returns:
        The validated :class:`~ivig_cds.patient.Patient`.

    Raises:
        InputError: One :class:`~ivig_cds.errors.FieldError` per problem, each with its field path
            and, where one helps, a hint (:mod:`ivig_cds.inputs.hints`); never the value itself.
    """
    try:
        return Patient.model_validate(data)
    except ValidationError as exc:
        # the inputs are read for the hints only; no message quotes them
        problems = exc.errors(include_url=False, include_context=False)
    lines = yaml_lines(text) if text is not None else {}
    errors = []
    for err in problems:
        loc = tuple(err["loc"])
        msg = _UNKNOWN_FIELD if err["type"] == "extra_forbidden" else err["msg"]
        hint = field_hint(Patient, loc, err["type"], err.get("input"), yaml_input=text is not None)
        line = line_of(loc, lines)
        msg += (f"; {hint}" if hint else "") + (f" (line {line})" if line else "")
        errors.append(FieldError(format_loc(loc), msg, err["type"]))
    # Raised outside the handler: the pydantic error holds patient data and must not be chained.
    raise InputError(source, errors)


def _yaml_text(raw: str | bytes, fmt: Format | None) -> str | None:
    """The text of a YAML document (for line numbers in errors); ``None`` for JSON."""
    if fmt == "json":
        return None
    try:
        text = (raw.decode("utf-8") if isinstance(raw, bytes) else raw).removeprefix(_BOM)
    except UnicodeDecodeError:
        return None
    return None if fmt is None and text.lstrip()[:1] in ("{", "[") else text


def looks_like_document(text: str) -> bool:
    """A string holding a JSON or YAML document rather than a path: it opens an object or spans lines."""
    return text.lstrip()[:1] in ("{", "[") or "\n" in text


def _path_label(text: str) -> str:
    """A path as errors show it; a string too long or odd to be a path is not echoed (it may be patient data)."""
    return text if len(text) <= 200 and text.isprintable() and not set(text) & set('{}[]"') else "<str>"


def load_patient(
    source: Patient | dict[str, Any] | str | os.PathLike[str] | bytes, *, name: str | None = None
) -> Patient:
    """Load and validate one patient.

    Args:
        source: A :class:`Patient` (returned as is), a ``dict``, JSON or YAML text (a string that
            starts with ``{`` or spans lines), a path to a ``.json``, ``.yaml`` or ``.yml`` file
            (other suffixes are sniffed), or JSON/YAML ``bytes``.
        name: Name used in errors instead of the path, ``<dict>``, ``<str>`` or ``<bytes>``.

    Returns:
        The validated patient.

    Raises:
        InputError: The file is missing or unreadable, the document breaks the contract, or
            ``source`` is none of the above. Messages never quote the document.
    """
    if isinstance(source, Patient):
        return source
    if isinstance(source, dict):
        return validate_patient(source, source=name or "<dict>")
    if isinstance(source, bytes):
        label = name or "<bytes>"
        return validate_patient(parse_document(source, source=label), source=label, text=_yaml_text(source, None))
    if isinstance(source, str) and looks_like_document(source):
        label = name or "<str>"
        return validate_patient(parse_document(source, source=label), source=label, text=_yaml_text(source, None))
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        label = name or _path_label(os.fspath(source))
        raw = _read_file(path, label)
        fmt = _SUFFIX_FORMATS.get(path.suffix.lower())
        data = parse_document(raw, source=label, fmt=fmt)
        return validate_patient(data, source=label, text=_yaml_text(raw, fmt))
    kind = "None" if source is None else type(source).__name__
    _fail(
        name or f"<{kind}>",
        f"cannot read a patient from {kind}: give a path, a dict, JSON or YAML text or bytes, or a Patient",
        "type",
    )


def check_as_of(value: object, patient: Patient | None) -> date:
    """An evaluation date given by the caller (or the clock), checked like every date of the file.

    Args:
        value: A ``date`` or an ISO ``YYYY-MM-DD`` string.
        patient: The patient it applies to (the date may not precede the birth date); ``None``: not yet known.

    Raises:
        InputError: Not a date, out of range, or before ``demographics.birth_date`` (loc ``as_of``).
    """
    try:
        day = check_iso_date(value)
    except PydanticCustomError as exc:
        raise InputError("as_of", [FieldError("as_of", exc.message(), "iso_date")]) from None
    if patient is not None and day < patient.demographics.birth_date:
        raise InputError(
            "as_of", [FieldError("as_of", "date is before demographics.birth_date", "date_before_birth")]
        )
    return day


def check_patient_id(patient_id: object) -> None:
    """Refuse a ``patient_id`` that is not a string or ``None`` (a caller's mistake, not bad input: ``123``
    would otherwise read as "no Patient resource with the requested id").

    Raises:
        TypeError: ``patient_id`` is another type (its type named, never its value).
    """
    if patient_id is not None and not isinstance(patient_id, str):
        raise TypeError(f"patient_id must be a string (a Patient.id) or None, not {type(patient_id).__name__}")


def _read_file(path: Path, label: str) -> bytes:
    """Read at most one byte more than :data:`MAX_DOCUMENT_BYTES`, mapping OS errors to InputError."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_DOCUMENT_BYTES + 1)
    except FileNotFoundError:
        _fail(label, "file not found", "file")
    except IsADirectoryError:
        _fail(label, "is a directory, not a file", "file")
    except OSError as exc:
        _fail(label, f"cannot read file: {exc.strerror or type(exc).__name__}", "file")
    return raw


def iter_ndjson(text: str | bytes, *, source: str) -> Iterator[tuple[str, Patient | InputError]]:
    """Validate newline-delimited JSON, one patient per non-blank line.

    A bad line yields its :class:`InputError` and iteration continues with the next line.

    Args:
        text: The NDJSON text (bytes are decoded line by line as UTF-8).
        source: Base name; each record is named ``"{source}:{lineno}"`` (1-based).

    Yields:
        ``(name, patient)`` or ``(name, error)`` per non-blank line, in order.
    """
    lines: Sequence[str | bytes] = text.split(b"\n") if isinstance(text, bytes) else text.split("\n")
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        name = f"{source}:{lineno}"
        try:
            data = parse_document(line, source=name, fmt="json")
            yield name, validate_patient(data, source=name)
        except InputError as exc:
            yield name, exc


def patient_json_schema() -> dict[str, Any]:
    """Return the JSON Schema of the patient file, version 1.

    Returns:
        ``Patient.model_json_schema()`` with ``$schema``, ``$id`` and ``title`` set.
    """
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
    }
    schema.update(Patient.model_json_schema())
    schema["title"] = SCHEMA_TITLE
    return schema
