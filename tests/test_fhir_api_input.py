"""The public FHIR functions take what their signatures say (an ISO ``as_of``, any junk) without a traceback."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from fhir_helpers import base, patient, polymyositis, weight
from ivig_cds import Engine, InputError
from ivig_cds.fhir import (
    FhirInputError,
    bundle_from_patient,
    iter_bulk_patients,
    map_bundle,
    map_prefetch,
    map_resources,
    patient_from_bundle,
    patient_from_prefetch,
    patient_from_resources,
    prefetch_gaps,
)


def bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}


def _inputs() -> dict[str, Callable[..., Any]]:
    resources = [*base(), weight(72, "2024-07-01", "w-late")]
    return {
        "resources": lambda **kw: patient_from_resources(resources, **kw),
        "bundle": lambda **kw: patient_from_bundle(bundle(*resources), **kw),
        "prefetch": lambda **kw: patient_from_prefetch(
            {"patient": resources[0], "rest": bundle(*resources[1:])}, **kw
        ),
    }


@pytest.mark.parametrize("kind", ["resources", "bundle", "prefetch"])
def test_as_of_may_be_an_iso_string_as_for_the_engine(kind: str) -> None:
    make = _inputs()[kind]
    by_string, report = make(as_of="2024-06-01")
    by_date, _ = make(as_of=date(2024, 6, 1))
    assert by_string == by_date
    assert by_string.as_of == date(2024, 6, 1) and by_string.demographics.weight_kg == 70  # the later weight cut
    assert report.as_of == "2024-06-01" and report.ignored_after_as_of == {"Observation": 1}


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (datetime(2024, 6, 1, 12, 0), "expected a date without a time of day (YYYY-MM-DD)"),
        ("2024-13-01", "not a valid calendar date (YYYY-MM-DD)"),
        ("01/06/2024", "expected an ISO date string YYYY-MM-DD"),
        ("", "expected an ISO date string YYYY-MM-DD"),
        (20240601, "expected an ISO date string YYYY-MM-DD"),
    ],
)
def test_a_bad_as_of_is_the_engines_error_at_as_of(bad: object, message: str) -> None:
    with pytest.raises(InputError) as engine:
        Engine(backend="reference").evaluate(bundle(*base()), as_of=bad)  # type: ignore[arg-type]
    assert [(e.loc, e.msg) for e in engine.value.errors] == [("as_of", message)]
    for make in _inputs().values():
        with pytest.raises(FhirInputError) as info:
            make(as_of=bad)
        assert [(e.loc, e.msg) for e in info.value.errors] == [("as_of", message)]
    for result in (
        map_resources(base(), as_of=bad),  # type: ignore[arg-type]
        map_bundle(bundle(*base()), as_of=bad),  # type: ignore[arg-type]
        map_prefetch({"all": bundle(*base())}, as_of=bad),  # type: ignore[arg-type]
    ):
        assert result.patient is None and [(e.loc, e.msg) for e in result.errors] == [("as_of", message)]


def test_bulk_takes_an_iso_as_of(tmp_path: Path) -> None:
    path = tmp_path / "all.ndjson"
    path.write_text("\n".join(json.dumps(r) for r in [*base(), weight(72, "2024-07-01", "w2")]) + "\n")
    (result,) = iter_bulk_patients(path, as_of="2024-06-01")
    assert result.patient is not None and result.patient.as_of == date(2024, 6, 1)
    assert result.patient.demographics.weight_kg == 70


NOT_A_PREFETCH = [None, 5, "x", [1, 2], b"{}", 1.5, True]
NOT_RESOURCES = [None, 5, "x", b"[]", {"resourceType": "Patient", "id": "p1"}, 1.5]


@pytest.mark.parametrize("bad", NOT_A_PREFETCH, ids=repr)
def test_map_prefetch_never_raises_for_what_is_not_a_prefetch(bad: object) -> None:
    result = map_prefetch(bad)  # type: ignore[arg-type]
    assert result.patient is None and result.document is None
    assert [(e.loc, e.type) for e in result.errors] == [("prefetch", "fhir_shape")]
    assert result.errors[0].msg.startswith(
        "a CDS Hooks prefetch must be a JSON object (template name: resource), got"
    )
    with pytest.raises(FhirInputError) as info:
        patient_from_prefetch(bad)  # type: ignore[arg-type]
    assert info.value.errors == result.errors


@pytest.mark.parametrize("bad", NOT_RESOURCES, ids=repr)
def test_map_resources_never_raises_for_what_is_not_a_list_of_resources(bad: object) -> None:
    result = map_resources(bad)  # type: ignore[arg-type]
    assert result.patient is None
    kind = "None" if bad is None else type(bad).__name__
    assert [(e.loc, e.msg) for e in result.errors] == [
        (
            "resources",
            f"expected a list of FHIR resources (JSON objects), got {kind}",
        )
    ]
    with pytest.raises(FhirInputError):
        patient_from_resources(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [None, 5, "x", {"resourceType": "MedicationRequest"}], ids=repr)
def test_bad_draft_orders_and_expected_keys_are_errors_in_the_result(bad: object) -> None:
    for result in (
        map_resources(base(), draft_orders=bad),  # type: ignore[arg-type]
        map_bundle(bundle(*base()), draft_orders=bad),  # type: ignore[arg-type]
        map_prefetch({"all": bundle(*base())}, draft_orders=bad),  # type: ignore[arg-type]
    ):
        assert result.patient is None and [e.loc for e in result.errors] == ["draft_orders"]
    if not isinstance(bad, dict):
        result = map_prefetch({"all": bundle(*base())}, expected_keys=bad)  # type: ignore[arg-type]
        assert result.patient is None and [e.loc for e in result.errors] == ["expected_keys"]


def test_prefetch_keys_that_are_not_strings_do_not_break_the_sort() -> None:
    result = map_prefetch({1: None, "all": bundle(*base())})  # type: ignore[dict-item]
    assert result.patient is not None and result.errors == []


@pytest.mark.parametrize("bad", [{}, None, "examples/relapse.json", {"schema_version": 1}], ids=repr)
def test_bundle_from_patient_says_it_needs_a_patient(bad: object) -> None:
    with pytest.raises(TypeError) as info:
        bundle_from_patient(bad)  # type: ignore[arg-type]
    assert str(info.value) == (
        "bundle_from_patient needs a Patient (Patient.model_validate or load_patient makes one from a"
        f" patient file), got {type(bad).__name__}"
    )


@pytest.mark.parametrize("blank", ["", " "], ids=repr)
def test_a_patient_with_an_empty_id_is_one_clear_error(blank: str) -> None:
    resources = [patient(id=blank), *base()[1:]]
    result = map_resources(resources)
    assert result.patient is None and result.report.warnings == []
    assert [(e.loc, e.msg) for e in result.errors] == [
        (
            "resources[0]",
            "the Patient resource has no usable id (empty or blank): no resource can name it as its subject",
        )
    ]
    assert [e.loc for e in map_resources(resources, patient_id=blank).errors] == ["resources[0]"]


@pytest.mark.parametrize(
    ("dates", "message"),
    [
        (
            {"onsetDateTime": "2022"},
            "Condition.onsetDateTime unusable (partial date): a full date (YYYY-MM-DD) is needed",
        ),
        (
            {"onsetDateTime": "2022-05"},
            "Condition.onsetDateTime unusable (partial date): a full date (YYYY-MM-DD) is needed",
        ),
        (
            {"onsetPeriod": {"start": "2022-02-30"}},
            "Condition.onsetPeriod.start unusable (not a date): a full date (YYYY-MM-DD) is needed",
        ),
        (
            {"recordedDate": "1700-01-01"},
            "Condition.recordedDate unusable (out of range): a full date (YYYY-MM-DD) is needed",
        ),
        ({}, "no onset or recorded date"),
    ],
)
def test_a_diagnosis_date_that_is_partial_is_said_to_be(dates: dict[str, Any], message: str) -> None:
    dx = {k: v for k, v in polymyositis().items() if k != "onsetDateTime"}
    result = map_resources([patient(), weight(), {**dx, **dates}])
    assert [(e.loc, e.msg) for e in result.errors] == [("diagnosis.diagnosed_on (Condition/dx)", message)]


DECEASED = "the Patient is recorded as deceased (Patient.deceased[x]): review the record"


@pytest.mark.parametrize(
    ("element", "as_of", "warned"),
    [
        ({"deceasedBoolean": True}, None, True),
        ({"deceasedBoolean": False}, None, False),
        ({"deceasedDateTime": "2023-03-04T10:00:00Z"}, None, True),
        ({"deceasedDateTime": "2023-03-04"}, "2024-01-01", True),
        ({"deceasedDateTime": "2023"}, "2024-01-01", True),  # partial: still recorded as deceased
        ({"deceasedDateTime": "2024-03-04"}, "2024-01-01", False),  # died after as_of: not yet known then
        ({"deceasedDateTime": "2025"}, "2024-01-01", False),  # partial, and all of it after as_of
        ({"deceasedDateTime": "2024-02"}, "2024-01-15", False),
        ({"deceasedDateTime": "2024-01"}, "2024-01-15", True),  # that month: it may have been before as_of
        ({"deceasedDateTime": "2024"}, "2024-06-01", True),
        ({}, None, False),
    ],
)
def test_a_deceased_patient_is_warned(element: dict[str, Any], as_of: str | None, warned: bool) -> None:
    result = map_resources([patient(**element), *base()[1:]], as_of=as_of)
    assert result.patient is not None
    notes = [(w.resource, w.field, w.message) for w in result.report.warnings if w.resource == "Patient/p1"]
    assert notes == ([("Patient/p1", "demographics", DECEASED)] if warned else [])


def test_a_deceased_element_of_another_json_type_is_refused() -> None:
    result = map_resources([patient(deceasedBoolean="true"), *base()[1:]])
    assert (result.errors[0].loc, result.errors[0].msg) == (
        "resources[0] (Patient/p1)",
        "Patient.deceasedBoolean must be true or false (FHIR R4 JSON)",
    )


NOT_NDJSON = "not NDJSON (one resource per line): the file is {what}; give a Bundle as a .json file"


@pytest.mark.parametrize(
    ("text", "what"),
    [
        (json.dumps(bundle(*base()), indent=2), "one JSON Bundle over several lines"),
        ("\n\n" + json.dumps(bundle(*base()), indent=1), "one JSON Bundle over several lines"),
        (json.dumps(base(), indent=2), "one JSON document over several lines"),
        ('{\n  "resourceType": "Bundle",\n  "entry": [\n', "one JSON document over several lines"),  # cut short
    ],
)
def test_a_multi_line_json_file_is_one_clear_bulk_error(tmp_path: Path, text: str, what: str) -> None:
    path = tmp_path / "export.ndjson"
    path.write_text(text, encoding="utf-8")
    results = list(iter_bulk_patients(path))
    assert [(r.source, [(e.loc, e.msg) for e in r.errors]) for r in results] == [
        (str(path), [(str(path), NOT_NDJSON.format(what=what))])
    ]


def test_ndjson_with_a_junk_first_line_still_reads_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "export.ndjson"
    path.write_text("{not json\n" + "\n".join(json.dumps(r) for r in base()) + "\n", encoding="utf-8")
    results = list(iter_bulk_patients(path))
    assert [e.msg for r in results for e in r.errors] == ["not valid JSON (a truncated or broken NDJSON line)"]
    assert [r.patient.patient_id for r in results if r.patient is not None] == ["p1"]


def test_prefetch_gaps_says_what_it_needs() -> None:
    with pytest.raises(TypeError, match="prefetch must be a mapping"):
        prefetch_gaps(None, ["patient"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="keys must be a list of template names"):
        prefetch_gaps({}, "patient")
    assert prefetch_gaps({"patient": None}, ["patient", "conditions"]) == ["conditions"]


def test_the_mapping_may_be_a_path_and_anything_else_is_said_plainly(tmp_path: Path) -> None:
    from ivig_cds.errors import RuleFileError
    from ivig_cds.fhir import load_mapping

    table = Path(load_mapping().source)  # the built-in table's file (a wheel install has its own copy)
    result = map_resources(base(), mapping=str(table))
    assert result.patient is not None and result.report.mapping_version == load_default_version()
    with pytest.raises(RuleFileError, match="cannot read the file"):
        map_resources(base(), mapping=tmp_path / "absent.yaml")
    with pytest.raises(TypeError, match="mapping must be a FhirMapping"):
        map_resources(base(), mapping=5)  # type: ignore[arg-type]


def load_default_version() -> str:
    from ivig_cds.fhir import load_mapping

    return load_mapping().version
