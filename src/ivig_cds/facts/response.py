"""Response to IVIG in the current episode: baseline, the ACR/EULAR 2016 TIS window, CK by course 4, dysphagia."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from ivig_cds.facts.fields import FactField, flag, number, text
from ivig_cds.facts.measures import ck_x_uln, months_between
from ivig_cds.facts.records import Episode, Snapshot, ref
from ivig_cds.facts.scoring import TisResult, total_improvement_score
from ivig_cds.model.patient import Assessment

__all__ = ["FIELDS", "EpisodeResponse", "episode_response", "fill"]

_DYSPHAGIA = {"none": 0, "mild": 1, "severe": 2}
_GRADES = tuple(_DYSPHAGIA)

FIELDS: dict[str, FactField] = {
    "courses_count": number("ivig_courses", "IVIG courses of the current episode started up to as_of"),
    "months_since_first_course": number("ivig_courses[0].start", "months (30.4375 d) from course 1 to as_of"),
    "baseline_mmt8": number("assessments[].mmt8", "baseline MMT-8 (last ≤ course 1, ≤ 90 days before)"),
    "response_window_open": flag(
        "ivig_courses, assessments", "≥ 3 courses and an assessment ≥ 14 days after course 3's start"
    ),
    "best_tis": number("assessments", "best ACR/EULAR 2016 Total Improvement Score in the response window"),
    "latest_tis": number("assessments", "Total Improvement Score of the latest assessment after course 1"),
    "latest_ck_x_uln": number("assessments[].ck_u_per_l", "latest CK as a multiple of its ULN"),
    "baseline_ck_x_uln": number("assessments[].ck_u_per_l", "baseline CK × ULN"),
    "ck_by_course4_x_uln": number("assessments[].ck_u_per_l", "CK × ULN before course 4"),
    "ck_fall_by_course4_pct": number(
        "assessments[].ck_u_per_l", "CK fall from baseline to before course 4, % (negative = rise)"
    ),
    "dysphagia_latest": text("assessments[].dysphagia", "latest dysphagia grade", *_GRADES),
    "dysphagia_previous": text("assessments[].dysphagia", "previous dysphagia grade", *_GRADES),
    "dysphagia_worsened": flag("assessments[].dysphagia", "latest dysphagia grade worse than the one before"),
}


@dataclass(frozen=True)
class EpisodeResponse:
    """The response measures of one episode.

    Attributes:
        baseline: The baseline assessment (last on or before course 1, within the window).
        window_open: At least the minimum courses and an assessment from the delay after the last of them.
        best: The best TIS in the window (score, date, breakdown), or ``None``.
        latest: The TIS of the latest assessment after course 1 (score, date), or ``None``.
    """

    baseline: Assessment | None
    window_open: bool
    best: tuple[float, date, TisResult] | None
    latest: tuple[float, date] | None


def episode_response(s: Snapshot, episode: Episode, until: date) -> EpisodeResponse:
    """Score an episode's response from its baseline, with assessments up to ``until``."""
    t = s.t
    first = episode.first
    assessments = [a for _, a in s.assessments if a.date <= until]
    baseline: Assessment | None = None
    if first is not None:
        window_start = first - timedelta(days=int(t["baseline_window_days"]))
        before = [a for a in assessments if window_start <= a.date <= first]
        baseline = before[-1] if before else None
    latest = None
    if first is not None and baseline is not None and baseline.mmt8 is not None:
        after = [a for a in assessments if a.date > first and a.date > baseline.date]
        if after:
            latest = (total_improvement_score(baseline, after[-1], s.tis).score, after[-1].date)
    n_min = int(t["response_min_courses"])
    courses = episode.courses
    if len(courses) < n_min:
        return EpisodeResponse(baseline, False, None, latest)
    opens = courses[n_min - 1][1].start + timedelta(days=int(t["response_assessment_delay_days"]))
    closes = until
    if episode.stopped is not None:
        closes = min(until, episode.stopped + timedelta(days=int(t["post_discontinuation_window_days"])))
    window = [a for a in assessments if opens <= a.date <= closes]
    window_open = any(a.date >= opens for a in assessments)
    best = None
    if baseline is not None and baseline.mmt8 is not None and window:
        scored = [(total_improvement_score(baseline, a, s.tis), a.date) for a in window]
        result, day = max(scored, key=lambda x: (x[0].score, -x[1].toordinal()))
        best = (result.score, day, result)
    return EpisodeResponse(baseline, window_open, best, latest)


