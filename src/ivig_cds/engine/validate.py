"""``rules validate`` in full: the rule-file checks, then a trial build of the rules on durable-rules.

:func:`ivig_cds.rulebook.lint.lint_rules` finds what the rule files say wrong (every broken rule,
unknown fields and thresholds, negation cycles, chains too long). Some limits only the engine that
runs the rules knows - durable-rules refuses more than 256 rules on one shared condition - so the
rules are also built, with the core rules, exactly as an :class:`~ivig_cds.Engine` would build them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ivig_cds.errors import EngineError, RuleFileError
from ivig_cds.facts.catalog import CATALOG, FactField
from ivig_cds.rulebook.lint import LintReport
from ivig_cds.rulebook.lint import lint_rules as _lint_files
from ivig_cds.rulebook.load import load_rulebook
from ivig_cds.rulebook.plan import make_plan

__all__ = ["validate_rules"]


def validate_rules(
    path: Path,
    *,
    origin: str | None = None,
    catalog: Mapping[str, Mapping[str, FactField]] | None = None,
    backend: str = "durable",
) -> LintReport:
    """Validate a rule file or directory as :func:`~ivig_cds.rulebook.lint.lint_rules` does, then
    build the rules (with the core ones) on ``backend`` when it is ``durable`` and importable.

    Returns:
        The report; a build failure is one error naming the limit durable-rules gave.
    """
    report = _lint_files(path, origin=origin, catalog=catalog)
    if report.errors or not report.ok or backend != "durable":
        return report
    try:
        from ivig_cds.backends._durable import DurableBackend
    except ImportError:  # durable-rules not installed: the reference backend has no such limits
        return report
    catalog = catalog if catalog is not None else CATALOG
    folder = path if path.is_dir() else path.parent
    try:
        if report.origin == "core" and (folder / "thresholds.yaml").exists():
            book = load_rulebook(folder, catalog=catalog)
        else:
            book = load_rulebook(
                extra_rule_files=[(Path(f), report.origin) for f, _ in report.ok], catalog=catalog
            )
        plan = make_plan(list(book.rules.values()))
        DurableBackend(plan.strata, book.fingerprint(), [set(c) for c in plan.chained]).close()
    except EngineError as exc:
        error = RuleFileError(str(path), f"the rules cannot be built: {exc}")
        return LintReport((), (error,), report.origin)
    except RuleFileError as exc:
        return LintReport((), (exc,), report.origin)
    return report
