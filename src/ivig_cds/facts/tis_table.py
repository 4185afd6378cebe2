"""The ACR/EULAR 2016 Total Improvement Score table (``rules/tis.yaml``) as data, validated strictly.

Also the exact arithmetic the scores use (a change exactly on a band edge is never pushed over it by
float rounding): decimal values as written become exact fractions.
"""

from __future__ import annotations

import functools
import math
import os
import sys
from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from itertools import pairwise
from typing import Any, SupportsFloat

from ivig_cds.errors import RuleFileError
from ivig_cds.model.yaml_safe import YamlRejected, load_rule_yaml

__all__ = [
    "MEASURE_NAMES",
    "SCALE_DEFAULTS",
    "ULN_DEFAULTS",
    "MeasureSpec",
    "TisTable",
    "band",
    "exact",
    "load_tis_table",
]

#: The six core set measures, in the order results are reported.
MEASURE_NAMES: tuple[str, ...] = (
    "physician_global",
    "patient_global",
    "mmt",
    "haq",
    "enzyme",
    "extramuscular",
)

_RULE_ID = "RESP-003"
_VALUE_FIELDS = frozenset(
    ["mmt8", "ck_u_per_l", "physician_global_cm", "patient_global_cm", "haq", "extramuscular_global_cm"]
)
# Patient file v1 defaults, applied when the scale or ULN is not recorded.
SCALE_DEFAULTS: Mapping[str, int] = {"mmt8_max": 80}
ULN_DEFAULTS: Mapping[str, int] = {"ck_uln_u_per_l": 200}
_DIRECTIONS: Mapping[str, bool] = {"higher_is_better": True, "lower_is_better": False}
_TOP_REQUIRED = frozenset({"version", "source", "measures"})
_TOP_ALLOWED = _TOP_REQUIRED | {"notes"}
_MEASURE_REQUIRED = frozenset({"field", "direction", "change", "band_upper_edges_pct", "points"})
_MEASURE_ALLOWED = _MEASURE_REQUIRED | {"scale_field", "uln_field", "range"}
_CHANGES = frozenset({"absolute", "relative"})
_TIS_MAX = Fraction(100)
_FLOAT_MAX = Fraction(sys.float_info.max)

_NOTE_MISSING = "missing"
_NOTE_SCALE = "scale mismatch"
_NOTE_BASELINE_0 = "baseline 0"
_NOTE_INVALID = "invalid value"


@dataclass(frozen=True)
class MeasureSpec:
    """How one core set measure turns a % improvement into points.

    A change ``<= band_upper_edges_pct[0]`` (any worsening included) scores ``points[0]``; a
    change ``> edges[i]`` and ``<= edges[i + 1]`` scores ``points[i + 1]``; a change above the
    last edge scores ``points[-1]``.

    Attributes:
        name: One of :data:`MEASURE_NAMES`.
        field: The attribute holding the value, e.g. ``mmt8``.
        higher_is_better: True only for MMT; otherwise a fall is an improvement.
        change: ``absolute`` (the change divided by the range of the measure's scale, × 100, as the
            2016 criteria define it) or ``relative`` (divided by the baseline value: the muscle
            enzyme only, which has no fixed range).
        band_upper_edges_pct: Strictly ascending band edges, in % improvement.
        points: Points per band; one more entry than there are edges.
        scale_field: Attribute holding the value's scale maximum (``mmt8_max``): the range is 0 to
            it, and values on different scales are not compared.
        range: The fixed range of an ``absolute`` measure without ``scale_field`` (10 for a
            0-10 cm VAS, 3 for the HAQ).
        uln_field: Attribute holding the upper limit of normal (``ck_uln_u_per_l``); the
            value is divided by it so labs with different ULNs compare.
    """

    name: str
    field: str
    higher_is_better: bool
    band_upper_edges_pct: tuple[float, ...]
    points: tuple[float, ...]
    scale_field: str | None = None
    uln_field: str | None = None
    change: str = "relative"
    range: float | None = None

    def points_for(self, change_pct: float) -> float:
        """Return the points this measure earns for a % improvement.

        Args:
            change_pct: Improvement in % (absolute or relative, per ``change``); negative is worsening.

        Returns:
            The points of the band the change falls in.
        """
        return self.points[band(self, exact(change_pct))]


