"""Words for people: status values, fact fields with units, thresholds, screen items, precautions (no rich).

The words are data (``glossary.yaml`` beside this module); a field or threshold it does not name
(a plugin's) is named from its own identifier. The JSON output never goes through here: it keeps
the contract's words. :func:`reference_markdown` writes ``docs/reference.md`` (the fact catalog
and the IVIG product table) from the code's own tables.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from ivig_cds.facts.catalog import CATALOG
from ivig_cds.model.evaluation import Finding
from ivig_cds.model.format import format_value
from ivig_cds.model.resources import default_rules_dir
from ivig_cds.model.terminology import load_product_table

__all__ = [
    "fact_label",
    "glossary",
    "humanize",
    "level_word",
    "precaution",
    "reference_markdown",
    "screen_item",
    "status_word",
    "threshold_table",
    "threshold_text",
    "threshold_unit",
    "value_text",
]

_TEMPLATE = re.compile(r"\{([a-z_]+\.[a-z0-9_]+)(?::([^{}]*))?\}")


@lru_cache(maxsize=1)
def glossary() -> dict[str, Any]:
    """The parsed ``glossary.yaml``."""
    data = yaml.safe_load(Path(__file__).with_name("glossary.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@lru_cache(maxsize=1)
def threshold_table() -> dict[str, dict[str, Any]]:
    """The built-in thresholds table (value, unit, description) by name."""
    data = yaml.safe_load((default_rules_dir() / "thresholds.yaml").read_text(encoding="utf-8"))
    table = data.get("thresholds", {}) if isinstance(data, dict) else {}
    return {str(k): dict(v) for k, v in table.items() if isinstance(v, dict)}


def humanize(name: str) -> str:
    """An identifier as words: ``egfr_renal_risk`` -> ``eGFR renal risk``."""
    words = glossary()["words"]
    return " ".join(str(words.get(w, w)) for w in name.split("_") if w)


def status_word(field: str, value: object, *, brief: bool = False) -> str:
    """A status value in words (``non_responder`` -> ``non-responder``); ``—`` for ``None``."""
    if value is None:
        return "—"
    table = glossary()["brief" if brief else "status"].get(field) or glossary()["status"].get(field, {})
    text = str(value)
    return str(table.get(text, text.replace("_", " ")))


def screen_item(path: str) -> str:
    """What to record for a ``status.missing_screen`` path."""
    return str(glossary()["screen"].get(path, path))


def level_word(level: str) -> str:
    """An eligibility level as a group heading (``eligible_with_precautions`` -> ``precautions``)."""
    return str(glossary()["levels"].get(level, status_word("eligibility", level)))


def fact_label(key: str) -> tuple[str, str]:
    """``(label, unit)`` of a fact field (``patient.egfr_ml_min`` -> ``("eGFR", "mL/min/1.73 m²")``)."""
    known = glossary()["facts"].get(key)
    if known is not None:
        return str(known["label"]), str(known.get("unit", ""))
    return humanize(key.split(".", 1)[-1].removeprefix("rf_")), ""


def _choices(key: str) -> tuple[str, ...] | None:
    fact_type, _, field = key.rpartition(".")
    spec = CATALOG.get(fact_type or "patient", {}).get(field)
    return spec.choices if spec is not None else None


def value_text(key: str, value: object) -> str:
    """A fact value with its clinical name and unit: ``eGFR 45 mL/min/1.73 m²``, ``diabetes: no``."""
    label, unit = fact_label(key)
    if isinstance(value, bool) or value is None:
        return f"{label}: {format_value(value, 'display', none='not recorded')}"
    if isinstance(value, str) and _choices(key):
        value = value.replace("_", " ")  # a vocabulary word, not free text
    text = format_value(value, "display")
    if not unit:
        return f"{label} {text}"
    return f"{label} {text}{'' if unit.startswith('%') else ' '}{unit}"


def threshold_unit(name: str) -> str:
    """The unit of a built-in threshold (empty for a plugin's)."""
    return str(threshold_table().get(name, {}).get("unit", ""))


def threshold_text(name: str, value: object) -> str:
    """A threshold in words: ``renal risk below eGFR 60 mL/min/1.73 m²``."""
    label = str(glossary()["thresholds"].get(name) or humanize(name))
    unit = threshold_unit(name)
    text = format_value(value, "display")
    if not unit:
        return f"{label} {text}"
    return f"{label} {text}{'' if unit.startswith('%') else ' '}{unit}"


def precaution(finding: Finding, table: Mapping[str, str] | None = None) -> str:
    """What a rule asks first, in a few words, from ``table`` (default: the glossary's precautions).

    ``{fact.field}`` in the phrase is filled from the finding's values; a rule the table does not
    name is named by its title.
    """
    template = (glossary()["precautions"] if table is None else table).get(finding.rule_id)
    if template is None:
        title = finding.title
        return format_value(title if title[1:2].isupper() else title[:1].lower() + title[1:], "display")

    def fill(m: re.Match[str]) -> str:
        return format_value(finding.facts.get(m.group(1)), "display", spec=m.group(2) or "", none="?")

    return _TEMPLATE.sub(fill, str(template))


# ---------------------------------------------------------------- the reference document


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|")


def reference_markdown() -> str:
    """``docs/reference.md``: every fact field a rule may test, and the IVIG product table."""
    out = [
        "# Reference: the fact catalog and the product table",
        "",
        "<!-- Generated from ivig_cds.facts.catalog.CATALOG, src/ivig_cds/glossary.yaml and",
        "     rules/terminology.yaml by `python scripts/gen_reference.py`; tests/test_reference_doc.py",
        "     fails when it drifts. Do not edit by hand. -->",
        "",
        "## Fact catalog",
        "",
        "The fields a rule's `where:` may test, by fact type. `source` is the patient-file input a",
        "data-gap finding (`DATA-001`) names when the value is missing; `shown as` is the name the",
        "console and the Markdown report use (the JSON output keeps `type.field`). Plugins add fields",
        "with `FactDeriver` (`docs/plugins.md`).",
        "",
    ]
    for fact_type, fields in CATALOG.items():
        out += [
            f"### `{fact_type}`",
            "",
            "| field | type | source | meaning | shown as |",
            "|---|---|---|---|---|",
        ]
        for name, spec in fields.items():
            label, unit = fact_label(f"{fact_type}.{name}")
            kind = spec.type + (f" ({', '.join(spec.choices)})" if spec.choices else "")
            shown = label + (f" ({unit})" if unit else "")
            cells = (f"`{name}`", _cell(kind), f"`{_cell(spec.source)}`", _cell(spec.description), _cell(shown))
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    table = load_product_table()
    out += [
        "## IVIG products",
        "",
        f"`rules/terminology.yaml`, products version {table.version}. A free-text product name is",
        "recognised when one entry's names occur in it as whole words, case- and punctuation-",
        "insensitive; an unrecognised name is *unknown* (every check needing its stabiliser or",
        "concentration reports a data gap). `verified`: checked against the label.",
        "",
        "| product | recognised names | stabilisers | concentrations | route | verified |",
        "|---|---|---|---|---|---|",
    ]
    for p in table.products:
        names = ", ".join(" ".join(words) for words in p.match)
        conc = ", ".join(f"{format_value(c, 'display')}%" for c in p.concentrations_pct) or "variable"
        out.append(
            f"| {_cell(p.name)} | {_cell(names)} | {', '.join(p.stabilizers)} | {conc} | {p.route} |"
            f" {'yes' if p.verified else 'no'} |"
        )
    return "\n".join(out) + "\n"
