"""The IG invariants the service's responses are checked against: their source, and that the checks can fail."""

from __future__ import annotations

import re
from typing import Any

import pytest
from stack import skip_without_stack

skip_without_stack()

from invariants import DATA, INVARIANTS, RESPONSE_KEYS, check_cards_response, failures, json_rule_failures  # noqa: E402

CARD: dict[str, Any] = {
    "uuid": "0b0e6a52-6a6f-4c57-9a3c-3c6f3b0a4f10",
    "summary": "A summary",
    "indicator": "info",
    "source": {"label": "ivig-cds"},
}


def test_the_expressions_come_from_the_ig_at_a_named_commit() -> None:
    source = DATA["source"]
    assert source["repository"] == "HL7/cds-hooks" and source["path"] == "input/fsh/invariants/"
    assert re.fullmatch(r"[0-9a-f]{40}", source["commit"])
    assert [f"cds-resp-{i}" for i in range(1, 8)] == RESPONSE_KEYS
    for inv in INVARIANTS:
        assert inv["file"] == f"input/fsh/invariants/{inv['key']}.fsh" and inv["expression"]


BROKEN = {
    "cds-resp-1": {**CARD, "selectionBehavior": "at-most-one", "suggestions": [
        {"label": "a", "isRecommended": True, "actions": [{"type": "create", "description": "a"}]},
        {"label": "b", "isRecommended": True, "actions": [{"type": "create", "description": "b"}]}]},
    "cds-resp-2": {**CARD, "selectionBehavior": "any", "suggestions": [
        {"label": "a", "actions": [{"type": "delete", "description": "d", "resource": {"resourceType": "X"}}]}]},
    "cds-resp-3": {**CARD, "links": [
        {"label": "l", "url": "https://x.test", "type": "absolute", "appContext": "c"}]},
    "cds-resp-4": {**CARD, "overrideReasons": [{"system": "s", "code": "c"}]},
    "cds-resp-5": {**CARD, "selectionBehavior": "any", "suggestions": [
        {"label": "a", "actions": [{"type": "create"}]}]},
    "cds-resp-6": {**CARD, "suggestions": [{"label": "a", "actions": [{"type": "create", "description": "d"}]}]},
    "cds-resp-7": {**CARD, "selectionBehavior": "any", "suggestions": [
        {"label": "a", "actionSelectionBehavior": "some", "actions": [{"type": "create", "description": "d"}]}]},
}  # fmt: skip


@pytest.mark.parametrize("key", RESPONSE_KEYS)
def test_each_invariant_catches_a_card_that_breaks_it(key: str) -> None:
    found = failures({"cards": [BROKEN[key]]}, "cds-resp-")
    assert [f.split(" ")[0] for f in found] == [key]
    with pytest.raises(AssertionError, match=key):
        check_cards_response({"cards": [BROKEN[key]]})


def test_a_card_keeping_them_all_passes() -> None:
    check_cards_response({"cards": []})
    check_cards_response({"cards": [{**CARD, "overrideReasons": [{"code": "c", "display": "C"}]}]})


def test_the_json_rules_refuse_null_and_empty_values() -> None:
    assert json_rule_failures({"cards": []}) == []
    assert json_rule_failures({"cards": [{**CARD, "detail": ""}]}) == ["cards[0].detail is null or empty"]
    assert json_rule_failures({"cards": [{**CARD, "links": []}]}) == ["cards[0].links is null or empty"]
    assert json_rule_failures({"cards": [{**CARD, "source": {"label": "x", "topic": {}}}]})
    assert json_rule_failures({"cards": [{**CARD, "uuid": None}]})
    with pytest.raises(AssertionError, match="under 140"):
        check_cards_response({"cards": [{**CARD, "summary": "x" * 140}]})
