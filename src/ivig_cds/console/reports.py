"""Rich tables for reports: the cohort summary, rule explanations, the rule list and the plugin list."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from rich import box
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from ivig_cds.cohort import SEED, CohortSummary, Count
from ivig_cds.console.theme import SEVERITY_LABEL, SEVERITY_STYLE, console_for, safe
from ivig_cds.explain import Candidate, CondNode, Explanation, MetaExplanation, PatternExplanation
from ivig_cds.glossary import status_word
from ivig_cds.model.format import format_value, printable

__all__ = [
    "print_cohort",
    "render_cohort",
    "render_explanation",
    "render_feedback",
    "render_plugins",
    "render_rules",
]

_VERDICT = {True: ("✓", "green"), False: ("✗", "red"), None: ("?", "yellow")}
_OPS = {"eq": "=", "ne": "≠", "lt": "<", "le": "≤", "gt": ">", "ge": "≥", "in": "in"}


def _raw(value: object) -> str:
    return format_value(value, "raw")


# ---------------------------------------------------------------- cohort


def _count(c: Count) -> str:
    return str(c) if c.of else "—"


def render_cohort(summary: CohortSummary, console: Console) -> None:
    """The cohort table, beside the seed study's figures."""
    s = summary
    table = Table(title="Cohort summary (seed form: Cherin et al. 2002)", title_justify="left", expand=False)
    table.add_column("", no_wrap=True)
    table.add_column("this cohort", justify="right", no_wrap=True)
    table.add_column("seed study", justify="right", style="dim", no_wrap=True)
    rng = s.relapse_range_months
    months = "—" if rng is None else f"mean {s.relapse_mean_months:g} ({rng[0]:g}–{rng[1]:g})"
    rows: list[tuple[str, str, str]] = [
        ("Patients evaluated", str(s.patients), ""),
        ("Treated (≥ 1 IVIG course)", _count(s.treated), SEED["treated"]),
        ("Responders (TIS ≥ 20) of treated", _count(s.responders), SEED["responders"]),
        ("  non-responders", _count(s.non_responders), ""),
        ("  too early to judge", _count(s.too_early), ""),
        ("  response not scorable", _count(s.insufficient_data), ""),
        ("Sustained remission of responders", _count(s.remission), SEED["remission"]),
        ("  off all drugs", _count(s.remission_off_therapy), SEED["remission_off_therapy"]),
        ("  on low-dose steroid", _count(s.remission_low_dose_steroid), SEED["remission_low_dose_steroid"]),
        ("IVIG-dependent of responders", _count(s.ivig_dependent), SEED["ivig_dependent"]),
        ("Relapsed after stopping", _count(s.relapses), SEED["relapses"]),
        ("  months to relapse", months, SEED["months_to_relapse"]),
        ("Sustained response on therapy", _count(s.sustained_on_therapy), ""),
        ("Follow-up < 6 months after stop", _count(s.follow_up), ""),
        ("Steroid taper > 50% of responders", _count(s.steroid_taper_beyond_50), SEED["steroid_taper_beyond_50"]),
    ]
    for label, ours, seed in rows:
        table.add_row(Text(label, style="" if label.startswith("  ") else "bold"), ours, seed)
    console.print(table)
    elig = ", ".join(f"{status_word('eligibility', k)} {n}" for k, n in sorted(s.eligibility.items()))
    if elig:
        console.print(Text(f"Eligibility: {elig}", style="dim"))


# ---------------------------------------------------------------- explain


def _node_label(n: CondNode) -> Text:
    mark, style = _VERDICT[n.verdict]
    text = Text(f"{mark} ", style=f"bold {style}")
    if n.kind != "test":
        text.append("all of" if n.kind == "and" else "any of", style="bold")
        return text
    if n.op == "present":
        text.append(f"{n.field} {'recorded' if n.expected else 'not recorded'}")
    else:
        expected = _raw(list(n.expected) if isinstance(n.expected, tuple) else n.expected)
        text.append(f"{n.field} {_OPS.get(n.op, n.op)} {expected}")
    if n.threshold:
        text.append(f" (${n.threshold})", style="dim")
    text.append("   saw ", style="dim")
    text.append(
        "not recorded" if n.actual is None else _raw(n.actual), style="bold" if n.actual is not None else style
    )
    return text


