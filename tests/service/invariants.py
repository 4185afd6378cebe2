"""The CDS Hooks IG invariants (FHIRPath, evaluated with fhirpathpy) and the spec's JSON rules, as checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import fhirpathpy

DATA = json.loads((Path(__file__).parent / "data" / "cds-hooks-invariants.json").read_text(encoding="utf-8"))
INVARIANTS: list[dict[str, str]] = DATA["invariants"]
RESPONSE_KEYS = sorted(i["key"] for i in INVARIANTS if i["key"].startswith("cds-resp-"))
checked: list[int] = [0]  # responses checked in this session (a test asserts the checks ran)


def elements(doc: Any, path: str) -> list[Any]:
    """The elements at a dotted path (arrays flattened), the way an invariant's context selects them."""
    found = [doc]
    for part in [p for p in path.split(".") if p]:
        nxt: list[Any] = []
        for item in found:
            value = item.get(part) if isinstance(item, dict) else None
            if isinstance(value, list):
                nxt += value
            elif value is not None:
                nxt.append(value)
        found = nxt
    return found


def failures(doc: Any, prefix: str) -> list[str]:
    """The invariants whose key starts with ``prefix`` that ``doc`` breaks (key and element)."""
    out = []
    for inv in INVARIANTS:
        if not inv["key"].startswith(prefix):
            continue
        for element in elements(doc, inv["context"]):
            if fhirpathpy.evaluate(element, inv["expression"]) != [True]:
                out.append(f"{inv['key']} ({inv['description']}) on {json.dumps(element)[:200]}")
    return out


def json_rule_failures(doc: Any, path: str = "") -> list[str]:
    """The spec's JSON rules: no null, no empty string/array/object (except the top-level ``cards: []``)."""
    out = []
    if doc is None or doc == "" or doc == [] or doc == {}:
        if path != "cards":
            out.append(f"{path or '(document)'} is null or empty")
        return out
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += json_rule_failures(v, f"{path}.{k}" if path else k)
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += json_rule_failures(v, f"{path}[{i}]")
    return out


def check_cards_response(doc: Any) -> None:
    """Assert a card response keeps cds-resp-1 … cds-resp-7, the JSON rules and the card basics."""
    assert isinstance(doc, dict) and isinstance(doc.get("cards"), list), doc
    problems = failures(doc, "cds-resp-") + json_rule_failures(doc)
    for i, card in enumerate(doc["cards"]):
        if not (isinstance(card.get("summary"), str) and len(card["summary"]) < 140):
            problems.append(f"cards[{i}].summary must be a string under 140 characters")
        if card.get("indicator") not in ("info", "warning", "critical"):
            problems.append(f"cards[{i}].indicator {card.get('indicator')!r}")
        if not (isinstance(card.get("source"), dict) and card["source"].get("label")):
            problems.append(f"cards[{i}].source.label is required")
    assert not problems, "\n".join(problems)
    checked[0] += 1
