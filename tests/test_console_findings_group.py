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


def test_a_source_naming_several_fields_is_grouped_by_each() -> None:
    from rich.console import Console

    from fhir_helpers import base
    from ivig_cds import Engine
    from ivig_cds.console.findings import gap_panel
    from ivig_cds.fhir import patient_from_resources

    patient, _ = patient_from_resources(base(), as_of="2020-06-01")  # no height: the ideal weight is unknown
    evaluation = Engine().evaluate(patient)
    console = Console(width=100, record=True)
    console.print(gap_panel(evaluation.data_gaps, 100))
    text = console.export_text()
    assert "demographics: height_cm, sex" in text and "demographics.sex" not in text
