"""The data-gap panel groups each missing field by where it is recorded."""

from __future__ import annotations

import pytest

from ivig_cds.console.findings import _group


@pytest.mark.parametrize(
    ("path", "grouped"),
    [
        ("risk_factors.sepsis", ("risk_factors", "sepsis")),
        ("labs[iga_mg_dl]", ("labs", "iga_mg_dl")),
        ("assessments[].dysphagia", ("assessments", "dysphagia")),
        ("ivig_courses[].adverse_events[].type", ("ivig_courses", "adverse_events[].type")),
        ("ivig_discontinued_on", ("ivig_discontinued_on", "")),
    ],
)
def test_a_source_path_is_grouped_by_its_field(path: str, grouped: tuple[str, str]) -> None:
    assert _group(path) == grouped
