"""Change from baseline in relative terms: ProDERM confirmed deterioration, the IMACS definition of improvement,
and MMT-8 scales that differ from the baseline's.

Both definitions use relative change from the episode's baseline (the visit the TIS uses), unlike the 2016
TIS, which is absolute: "worse by 30 %" means the value moved 30 % of its baseline value the wrong way
(MMT-8 as % of its own scale maximum, so 0-80 and 0-150 compare). A baseline of 0 has no relative change:
there the change is taken as a share of the measure's range (10 cm, HAQ 3, MMT-8 100 %); the enzyme has no
range and stays unknown. Every answer is three-valued: a measure not recorded at either visit is unknown,
and a criterion is unknown only while the missing measures could still decide it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from ivig_cds.facts.fields import FactField, flag, number, text
from ivig_cds.facts.measures import ck_x_uln, mmt8_pct
from ivig_cds.facts.records import Snapshot, ref
from ivig_cds.facts.response import EpisodeResponse
from ivig_cds.model.patient import Assessment

__all__ = ["FIELDS", "fill"]

Truth = bool | None
# measure -> (higher is worse, range used when the baseline is 0)
_CORE: dict[str, tuple[bool, float | None]] = {
    "physician_global_cm": (True, 10.0),
    "patient_global_cm": (True, 10.0),
    "mmt8": (False, 100.0),
    "haq": (True, 3.0),
    "extramuscular_global_cm": (True, 10.0),
}
_ENZYME: dict[str, tuple[bool, float | None]] = {"ck_x_uln": (True, None)}
_VISITS = "assessments after course 1 (core set measures vs baseline)"

FIELDS: dict[str, FactField] = {
    "deterioration_confirmed": flag(
        _VISITS, "ProDERM confirmed deterioration at the latest two visits on IVIG (not discontinued)"
    ),
    "deterioration_from": text(_VISITS, "the first of the two deteriorating visits"),
    "deterioration_to": text(_VISITS, "the second (latest) deteriorating visit"),
    "deterioration_criteria": text(_VISITS, "which criteria the latest visit met"),
    "imacs_doi_met": flag(_VISITS, "IMACS definition of improvement met at the latest visit after course 1"),
    "imacs_doi_improved": number(_VISITS, "core set measures (of 6) improved by the DOI share at that visit"),
    "imacs_doi_worsened": number(_VISITS, "core set measures (of 6) worsened by the DOI share at that visit"),
    "imacs_doi_on": text(_VISITS, "the visit the DOI was computed at"),
    "mmt8_scales_mixed": flag(
        "assessments[].mmt8_max", "an MMT-8 after course 1 is on another scale than the baseline's"
    ),
}


def _value(a: Assessment, measure: str) -> float | None:
    if measure == "mmt8":
        return mmt8_pct(a)
    if measure == "ck_x_uln":
        return ck_x_uln(a)
    value = getattr(a, measure)
    return None if value is None else float(value)


def _ge(a: float, b: float) -> bool:
    """``a >= b``, exact at the boundary despite binary noise (6.3 - 4.3 is 1.9999999999999996)."""
    return a >= b - 1e-9 * max(1.0, abs(b))


def _moved(
    base: float | None, cur: float | None, pct: float, worse: bool, spec: tuple[bool, float | None]
) -> Truth:
    """Whether ``cur`` moved at least ``pct`` % from ``base`` (relative), the worse way or the better way."""
    higher_worse, span = spec
    if base is None or cur is None:
        return None
    change = cur - base if higher_worse == worse else base - cur  # positive: moved the asked way
    if base > 0:
        return _ge(change * 100, base * pct)
    if span is None:
        return None
    return _ge(change * 100, span * pct)


def _k_and(*values: Truth) -> Truth:
    if any(v is False for v in values):
        return False
    return None if any(v is None for v in values) else True


def _k_or(*values: Truth) -> Truth:
    if any(v is True for v in values):
        return True
    return None if any(v is None for v in values) else False


def _at_least(results: Sequence[Truth], n: float) -> Truth:
    """Kleene "at least ``n`` of these hold"."""
    known = sum(1 for r in results if r is True)
    unknown = sum(1 for r in results if r is None)
    if known >= n:
        return True
    return None if known + unknown >= n else False


def _visit(base: Assessment, a: Assessment, t: Any) -> tuple[Truth, list[str]]:
    """ProDERM deterioration at one visit: the truth, and the criteria that hold."""

    def worse(measure: str, pct: float) -> Truth:
        return _moved(_value(base, measure), _value(a, measure), pct, True, _CORE[measure])

    def cm_worse(measure: str, cm: float) -> Truth:
        b, c = _value(base, measure), _value(a, measure)
        return None if b is None or c is None else _ge(c - b, cm)

    global_and_mmt8 = _k_and(
        cm_worse("physician_global_cm", float(t["deterioration_global_cm"])),
        worse("mmt8", float(t["deterioration_mmt8_pct"])),
    )
    extramuscular = cm_worse("extramuscular_global_cm", float(t["deterioration_extramuscular_cm"]))
    each = [worse(m, float(t["deterioration_csm_pct"])) for m in _CORE]
    several = _at_least(each, float(t["deterioration_csm_count"]))
    criteria = (
        ("physician global and MMT-8", global_and_mmt8),
        ("extramuscular global", extramuscular),
        (f"{sum(r is True for r in each)} of 5 core set measures", several),
    )
    held = [name for name, truth in criteria if truth is True]
    return _k_or(global_and_mmt8, extramuscular, several), held


def _doi(base: Assessment, a: Assessment, t: Any) -> tuple[Truth, int, int]:
    """IMACS DOI at one visit vs baseline: (met, improved, worsened) over the 6 core set measures."""
    measures = {**_CORE, **_ENZYME}
    up, down = float(t["doi_improve_pct"]), float(t["doi_worse_pct"])
    improved = [_moved(_value(base, m), _value(a, m), up, False, s) for m, s in measures.items()]
    worsened = {m: _moved(_value(base, m), _value(a, m), down, True, s) for m, s in measures.items()}
    not_worse = [None if w is None else not w for w in worsened.values()]
    few_worse = _at_least(not_worse, len(measures) - float(t["doi_worse_max"]))
    mmt8_not_worse = None if worsened["mmt8"] is None else not worsened["mmt8"]
    met = _k_and(_at_least(improved, float(t["doi_improve_count"])), few_worse, mmt8_not_worse)
    return met, sum(1 for r in improved if r is True), sum(1 for r in worsened.values() if r is True)


def _visits(s: Snapshot, response: EpisodeResponse) -> list[tuple[int, Assessment]]:
    first, base = s.episode.first, response.baseline
    if first is None:
        return []
    after = base.date if base is not None else first
    return [(i, a) for i, a in s.assessments if a.date > first and a.date > after]


def fill(s: Snapshot, p: dict[str, Any], src: dict[str, str], response: EpisodeResponse) -> date | None:
    """Fill the deterioration, DOI and scale fields; return the first deteriorating visit's date when confirmed."""
    p.update(dict.fromkeys(FIELDS))
    base = response.baseline
    visits = _visits(s, response)
    baseline_scale = base.mmt8_max if base is not None and base.mmt8 is not None else None
    p["mmt8_scales_mixed"] = baseline_scale is not None and any(
        a.mmt8 is not None and a.mmt8_max != baseline_scale for _, a in visits
    )
    if base is not None and visits:
        i, latest = visits[-1]
        p["imacs_doi_met"], p["imacs_doi_improved"], p["imacs_doi_worsened"] = _doi(base, latest, s.t)
        p["imacs_doi_on"] = latest.date.isoformat()
        src.update(
            dict.fromkeys(
                ("imacs_doi_met", "imacs_doi_improved", "imacs_doi_worsened"), ref(latest, f"assessments[{i}]")
            )
        )
    if s.episode.stopped is not None:  # on IVIG only: after discontinuation it is a relapse question (OUT-004)
        p["deterioration_confirmed"] = False
        return None
    scored = [(i, a) for i, a in visits if any(_value(a, m) is not None for m in _CORE)]
    if len(scored) < 2:
        p["deterioration_confirmed"] = False  # "confirmed" needs two visits: not (yet) met
        return None
    if base is None:
        return None  # no baseline: deterioration cannot be judged (unknown)
    (_, one), (j, two) = scored[-2], scored[-1]
    first_truth, _ = _visit(base, one, s.t)
    second_truth, held = _visit(base, two, s.t)
    confirmed = _k_and(first_truth, second_truth)
    p["deterioration_confirmed"] = confirmed
    src["deterioration_confirmed"] = ref(two, f"assessments[{j}]")
    if confirmed:
        p["deterioration_from"], p["deterioration_to"] = one.date.isoformat(), two.date.isoformat()
        p["deterioration_criteria"] = "; ".join(held)
        return one.date
    return None
