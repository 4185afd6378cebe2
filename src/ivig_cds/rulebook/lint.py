"""``rules validate``: check rule files before a site deploys them, reporting every broken rule."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ivig_cds.errors import RuleFileError
from ivig_cds.facts.catalog import CATALOG, FactField
from ivig_cds.rulebook.load import SPECIAL_FILES, RuleBook, load_rulebook, parse_rule_file
from ivig_cds.rulebook.plan import make_plan
from ivig_cds.rulebook.tables import yaml_load

__all__ = ["LintReport", "lint_rules"]

Catalog = Mapping[str, Mapping[str, FactField]]


@dataclass(frozen=True)
class LintReport:
    """What ``rules validate`` found: files that loaded (with their rule counts) and every error."""

    ok: tuple[tuple[str, int], ...]
    errors: tuple[RuleFileError, ...]
    origin: str = "core"


def _each_rule(path: Path, tables: RuleBook, origin: str, catalog: Catalog) -> list[RuleFileError]:
    """Check the rules of a file one by one, so every broken rule is reported, not only the first."""
    try:
        data = yaml_load(path)
    except RuleFileError:
        return []  # parse_rule_file already reported it
    raws = data.get("rules") if isinstance(data, dict) else None
    if not isinstance(raws, list):
        return []
    out: list[RuleFileError] = []
    for i, raw in enumerate(raws):
        try:
            parse_rule_file(
                {**data, "rules": [raw]},
                thresholds=tables.threshold_values(),
                status=tables.status,
                bibliography=tables.bibliography,
                origin=origin,
                catalog=catalog,
            )
        except RuleFileError as exc:
            rid = exc.rule_id if exc.rule_id not in (None, "rules[0]") else f"rules[{i}]"
            out.append(RuleFileError(str(path), exc.message, rid))
    return out


def _guess_origin(files: Sequence[Path]) -> str:
    """``core`` for ids without a namespace, else the namespace the ids carry (``site:SAFE-001``)."""
    spaces: set[str] = set()
    for f in files:
        try:
            data = yaml_load(f)
        except RuleFileError:
            continue
        for raw in data.get("rules", []) if isinstance(data, dict) else []:
            rid = str(raw.get("id", "")) if isinstance(raw, dict) else ""
            spaces.add(rid.split(":", 1)[0] if ":" in rid else "core")
    return spaces.pop() if len(spaces) == 1 else "core"


def lint_rules(path: Path, *, origin: str | None = None, catalog: Catalog | None = None) -> LintReport:
    """Validate a rule file, a directory of rule files, or a complete rules directory.

    Rule files beside a ``thresholds.yaml`` (a complete rules directory, like the built-in one) are
    checked against that directory's own tables, as core rules. Other rule files are checked against
    the built-in thresholds, status table and bibliography, the way an engine loads a site's or a
    plugin's extra rule files; ``origin`` is their plugin name (default: the namespace their ids
    carry, or ``core``). Duplicate ids and references to unknown rules are checked across files.
    ``catalog`` is the fact catalog (pass ``Engine().catalog`` to include installed plugins' fields).
    """
    catalog = catalog if catalog is not None else CATALOG
    folder = path if path.is_dir() else path.parent
    full = (folder / "thresholds.yaml").exists()
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.name not in SPECIAL_FILES)
    else:
        files = [path]
    if full:
        origin = "core"
    elif origin is None:
        origin = _guess_origin(files)
    try:
        tables = load_rulebook(folder if full else None, sources=[])  # the tables, without rules
    except RuleFileError as exc:
        return LintReport((), (exc,), origin)
    errors: list[RuleFileError] = []
    ok: list[tuple[str, int]] = []
    for f in files:
        try:
            _, rules = parse_rule_file(
                f,
                thresholds=tables.threshold_values(),
                status=tables.status,
                bibliography=tables.bibliography,
                origin=origin,
                catalog=catalog,
            )
        except RuleFileError as exc:
            errors.extend((_each_rule(f, tables, origin, catalog) if exc.rule_id else []) or [exc])
            continue
        ok.append((str(f), len(rules)))
    if not errors and ok:  # across files: duplicate ids, references to unknown rules
        try:
            if full:
                book = load_rulebook(folder, catalog=catalog)  # the whole directory: rules may refer to others
            else:
                book = load_rulebook(extra_rule_files=[(Path(f), origin) for f, _ in ok], catalog=catalog)
            make_plan(list(book.rules.values()))  # negation cycles, chains too long
        except RuleFileError as exc:
            errors.append(exc)
            ok.clear()
    return LintReport(tuple(ok), tuple(errors), origin)
