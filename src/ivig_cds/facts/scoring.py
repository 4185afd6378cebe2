"""Compute the 2016 ACR/EULAR Total Improvement Score (RESP-003) from a replaceable scoring table."""

from __future__ import annotations

import math
import sys
from bisect import bisect_left
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol

from ivig_cds.facts.tis_table import (
    MEASURE_NAMES,
    SCALE_DEFAULTS,
    ULN_DEFAULTS,
    MeasureSpec,
    TisTable,
    band,
    exact,
    load_tis_table,
)

__all__ = [
    "MEASURE_NAMES",
    "CoreSetMeasures",
    "MeasureScore",
    "MeasureSpec",
    "TisResult",
    "TisTable",
    "load_tis_table",
    "total_improvement_score",
]

_FLOAT_MAX = Fraction(sys.float_info.max)
_NOTE_MISSING = "missing"
_NOTE_SCALE = "scale mismatch"
_NOTE_BASELINE_0 = "baseline 0"
_NOTE_INVALID = "invalid value"


class CoreSetMeasures(Protocol):
    """One visit's core set measures, as read by :func:`total_improvement_score`.

    Any object with these attributes fits (a patient-file assessment, a dataclass, a namespace).
    ``None`` means "not recorded".
    """

    @property
    def mmt8(self) -> float | None: ...
    @property
    def mmt8_max(self) -> float | None: ...
    @property
    def ck_u_per_l(self) -> float | None: ...
    @property
    def ck_uln_u_per_l(self) -> float | None: ...
    @property
    def physician_global_cm(self) -> float | None: ...
    @property
    def patient_global_cm(self) -> float | None: ...
    @property
    def haq(self) -> float | None: ...
    @property
    def extramuscular_global_cm(self) -> float | None: ...


@dataclass(frozen=True)
class MeasureScore:
    """The points one core set measure earned.

    Attributes:
        measure: One of :data:`MEASURE_NAMES`.
        baseline: The baseline value compared (for the enzyme, CK as a multiple of its ULN).
        current: The current value compared, on the same footing as ``baseline``.
        change_pct: % improvement (negative is worsening); None when not computable,
            including a rise from a baseline of 0.
        points: The points earned.
        note: Why the measure scored as it did when it is not a plain comparison:
            ``"missing"``, ``"scale mismatch"``, ``"baseline 0"`` or ``"invalid value"``
            (a non-finite value, or a ULN that is not positive); None otherwise.
    """

    measure: str
    baseline: float | None
    current: float | None
    change_pct: float | None
    points: float
    note: str | None = None


@dataclass(frozen=True)
class TisResult:
    """A Total Improvement Score with its breakdown.

    Attributes:
        score: The sum of the measures' points, rounded to 1 decimal (0-100).
        measures: One :class:`MeasureScore` per measure, in :data:`MEASURE_NAMES` order.
        scored: How many measures were actually compared (both values present, valid and on
            the same scale); the others scored 0.
    """

    score: float
    measures: tuple[MeasureScore, ...]
    scored: int


def total_improvement_score(baseline: CoreSetMeasures, current: CoreSetMeasures, table: TisTable) -> TisResult:
    """Score the improvement from a baseline visit to a current one.

    Percent change is absolute (the change over the range of the measure's scale, as the 2016
    criteria define it) except for the muscle enzyme, whose change is relative to its baseline.
    A measure missing on either side, on different MMT scales, or with an invalid value scores
    0. For the enzyme from a baseline of 0, no change is 0 %, a worsening scores the lowest band
    and an improvement the highest. Arithmetic is exact on the values as written, so a change that
    is exactly on a band edge is never pushed over it by float rounding.

    Args:
        baseline: The baseline visit's measures.
        current: The visit being scored.
        table: The scoring table, e.g. from :func:`load_tis_table`.

    Returns:
        The score, its per-measure breakdown and how many measures were compared.
    """
    results = tuple(_score_measure(spec, baseline, current) for spec in table.measures)
    total = sum((exact(result.points) for result in results), Fraction(0))
    scored = sum(1 for result in results if result.note in (None, _NOTE_BASELINE_0))
    return TisResult(score=float(round(total, 1)), measures=results, scored=scored)


# --- scoring -----------------------------------------------------------------------------


def _float_value(visit: object, spec: MeasureSpec) -> float | None:
    raw = getattr(visit, spec.field)
    if raw is None:
        return None
    if spec.uln_field is None:
        return float(raw)
    uln_raw = getattr(visit, spec.uln_field)
    uln = float(ULN_DEFAULTS[spec.uln_field] if uln_raw is None else uln_raw)
    return float(raw) / uln if uln > 0 else math.nan