@dataclass(frozen=True)
class TisTable:
    """The whole TIS scoring table: one :class:`MeasureSpec` per core set measure.

    Attributes:
        version: The table's version, as written in the file.
        source: The citation the numbers come from.
        notes: Caveats carried with the table (e.g. UNVERIFIED details).
        measures: One spec per measure, in :data:`MEASURE_NAMES` order.
    """

    version: str
    source: str
    notes: tuple[str, ...]
    measures: tuple[MeasureSpec, ...]

    def measure(self, name: str) -> MeasureSpec:
        """Return the spec of the measure called ``name``; raise KeyError if there is none."""
        for spec in self.measures:
            if spec.name == name:
                return spec
        raise KeyError(name)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str) -> TisTable:
        """Build a table from parsed YAML/JSON, checking every part of its structure.

        Args:
            data: The parsed document (see ``rules/tis.yaml``).
            source: Where the data came from; named in every error.

        Returns:
            The validated table.

        Raises:
            RuleFileError: On any missing, unknown or ill-typed key, on edges that are not
                strictly ascending, on a points list whose length is not edges + 1, on points
                that fall as improvement grows, on two measures reading the same field, or
                when the measures' top points do not add up to 100.
        """
        return _Validator(source).table(data)


def load_tis_table(path: str | os.PathLike[str]) -> TisTable:
    """Read and validate a TIS scoring table from a YAML file.

    Args:
        path: The YAML file, e.g. ``rules/tis.yaml``.

    Returns:
        The validated table.

    Raises:
        RuleFileError: If the file cannot be read, is not YAML, or is not a valid table.
    """
    name = os.fspath(path)
    try:
        with open(name, encoding="utf-8") as handle:
            data = load_rule_yaml(handle.read())
    except OSError as exc:
        raise RuleFileError(name, f"cannot read the file: {exc.strerror or exc}", _RULE_ID) from exc
    except (YamlRejected, UnicodeDecodeError, RecursionError) as exc:
        raise RuleFileError(name, f"not valid YAML: {exc}", _RULE_ID) from None
    if not isinstance(data, Mapping):
        raise RuleFileError(name, "expected a mapping at the top level", _RULE_ID)
    return TisTable.from_mapping(data, source=name)


def band(spec: MeasureSpec, change_pct: Fraction) -> int:
    # bisect_left counts the edges strictly below the change: a change equal to an edge
    # stays in the lower band, as the criteria's "> a to <= b" bands require.
    return bisect_left(_edges(tuple(spec.band_upper_edges_pct)), change_pct)


@functools.lru_cache(maxsize=64)
def _edges(edges: tuple[float, ...]) -> list[Fraction]:
    return [exact(edge) for edge in edges]


@functools.lru_cache(maxsize=8192)
def _fraction_of_float(number: float) -> Fraction:
    return Fraction(float.__repr__(number))