def _add_nodes(tree: Tree, n: CondNode) -> None:
    for child in n.children:
        branch = tree.add(_node_label(child))
        _add_nodes(branch, child)


def _candidate_tree(c: Candidate) -> Tree:
    where = f" · {c.ref}" if c.ref else ""
    mark, style = _VERDICT[c.verdict]
    tree = Tree(Text.assemble((f"{mark} ", f"bold {style}"), safe(c.label or c.key, "bold"), safe(where, "dim")))
    if c.tree.kind == "test":
        tree.add(_node_label(c.tree))
    else:
        branch = tree.add(_node_label(c.tree))
        _add_nodes(branch, c.tree)
    return tree


def _pattern_panel(p: PatternExplanation) -> Panel:
    mark, style = _VERDICT[p.holds]
    head = "some" if p.kind == "match" else "no"
    title = f"when[{p.index}] · {head} {p.fact_type} fact" + (f" (as {p.alias})" if p.kind == "match" else "")
    title += f" · holds: {mark}"
    relevant = [c for c in p.candidates if c.verdict is (p.kind == "match")] or [
        c for c in p.candidates if c.verdict is None
    ]
    shown = (relevant or list(p.candidates))[:3]
    parts: list[RenderableType] = []
    if not p.candidates:
        parts.append(Text(f"no {p.fact_type} facts for this patient", style="dim"))
    parts += [_candidate_tree(c) for c in shown]
    rest = [c for c in p.candidates if c not in shown]
    if rest:
        line = Text("also looked at: ", style="dim")
        for i, c in enumerate(rest):
            m, st = _VERDICT[c.verdict]
            line.append(("; " if i else "") + f"{m} ", style=st)
            line.append(printable(c.label or c.key), style="dim")
        parts.append(line)
    return Panel(Group(*parts), title=title, title_align="left", border_style=style)


def _short_path(path: str) -> str:
    """A rule file relative to the working directory when it is below it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return path


def _render_meta(x: MetaExplanation, console: Console) -> None:
    """``explain FILE DATA-001`` / ``PLUGIN-001``: what the engine's own rule means, and its findings here."""
    r = x.rule
    head = Text()
    head.append(f"{r.id} v{r.version}", style="bold")
    head.append(f"  {r.title}\n{r.category} · severity {r.severity} · written by the engine\n")
    head.append(f"patient {printable(x.patient_id)} as of {x.as_of}: ")
    head.append(x.outcome.upper(), style="bold yellow" if x.fired else "bold green")
    console.print(Panel(head, title="explain", title_align="left", border_style="yellow" if x.fired else "green"))
    console.print(safe(r.detail))
    for f in x.findings:
        console.print(Text.assemble(("• ", "bold"), safe(f.summary, SEVERITY_STYLE[f.severity])))
        if f.sources:
            console.print(Text("  record: " + printable(", ".join(f.sources)), style="dim"))
    if not x.findings:
        console.print(Text("No such finding for this patient.", style="dim"))


def render_explanation(x: Explanation | MetaExplanation, console: Console) -> None:
    """Print why a rule fired or did not for one patient."""
    if isinstance(x, MetaExplanation):
        _render_meta(x, console)
        return
    style = "green" if x.fired else ("yellow" if x.verdict is None else "red")
    head = Text()
    head.append(f"{x.rule_id} v{x.version}", style="bold")
    head.append(f"  {printable(x.title)}\n")
    head.append(f"{x.category} · ")
    head.append(SEVERITY_LABEL[x.severity].strip(), style=SEVERITY_STYLE[x.severity])
    head.append(f" · {_short_path(x.file)}" + (f" · from {x.origin}" if x.origin != "core" else ""), style="dim")
    head.append(f"\npatient {printable(x.patient_id)} as of {x.as_of}: ")
    head.append(x.outcome.upper(), style=f"bold {style}")
    console.print(Panel(head, title="explain", title_align="left", border_style=style))
    console.print(Text("The rule fires when every pattern below holds (✓ true  ✗ false  ? unknown):", style="dim"))
    for p in x.patterns:
        console.print(_pattern_panel(p))
    if x.compared:
        console.print(Text("Values compared:", style="bold"))
        for line in x.compared:
            console.print(safe(f"  {line}"))
    if x.thresholds:
        table = Table(title="Thresholds", title_justify="left", expand=False, box=box.SIMPLE_HEAD)
        for col in ("name", "value", "unit", "source", "meaning"):
            table.add_column(col, overflow="fold")
        for t in x.thresholds:
            table.add_row(t.name, _raw(t.value), t.unit, t.source, t.description)
        console.print(table)
    if x.sets:
        console.print(Text("Sets status: " + ", ".join(f"{k}={_raw(v)}" for k, v in x.sets.items())))
    for f in x.findings:
        console.print(Text.assemble(("Finding: ", "bold"), safe(f.summary, SEVERITY_STYLE[f.severity])))
    if x.verdict is None and not x.fired:
        console.print(
            Text.assemble(
                ("Missing data kept it from deciding. ", "bold yellow"),
                "Record: " + printable(", ".join(x.missing_inputs or x.missing)),
            )
        )
    elif not x.fired:
        console.print(Text(f"Template: {x.summary_template}", style="dim"))
    for e in x.evidence:
        console.print(Text(f"evidence: {e}", style="dim"))


