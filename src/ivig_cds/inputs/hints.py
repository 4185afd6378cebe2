"""Hints on patient-file errors: the YAML line, the likely fix - and never the patient's value.

A field error names its path and what is wrong; these hints add what a person would fix: the line
of a YAML file, quoting an id that YAML read as a number (``patient_id: 00123``), a number without
its unit (``150 lb`` for ``weight_kg``), the contract field close to an unknown one (``weight`` ->
``weight_kg``), and the spelling of a vocabulary word given in another case (``Polymyositis``).
Vocabulary words are the contract's exact words: a different case is refused with a hint, never
accepted silently (a word that merely resembles another must not be read as it).
"""

from __future__ import annotations

import difflib
import re
import typing
from collections.abc import Sequence
from typing import Any

import yaml
from pydantic import BaseModel

__all__ = ["field_hint", "line_of", "yaml_lines"]

Loc = tuple[str | int, ...]
_UNITS = (
    ("_g_per_kg_per_day", "g/kg/day"), ("_mg_per_day", "mg/day"), ("_u_per_l", "U/L"), ("_mg_dl", "mg/dL"),
    ("_ml_min", "mL/min"), ("_kg", "kg"), ("_cm", "cm"), ("_pct", "%"),
)  # fmt: skip
_POUNDS = re.compile(r"\b(lbs?|pounds?)\b", re.IGNORECASE)
_NUMBER_ERRORS = {"float_type", "float_parsing", "int_type", "int_parsing", "int_from_float"}


def yaml_lines(text: str) -> dict[Loc, int]:
    """The 1-based line of every key and item of a YAML document, by path (empty when it does not compose)."""
    lines: dict[Loc, int] = {}
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
    except (yaml.YAMLError, ValueError, RecursionError):
        return lines
    finally:
        loader.dispose()
    stack: list[tuple[Any, Loc]] = [(root, ())] if root is not None else []
    while stack:
        node, path = stack.pop()
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    lines[(*path, key.value)] = key.start_mark.line + 1
                    stack.append((value, (*path, key.value)))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                lines[(*path, i)] = item.start_mark.line + 1
                stack.append((item, (*path, i)))
    return lines


def line_of(loc: Loc, lines: dict[Loc, int]) -> int | None:
    """The line of ``loc``, or of the deepest part of it present (a missing field: its parent's line)."""
    for end in range(len(loc), 0, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _fields_at(root: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    """The contract's field names of the object at ``loc`` (the parent of an unknown field)."""
    model: type[BaseModel] | None = root
    for part in loc:
        if model is None:
            return []
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        model = _model_of(field.annotation) if field is not None else None
    return sorted(model.model_fields) if model is not None else []


def _unit(field: str) -> str:
    return next((unit for suffix, unit in _UNITS if field.endswith(suffix)), "")


def field_hint(root: type[BaseModel], loc: Loc, kind: str, value: Any, *, yaml_input: bool) -> str:
    """A hint for one pydantic error (``""`` when there is none); ``value`` is read, never quoted."""
    field = str(loc[-1]) if loc and isinstance(loc[-1], str) else ""
    if kind == "extra_forbidden" and field:
        close = difflib.get_close_matches(field, _fields_at(root, loc[:-1]), n=1, cutoff=0.6)
        prefix = [f for f in _fields_at(root, loc[:-1]) if f.startswith(field + "_")]
        best = close[0] if close else (prefix[0] if len(prefix) == 1 else "")
        return f"did you mean {best}?" if best else ""
    if kind == "string_type" and isinstance(value, int | float) and not isinstance(value, bool):
        if yaml_input:
            return f'quote it ({field}: "…"): YAML reads unquoted digits as a number and drops leading zeros'
        return "write it as a string, in quotes"
    if kind in _NUMBER_ERRORS and isinstance(value, str):
        unit = _unit(field)
        if _POUNDS.search(value) and unit == "kg":
            return "give the weight in kg as a number (1 lb = 0.4536 kg)"
        if unit:
            return f"give a number without its unit: the unit ({unit}) is in the field name"
        return "give a number, without quotes or a unit"
    if kind in ("enum", "literal_error") and isinstance(value, str):
        return _vocabulary_hint(root, loc, value)
    return ""


def _vocabulary_hint(root: type[BaseModel], loc: Loc, value: str) -> str:
    model: type[BaseModel] | None = root
    annotation: Any = None
    for part in loc:
        if model is None or isinstance(part, int):
            continue
        spec = model.model_fields.get(part)
        annotation = spec.annotation if spec is not None else None
        model = _model_of(annotation)
    words = [str(m.value) for arg in (annotation, *typing.get_args(annotation)) if isinstance(arg, type)
             and hasattr(arg, "__members__") for m in arg.__members__.values()]  # fmt: skip
    folded = value.strip().lower().replace(" ", "_").replace("-", "_")
    match = next((w for w in words if w == folded), None)
    return f"the words are lower case with underscores: write {match}" if match else ""
