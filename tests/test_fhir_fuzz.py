"""Malformed FHIR JSON anywhere in a resource: a mapping warning or an error naming the resource, never a crash.

Each case takes a real export (the examples and part of the seed cohort), replaces one to three elements at
any depth with a value of another JSON type (or deletes them), and maps it through the three entry points a
user meets (a Bundle, a CDS Hooks prefetch with a draft order, the Engine). The mutations are seeded, so a
failure is reproducible from its test id.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from fhir_helpers import (
    ATC,
    LOCAL,
    LOINC,
    RXNORM,
    SUBJECT,
    base,
    dosage,
    ivig_admin,
    med_request,
    obs,
    patient,
    qty,
    warnings_of,
    weight,
)
from ivig_cds import Engine
from ivig_cds.fhir import bundle_from_patient, iter_bulk_patients, map_bundle, map_prefetch, map_resources
from ivig_cds.inputs.fhir.index import check_shape
from ivig_cds.inputs.files import load_patient

REPO = Path(__file__).resolve().parents[1]
SOURCES = (
    sorted((REPO / "examples").glob("*.json"))
    + sorted((REPO / "examples" / "seed_cohort" / "patients").glob("*.json"))[::5]
)
AS_OF = date(2026, 12, 1)
# Values of every JSON type, and a few shapes that look almost right.
VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -3,
    2.5,
    1e300,
    -1e308,
    10**400,  # a JSON integer no float holds
    5e-324,
    "9999-12-31",
    "",
    "x",
    "2020-01-01",
    [],
    [1],
    ["a"],
    {},
    {"a": 1},
    [{}],
    {"coding": "x"},
    {"value": "5"},
]


def _paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if path:
        yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, (*path, i))


def _mutate(resources: list[dict[str, Any]], rng: random.Random) -> list[dict[str, Any]]:
    out = copy.deepcopy(resources)
    for _ in range(rng.randint(1, 3)):
        res = rng.choice(out)
        paths = [p for p in _paths(res) if p[0] not in ("resourceType", "id")]
        if not paths:
            continue
        path = rng.choice(paths)
        parent: Any = res
        for part in path[:-1]:
            parent = parent[part]
        if isinstance(parent, dict) and rng.random() < 0.15:
            del parent[path[-1]]
        else:
            parent[path[-1]] = copy.deepcopy(rng.choice(VALUES))
    return out


def _exports() -> list[tuple[str, list[dict[str, Any]]]]:
    out = []
    for path in SOURCES:
        bundle = bundle_from_patient(load_patient(path))
        out.append((path.stem, [e["resource"] for e in bundle["entry"]]))
    return out


EXPORTS = _exports()
CASES = [(name, seed) for name, _ in EXPORTS for seed in range(12)]


def _ivig_request(rid: str, status: str) -> dict[str, Any]:
    request = med_request(rid, "unused", dosage(qty(1, "g/kg"), "2020-06-01", "2020-06-02"), status=status)
    request["medicationCodeableConcept"] = {"text": "Octagam 10%"}
    return request


def _check(result: Any) -> None:
    assert (result.patient is None) == bool(result.errors)
    for error in result.errors:
        assert error.loc and error.msg and error.type
    report = result.report.to_dict()  # the report always serialises
    assert set(report) >= {"warnings", "resources_read"}


@pytest.mark.parametrize(("name", "seed"), CASES, ids=[f"{n}-{s}" for n, s in CASES])
def test_malformed_elements_never_crash_the_adapter(name: str, seed: int) -> None:
    resources = dict(EXPORTS)[name]
    rng = random.Random(f"{name}-{seed}")
    mutated = _mutate(resources, rng)
    _check(
        map_bundle({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in mutated]})
    )
    _check(map_resources(mutated, as_of=AS_OF))
    draft = _mutate([_ivig_request("d1", "draft")], rng)
    prefetch = {
        "patient": mutated[0],
        "everything": {"resourceType": "Bundle", "entry": [{"resource": r} for r in mutated[1:]]},
    }
    _check(map_prefetch(prefetch, as_of=AS_OF, draft_orders=draft))


def test_a_mutated_bundle_evaluates_or_is_refused_by_the_engine() -> None:
    engine = Engine()
    rng = random.Random(7)
    outcomes = {"evaluated": 0, "refused": 0}
    for name, resources in EXPORTS[:8]:
        for _ in range(4):
            bundle = {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [{"resource": r} for r in _mutate(resources, rng)],
            }
            result = map_bundle(bundle, as_of=AS_OF)
            if result.patient is None:
                outcomes["refused"] += 1
                continue
            evaluation = engine.evaluate(result.patient)
            assert evaluation.status is not None, name
            outcomes["evaluated"] += 1
    assert outcomes["evaluated"] and outcomes["refused"]  # both paths were exercised


@pytest.mark.parametrize(
    ("element", "value", "message"),
    [
        ("status", ["final"], "Observation.status must be a string"),
        ("referenceRange", True, "Observation.referenceRange must be an array"),
        ("valueQuantity", [70], "Observation.valueQuantity must be an object"),
        ("subject", "Patient/p1", "Observation.subject must be an object"),
        ("valueBoolean", "true", "Observation.valueBoolean must be true or false"),
        ("component", 2.5, "Observation.component must be an array"),
    ],
)
def test_a_top_level_element_of_the_wrong_json_type_is_an_error_naming_it(
    element: str, value: Any, message: str
) -> None:
    bad = weight()
    bad[element] = value
    result = map_resources([patient(), *base()[1:], bad])
    assert result.patient is None
    hits = [e for e in result.errors if message in e.msg]
    assert hits and "Observation/w1" in hits[0].loc


def test_patient_gender_of_the_wrong_type_is_an_error_not_unknown_sex() -> None:
    result = map_resources([patient(gender=["female"]), *base()[1:]])
    assert result.patient is None
    assert any("Patient.gender must be a string" in e.msg for e in result.errors)


def test_a_dosage_timing_that_is_not_an_object_is_not_read_as_a_bound() -> None:
    request = _ivig_request("r1", "stopped")
    request["dosageInstruction"][0]["timing"] = [{"repeat": {"boundsPeriod": {"end": "2021-01-01"}}}]
    result = map_resources([*base(), request])
    assert result.patient is not None
    assert "ivig_discontinued_on" not in (result.document or {})
    assert any(
        w.field == "ivig_discontinued_on" and "without an end date" in w.message for w in result.report.warnings
    )


def test_a_mutated_bulk_export_gives_a_result_per_patient_or_an_error(tmp_path: Path) -> None:
    rng = random.Random(11)
    lines: dict[str, list[str]] = {}
    for _, resources in EXPORTS[:4]:
        for resource in _mutate(resources, rng):
            lines.setdefault(str(resource["resourceType"]), []).append(json.dumps(resource))
    odd = {"resourceType": ["Observation"], "id": "o1", "subject": {"reference": "Patient/nobody"}}
    lines["Observation"].append(json.dumps(odd))  # not a resource type, and nobody's
    for kind, text in lines.items():
        (tmp_path / f"{kind}.ndjson").write_text("\n".join(text) + "\n")
    results = list(iter_bulk_patients(tmp_path))
    assert any(r.errors and "a Patient not in the export" in r.errors[0].msg for r in results)
    assert sum(1 for r in results if "Patient.ndjson" in r.source) == 4  # one result per Patient line
    for result in results:
        assert (result.patient is None) == bool(result.errors)


def test_numbers_no_float_holds_are_warned_not_raised() -> None:
    huge = 10**400
    mmt = obs("m1", LOCAL, "mmt8", "2020-02-01", valueInteger=huge)
    ck = obs("c1", LOINC, "2157-6", "2020-02-01", valueQuantity={"value": huge, "unit": "U/L", "code": "U/L"})
    often = med_request("gc", "8640", dosage(qty(5, "mg"), "2020-01-01", frequency=huge))
    result = map_resources([*base(), mmt, ck, often])
    assert result.patient is not None
    assert "valueInteger unusable (out of range): not mapped" in warnings_of(result.report, "Observation/m1")
    assert "valueQuantity unusable (no numeric value): not mapped" in warnings_of(result.report, "Observation/c1")
    assert "timing.repeat frequency/period/periodUnit unusable: not mapped" in warnings_of(
        result.report, "MedicationRequest/gc"
    )
    assert result.patient.glucocorticoid_doses == []


def test_a_bounds_duration_past_the_last_readable_date_is_an_open_step() -> None:
    step = dosage(qty(10, "mg"), "2020-01-01")
    step["timing"]["repeat"]["boundsDuration"] = {"value": 10**6, "unit": "wk", "code": "wk"}
    result = map_resources([*base(), med_request("gc", "8640", step)])
    assert result.patient is not None
    assert [(str(g.date), g.prednisone_mg_per_day) for g in result.patient.glucocorticoid_doses] == [
        ("2020-01-01", 10.0)
    ]


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        ({"resourceType": "Medication", "id": "m", "ingredient": [{"item": {}}]}, "R5 element(s) ingredient.item"),
        ({"resourceType": "AllergyIntolerance", "id": "a", "type": {"text": "allergy"}}, "R5 element(s) type"),
        ({"resourceType": "AllergyIntolerance", "id": "a", "type": 3}, "AllergyIntolerance.type must be a string"),
        (
            {"resourceType": "MedicationRequest", "id": "r", "medication": {}, "status": 1},
            "R5 element(s) medication",
        ),
        ({"resourceType": "Observation", "id": 5}, "Observation.id must be a string"),
        ({"resourceType": "Condition", "id": "c", "clinicalStatus": "active"}, None),  # STU3 status strings
        ({"resourceType": "Observation", "id": "o", "valueInteger": 4.0}, "valueInteger must be an integer"),
    ],
)
def test_shape_checks_name_r5_elements_and_wrong_types(resource: dict[str, Any], message: str | None) -> None:
    problem = check_shape(resource, "entry[0]")
    assert (problem is None) if message is None else (problem is not None and message in problem.msg)


def test_a_zero_body_weight_is_not_read_and_never_divides_a_dose() -> None:
    zero = weight(0, "2020-02-01", rid="w0")
    infusions = [ivig_admin("d1", "2020-03-02", qty(70, "g")), ivig_admin("d2", "2020-03-03", qty(70, "g"))]
    result = map_resources([*base(), zero, *infusions])
    assert result.patient is not None
    assert "zero: not a body measurement, not mapped" in warnings_of(result.report, "Observation/w0")
    assert result.patient.demographics.weight_kg == 70  # the earlier, usable weight
    assert [c.dose_g_per_kg_per_day for c in result.patient.ivig_courses] == [1.0]


def test_a_panel_component_of_the_wrong_shape_is_warned_and_skipped() -> None:
    panel = obs("p1", LOINC, "24362-6", "2020-02-01")
    panel["component"] = [
        {
            "code": {"coding": [{"system": LOINC, "code": "2160-0"}]},
            "valueQuantity": qty(1.0, "mg/dL"),
            "referenceRange": 3,
        },
        {"code": {"coding": [{"system": LOINC, "code": "2160-0"}]}, "valueQuantity": qty(1.1, "mg/dL")},
    ]
    result = map_resources([*base(), panel])
    assert result.patient is not None
    assert any("referenceRange must be an array" in m for m in warnings_of(result.report, "Observation/p1"))
    assert [lab.value for lab in result.patient.labs] == [1.1]


# ---------------------------------------------------------------- the adversarial review's cases

IVIG_CONCEPT = {"coding": [{"system": ATC, "code": "J06BA02"}], "text": "Privigen"}


def test_a_procedure_reason_code_that_is_not_an_array_is_an_error_naming_it() -> None:
    procedure = {
        "resourceType": "Procedure",
        "id": "x",
        "status": "completed",
        "subject": SUBJECT,
        "performedDateTime": "2020-01-01",
        "reasonCode": 5,
    }
    result = map_resources([*base(), procedure])
    assert any("Procedure.reasonCode must be an array" in e.msg for e in result.errors)


def test_an_ivig_statement_ends_at_its_dosage_bounds_and_other_elements_are_not_read() -> None:
    stopped = {
        "resourceType": "MedicationStatement",
        "id": "s",
        "status": "stopped",
        "subject": SUBJECT,
        "medicationCodeableConcept": IVIG_CONCEPT,
        "dosage": [{"timing": {"repeat": {"boundsPeriod": {"start": "2020-01-01", "end": "2020-06-30"}}}}],
        "dosageInstruction": 5,  # not an element of MedicationStatement: never read
    }
    result = map_resources([*base(), stopped])
    assert result.patient is not None and str(result.patient.ivig_discontinued_on) == "2020-06-30"


def test_a_draft_that_is_not_a_medication_request_is_not_an_order() -> None:
    draft = {"resourceType": "MedicationStatement", "id": "d", "status": "draft", "dosageInstruction": 5}
    result = map_resources(base(), draft_orders=[draft])
    assert result.patient is not None and result.patient.ivig_order is None
    assert result.report.resources_ignored.get("MedicationStatement") == 1
    malformed = {**_ivig_request("r", "draft"), "dosageInstruction": 5}
    errors = map_resources(base(), draft_orders=[malformed]).errors
    assert any("MedicationRequest.dosageInstruction must be an array" in e.msg for e in errors)


def test_strict_fhir_on_a_bundle_whose_entry_is_not_a_list() -> None:
    pytest.importorskip("fhir.resources", reason="the [fhir] extra (fhir.resources) is not installed")
    from ivig_cds.inputs.fhir.strict import validate_resources

    assert validate_resources({"resourceType": "Bundle", "entry": 5}) == []  # the shape error comes after


def test_many_overlapping_glucocorticoid_statements_are_summed_and_noted_boundedly() -> None:
    statements = [
        {
            "resourceType": "MedicationStatement",
            "id": f"s{i:02d}",
            "status": "active",
            "subject": SUBJECT,
            "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "8640"}]},
            "effectivePeriod": {"start": f"2020-01-{i + 1:02d}"},
            "dosage": [
                {
                    "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
                    "doseAndRate": [{"doseQuantity": qty(1, "mg")}],
                }
            ],
        }
        for i in range(30)
    ]
    result = map_resources([*base(), *statements])
    assert result.patient is not None
    doses = result.patient.glucocorticoid_doses
    assert [d.prednisone_mg_per_day for d in doses] == [float(i + 1) for i in range(30)]
    overlaps = [w for w in result.report.warnings if w.message.startswith("overlaps MedicationStatement/")]
    assert len(overlaps) == 100  # of 435 overlapping pairs: named up to a bound, then one note says so
    assert "more overlapping glucocorticoid doses than the notes name: all are added" in warnings_of(
        result.report, "MedicationStatement/s00"
    )
    few = map_resources([*base(), *statements[:3]])
    assert len([w for w in few.report.warnings if w.message.startswith("overlaps")]) == 3  # every pair


def test_a_dose_step_that_ends_before_it_starts_is_warned_not_read_as_zero() -> None:
    backwards = dosage(qty(10, "mg"), "2023-05-01", "2023-01-01")
    result = map_resources([*base(), med_request("gc", "8640", backwards)])
    assert result.patient is not None and result.patient.glucocorticoid_doses == []
    assert "a dose step ends before it starts: not mapped" in warnings_of(result.report, "MedicationRequest/gc")


def test_text_no_utf8_can_hold_never_reaches_an_output() -> None:
    odd_id = map_bundle({"resourceType": "Bundle", "entry": [{"resource": {**patient(), "id": "p\ud800"}}]})
    assert any("unpaired UTF-16 surrogate" in e.msg and e.loc == "entry[0]" for e in odd_id.errors)
    admin = ivig_admin("a1", "2020-03-02", qty(1, "g/kg"))
    admin["medicationCodeableConcept"]["text"] = "Privigen\ud800"
    result = map_resources([*base(), admin, ivig_admin("a2", "2020-03-03", qty(1, "g/kg"))])
    assert result.patient is not None
    result.patient.model_dump_json()  # every string can be written
    assert all(c.product != "Privigen\ud800" for c in result.patient.ivig_courses)


def test_a_defect_in_one_bulk_patient_does_not_end_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ivig_cds.inputs.fhir import bulk

    lines = {"Patient": [patient(), {**patient(), "id": "p2"}], "Observation": [weight()]}
    for kind, resources in lines.items():
        (tmp_path / f"{kind}.ndjson").write_text("\n".join(json.dumps(r) for r in resources) + "\n")
    real = bulk.map_entries
    calls = []

    def flaky(entries: Any, **kw: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise TypeError("a defect")
        return real(entries, **kw)

    monkeypatch.setattr(bulk, "map_entries", flaky)
    results = list(iter_bulk_patients(tmp_path))
    assert len(results) == 2
    assert results[0].errors[0].type == "internal" and "TypeError" in results[0].errors[0].msg
    assert results[1].report is not None  # the second patient was mapped


@pytest.mark.parametrize(
    ("text", "read"),
    [
        ("2024-02-05", "2024-02-05"),
        ("2004-05-26T21:17:54-04:00", "2004-05-26"),
        ("2024-02-05xyz", "not a date"),
        ("2024-02-05\n", "not a date"),
        ("2024-02-05Tjunk", "not a date"),
        ("2024-02", "partial date"),
    ],
)
def test_a_date_is_a_date_and_nothing_after_it_but_a_time(text: str, read: str) -> None:
    from ivig_cds.inputs.fhir.values import fhir_date

    assert str(fhir_date(text)) == read


def test_an_unusable_bundle_timestamp_is_said_not_silently_no_cut_off() -> None:
    bundle = {
        "resourceType": "Bundle",
        "timestamp": "2024-02-30T00:00:00Z",
        "entry": [{"resource": r} for r in base()],
    }
    result = map_bundle(bundle)
    assert result.report.as_of is None
    assert "Bundle.timestamp unusable (not a date): no as_of cut-off, all dates read" in warnings_of(result.report)


def test_a_dose_no_float_can_multiply_is_named_as_the_dose() -> None:
    huge = med_request("gc", "8640", dosage(qty(1e308, "mg"), "2020-01-01", frequency=10))
    result = map_resources([*base(), huge])
    assert "dose × frequency ÷ period is not a finite number of mg/day: not mapped" in warnings_of(
        result.report, "MedicationRequest/gc"
    )


def test_a_dose_count_ends_its_step_and_a_bounds_range_is_not_silently_open_ended() -> None:
    counted = dosage(qty(10, "mg"), "2023-01-01")
    counted["timing"]["repeat"]["count"] = 3
    result = map_resources([*base(), med_request("gc", "8640", counted)])
    assert result.patient is not None
    assert [(str(d.date), d.prednisone_mg_per_day) for d in result.patient.glucocorticoid_doses] == [
        ("2023-01-01", 10.0),
        ("2023-01-04", 0),
    ]
    ranged = dosage(qty(10, "mg"), "2023-01-01")
    ranged["timing"]["repeat"]["boundsRange"] = {
        "low": {"value": 3, "unit": "d"},
        "high": {"value": 5, "unit": "d"},
    }
    result = map_resources([*base(), med_request("gc", "8640", ranged)])
    assert "timing.repeat.count/boundsRange not read: the step is not mapped" in warnings_of(
        result.report, "MedicationRequest/gc"
    )
    assert result.report.incomplete == {"glucocorticoid_doses": ["MedicationRequest/gc"]}
