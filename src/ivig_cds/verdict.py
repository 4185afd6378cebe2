"""The plain-language verdict of an evaluation: can IVIG be given and what first, is it working, any relapse.

Pure Python on the result (no rich, no decision of its own): every sentence restates the status
block, the rules that set it (``status_sources``) and their findings, in the glossary's words.
The console and the Markdown report show it first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from ivig_cds.glossary import glossary, precaution, screen_item, status_word
from ivig_cds.model.evaluation import Eligibility, Evaluation, Finding
from ivig_cds.model.format import INCOMPLETE_CONSEQUENCES, format_value, plural

__all__ = [
    "LEVELS",
    "Line",
    "PlanNote",
    "Tone",
    "Verdict",
    "courses_given",
    "eligibility_groups",
    "medications_unmapped",
    "plan_note",
    "verdict",
]

Tone = Literal["good", "warn", "bad", "stop", "neutral"]
LEVELS = ("contraindicated", "not_eligible", "screen_incomplete", "eligible_with_precautions")
"""The eligibility levels a rule can conclude, strongest first."""


@dataclass(frozen=True)
class Line:
    """One verdict line: a short label, the sentence, and how it should read (good, warn, bad...)."""

    label: str
    text: str
    tone: Tone


@dataclass(frozen=True)
class Verdict:
    """The three answers, first on the screen.

    Attributes:
        ivig: Can IVIG be given (start, continue or restart), and what must be done first.
        working: Is it working: the response, the steroid taper.
        relapse: Any relapse: after a discontinuation, the outcome so far.
        stop_ivig: A rule says IVIG should stop (no response after the first phase).
        eligible_from: The date a first course becomes possible when only the stability window
            blocks it (the change date plus the window), else ``None``.
        incomplete: A plugin failed, or the FHIR record holds IVIG or glucocorticoid doses the adapter could
            not map: what is missing from this result (``None`` when nothing is).
    """

    ivig: Line
    working: Line
    relapse: Line
    stop_ivig: bool
    eligible_from: str | None
    incomplete: Line | None = None

    @property
    def lines(self) -> tuple[Line, ...]:
        """The lines to show, first: the evaluation is incomplete (a plugin failed), when it is."""
        head = (self.incomplete,) if self.incomplete is not None else ()
        return (*head, self.ivig, self.working, self.relapse)


@dataclass(frozen=True)
class PlanNote:
    """How the dose plan should be read: ``title`` after the heading, ``reference_only`` when not to give it."""

    title: str
    reference_only: bool
    phase: str


def _named(f: Finding | None, rule_id: str) -> str:
    if f is None:
        return rule_id
    return f"{format_value(f.title, 'display')} ({rule_id})"


def eligibility_groups(ev: Evaluation) -> list[tuple[str, list[str]]]:
    """``(level, reasons in words)`` for every eligibility level a rule concluded, strongest first.

    The screen level lists what to record; the others name each rule by its title and id.
    """
    by_id = {f.rule_id: f for f in ev.findings}
    concluded: dict[str, list[str]] = {}
    for src in ev.status_sources:
        if src.field == "eligibility" and src.value in LEVELS:
            concluded.setdefault(str(src.value), []).append(src.rule_id)
    out: list[tuple[str, list[str]]] = []
    for level in LEVELS:
        rules = sorted(dict.fromkeys(concluded.get(level, [])))
        if not rules:
            continue
        if level == "screen_incomplete" and ev.status.missing_screen:
            out.append((level, [screen_item(p) for p in ev.status.missing_screen]))
        else:
            out.append((level, [_named(by_id.get(r), r) for r in rules]))
    return out


def _concluded(ev: Evaluation, level: str) -> list[str]:
    return sorted({s.rule_id for s in ev.status_sources if s.field == "eligibility" and s.value == level})


def _eligible_from(ev: Evaluation) -> str | None:
    """Change date + stability window, when the stability rule alone makes a first course not eligible."""
    rule = str(glossary()["stability_rule"])
    if ev.status.eligibility != Eligibility.NOT_ELIGIBLE or ev.patient.courses_given:
        return None
    if _concluded(ev, "not_eligible") != [rule]:
        return None
    days: list[date] = []
    for f in ev.findings:
        if f.rule_id != rule:
            continue
        changed, window = f.facts.get("therapy_change.date"), f.thresholds.get("stability_days")
        if not isinstance(changed, str) or not isinstance(window, int | float) or isinstance(window, bool):
            return None
        days.append(date.fromisoformat(changed) + timedelta(days=int(window)))
    return max(days).isoformat() if days else None


def _verb(ev: Evaluation) -> str:
    p = ev.patient
    if not p.courses_given:
        return "can start"
    if p.discontinued_on and not p.restarted_on:
        return "can be restarted"
    return "can continue"


def _precautions(ev: Evaluation) -> list[str]:
    rules = set(_concluded(ev, "eligible_with_precautions"))
    return list(dict.fromkeys(precaution(f) for f in ev.findings if f.rule_id in rules))


def _stop(ev: Evaluation) -> Finding | None:
    stops = glossary()["stop_rules"]
    return next((f for f in ev.findings if f.rule_id in stops), None)


def _ivig_line(ev: Evaluation, eligible_from: str | None) -> Line:
    s = ev.status
    groups = dict(eligibility_groups(ev))
    stop = _stop(ev)
    then: list[str] = []
    if s.eligibility in (Eligibility.NOT_ELIGIBLE, Eligibility.SCREEN_INCOMPLETE):
        if "screen_incomplete" in groups and s.eligibility == Eligibility.NOT_ELIGIBLE:
            then.append("then complete the pre-IVIG screen")
        if "eligible_with_precautions" in groups:
            then.append("then with precautions: " + "; ".join(_precautions(ev)))
    tail = (" — " + "; ".join(then)) if then else ""
    if s.eligibility == Eligibility.CONTRAINDICATED:
        return Line(
            "IVIG", "do not give: contraindicated — " + "; ".join(groups.get("contraindicated", [])), "stop"
        )
    if s.eligibility == Eligibility.NOT_ELIGIBLE:
        if eligible_from is not None:
            change = next(f for f in ev.findings if f.rule_id == glossary()["stability_rule"])
            when = change.facts.get("therapy_change.date")
            text = f"not yet: background therapy changed {when}; eligible from {eligible_from}"
            return Line("IVIG", text + tail, "warn")
        reasons = "; ".join(groups.get("not_eligible", []))
        if medications_unmapped(ev) and any(r.startswith("REFRACTORY") for r in _concluded(ev, "not_eligible")):
            # "no steroid-sparing agent failed" may be the record's medications the adapter could not map
            text = f"not eligible on the mapped record — {reasons}{tail}; medications in the record are not mapped"
            return Line("IVIG", text + " (see Incomplete)", "warn")
        return Line("IVIG", "not eligible — " + reasons + tail, "bad")
    if stop is not None:
        return Line("IVIG", "stop IVIG — " + precaution(stop, glossary()["stop_rules"]), "bad")
    if s.eligibility == Eligibility.SCREEN_INCOMPLETE:
        items = ", ".join(groups.get("screen_incomplete", []) or [screen_item(p) for p in s.missing_screen])
        return Line("IVIG", f"not yet: record {items} first" + tail, "warn")
    if s.eligibility == Eligibility.ELIGIBLE_WITH_PRECAUTIONS:
        return Line("IVIG", f"{_verb(ev)} with precautions — " + "; ".join(_precautions(ev)), "warn")
    return Line("IVIG", f"{_verb(ev)} — no contraindication or precaution found", "good")


def _threshold(findings: Sequence[Finding], name: str) -> object:
    return next((f.thresholds[name] for f in findings if name in f.thresholds), None)


def _working_line(ev: Evaluation) -> Line:
    s, p = ev.status, ev.patient
    tis = format_value(s.total_improvement_score, "display", decimals=1)
    minimal = _threshold(ev.findings, "tis_minimal")
    taper = ""
    if s.steroid_reduction_pct is not None:
        pct = format_value(abs(s.steroid_reduction_pct), "display", decimals=0)
        target = _threshold(ev.findings, "taper_target_pct")
        beyond = ""
        if s.steroid_taper_beyond_50:
            beyond = f", beyond {format_value(target)}%" if target is not None else ", beyond the target"
        side = "above" if s.steroid_reduction_pct < 0 else "below"
        taper = (
            f"; prednisone {pct}% {side} course 1{beyond}"
            if pct != "0"
            else "; prednisone unchanged since course 1"
        )
    if s.response == "not_started":
        return Line("Working?", courses_given(ev), "neutral")
    if s.response == "too_early":
        after = _threshold(ev.findings, "response_min_courses")
        judged = f" (judged after course {format_value(after)})" if after is not None else ""
        return Line("Working?", f"too early to judge — {plural(p.courses_given, 'course')} given{judged}{taper}",
                    "neutral")  # fmt: skip
    if s.response == "insufficient_data":
        why = next((f.summary for f in ev.findings if f.rule_id == "RESP-103"), "no baseline MMT-8")
        return Line("Working?", "cannot be scored — " + format_value(why, "display"), "warn")
    if s.response == "non_responder":
        limit = f" (response from {format_value(minimal)})" if minimal is not None else ""
        return Line("Working?", f"no — best TIS {tis}{limit}{taper}", "bad")
    level = f", {status_word('response_level', s.response_level)}" if s.response_level else ""
    latest = s.latest_total_improvement_score
    now = ""
    tone: Tone = "good"
    if latest is not None and s.total_improvement_score is not None and latest < s.total_improvement_score:
        now = f", latest {format_value(latest, 'display', decimals=1)}"
        if minimal is not None and isinstance(minimal, int | float) and latest < minimal:
            now += f": below {format_value(minimal)} now"
            tone = "warn"
    return Line("Working?", f"yes — responder{level} (best TIS {tis}{now}){taper}", tone)


def _relapse_line(ev: Evaluation) -> Line:
    s, p = ev.status, ev.patient
    if s.relapse_alert:
        months = format_value(s.months_to_relapse, "display", decimals=1)
        return Line("Relapse?", f"RELAPSE {months} months after stopping — review re-treatment or another agent",
                    "bad")  # fmt: skip
    earlier = next((f for f in ev.findings if f.rule_id == "OUT-004C"), None)
    if p.restarted_on:
        text = f"IVIG restarted {p.restarted_on}" + ("; it had relapsed before the restart" if earlier else "")
        return Line("Relapse?", text, "warn" if earlier else "neutral")
    if p.discontinued_on:
        outcome = status_word("outcome", s.outcome)
        good = s.outcome in (
            "remission_off_therapy",
            "remission_low_dose_steroid",
            "sustained_response_on_therapy",
        )
        lead = "none" if good else "none so far"
        return Line(
            "Relapse?", f"{lead} — {outcome} (IVIG stopped {p.discontinued_on})", "good" if good else "neutral"
        )
    if _stop_unmapped(ev):  # the record says stopped, on a day the adapter could not read
        text = "unknown: IVIG stopped per the record on a day not mapped (see Incomplete)"
        return Line("Relapse?", text, "warn")
    if s.outcome == "ivig_dependent":
        return Line("Relapse?", "not applicable: IVIG not stopped — IVIG-dependent (weaning failed)", "warn")
    why = "IVIG not stopped" if p.courses_given else _none_yet(ev, "no IVIG yet")
    return Line("Relapse?", f"not applicable: {why}", "neutral")


def _unmapped(ev: Evaluation) -> frozenset[str]:
    """The fields of the FHIR mapping's ``incomplete`` block (none for a patient file)."""
    block = (ev.mapping or {}).get("incomplete")
    return frozenset(block) if isinstance(block, dict) else frozenset()


