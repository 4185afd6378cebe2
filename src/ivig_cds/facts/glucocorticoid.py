"""The glucocorticoid dose trajectory: taper attempts and flares, taper pace, time at bone-risk and high doses,
and the glucocorticoid-failure kinds of the external refractory definition.

The dose steps are the contract's step function (each holds until the next; two steps on one date: the later
in the file wins, as for the dose in effect). A *taper attempt* starts with a decrease and lasts until the next
increase; an increase that ends an attempt is a *flare on taper*. Without any dose step while a glucocorticoid
was used, these are unknown (``None``); with no glucocorticoid at all they are decided (no attempt, no flare).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from itertools import pairwise
from typing import Any

from ivig_cds.facts.fields import FactField, flag, number, text
from ivig_cds.facts.measures import mmt8_pct, months_between
from ivig_cds.facts.records import Snapshot

__all__ = ["FIELDS", "fill"]

_GC = "glucocorticoid_doses"
Fact = tuple[dict[str, Any], str]

FIELDS: dict[str, FactField] = {
    "gc_tapering": flag(_GC, "a taper attempt is in progress at as_of (a decrease since the last increase)"),
    "gc_taper_months": number(_GC, "months from the current taper attempt's first decrease to as_of"),
    "gc_flares_on_taper": number(_GC, "increases that ended a taper attempt (flares on taper)"),
    "gc_recent_taper": flag(_GC, "the latest dose change is a decrease within the taper-pace look-back"),
    "gc_last_step_from_mg": number(_GC, "dose before the latest change, mg/day"),
    "gc_last_step_to_mg": number(_GC, "dose after the latest change, mg/day"),
    "gc_last_step_on": text(_GC, "date of the latest dose change"),
    "gc_last_taper_mg_per_2wk": number(
        _GC, "pace of the latest change when a decrease: mg dropped per 14 days the dose before it was held"
    ),
    "gc_bone_dose_months": number(
        _GC, "months the current run of doses at or above the bone-protection dose has lasted (0: below it)"
    ),
    "gc_failure": text(
        "therapies[glucocorticoid], glucocorticoid_doses",
        "glucocorticoid failure kinds: inadequate_response, flare_on_taper, intolerance (joined by +)",
    ),
    "gc_failed": flag("therapies[glucocorticoid], glucocorticoid_doses", "a glucocorticoid failure kind applies"),
    "failed_sparing_agents": number(
        "therapies", "steroid-sparing drugs failed (intolerance, or inadequate response after the minimum days)"
    ),
    "gc_high_dose_days": number(_GC, "longest run of doses above the steroid-resistance dose, days"),
    "gc_high_dose_mmt8_change_pct": number(
        "assessments[].mmt8, glucocorticoid_doses",
        "MMT-8 change (% of scale points) from before to the end of that run",
    ),
    "gc_inadequate": flag("therapies[glucocorticoid].outcome", "a glucocorticoid ended in inadequate response"),
    "gc_tapered_during_deterioration": flag(
        _GC, "a dose decrease dated on or after the first visit of a confirmed deterioration"
    ),
}


def _steps(s: Snapshot) -> list[tuple[date, float]]:
    """Dose steps by date (the later step of a date wins), runs of the same dose merged into their first date."""
    by_day: dict[date, float] = {}
    for d in s.gc:  # sorted by date, then position in the file
        by_day[d.date] = float(d.prednisone_mg_per_day)
    steps: list[tuple[date, float]] = []
    for day in sorted(by_day):
        if not steps or steps[-1][1] != by_day[day]:
            steps.append((day, by_day[day]))
    return steps


def _trajectory(s: Snapshot, p: dict[str, Any], steps: list[tuple[date, float]]) -> None:
    t = s.t
    attempt: date | None = None
    flares = 0
    for (_, before), (day, dose) in pairwise(steps):
        if dose < before:
            attempt = attempt or day
        elif attempt is not None:  # an increase ends the attempt: a flare on taper
            flares += 1
            attempt = None
    p["gc_tapering"] = attempt is not None
    p["gc_taper_months"] = months_between(attempt, s.as_of) if attempt is not None else None
    p["gc_flares_on_taper"] = flares
    p["gc_recent_taper"] = False
    if len(steps) > 1:
        (held_since, before), (day, dose) = steps[-2], steps[-1]
        p.update(gc_last_step_from_mg=before, gc_last_step_to_mg=dose, gc_last_step_on=day.isoformat())
        if dose < before:
            p["gc_last_taper_mg_per_2wk"] = round((before - dose) / (day - held_since).days * 14, 9)
            p["gc_recent_taper"] = (s.as_of - day).days <= int(t["taper_pace_lookback_days"])
    threshold = float(t["bone_protection_gc_mg"])
    current = p.get("gc_current_mg")
    if current is None:
        p["gc_bone_dose_months"] = None
    elif current < threshold or not steps:
        p["gc_bone_dose_months"] = 0.0
    else:
        start = steps[-1][0]
        for day, dose in reversed(steps):
            if dose < threshold:
                break
            start = day
        p["gc_bone_dose_months"] = months_between(start, s.as_of)


def _high_dose(s: Snapshot, p: dict[str, Any], steps: list[tuple[date, float]]) -> None:
    """The longest run above the steroid-resistance dose, and MMT-8 before it and at its end."""
    limit = float(s.t["steroid_resistant_mg"])
    runs: list[tuple[date, date]] = []
    since: date | None = None  # start of the run above the limit in progress (one pass: linear in the steps)
    for day, dose in steps:
        if dose > limit:
            since = since or day
        elif since is not None:
            runs.append((since, day))
            since = None
    if since is not None:
        runs.append((since, s.as_of))
    if not runs:
        p["gc_high_dose_days"] = 0
        return
    start, end = max(runs, key=lambda r: ((r[1] - r[0]).days, r[0]))
    p["gc_high_dose_days"] = (end - start).days
    window = start - timedelta(days=int(s.t["baseline_window_days"]))
    scored = [(a.date, mmt8_pct(a)) for _, a in s.assessments if a.mmt8 is not None]
    before = [v for d, v in scored if window <= d <= start]
    during = [v for d, v in scored if start < d <= end]
    if before and during and before[-1] is not None and during[-1] is not None:
        p["gc_high_dose_mmt8_change_pct"] = during[-1] - before[-1]


def _failures(s: Snapshot, p: dict[str, Any], therapies: Sequence[Fact]) -> None:
    """Glucocorticoid failure kinds (three-valued ``gc_failed``) and the steroid-sparing drugs that failed."""
    gc = [f for f, _ in therapies if f["t"] == "therapy" and f["agent_class"] == "glucocorticoid"]
    outcomes = {f["outcome"] for f in gc}
    flares = p.get("gc_flares_on_taper")
    found = {
        "inadequate_response": "inadequate_response" in outcomes,
        "flare_on_taper": bool(flares),
        "intolerance": "intolerance" in outcomes,
    }
    kinds = [kind for kind, hit in found.items() if hit]
    p["gc_failure"] = "+".join(kinds) or None
    # no failure found: false only when nothing that could show one is unknown (an outcome, the dose steps)
    undecided = "unknown" in outcomes or flares is None or (not gc and bool(s.gc))
    if kinds:
        p["gc_failed"] = True
    elif p.get("gc_ever_used") is False:
        p["gc_failed"] = False
    else:
        p["gc_failed"] = None if undecided or p.get("gc_ever_used") is None else False
    if "inadequate_response" in outcomes:
        p["gc_inadequate"] = True
    else:  # doses without a glucocorticoid record: its outcome is not recorded
        p["gc_inadequate"] = None if "unknown" in outcomes or (not gc and bool(s.gc)) else False
    days = int(s.t["min_failed_drug_days"])
    failed = {
        f["agent"]
        for f, _ in therapies
        if f["t"] == "therapy"
        and f["agent_class"] == "steroid_sparing"
        and (
            f["outcome"] == "intolerance" or (f["outcome"] == "inadequate_response" and f["duration_days"] >= days)
        )
    }
    p["failed_sparing_agents"] = len(failed)


def fill(
    s: Snapshot,
    p: dict[str, Any],
    src: dict[str, str],
    therapies: Sequence[Fact],
    deteriorating_since: date | None,
) -> None:
    """Fill the glucocorticoid-trajectory fields (after the therapy and deterioration families)."""
    p.update(dict.fromkeys(FIELDS))
    steps = _steps(s)
    if steps:
        _trajectory(s, p, steps)
        _high_dose(s, p, steps)
    elif p.get("gc_ever_used") is False:  # no glucocorticoid at all: nothing to taper, nothing at high dose
        p.update(gc_tapering=False, gc_flares_on_taper=0, gc_recent_taper=False, gc_high_dose_days=0)
        p["gc_bone_dose_months"] = 0.0
    _failures(s, p, therapies)
    if deteriorating_since is not None:
        p["gc_tapered_during_deterioration"] = any(
            day >= deteriorating_since and dose < before for (_, before), (day, dose) in pairwise(steps)
        )
    for key in FIELDS:
        src.setdefault(key, _GC if key.startswith("gc_") else "therapies")
