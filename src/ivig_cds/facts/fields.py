"""The typed fields of facts: what a rule may test, its type, and the patient-file input it comes from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["FactField", "FieldType", "flag", "number", "text"]

FieldType = Literal["number", "string", "bool"]


@dataclass(frozen=True)
class FactField:
    """One field of a fact type.

    Attributes:
        type: ``number``, ``string`` or ``bool`` — what rule literals must be.
        source: The patient-file path(s) the value is derived from (named in data-gap findings).
        description: What the value means, with its unit.
        choices: For strings, the closed vocabulary (``None`` = free text).
    """

    type: FieldType
    source: str
    description: str
    choices: tuple[str, ...] | None = None


def number(source: str, description: str) -> FactField:
    """A number field."""
    return FactField("number", source, description)


def flag(source: str, description: str) -> FactField:
    """A true/false field (``None``: not known)."""
    return FactField("bool", source, description)


def text(source: str, description: str, *choices: str) -> FactField:
    """A string field, from a closed vocabulary when ``choices`` are given."""
    return FactField("string", source, description, choices or None)