def _ivig_unmapped(ev: Evaluation) -> bool:
    # therapies: a medication whose drug cannot be known may be IVIG
    return bool(_unmapped(ev) & {"ivig_courses", "therapies"})


def medications_unmapped(ev: Evaluation) -> bool:
    """Whether the FHIR record holds therapies or glucocorticoid doses the adapter could not map: a "not
    refractory" may be theirs."""
    return bool(_unmapped(ev) & {"therapies", "therapies.stop", "glucocorticoid_doses"})


def _stop_unmapped(ev: Evaluation) -> bool:
    return "ivig_discontinued_on" in _unmapped(ev)


def _none_yet(ev: Evaluation, text: str) -> str:
    return "IVIG in the record may not be mapped (see Incomplete)" if _ivig_unmapped(ev) else text


def courses_given(ev: Evaluation) -> str:
    """``3 IVIG courses``, ``no IVIG course yet``, or, when the FHIR record held IVIG infusions that could not
    be mapped, that none was mapped (never 'no IVIG yet' for a patient the record says was given IVIG)."""
    n = ev.patient.courses_given
    if n:
        text = plural(n, "IVIG course")
        return f"{text} (+ IVIG in the record that may not be mapped)" if _ivig_unmapped(ev) else text
    return _none_yet(ev, "no IVIG course yet")