def exact(value: object) -> Fraction:
    """Return a number as an exact fraction of its shortest decimal form (0.15 is 15/100)."""
    if type(value) is float:  # the hot path: pydantic gives floats
        if not math.isfinite(value):
            raise ValueError(f"not a finite number: {value!r}")
        return _fraction_of_float(value)
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not a number: {value!r}")
    if isinstance(value, int):
        return Fraction(int(value))
    if not isinstance(value, SupportsFloat):
        raise ValueError(f"not a number: {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"not a finite number: {value!r}")
    return _fraction_of_float(number)


# --- table validation --------------------------------------------------------------------


class _Validator:
    """Checks a parsed table, raising RuleFileError that names the offending key."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, message: str) -> RuleFileError:
        return RuleFileError(self.source, f"{where}: {message}", _RULE_ID)

    def table(self, data: object) -> TisTable:
        mapping = self.mapping(data, "table", _TOP_REQUIRED, _TOP_ALLOWED)
        measures_raw = self.mapping(
            mapping["measures"], "measures", frozenset(MEASURE_NAMES), frozenset(MEASURE_NAMES)
        )
        measures = tuple(self.measure(name, measures_raw[name]) for name in MEASURE_NAMES)
        fields = [spec.field for spec in measures]
        for field in fields:
            if fields.count(field) > 1:
                raise self.fail("measures", f"field {field!r} is used by more than one measure")
        top = sum((exact(spec.points[-1]) for spec in measures), Fraction(0))
        if top != _TIS_MAX:
            raise self.fail("measures", f"the highest points add up to {float(top):g}, expected 100")
        return TisTable(
            version=self.version(mapping["version"]),
            source=self.text(mapping["source"], "source"),
            notes=self.notes(mapping.get("notes", [])),
            measures=measures,
        )

    def measure(self, name: str, data: object) -> MeasureSpec:
        where = f"measures.{name}"
        spec = self.mapping(data, where, _MEASURE_REQUIRED, _MEASURE_ALLOWED)
        field = self.choice(spec["field"], f"{where}.field", _VALUE_FIELDS)
        direction = self.choice(spec["direction"], f"{where}.direction", frozenset(_DIRECTIONS))
        change = self.choice(spec["change"], f"{where}.change", _CHANGES)
        scale_field = uln_field = None
        span: float | None = None
        if "range" in spec:
            (span,) = self.numbers([spec["range"]], f"{where}.range")
            if span <= 0:
                raise self.fail(f"{where}.range", f"must be > 0, got {span:g}")
        if "scale_field" in spec:
            scale_field = self.choice(spec["scale_field"], f"{where}.scale_field", frozenset(SCALE_DEFAULTS))
        if "uln_field" in spec:
            uln_field = self.choice(spec["uln_field"], f"{where}.uln_field", frozenset(ULN_DEFAULTS))
        if change == "absolute" and (span is None) == (scale_field is None):
            raise self.fail(where, "an absolute change needs exactly one of range or scale_field")
        if change == "relative" and (span is not None or scale_field is not None):
            raise self.fail(where, "a relative change takes no range or scale_field (it is relative to baseline)")
        edges = self.numbers(spec["band_upper_edges_pct"], f"{where}.band_upper_edges_pct")
        points = self.numbers(spec["points"], f"{where}.points")
        if not edges:
            raise self.fail(f"{where}.band_upper_edges_pct", "needs at least one edge")
        if any(b <= a for a, b in pairwise(edges)):
            raise self.fail(f"{where}.band_upper_edges_pct", f"must be strictly ascending, got {list(edges)}")
        if len(points) != len(edges) + 1:
            raise self.fail(
                f"{where}.points",
                f"expected {len(edges) + 1} numbers (one more than the edges), got {len(points)}",
            )
        if any(p < 0 for p in points):
            raise self.fail(f"{where}.points", f"must not be negative, got {list(points)}")
        if any(b < a for a, b in pairwise(points)):
            raise self.fail(f"{where}.points", f"must not fall as improvement grows, got {list(points)}")
        return MeasureSpec(
            name=name,
            field=field,
            higher_is_better=_DIRECTIONS[direction],
            band_upper_edges_pct=edges,
            points=points,
            scale_field=scale_field,
            uln_field=uln_field,
            change=change,
            range=span,
        )

    def mapping(
        self, data: object, where: str, required: frozenset[str], allowed: frozenset[str]
    ) -> Mapping[str, Any]:
        if not isinstance(data, Mapping):
            raise self.fail(where, f"expected a mapping, got {type(data).__name__}")
        keys = set(data)
        if not all(isinstance(key, str) for key in keys):
            raise self.fail(where, "keys must be strings")
        if missing := sorted(required - keys):
            raise self.fail(where, f"missing key(s) {', '.join(missing)}")
        if unknown := sorted(keys - allowed):
            raise self.fail(where, f"unknown key(s) {', '.join(unknown)}")
        return data

    def choice(self, value: object, where: str, options: frozenset[str]) -> str:
        if not isinstance(value, str) or value not in options:
            raise self.fail(where, f"expected one of {', '.join(sorted(options))}, got {value!r}")
        return value

    def numbers(self, value: object, where: str) -> tuple[float, ...]:
        if not isinstance(value, list | tuple):
            raise self.fail(where, f"expected a list of numbers, got {type(value).__name__}")
        out: list[float] = []
        for index, item in enumerate(value):
            # bool is an int subclass; `true` in a points list is a typo, not 1.
            if isinstance(item, bool) or not isinstance(item, int | float):
                raise self.fail(f"{where}[{index}]", f"expected a number, got {item!r}")
            if not math.isfinite(item):
                raise self.fail(f"{where}[{index}]", f"expected a finite number, got {item!r}")
            out.append(float(item))
        return tuple(out)

    def text(self, value: object, where: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, f"expected a non-empty string, got {value!r}")
        return value.strip()

    def version(self, value: object) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return self.text(value, "version")

    def notes(self, value: object) -> tuple[str, ...]:
        if not isinstance(value, list | tuple):
            raise self.fail("notes", f"expected a list of strings, got {type(value).__name__}")
        return tuple(self.text(item, f"notes[{index}]") for index, item in enumerate(value))
