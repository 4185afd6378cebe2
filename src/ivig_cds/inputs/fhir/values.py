"""Small typed extractors over plain FHIR JSON: dates, codings, quantities, references, statuses."""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from typing_extensions import TypeIs

__all__ = [
    "Quantity",
    "array",
    "codeable_text",
    "codings",
    "day_of",
    "fhir_date",
    "finite",
    "first_date",
    "is_obj",
    "parse_date",
    "quantity",
    "reference",
    "status_code",
]

_SCALARS = (str, int, float, list, type(None))


def is_obj(value: object) -> TypeIs[Mapping[str, Any]]:
    """A JSON object (``dict`` or another Mapping); fast for the plain types JSON gives."""
    return type(value) is dict or (not isinstance(value, _SCALARS) and isinstance(value, Mapping))


def array(value: object) -> list[Any]:
    """A JSON array's items; anything else (absent, or malformed FHIR) is no items."""
    return value if type(value) is list else []


_DATE = re.compile(r"([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?")
_TIME = re.compile(r"T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?:Z|[+-][0-9]{2}:[0-9]{2})?")
"""The time of a dateTime/instant after its date (read leniently: the date is what is used)."""
_EARLIEST, _LATEST = date(1800, 1, 1), date(2200, 12, 31)
LATEST = _LATEST
"""The last date the adapter reads (later ones are "out of range")."""


def fhir_date(value: object) -> date | str | None:
    """The calendar date of a FHIR ``date``/``dateTime``/``instant`` (the date as written, no time zone shift).

    Returns:
        A ``date``; ``None`` when the value is absent; a reason string when it is present but not a
        full, valid date (``"partial date"``, ``"not a date"``, ``"out of range"``).
    """
    if value is None:
        return None
    if not isinstance(value, str):
        return "not a date"
    return parse_date(value)


@functools.lru_cache(maxsize=8192)
def parse_date(value: str) -> date | str:
    """``fhir_date`` for a string (cached: the same dates recur across a patient's resources)."""
    if (
        len(value) >= 10
        and value[4] == "-"
        and value[7] == "-"
        and (len(value) == 10 or (value[10] == "T" and _TIME.fullmatch(value, 10) is not None))
    ):
        try:
            day = date.fromisoformat(value[:10])
        except ValueError:
            return "not a date"
        return day if _EARLIEST <= day <= _LATEST else "out of range"
    return _slow_date(value)


def _slow_date(value: str) -> date | str:
    m = _DATE.fullmatch(value)  # nothing after the date ("2024-02-05xyz", a newline) but a time
    if m is None:
        return "not a date"
    if m.group(2) is None or m.group(3) is None:
        return "partial date"
    try:
        day = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return "not a date"
    if not _EARLIEST <= day <= _LATEST:
        return "out of range"
    return day


def day_of(value: object) -> date | None:
    """The date of one FHIR date value, ``None`` when absent or unusable (``first_date`` for one element)."""
    if type(value) is str:
        got = parse_date(value)
        return got if type(got) is date else None
    return None


def first_date(resource: Mapping[str, Any], *paths: str) -> tuple[date | None, str | None, str | None]:
    """The first of ``paths`` (``effectiveDateTime``, ``effectivePeriod.start``, ...) that holds a value.

    Returns:
        ``(date, path, problem)``: the date found and its path, or ``(None, path, reason)`` when the
        first present value is unusable, or ``(None, None, None)`` when none is present.
    """
    for path in paths:
        parts = _PARTS.get(path) or _parts(path)
        value: Any = resource.get(parts[0]) if type(resource) is dict or is_obj(resource) else None
        for part in parts[1:]:
            value = value.get(part) if type(value) is dict or is_obj(value) else None
        if value is None:
            continue
        got = parse_date(value) if type(value) is str else fhir_date(value)
        if type(got) is date:
            return got, path, None
        return None, path, str(got)
    return None, None, None


_PARTS: dict[str, tuple[str, ...]] = {}


def _parts(path: str) -> tuple[str, ...]:
    parts = tuple(path.split("."))
    if len(_PARTS) < 256:
        _PARTS[path] = parts
    return parts


def codings(concept: object) -> list[tuple[str, str]]:
    """``(system, code)`` of every coding of a CodeableConcept (or a bare Coding), skipping malformed ones."""
    if not (type(concept) is dict or is_obj(concept)):
        return []
    items = concept.get("coding") if "coding" in concept else [concept]
    if type(items) is not list:
        return []
    out = []
    for coding in items:
        if type(coding) is dict or is_obj(coding):
            system, code = coding.get("system"), coding.get("code")
            if type(system) is str and type(code) is str:
                out.append((system[:-1] if system[-1:] == "/" else system, code))
    return out


def codeable_text(concept: object) -> list[str]:
    """The human-readable texts of a CodeableConcept: ``text``, then each coding's ``display``."""
    if not is_obj(concept):
        return []
    out = []
    text = concept.get("text")
    if isinstance(text, str) and text.strip():
        out.append(text)
    items = concept.get("coding")
    for coding in items if isinstance(items, list) else []:
        display = coding.get("display") if is_obj(coding) else None
        if isinstance(display, str) and display.strip():
            out.append(display)
    return out


def finite(value: object) -> float | None:
    """A JSON number as a finite float; ``None`` for anything else (booleans, NaN, infinities, and integers
    too large for a float: ``10**400`` in the JSON must not raise ``OverflowError``)."""
    kind = type(value)
    if kind is float:
        return value if math.isfinite(value) else None  # type: ignore[arg-type, return-value]
    if kind is bool or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


@dataclass(slots=True)
class Quantity:
    """A FHIR Quantity: value, UCUM code (or the unit text when no code), and its comparator (read-only)."""

    value: float
    unit: str | None
    comparator: str | None


def quantity(value: object) -> Quantity | str | None:
    """A Quantity's parts; ``None`` when absent; a reason string when it has no usable number."""
    if value is None:
        return None
    if not (type(value) is dict or is_obj(value)):
        return "not a Quantity"
    raw = value.get("value")
    number = raw if type(raw) is float and math.isfinite(raw) else finite(raw)
    if number is None:
        return "no numeric value"
    code, unit, system = value.get("code"), value.get("unit"), value.get("system")
    ucum = system is None or system == _UCUM or (isinstance(system, str) and system.rstrip("/") == _UCUM)
    chosen = code if type(code) is str and (ucum or type(unit) is not str) else unit
    comparator = value.get("comparator")
    return Quantity(number, chosen if type(chosen) is str else None, comparator if comparator else None)


_UCUM = "http://unitsofmeasure.org"


def reference(value: object) -> str | None:
    """The ``reference`` string of a Reference, else ``None``."""
    if is_obj(value):
        ref = value.get("reference")
        if isinstance(ref, str) and ref:
            return ref
    return None


def status_code(resource: Mapping[str, Any], key: str) -> str | None:
    """A status that is a code (``status``) or the first coding's code of a CodeableConcept status."""
    value = resource.get(key)
    if isinstance(value, str):
        return value
    items = value.get("coding") if is_obj(value) else None
    for coding in items if isinstance(items, list) else []:
        code = coding.get("code") if is_obj(coding) else None
        if isinstance(code, str):  # a status code means one thing whatever its system (HL7's own code systems)
            return code
    return None
