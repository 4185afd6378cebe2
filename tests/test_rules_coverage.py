"""Guard: every core rule id is exercised by the rule tests (style rule 9: fires and does not fire)."""

from __future__ import annotations

import re
from pathlib import Path

from ivig_cds import Engine

TESTS = Path(__file__).resolve().parent


def test_every_core_rule_is_named_in_a_rule_test() -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in sorted(TESTS.glob("test_rules_*.py")))
    core = sorted(rid for rid, rule in Engine().rules.items() if rule.origin == "core")
    assert core
    untested = [rid for rid in core if not re.search(rf'"{re.escape(rid)}"', text)]
    assert not untested, f"rules without tests: {untested}"
