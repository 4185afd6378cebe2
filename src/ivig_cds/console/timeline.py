"""The treatment timeline drawn in the terminal: MMT-8, CK and prednisone on one date axis, IVIG marked.

:func:`timeline_data` reads the histories from the :class:`~ivig_cds.patient.Patient` (the
evaluation does not carry them), up to ``as_of``; :class:`TimelineView` is a rich renderable that
lays them out for the width it is given: one row of unicode bars per series, a row with ▲ at each
IVIG course and ✕ at discontinuation, and a date axis. Values are drawn, not interpreted. Nothing
dated after ``as_of`` is drawn or summed up. Each row is scaled from its low to its high value, but
over at least a minimum span (10% of the MMT-8 scale, a doubling of CK), so a small change is drawn
small: MMT-8 44 -> 45 is two neighbouring bar heights, not the lowest and the highest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.text import Text

from ivig_cds.model.patient import Patient

__all__ = ["Series", "TimelineData", "TimelineView", "timeline_data"]

BARS = "▁▂▃▄▅▆▇█"
COURSE, STOP = "▲", "✕"
_LOOKBACK_DAYS = 365  # history shown before the first course (or first assessment)
_LABEL_W = 12
_NOTE_W = 24
_MIN_PLOT = 16
_MMT8_SPAN_PCT = 10  # an MMT-8 row spreads its bars over at least this share of the scale
_CK_SPAN_FACTOR = 2.0  # a CK row over at least a doubling


@dataclass(frozen=True)
class Series:
    """One plotted measure.

    Attributes:
        name: Row label (``MMT-8``).
        unit: Unit shown after values (``/80``, ``U/L``, ``mg/d``).
        points: (date, value) in date order, up to ``as_of``.
        step: The value holds until the next point (a dose), rather than being a measurement.
        log: Scale the bars logarithmically (CK spans orders of magnitude).
        style: rich style of the bars.
        min_span: The smallest range the bars are spread over (in the unit; for a log row, a factor).
    """

    name: str
    unit: str
    points: tuple[tuple[date, float], ...]
    step: bool = False
    log: bool = False
    style: str = ""
    min_span: float = 0.0


@dataclass(frozen=True)
class TimelineData:
    """What the timeline shows: the date window, the series and the IVIG events."""

    start: date
    end: date
    series: tuple[Series, ...]
    courses: tuple[date, ...]
    discontinued: date | None


def _mmt8(patient: Patient, as_of: date) -> Series:
    rows = [a for a in patient.assessments if a.mmt8 is not None and a.date <= as_of]
    scales = {a.mmt8_max for a in rows}
    if len(scales) > 1:  # mixed 80/150 scales: plot % of scale so visits compare
        pts = tuple(sorted((a.date, float(a.mmt8 or 0) / a.mmt8_max * 100) for a in rows))
        return Series("MMT-8", "%", pts, style="green", min_span=_MMT8_SPAN_PCT)
    top = scales.pop() if scales else 80
    pts = tuple(sorted((a.date, float(a.mmt8 or 0)) for a in rows))
    return Series("MMT-8", f"/{top}", pts, style="green", min_span=top * _MMT8_SPAN_PCT / 100)


def timeline_data(patient: Patient, as_of: date) -> TimelineData | None:
    """The timeline of a patient up to ``as_of``, or ``None`` when there is nothing dated to draw."""
    ck = tuple(
        sorted(
            (a.date, float(a.ck_u_per_l))
            for a in patient.assessments
            if a.ck_u_per_l is not None and a.date <= as_of
        )
    )
    gc = tuple(
        sorted((d.date, float(d.prednisone_mg_per_day)) for d in patient.glucocorticoid_doses if d.date <= as_of)
    )
    courses = tuple(sorted(c.start for c in patient.ivig_courses if c.start <= as_of))
    stopped = (
        patient.ivig_discontinued_on
        if patient.ivig_discontinued_on and patient.ivig_discontinued_on <= as_of
        else None
    )
    mmt = _mmt8(patient, as_of)
    dated = [d for d, _ in mmt.points] + [d for d, _ in ck] + [d for d, _ in gc] + list(courses)
    if not dated:
        return None
    anchor = courses[0] if courses else min(d for d, _ in (mmt.points or ck or gc))
    start = max(min(dated), anchor - timedelta(days=_LOOKBACK_DAYS))
    start = min(start, anchor)
    series = (
        mmt,
        Series("CK", "U/L", ck, log=True, style="yellow", min_span=_CK_SPAN_FACTOR),
        Series("Prednisone", "mg/d", gc, step=True, style="magenta"),
    )
    return TimelineData(start, as_of, series, courses, stopped)


# ---------------------------------------------------------------- layout


def _num(v: float) -> str:
    return f"{v:g}" if abs(v) < 1e5 else f"{v:.3g}"


class _Axis:
    def __init__(self, start: date, end: date, width: int) -> None:
        self.start, self.width = start, width
        self.days = max(1, (end - start).days)

    def col(self, d: date) -> int:
        return min(self.width - 1, max(0, round((d - self.start).days * (self.width - 1) / self.days)))

    def day(self, col: int) -> date:
        return self.start + timedelta(days=round(col * self.days / max(1, self.width - 1)))


def _level(v: float, lo: float, hi: float, log: bool, min_span: float = 0.0) -> int:
    """The bar height (0-7) of ``v`` on ``lo``..``hi``, the range widened about its middle to ``min_span``."""
    if log:
        v, lo, hi = (math.log10(max(x, 1.0)) for x in (v, lo, hi))
        min_span = math.log10(min_span) if min_span > 1 else 0.0
    if hi - lo < min_span:
        mid = (hi + lo) / 2
        lo, hi = mid - min_span / 2, mid + min_span / 2
    if hi <= lo:
        return 3
    return max(0, min(7, round((v - lo) / (hi - lo) * 7)))


def _bars(s: Series, axis: _Axis, end: date) -> Text:
    cells: list[str] = [" "] * axis.width
    zero: set[int] = set()
    if s.step:
        values: list[float | None] = []
        for c in range(axis.width):
            day = min(axis.day(c), end)
            current = None
            for d, value in s.points:
                if d <= day:
                    current = value
            values.append(current)
        known = [v for v in values if v is not None]
        lo, hi = 0.0, max(known, default=0.0)
        for c, v in enumerate(values):
            if v is None:
                continue
            if v == 0:
                cells[c] = "·"
                zero.add(c)
            else:
                cells[c] = BARS[max(1, _level(v, lo, hi, False))]
    else:
        shown = [(d, v) for d, v in s.points if d >= axis.start]
        if shown:
            lo, hi = min(v for _, v in shown), max(v for _, v in shown)
            for d, v in shown:  # the last value in a column wins
                cells[axis.col(d)] = BARS[_level(v, lo, hi, s.log, s.min_span)]
    text = Text()
    for c, ch in enumerate(cells):
        text.append(ch, style="dim" if c in zero else s.style)
    return text


def _note(s: Series, start: date, width: int) -> str:
    """``first→last unit (min–max)``, the range dropped when it does not fit ``width``."""
    pts = [(d, v) for d, v in s.points if d >= start]
    if s.step:
        before = [(d, v) for d, v in s.points if d < start]
        pts = before[-1:] + pts  # the dose in effect when the window opens
    if not pts:
        return "not recorded"
    values = [v for _, v in pts]
    first, last = values[0], values[-1]
    text = f"{_num(last)} {s.unit}" if len(pts) == 1 else f"{_num(first)}→{_num(last)} {s.unit}"
    if len(pts) > 2 and not s.step:
        wide = f"{text} ({_num(min(values))}–{_num(max(values))})"
        if len(wide) <= width:
            return wide
    return text[:width]


def _events(data: TimelineData, axis: _Axis) -> Text:
    cells = [" "] * axis.width
    for d in data.courses:
        if d >= axis.start:
            cells[axis.col(d)] = COURSE
    if data.discontinued is not None and data.discontinued >= axis.start:
        cells[axis.col(data.discontinued)] = STOP
    text = Text()
    for ch in cells:
        text.append(ch, style="bold red" if ch == STOP else ("cyan" if ch == COURSE else ""))
    return text


def _ticks(axis: _Axis, end: date) -> tuple[str, str]:
    """The axis line (┬ at ticks) and its labels: years, or months when the window is short."""
    months = (end.year - axis.start.year) * 12 + end.month - axis.start.month
    step = 1 if months <= 8 else 3 if months <= 30 else 6 if months <= 60 else 12
    ticks: list[tuple[int, str]] = []
    y, m = axis.start.year, axis.start.month
    while True:
        m += 1
        if m > 12:
            y, m = y + 1, 1
        d = date(y, m, 1)
        if d > end:
            break
        if (m - 1) % step == 0:
            label = str(y) if m == 1 or step == 12 else d.strftime("%b")
            if m == 1 and step < 12:
                label = str(y)
            ticks.append((axis.col(d), label))
    line = ["─"] * axis.width
    labels = [" "] * axis.width
    taken = -1
    for col, label in ticks:
        line[col] = "┬"
        if col > taken and col + len(label) <= axis.width:
            labels[col : col + len(label)] = list(label)
            taken = col + len(label)
    return "".join(line), "".join(labels)


@dataclass(frozen=True)
class TimelineView:
    """A rich renderable: the timeline, laid out for the width available (reads well at 100, fits 80)."""

    data: TimelineData

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(_LABEL_W + _MIN_PLOT, options.max_width)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        note_w = _NOTE_W if width >= 72 else 0
        plot = width - _LABEL_W - (note_w + 1 if note_w else 0)
        if plot < _MIN_PLOT:
            yield Text("(timeline needs a wider terminal)", style="dim")
            return
        data = self.data
        axis = _Axis(data.start, data.end, plot)
        for s in data.series:
            row = Text(f"{s.name:<{_LABEL_W - 1}} "[:_LABEL_W], style="bold")
            row.append_text(_bars(s, axis, data.end))
            if note_w:
                row.append(" " + _note(s, data.start, note_w), style="dim")
            yield row
            if not note_w:
                yield Text(" " * _LABEL_W + _note(s, data.start, width - _LABEL_W), style="dim")
        events = Text(f"{'IVIG':<{_LABEL_W}}", style="bold")
        events.append_text(_events(data, axis))
        if note_w:
            n = len(data.courses)
            tail = f"{n} course{'s' if n != 1 else ''}" + (
                f", {STOP} {data.discontinued}" if data.discontinued else ""
            )
            events.append(" " + tail[:note_w], style="dim")
        yield events
        line, labels = _ticks(axis, data.end)
        yield Text(" " * _LABEL_W + line, style="dim")
        last = f" {data.end}" if note_w else ""
        yield Text(f"{data.start.isoformat():<{_LABEL_W}}"[:_LABEL_W] + labels + last, style="dim")
        yield Text(f"{COURSE} course  {STOP} IVIG stopped  · no prednisone", style="dim")
        yield Text(_scale_legend(data), style="dim")


def _scale_legend(data: TimelineData) -> str:
    """How the bars are scaled, in the units of this timeline."""
    parts = []
    for s in data.series:
        if s.name == "MMT-8" and s.min_span:
            parts.append(f"MMT-8 over ≥ {_num(s.min_span)}{' points' if s.unit != '%' else '% of scale'}")
        elif s.log and s.min_span:
            parts.append(f"{s.name} over ≥ ×{_num(s.min_span)} (log)")
    return "bars: each row low→high" + (f"; {', '.join(parts)}" if parts else "")