def _score_measure(spec: MeasureSpec, baseline: object, current: object) -> MeasureScore:
    """Score one measure: in floats when the change is clearly inside a band, else exactly."""
    try:
        b, c = _float_value(baseline, spec), _float_value(current, spec)
    except (TypeError, ValueError, OverflowError):
        return _score_measureexact(spec, baseline, current)
    if b is None or c is None or not (math.isfinite(b) and math.isfinite(c)):
        return _score_measureexact(spec, baseline, current)
    if spec.scale_field is not None and _scale(baseline, spec.scale_field) != _scale(current, spec.scale_field):
        return _score_measureexact(spec, baseline, current)
    if spec.change == "absolute":
        span = float(_scale(baseline, spec.scale_field)) if spec.scale_field is not None else spec.range
        if not span:
            return _score_measureexact(spec, baseline, current)
        change = (c - b if spec.higher_is_better else b - c) * 100 / span
    elif b == 0:
        return _score_measureexact(spec, baseline, current)
    else:
        change = (c - b if spec.higher_is_better else b - c) * 100 / abs(b)
    edges = spec.band_upper_edges_pct
    i = bisect_left(edges, change)
    if (i < len(edges) and abs(edges[i] - change) < 1e-6) or (i > 0 and abs(change - edges[i - 1]) < 1e-6):
        return _score_measureexact(spec, baseline, current)  # near a band edge: exact arithmetic decides
    return MeasureScore(spec.name, b, c, change, spec.points[i], None)


def _score_measureexact(spec: MeasureSpec, baseline: object, current: object) -> MeasureScore:
    try:
        before, after = _side_value(baseline, spec), _side_value(current, spec)
        same_scale = spec.scale_field is None or (
            _scale(baseline, spec.scale_field) == _scale(current, spec.scale_field)
        )
    except ValueError:
        return MeasureScore(spec.name, None, None, None, 0.0, _NOTE_INVALID)
    shown = (None if before is None else float(before), None if after is None else float(after))
    if before is None or after is None:
        return MeasureScore(spec.name, *shown, None, 0.0, _NOTE_MISSING)
    if not same_scale:
        return MeasureScore(spec.name, *shown, None, 0.0, _NOTE_SCALE)
    improvement = after - before if spec.higher_is_better else before - after
    if spec.change == "absolute":
        span = _scale(baseline, spec.scale_field) if spec.scale_field is not None else exact(spec.range)
        if span <= 0:
            return MeasureScore(spec.name, *shown, None, 0.0, _NOTE_INVALID)
        change_abs = improvement * 100 / span
        return MeasureScore(spec.name, *shown, float(change_abs), spec.points[band(spec, change_abs)], None)
    if before == 0 and improvement != 0:
        # A move away from 0 is an unbounded relative change: top band if it helps, bottom if it hurts.
        points = spec.points[-1] if improvement > 0 else spec.points[0]
        return MeasureScore(spec.name, *shown, None, points, _NOTE_BASELINE_0)
    change = improvement * 100 / abs(before) if before else Fraction(0)
    if abs(change) > _FLOAT_MAX:  # a tiny baseline: the change is unbounded, like a move away from 0
        points = spec.points[-1] if change > 0 else spec.points[0]
        return MeasureScore(spec.name, *shown, None, points, _NOTE_BASELINE_0)
    note = _NOTE_BASELINE_0 if before == 0 else None
    return MeasureScore(spec.name, *shown, float(change), spec.points[band(spec, change)], note)


def _side_value(visit: object, spec: MeasureSpec) -> Fraction | None:
    raw = getattr(visit, spec.field)
    if raw is None:
        return None
    value = exact(raw)
    if spec.uln_field is None:
        return value
    uln_raw = getattr(visit, spec.uln_field)
    uln = exact(ULN_DEFAULTS.get(spec.uln_field) if uln_raw is None else uln_raw)
    if uln <= 0:
        raise ValueError(f"{spec.uln_field} must be > 0")
    ratio = value / uln
    if abs(ratio) > _FLOAT_MAX:  # a huge value over a tiny ULN: not a number anyone can compare
        raise ValueError(f"{spec.field} / {spec.uln_field} is beyond the float range")
    return ratio


def _scale(visit: object, field: str) -> Fraction:
    raw = getattr(visit, field)
    return exact(SCALE_DEFAULTS.get(field) if raw is None else raw)
