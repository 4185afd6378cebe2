"""The mapping table is data: it loads, a site can replace it, a broken one says where, and it agrees with the
local CodeSystem shipped beside it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from fhir_helpers import LOCAL, base, med_request
from ivig_cds import RuleFileError
from ivig_cds.fhir import default_mapping_path, load_mapping, map_resources
from ivig_cds.model.patient import Agent, LabTest, RiskFactors

RULES = Path(__file__).resolve().parents[1] / "rules" / "fhir"


def test_the_default_table_covers_the_patient_file() -> None:
    m = load_mapping()
    assert m.version == "1.6.0"
    # the packaged copy (a wheel's ivig_cds/_rules) or the repository's own file
    assert default_mapping_path().read_bytes() == (RULES / "mapping.yaml").read_bytes()
    assert set(m.labs) == {t.value for t in LabTest}
    assert set(m.risk_factors) == set(RiskFactors.model_fields)
    assert set(m.agents) | set(m.procedures) == {a.value for a in Agent}
    assert m.prednisone_equivalents == {
        "prednisone": 1,
        "prednisolone": 1,
        "methylprednisolone": 1.25,
        "dexamethasone": 6.67,
        "hydrocortisone": 0.25,
        "deflazacort": 0.83,
    }


def test_codes_match_on_system_and_code_and_prefix() -> None:
    m = load_mapping()
    pm = m.diagnoses["polymyositis"]
    icd = "http://hl7.org/fhir/sid/icd-10-cm"
    assert pm.match([(icd, "M33.22")]) is not None
    assert pm.match([(icd, "M33.1")]) is None
    assert pm.match([("http://loinc.org", "31384009")]) is None  # same code, another system
    ck = m.observations["ck"]
    assert ck.match([("urn:oid:2.16.840.1.113883.6.238", "2157-6")]) is None  # a CDC race code, not CK


def test_the_local_codesystem_defines_every_local_code_of_the_table() -> None:
    cs = json.loads((RULES / "CodeSystem-ivig-cds.json").read_text(encoding="utf-8"))
    table = yaml.safe_load((RULES / "mapping.yaml").read_text(encoding="utf-8"))
    assert cs["resourceType"] == "CodeSystem" and cs["url"] == table["systems"]["local"]
    defined = {c["code"] for c in cs["concept"]}
    assert cs["count"] == len(cs["concept"]) == len(defined)

    def local_codes(node: object) -> set[str]:
        if isinstance(node, dict):
            found = {str(node["code"])} if node.get("system") == "local" else set()
            return found.union(*(local_codes(v) for v in node.values()))
        if isinstance(node, list):
            return set().union(*(local_codes(v) for v in node))
        return set()

    used = local_codes(table)
    used |= {
        c
        for kind in ("dysphagia", "classification", "criteria", "adverse_event", "severity")
        for c in table["answers"][kind]
    }
    used |= {"rf-" + k.replace("_", "-") for k in RiskFactors.model_fields} | {"severity"}
    assert used - defined == set()
    assert defined - used == set()


def test_the_codesystem_is_valid_r4b() -> None:
    pytest.importorskip("fhir.resources", reason="the [fhir] extra (fhir.resources) is not installed")
    from fhir.resources.R4B.codesystem import CodeSystem

    cs = json.loads((RULES / "CodeSystem-ivig-cds.json").read_text(encoding="utf-8"))
    assert CodeSystem.model_validate(cs).count == len(cs["concept"])


def _site(tmp_path: Path, edit: str, new: str) -> Path:
    text = (RULES / "mapping.yaml").read_text(encoding="utf-8")
    assert edit in text
    path = tmp_path / "site.yaml"
    path.write_text(text.replace(edit, new, 1), encoding="utf-8")
    return path


def test_a_site_adds_a_local_code(tmp_path: Path) -> None:
    path = _site(
        tmp_path, "  weight: [{system: loinc", "  weight: [{system: local, code: my-weight}, {system: loinc"
    )
    m = load_mapping(path)
    assert m.observations["weight"].match([(m.local_system, "my-weight")]) is not None
    assert m.source == str(path)


@pytest.mark.parametrize(
    ("edit", "new", "message"),
    [
        ("  snomed: http://snomed.info/sct\n", "", "diagnoses.polymyositis[0]: unknown system 'snomed'"),
        ("  prednisone: 1\n", "  prednisone: -1\n", "prednisone_equivalents.prednisone: a positive number"),
        (
            "  weight_kg: {kg: {factor: 1}",
            "  weight_kg: {kg: {times: 1}",
            "units.weight_kg.kg: one of {factor: N}",
        ),
        (
            "diagnosis_precedence: [inclusion_body_myositis, ",
            "diagnosis_precedence: [",
            "diagnosis_precedence: must list every condition",
        ),
        ("  iga_mg_dl: [{system: loinc", "  iga_mg_dI: [{system: loinc", "missing entries: labs.iga_mg_dl"),
        ("  triamcinolone:\n", "  prednisone:\n", "other_glucocorticoids.prednisone: is an agent of 'agents'"),
        ("  paramethasone:\n    codes:", "  paramethasone:\n    kodes:", "other_glucocorticoids.paramethasone"),
    ],
)
def test_a_broken_site_table_names_the_place(tmp_path: Path, edit: str, new: str, message: str) -> None:
    with pytest.raises(RuleFileError) as info:
        load_mapping(_site(tmp_path, edit, new))
    assert message in str(info.value)


def test_a_missing_table_is_a_rule_file_error(tmp_path: Path) -> None:
    with pytest.raises(RuleFileError, match="cannot read the file"):
        load_mapping(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    ("text", "agent"),
    [
        ("Solu-Medrol 1 g injection", "methylprednisolone"),
        ("SoluMedrol 500 mg", "methylprednisolone"),
        ("Depo-Medrol 40 mg/mL", "methylprednisolone"),
        ("Decadron 4 mg tablet", "dexamethasone"),
        ("Solu-Cortef 100 mg", "hydrocortisone"),
        ("Orapred ODT 30 mg", "prednisolone"),
        ("Rayos 5 mg delayed-release tablet", "prednisone"),
        ("Emflaza 36 mg", "deflazacort"),
        ("Trexall 2.5 mg", "methotrexate"),
        ("Imuran 50 mg", "azathioprine"),
        ("CellCept 500 mg", "mycophenolate"),
        ("Myfortic 360 mg", "mycophenolate"),
        ("Cytoxan 50 mg", "cyclophosphamide"),
        ("Neoral 100 mg", "cyclosporine"),
        ("Prograf 1 mg", "tacrolimus"),
        ("Leukeran 2 mg", "chlorambucil"),
        ("Rituxan 1000 mg", "rituximab"),
        ("Truxima 500 mg", "rituximab"),
    ],
)
def test_a_brand_name_alone_names_its_agent(text: str, agent: str) -> None:
    """A medication given only by a brand name (a local code, no RxNorm/ATC code) is its agent, by name."""
    order = med_request("o", "local-17", system=LOCAL)
    order["medicationCodeableConcept"]["text"] = text
    result = map_resources([*base(), order])
    therapies = result.document["therapies"] if result.document else []
    assert [t["agent"] for t in therapies] == [agent], result.errors
    assert any("recognised by name" in c.message for c in result.report.conversions)
