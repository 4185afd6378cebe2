"""The plugin hook specifications: every way a plugin can extend ivig-cds.

Hooks are grouped under banners. Each docstring says what the hook receives, what it returns,
when it is called and whether the first result wins. Implement them with::

    from ivig_cds import hookimpl

    @hookimpl
    def register_rules(register):
        register(Path(__file__).parent / "rules.yaml")

Every hook is called once per :class:`~ivig_cds.Engine` (registration hooks) or once per
evaluation (``adjust_findings``, ``observe_evaluation``), one plugin at a time: a plugin that
raises is reported in the result (``engine.plugin_failures`` and a ``PLUGIN-001`` warning) and
the others still run. Arguments are always passed by keyword.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO, Any, Literal, Protocol

import pluggy

from ivig_cds.facts.catalog import FactField
from ivig_cds.model.evaluation import Evaluation, Finding

__all__ = [
    "PROJECT",
    "EvaluationContext",
    "FactDeriver",
    "FactField",
    "OutputFormat",
    "OutputFormatSpec",
    "OutputRecord",
    "Writer",
    "WriterOptions",
    "hookimpl",
    "hookspec",
]

PROJECT = "ivig_cds"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --------------------------------------------------------------------------------------------
# What plugin authors register
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FactDeriver:
    """Adds facts for rules: fields of the ``patient`` fact, or facts of a new type.

    Attributes:
        name: Unique within the plugin.
        fact_type: ``patient`` (extra fields on the one patient fact) or a new fact type.
        fields: The typed fields it fills; they extend the fact catalog rules are checked against.
        derive: ``derive(patient, as_of, thresholds)`` returning a dict (patient fields, or one fact)
            or a list of dicts (facts of the new type). Must be pure and must not log patient data.
    """

    name: str
    fact_type: str
    fields: Mapping[str, FactField]
    derive: Callable[[Any, date, Mapping[str, Any]], Mapping[str, Any] | Sequence[Mapping[str, Any]]]


Renderer = Callable[[Sequence[Evaluation]], str]


@dataclass(frozen=True)
class WriterOptions:
    """How a run wants its output written (what ``ivig-cds evaluate`` passes to a format's writer).

    Attributes:
        width: Columns of a text view (``None``: the terminal's, or the format's default in a file).
        color: ``auto`` (colour on a terminal unless ``NO_COLOR``), ``always`` or ``never``.
        terminal: The stream is the user's interactive terminal (not a file or a pipe).
        records: How many records the run holds (0: not known).
        brief: One row per record instead of the full view (the console).
        timeline: Draw each patient's timeline (the console; needs ``OutputRecord.patient``).
        summary: The cohort table after the records (``None``: the format's default).
        export_svg: Also save the view as SVG to this path (the console).
        export_html: Also save the view as HTML to this path (the console).
        quiet: Write only the results, no headers, rules or notes a person reads.
    """

    width: int | None = None
    color: Literal["auto", "always", "never"] = "auto"
    terminal: bool = False
    records: int = 0
    brief: bool = False
    timeline: bool = True
    summary: bool | None = None
    export_svg: str | None = None
    export_html: str | None = None
    quiet: bool = False


@dataclass(frozen=True)
class OutputRecord:
    """One input's outcome as a writer receives it, in input order.

    Attributes:
        source: The input's name (``dir/a.json``, ``cohort.ndjson:3``, ``<stdin>``).
        evaluation: The result, or ``None`` when the input could not be evaluated.
        error: The error record ``{"error": {"source", "errors"}}`` when there is no evaluation.
        failed: The engine failed on the input (a bug to report) rather than the input being invalid.
        patient: The validated patient file, when the writer asked for it (``needs_patient``).
        evaluation_json: Instead of ``evaluation``, its compact contract JSON as a worker process wrote
            it (``Evaluation.to_json(indent=None)``); only ever given to writers that declare
            ``accepts_json = True`` (the built-in NDJSON writer), so a batch parent forwards text.
    """

    source: str
    evaluation: Evaluation | None = None
    error: Mapping[str, Any] | None = None
    failed: bool = False
    patient: Any = None
    evaluation_json: str | None = None


class Writer(Protocol):
    """Writes a run's records as they come (``OutputFormat.open`` returns one).

    A writer may set ``needs_patient = True`` to receive each record's validated patient file.
    ``close()`` is called once after the last record when the run completed; an interrupted run
    never calls it, so nothing half-written is finished off as if it were whole.
    """

    def write(self, record: OutputRecord) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class OutputFormat:
    """One way to write evaluations (``ivig-cds evaluate --format NAME``; ``Engine.format(NAME, ...)``).

    Attributes:
        name: The ``--format`` value (lower case, no spaces).
        description: One line for ``--help``.
        render: Evaluations (input order) -> the complete text, ending in a newline.
        media_type: The IANA media type of the text (``application/json``, ``text/markdown``, ...).
        error: How the format writes an input that could not be evaluated (the ``error_record``
            mapping -> text); ``None``: the format has no error records (errors go to stderr only).
        per_record: ``render(a + b) == render(a) + render(b)``, so records can be written as they
            come (a long run streams); ``False`` (e.g. a format with a header): rendered in one call
            per run of evaluations between error records.
        open: ``open(stream, options) -> Writer`` for a format that writes a run itself (the console
            view: rules between records, a summary at the end); ``None``: the command line writes
            ``render`` and ``error`` output as described above.
    """

    name: str
    description: str
    render: Renderer
    media_type: str = "text/plain"
    error: Callable[[Mapping[str, Any]], str] | None = None
    per_record: bool = False
    open: Callable[[IO[str], WriterOptions], Writer] | None = None


OutputFormatSpec = OutputFormat
"""The name 0.1 plugins used for :class:`OutputFormat`."""


@dataclass(frozen=True)
class EvaluationContext:
    """What an observer may log: identifiers only, never patient values."""

    input_sha256: str
    ruleset_hash: str
    plugins: tuple[str, ...]


# --------------------------------------------------------------------------------------------
# Registration: called once when an Engine is built
# --------------------------------------------------------------------------------------------


@hookspec
def register_rules(register: Callable[[Path | Mapping[str, Any]], None]) -> None:
    """Register declarative rule files (YAML paths) or rule-file-shaped mappings.

    Args:
        register: Call it once per rule file: ``register(Path(...))`` or ``register({...})``.
            Rule ids of a plugin must carry its namespace, ``<plugin_name>:FAMILY-NNN``
            (the built-in rules have none). A rule file may declare new ``thresholds``.

    Returns:
        Nothing; results are collected through ``register``.

    Called once per Engine, before the rules are compiled. Not firstresult.
    """


@hookspec
def register_fact_derivers(register: Callable[[FactDeriver], None]) -> None:
    """Register functions that add facts (or fields of the ``patient`` fact) for rules to test.

    Args:
        register: Call it with a :class:`~ivig_cds.FactDeriver`: its name, the fact type,
            the typed fields it fills (they join the fact catalog so rules are validated against
            them) and ``derive(patient, as_of, thresholds) -> dict | list[dict]``.

    Called once per Engine; each deriver then runs once per evaluation. Not firstresult.
    """


@hookspec
def provide_thresholds() -> Mapping[str, Any] | None:
    """Return site values for named thresholds (e.g. ``{"low_dose_gc_mg": 5}``).

    Returns:
        A mapping of threshold name to value, or ``None``. Unknown names and wrong types are
        plugin errors. Values given to ``Engine(thresholds=...)`` win over every plugin; two
        plugins giving different values for one threshold is a plugin error.

    Called once per Engine, before the rules are compiled. Not firstresult.
    """


@hookspec
def register_output_formats(register: Callable[[OutputFormat], None]) -> None:
    """Register output formats, usable as ``ivig-cds evaluate --format NAME`` and from the API.

    Args:
        register: Call it with an :class:`~ivig_cds.OutputFormat` (name, description,
            ``render(evaluations) -> str``, media type). Names are unique across plugins.

    Called once per Engine. Not firstresult.
    """


# --------------------------------------------------------------------------------------------
# Per evaluation
# --------------------------------------------------------------------------------------------


@hookspec
def adjust_findings(evaluation: Evaluation, findings: list[Finding]) -> list[Finding] | None:
    """Return an adjusted list of findings (add local findings, add links), or ``None`` to leave them.

    Args:
        evaluation: The evaluation so far (status, dose plan, findings before this plugin).
        findings: A copy of the current findings; return a new list.

    Returns:
        The new findings, or ``None``. Core safety takes precedence: an adjustment that drops,
        downgrades or rewrites a core ``stop`` or ``warning`` finding is rejected whole and
        reported as a plugin failure. Findings a plugin adds are marked with its name (``origin``).

    Called once per evaluation, plugin by plugin in name order. Not firstresult.
    """


@hookspec
def observe_evaluation(evaluation: Evaluation, context: EvaluationContext) -> None:
    """Observe a finished evaluation (audit trail, metrics, EHR write-back).

    Args:
        evaluation: The final result. Observers cannot change it.
        context: Identifiers safe to log: the input's SHA-256, the ruleset hash, the plugins in force.

    Called once per evaluation, after ``adjust_findings``. Not firstresult.
    """