def _incomplete(ev: Evaluation) -> Line | None:
    parts = []
    failed = ev.engine.plugin_failures
    if failed:
        names = ", ".join(dict.fromkeys(f"{f.plugin} ({f.hook})" for f in failed))
        parts.append(f"plugin {names} failed: its checks are missing from this result")
    block = (ev.mapping or {}).get("incomplete") or {}
    for name in block if isinstance(block, dict) else ():
        why = INCOMPLETE_CONSEQUENCES.get(str(name), f"records of {name} are missing from the evaluation")
        parts.append(f"FHIR record not fully mapped ({name}): {why}")
    if not parts:
        return None
    return Line("Incomplete", "; ".join(parts), "bad")


def verdict(ev: Evaluation) -> Verdict:
    """The plain-language verdict of one evaluation."""
    eligible_from = _eligible_from(ev)
    return Verdict(
        ivig=_ivig_line(ev, eligible_from),
        working=_working_line(ev),
        relapse=_relapse_line(ev),
        stop_ivig=_stop(ev) is not None,
        eligible_from=eligible_from,
        incomplete=_incomplete(ev),
    )


def plan_note(ev: Evaluation) -> PlanNote:
    """How to read the dose plan: for reference only when IVIG should not be given; no first phase after a stop."""
    s, p, d = ev.status, ev.patient, ev.dose_plan
    phase = f"{d.courses_in_first_phase} courses in the first phase" if d is not None else ""
    if s.eligibility in (Eligibility.CONTRAINDICATED, Eligibility.NOT_ELIGIBLE):
        return PlanNote(f"for reference only: {status_word('eligibility', s.eligibility)}", True, phase)
    if _stop(ev) is not None:
        return PlanNote("for reference only: stop IVIG (no response)", True, "")
    if p.discontinued_on and not p.restarted_on:
        return PlanNote(f"if IVIG is restarted (stopped {p.discontinued_on})", False, "")
    if p.courses_given and d is not None:
        given = plural(p.courses_given, "course")
        return PlanNote("", False, f"{given} given; {d.courses_in_first_phase} in the first phase")
    return PlanNote("", False, phase)
