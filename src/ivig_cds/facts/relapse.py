"""After the first phase: IVIG weaning failures, discontinuation, relapse, the relapse watch and restarts.

All scans are single passes over the sorted assessments (a long history costs linear time): the
best MMT-8 and the CK nadir are running values, and a weaning interval fails when it holds an
assessment at or below the weaning share of the best MMT-8 before it.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import date
from typing import Any

from ivig_cds.facts.fields import FactField, flag, number, text
from ivig_cds.facts.measures import DAYS_PER_MONTH, at_most_pct, ck_x_uln, mmt8_pct, months_between
from ivig_cds.facts.records import Episode, Snapshot, ref
from ivig_cds.facts.response import episode_response

__all__ = ["FIELDS", "fill"]

_AFTER_STOP = "assessments after ivig_discontinued_on"
FIELDS: dict[str, FactField] = {
    "discontinued": flag("ivig_discontinued_on", "IVIG discontinued on or before as_of (and not restarted)"),
    "months_since_discontinuation": number("ivig_discontinued_on", "months from discontinuation to as_of"),
    "months_assessed_after_stop": number(
        _AFTER_STOP, "months from discontinuation to the latest assessment after it"
    ),
    "weaning_failures": number("ivig_courses, assessments", "intervals > weaning gap with MMT-8 ≤ weaning %"),
    "relapse_found": flag(_AFTER_STOP, "an assessment after stop meets relapse"),
    "relapse_kind": text("assessments", "how relapse was met", "strength", "strength_and_ck"),
    "months_to_relapse": number("assessments, ivig_discontinued_on", "months from stop to the relapse visit"),
    "ck_flare_only": flag(_AFTER_STOP, "CK rise without the strength criterion"),
    "surveillance_missed": number(_AFTER_STOP, "relapse-watch visits missed"),
    "months_to_next_surveillance": number("ivig_discontinued_on", "months until the next relapse-watch visit"),
    "ivig_restarted": flag("ivig_courses, ivig_discontinued_on", "a course is dated after ivig_discontinued_on"),
    "restarted_on": text("ivig_courses", "first course after the discontinuation"),
    "previous_stopped_on": text("ivig_discontinued_on", "when the previous episode was stopped"),
    "previous_responder": flag("assessments", "the previous episode met the minimal TIS"),
    "previous_relapse_found": flag("assessments", "a relapse between the previous stop and the restart"),
    "previous_months_to_relapse": number("assessments", "months from the previous stop to its relapse visit"),
}


@dataclass(frozen=True)
class _Scan:
    relapse_date: date | None = None
    kind: str | None = None
    ck_flare: bool = False


def _weaning_failures(s: Snapshot, episode: Episode) -> int | None:
    if not episode.courses:
        return None
    first = episode.first
    assert first is not None
    gap, pct = int(s.t["weaning_gap_days"]), float(s.t["weaning_mmt8_pct_of_best"])
    failing: list[date] = []  # assessments at or below pct % of the best MMT-8 before them
    best: float | None = None
    for _, a in s.assessments:
        score = mmt8_pct(a)
        if score is None or a.date < first:
            continue
        if best is not None and at_most_pct(score, best, pct):
            failing.append(a.date)
        best = score if best is None else max(best, score)
    starts = [c.start for _, c in episode.courses]
    ends = starts[1:] + ([] if episode.stopped is not None else [s.as_of])
    failures = 0
    for begin, end in zip(starts, ends, strict=False):
        if (end - begin).days > gap and bisect_right(failing, end) > bisect_right(failing, begin):
            failures += 1
    return failures


def _scan(s: Snapshot, first: date, stopped: date, until: date) -> _Scan:
    """The first assessment in (stopped, until] meeting relapse, best and nadir running from course 1."""
    t = s.t
    pct, softer_pct = float(t["relapse_mmt8_pct_of_best"]), float(t["relapse_ck_mmt8_pct_of_best"])
    normal, nadir_x = float(t["ck_normal_x_uln"]), float(t["relapse_ck_x_nadir"])
    best: float | None = None
    nadir: float | None = None
    flare = False
    for _, a in s.assessments:
        if a.date < first or a.date > until:
            continue
        score, ck = mmt8_pct(a), ck_x_uln(a)
        if a.date > stopped and best is not None:
            strength = score is not None and at_most_pct(score, best, pct)
            ck_rise = ck is not None and ck > normal and nadir is not None and ck >= nadir * nadir_x
            softer = score is not None and at_most_pct(score, best, softer_pct)
            if strength or (softer and ck_rise):
                return _Scan(a.date, "strength" if strength else "strength_and_ck", flare)
            flare = flare or ck_rise
        if score is not None:
            best = score if best is None else max(best, score)
        if ck is not None:
            nadir = ck if nadir is None else min(nadir, ck)
    return _Scan(ck_flare=flare)


def _surveillance(s: Snapshot, p: dict[str, Any], stopped: date) -> None:
    """Relapse-watch visits: every N months to month M, then every K months to month L."""
    t = s.t
    due: list[float] = []
    m = float(t["surveillance_interval_months"])
    while m <= float(t["surveillance_until_months"]):
        due.append(m)
        m += float(t["surveillance_interval_months"])
    m = due[-1] + float(t["surveillance_late_interval_months"]) if due else 0.0
    while m <= float(t["surveillance_late_until_months"]):
        due.append(m)
        m += float(t["surveillance_late_interval_months"])
    elapsed = (s.as_of - stopped).days / DAYS_PER_MONTH
    grace = float(t["surveillance_grace_days"]) / DAYS_PER_MONTH
    visits = sorted((a.date - stopped).days / DAYS_PER_MONTH for _, a in s.assessments if a.date > stopped)

    def attended(d: float) -> bool:
        return bisect_right(visits, d + grace) > bisect_left(visits, d - grace)

    p["surveillance_missed"] = sum(1 for d in due if d + grace < elapsed and not attended(d))
    upcoming = [d for d in due if d + grace >= elapsed and not attended(d)]
    p["months_to_next_surveillance"] = max(upcoming[0] - elapsed, 0.0) if upcoming else None


def _previous(s: Snapshot, p: dict[str, Any]) -> None:
    prev, restart = s.previous, s.episode.first
    p["ivig_restarted"] = prev is not None
    p["restarted_on"] = restart.isoformat() if prev is not None and restart is not None else None
    p["previous_stopped_on"] = p["previous_responder"] = None
    p["previous_relapse_found"] = p["previous_months_to_relapse"] = None
    if prev is None or prev.first is None or prev.stopped is None or restart is None:
        return
    p["previous_stopped_on"] = prev.stopped.isoformat()
    best = episode_response(s, prev, s.as_of).best
    p["previous_responder"] = best is not None and best[0] >= float(s.t["tis_minimal"])
    scan = _scan(s, prev.first, prev.stopped, restart)
    p["previous_relapse_found"] = scan.relapse_date is not None
    if scan.relapse_date is not None:
        p["previous_months_to_relapse"] = months_between(prev.stopped, scan.relapse_date)


def fill(s: Snapshot, p: dict[str, Any], src: dict[str, str]) -> dict[str, date]:
    """Fill the weaning, relapse, surveillance and restart fields; return the dates a message may cite."""
    episode = s.episode
    first, stopped = episode.first, episode.stopped
    dates: dict[str, date] = {}
    p["weaning_failures"] = _weaning_failures(s, episode)
    p["discontinued"] = stopped is not None
    p["months_since_discontinuation"] = months_between(stopped, s.as_of) if stopped else None
    after = [a.date for _, a in s.assessments if stopped is not None and a.date > stopped]
    p["months_assessed_after_stop"] = months_between(stopped, after[-1]) if stopped and after else None
    for key in ("relapse_found", "ck_flare_only", "relapse_kind", "months_to_relapse"):
        p[key] = None
    p["surveillance_missed"] = p["months_to_next_surveillance"] = None
    if first is not None and stopped is not None:
        scan = _scan(s, first, stopped, s.as_of)
        p["relapse_found"] = scan.relapse_date is not None
        p["ck_flare_only"] = scan.ck_flare and scan.relapse_date is None
        if scan.relapse_date is not None:
            p["relapse_kind"] = scan.kind
            p["months_to_relapse"] = months_between(stopped, scan.relapse_date)
            dates["relapse"] = scan.relapse_date
            where = next(ref(a, f"assessments[{i}]") for i, a in s.assessments if a.date == scan.relapse_date)
            src["relapse_found"] = src["months_to_relapse"] = where
        _surveillance(s, p, stopped)
    _previous(s, p)
    return dates
