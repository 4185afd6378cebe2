"""The one value formatter: four styles, control characters made visible, rule text typeset."""

from __future__ import annotations

import pytest

from ivig_cds.model.format import clean, format_value, plural, printable, typeset


@pytest.mark.parametrize(
    ("value", "message", "display", "raw", "markdown"),
    [
        (None, "not recorded", "—", "null", "not recorded"),
        (True, "yes", "yes", "true", "yes"),
        (2.0, "2", "2", "2", "2"),
        (16.985626283367555, "16.99", "16.99", "16.985626283367555", "16.985626283367555"),
        (-0.001, "0", "0", "-0.001", "-0.001"),
        (7, "7", "7", "7", "7"),
        ("inadequate_response", "inadequate_response", "inadequate_response", "inadequate_response",
         "inadequate\\_response"),
        ("a|b <i>", "a|b <i>", "a|b <i>", "a|b <i>", "a\\|b &lt;i&gt;"),
        ([1, "x"], "[1, 'x']", "1, x", '[1, "x"]', '\\[1, "x"\\]'),
    ],
)  # fmt: skip
def test_the_four_styles(value: object, message: str, display: str, raw: str, markdown: str) -> None:
    assert format_value(value, "message") == message
    assert format_value(value, "display") == display
    assert format_value(value, "raw") == raw
    assert format_value(value, "markdown") == markdown


def test_a_spec_and_decimals_and_none() -> None:
    assert format_value(16.98, "message", spec=".1f") == "17.0"
    assert format_value(1.25, "message", decimals=1) == "1.2"
    assert format_value(None, "display", none="?") == "?"
    assert format_value("", "markdown") == "(empty)"


def test_control_characters_are_shown_never_sent() -> None:
    nasty = "id\x1b]0;owned\x07\x1b[2J\u202eevil\n"
    assert printable(nasty) == "id\\x1b]0;owned\\x07\\x1b[2J\\u202eevil\\x0a"
    assert format_value(nasty, "display") == printable(nasty)
    assert format_value(nasty, "message") == nasty  # messages are data: the JSON keeps them exact
    assert "\x1b" not in format_value(nasty, "markdown") and "\x1b" not in format_value(nasty, "raw")
    assert clean({"a\x07": ["b\x1b", ("c\x00",)]}) == {"a\\x07": ["b\\x1b", ("c\\x00",)]}


def test_rule_text_is_typeset_for_reading_but_dates_and_ids_are_not() -> None:
    assert typeset("minimal >= 20, <= 7.5, 30.5 -> 3.2 x ULN, +/- LDH, 5-10 days") == (
        "minimal ≥ 20, ≤ 7.5, 30.5 → 3.2 × ULN, ± LDH, 5–10 days"
    )
    assert typeset("on 2024-05-10 (SAFETY-011, DX-007B)") == "on 2024-05-10 (SAFETY-011, DX-007B)"


def test_plural() -> None:
    assert (plural(1, "record"), plural(2, "record"), plural(2, "advisory", "advisories")) == (
        "1 record", "2 records", "2 advisories"
    )  # fmt: skip
