"""Small typed extractors over plain FHIR JSON: dates, codings, quantities, references, statuses."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

__all__ = [
    "Quantity",
    "codeable_text",
    "codings",
    "fhir_date",
    "first_date",
    "quantity",
    "reference",
    "status_code",
]

_DATE = re.compile(r"([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?")
_EARLIEST, _LATEST = date(1800, 1, 1), date(2200, 12, 31)


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
    m = _DATE.match(value)
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


def first_date(resource: Mapping[str, Any], *paths: str) -> tuple[date | None, str | None, str | None]:
    """The first of ``paths`` (``effectiveDateTime``, ``effectivePeriod.start``, ...) that holds a value.

    Returns:
        ``(date, path, problem)``: the date found and its path, or ``(None, path, reason)`` when the
        first present value is unusable, or ``(None, None, None)`` when none is present.
    """
    for path in paths:
        value: Any = resource
        for part in path.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        if value is None:
            continue
        got = fhir_date(value)
        if isinstance(got, date):
            return got, path, None
        return None, path, str(got)
    return None, None, None


def codings(concept: object) -> Iterator[tuple[str, str]]:
    """``(system, code)`` of every coding of a CodeableConcept (or a bare Coding), skipping malformed ones."""
    if not isinstance(concept, Mapping):
        return
    items = concept.get("coding") if "coding" in concept else [concept]
    if not isinstance(items, list):
        return
    for coding in items:
        if isinstance(coding, Mapping):
            system, code = coding.get("system"), coding.get("code")
            if isinstance(system, str) and isinstance(code, str):
                yield system.rstrip("/"), code


def codeable_text(concept: object) -> list[str]:
    """The human-readable texts of a CodeableConcept: ``text``, then each coding's ``display``."""
    if not isinstance(concept, Mapping):
        return []
    out = []
    text = concept.get("text")
    if isinstance(text, str) and text.strip():
        out.append(text)
    items = concept.get("coding")
    for coding in items if isinstance(items, list) else []:
        display = coding.get("display") if isinstance(coding, Mapping) else None
        if isinstance(display, str) and display.strip():
            out.append(display)
    return out


@dataclass(frozen=True)
class Quantity:
    """A FHIR Quantity: value, UCUM code (or the unit text when no code), and its comparator."""

    value: float
    unit: str | None
    comparator: str | None


def quantity(value: object) -> Quantity | str | None:
    """A Quantity's parts; ``None`` when absent; a reason string when it has no usable number."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        return "not a Quantity"
    number = value.get("value")
    if isinstance(number, bool) or not isinstance(number, int | float) or not math.isfinite(number):
        return "no numeric value"
    code, unit, system = value.get("code"), value.get("unit"), value.get("system")
    ucum = system is None or (isinstance(system, str) and system.rstrip("/") == "http://unitsofmeasure.org")
    chosen = code if isinstance(code, str) and (ucum or not isinstance(unit, str)) else unit
    comparator = value.get("comparator")
    return Quantity(float(number), chosen if isinstance(chosen, str) else None, comparator if comparator else None)


def reference(value: object) -> str | None:
    """The ``reference`` string of a Reference, else ``None``."""
    if isinstance(value, Mapping):
        ref = value.get("reference")
        if isinstance(ref, str) and ref:
            return ref
    return None


def status_code(resource: Mapping[str, Any], key: str) -> str | None:
    """A status that is a code (``status``) or the first coding's code of a CodeableConcept status."""
    value = resource.get(key)
    if isinstance(value, str):
        return value
    for _, code in codings(value):
        return code
    return None
