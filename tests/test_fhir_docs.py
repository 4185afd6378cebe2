"""docs/fhir.md stays true: its code tables are the mapping table's, and its example does what it says."""

from __future__ import annotations

from pathlib import Path

from ivig_cds import Engine
from ivig_cds.fhir import FhirMapping, load_mapping, patient_from_bundle
from ivig_cds.inputs.fhir.mapping import CodeSet

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "fhir.md").read_text(encoding="utf-8")
EXAMPLE = ROOT / "examples" / "fhir" / "polymyositis-bundle.json"


def code_tables(m: FhirMapping) -> str:
    """The markdown of the code and unit tables, as docs/fhir.md shows them."""
    alias = {v: k for k, v in m.systems.items()}

    def fmt(cs: CodeSet) -> str:
        return ", ".join(
            f"{alias[c.system]} `{c.code}{'*' if c.prefix else ''}`" + ("" if c.verified else " (unverified)")
            for c in cs.codes
        )

    rows = ["| patient file | codes (system `code`; `*` = prefix match) |", "|---|---|"]
    rows += [f"| `diagnosis.condition` `{k}` | {fmt(cs)} |" for k, cs in m.diagnoses.items()]
    rows += [f"| `therapies[].agent` `{k}` | {fmt(cs)} |" for k, cs in m.agents.items()]
    rows += [f"| `therapies[].agent` `{k}` (Procedure) | {fmt(cs)} |" for k, cs in m.procedures.items()]
    rows.append(
        f"| IVIG (courses, order, discontinuation) | {fmt(m.ivig)}, or a name the product table recognises |"
    )
    rows += [f"| IVIG `dosage.route` `{k}` | {fmt(cs)} |" for k, cs in m.routes.items()]
    rows += [
        f"| local `dosage.route` `{k}` (an agent by it is not read) | {fmt(cs)} |"
        for k, cs in m.local_routes.items()
    ]
    rows += [f"| Observation `{k}` | {fmt(cs)} |" for k, cs in m.observations.items()]
    rows += [f"| `labs[].test` `{k}` | {fmt(cs)} |" for k, cs in m.labs.items()]
    rows += [
        f"| `risk_factors.{k}`{' (active Condition only)' if s.current else ''} | {fmt(s.conditions)} |"
        for k, s in m.risk_factors.items()
        if s.conditions.codes
    ]
    rows.append(f"| pregnancy status value: pregnant | {fmt(m.pregnancy_positive)} |")
    rows.append(f"| pregnancy status value: not pregnant | {fmt(m.pregnancy_negative)} |")
    rows.append(f"| IVIG allergy reaction: anaphylaxis | {fmt(m.anaphylaxis)} (or reaction severity `severe`) |")
    rows += ["", "| unit table | UCUM codes accepted (the first is the field's unit) |", "|---|---|"]
    for k, u in m.units.items():
        parts = []
        for code, (how, n) in u.factors.items():
            suffix = f" ×{n:g}" if how == "factor" and n != 1 else (f" ÷{n:g}" if how == "divisor" else "")
            parts.append(f"`{code}`{suffix}")
        rows.append(f"| `{k}` | " + ", ".join(parts) + " |")
    counts = ", ".join(f"`{c}`" for c in sorted(m.count_units))
    rows.append(f"| dose units multiplied by the ingredient strength | {counts} |")
    return "\n".join(rows)


def test_the_code_tables_in_the_docs_are_the_mapping_table() -> None:
    assert code_tables(load_mapping()) in DOC


def test_the_documented_example_evaluates_as_documented() -> None:
    import json

    bundle = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    patient, report = patient_from_bundle(bundle)
    assert report.warnings == []
    doses = [(str(g.date), g.prednisone_mg_per_day, g.source) for g in patient.glucocorticoid_doses]
    assert doses == [
        ("2021-02-01", 60, "MedicationRequest/pred"),
        ("2021-06-01", 20, "MedicationRequest/pred"),
        ("2023-01-01", 15, "MedicationRequest/pred"),
    ]
    assert (patient.diagnosis.condition.value, patient.diagnosis.classification.value) == (
        "polymyositis",
        "definite",
    )
    assert len(patient.ivig_courses) == 3 and patient.ivig_order is not None
    status = Engine().evaluate(bundle).status
    assert (status.refractory, status.eligibility, status.response, status.response_level, status.outcome) == (
        True,
        "eligible",
        "responder",
        "major",
        "on_treatment",
    )


def test_the_docs_name_every_fhir_command_and_file() -> None:
    for text in (
        "ivig-cds fhir map",
        "ivig-cds fhir export",
        "--mapping",
        "--strict-fhir",
        "examples/fhir/polymyositis-bundle.json",
        "rules/fhir/CodeSystem-ivig-cds.json",
        "python tests/fhir_data.py",
        "python bench/fhir.py",
    ):
        assert text in DOC, text


def test_the_public_fhir_api_is_the_documented_surface() -> None:
    import ivig_cds.fhir as public
    import ivig_cds.inputs.fhir as package

    assert public.__all__ == sorted(public.__all__) == package.__all__
    for name in public.__all__:
        assert getattr(public, name) is getattr(package, name)
    for name in (
        "patient_from_resources",
        "patient_from_bundle",
        "patient_from_prefetch",
        "prefetch_gaps",
        "iter_bulk_patients",
        "bundle_from_patient",
        "load_mapping",
        "MappingReport",
    ):
        assert f"`{name}" in DOC, name


def test_the_minimal_bundle_in_the_docs_is_complete() -> None:
    import json

    block = DOC.split("<!-- bundle:start -->", 1)[1].split("<!-- bundle:end -->", 1)[0]
    bundle = json.loads(block.strip().removeprefix("```json").removesuffix("```"))
    evaluation = Engine().evaluate(bundle)
    assert evaluation.mapping is not None and evaluation.mapping["warnings"] == []
    assert (evaluation.status.refractory, evaluation.status.eligibility) == (True, "eligible")