def _ck_by_course4(s: Snapshot, p: dict[str, Any], courses: Sequence[Any], first: date) -> None:
    n_min = int(s.t["response_min_courses"])
    third = courses[n_min - 1][1].start
    fourth = courses[n_min][1].start if len(courses) > n_min else s.as_of
    ck_after = [a for _, a in s.assessments if third < a.date <= fourth and a.ck_u_per_l is not None]
    window_start = first - timedelta(days=int(s.t["baseline_window_days"]))
    base_ck = [a for _, a in s.assessments if window_start <= a.date <= first and a.ck_u_per_l is not None]
    if ck_after and base_ck:
        before, after = ck_x_uln(base_ck[-1]), ck_x_uln(ck_after[-1])
        if before is not None and after is not None:
            p["baseline_ck_x_uln"] = before
            p["ck_by_course4_x_uln"] = after
            p["ck_fall_by_course4_pct"] = (before - after) / before * 100 if before > 0 else None


def _dysphagia(s: Snapshot, p: dict[str, Any]) -> None:
    graded = [str(a.dysphagia) for _, a in s.assessments if a.dysphagia is not None]
    p["dysphagia_latest"] = graded[-1] if graded else None
    p["dysphagia_previous"] = graded[-2] if len(graded) > 1 else None
    if len(graded) > 1:
        p["dysphagia_worsened"] = _DYSPHAGIA[graded[-1]] > _DYSPHAGIA[graded[-2]]
    elif graded:
        p["dysphagia_worsened"] = graded[-1] != "none"  # new dysphagia at the first graded visit
    else:
        p["dysphagia_worsened"] = None


def _where(s: Snapshot, day: date | None) -> str:
    """The assessment of that date, as a finding names it."""
    for i, a in s.assessments:
        if a.date == day:
            return ref(a, f"assessments[{i}]")
    return ""


def fill(s: Snapshot, p: dict[str, Any], src: dict[str, str]) -> EpisodeResponse:
    """Fill the response fields of the patient fact (current episode); return the episode's response."""
    episode = s.episode
    first = episode.first
    p["courses_count"] = len(episode.courses)
    p["months_since_first_course"] = months_between(first, s.as_of) if first else None
    response = episode_response(s, episode, s.as_of)
    baseline = response.baseline
    p["baseline_mmt8"] = baseline.mmt8 if baseline is not None else None
    p["baseline_ck_x_uln"] = ck_x_uln(baseline)
    p["response_window_open"] = response.window_open
    p["best_tis"] = response.best[0] if response.best is not None else None
    p["latest_tis"] = response.latest[0] if response.latest is not None else None
    p["ck_by_course4_x_uln"] = p["ck_fall_by_course4_pct"] = None
    if first is not None and len(episode.courses) >= int(s.t["response_min_courses"]):
        _ck_by_course4(s, p, episode.courses, first)
    _dysphagia(s, p)
    with_ck = [(i, a) for i, a in s.assessments if a.ck_u_per_l is not None]
    p["latest_ck_x_uln"] = ck_x_uln(with_ck[-1][1]) if with_ck else None
    if with_ck:
        src["latest_ck_x_uln"] = ref(with_ck[-1][1], f"assessments[{with_ck[-1][0]}]")
    for field, day in (
        ("baseline_mmt8", baseline.date if baseline is not None else None),
        ("best_tis", response.best[1] if response.best is not None else None),
        ("latest_tis", response.latest[1] if response.latest is not None else None),
    ):
        if where := _where(s, day):
            src[field] = where
    return response