# ---------------------------------------------------------------- rules


def render_rules(rows: Sequence[Mapping[str, Any]], console: Console) -> None:
    """``rules list``: id, version, severity, category, title."""
    table = Table(expand=False)
    for col in ("id", "version", "severity", "category", "title"):
        table.add_column(col, no_wrap=col != "title")
    for r in rows:
        sev = str(r["severity"])
        table.add_row(
            str(r["id"]),
            str(r["version"]),
            Text(sev, style=SEVERITY_STYLE.get(sev, "")),
            str(r["category"]),
            str(r["title"]),
        )
    console.print(table)


def render_plugins(rows: Sequence[Mapping[str, Any]], console: Console) -> None:
    """``ivig-cds plugins``: name, version, source, hooks, rules and formats; a failed plugin in red."""
    table = Table(expand=False)
    for col in ("plugin", "version", "source", "hooks", "contributes"):
        table.add_column(col, no_wrap=col in ("plugin", "version", "hooks"), overflow="fold")
    for r in rows:
        parts = []
        rules = list(r["rules"])
        if len(rules) > 8:  # the core: count per family (`ivig-cds rules list` has them all)
            families: dict[str, int] = {}
            for rid in rules:
                families[rid.split(":")[-1].split("-")[0]] = families.get(rid.split(":")[-1].split("-")[0], 0) + 1
            parts.append(f"{len(rules)} rules (" + ", ".join(f"{k} {n}" for k, n in families.items()) + ")")
        elif rules:
            parts.append(f"{len(rules)} rule{'s' if len(rules) > 1 else ''}: " + ", ".join(rules))
        if r.get("thresholds"):
            parts.append("thresholds: " + ", ".join(f"{k}={v}" for k, v in r["thresholds"].items()))
        if r["formats"]:
            parts.append("format(s): " + ", ".join(r["formats"]))
        contributes = Text("; ".join(parts) or "-")
        if r["error"]:
            contributes = Text(f"FAILED {r['error']}", style="bold red")
        hooks = "\n".join(r["hooks"]) or "-"
        table.add_row(str(r["name"]), str(r["version"]), str(r["source"]), hooks, contributes)
    console.print(table)


# ---------------------------------------------------------------- CDS Hooks feedback


def render_feedback(rows: Sequence[Mapping[str, Any]], console: Console | None = None) -> None:
    """``ivig-cds feedback report``: cards shown, accepted, overridden and the override reasons, per rule."""
    console = console or Console(highlight=False)
    table = Table(title="CDS Hooks feedback per rule", title_justify="left")
    for name, justify in (("rule", "left"), ("version", "left"), ("shown", "right"), ("accepted", "right"),
                          ("overridden", "right"), ("override reasons", "left")):  # fmt: skip
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for r in rows:
        reasons = "\n".join(f"{x['reason']} ×{x['count']}" for x in r["override_reasons"]) or "—"
        table.add_row(
            safe(r["rule_id"]), safe(r["rule_version"]), str(r["shown"]), str(r["accepted"]), str(r["overridden"]),
            safe(reasons),
        )  # fmt: skip
    console.print(table)
    if not rows:
        console.print("No cards shown and no feedback recorded yet.")


def print_cohort(summary: CohortSummary, stream: IO[str] | None = None, *, width: int | None = None,
                 color: str = "auto") -> None:  # fmt: skip
    """The cohort table on ``stream`` (default standard error), for the command line."""
    render_cohort(summary, console_for(stream or sys.stderr, width, color))
