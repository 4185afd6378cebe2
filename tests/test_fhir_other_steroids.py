"""Systemic glucocorticoids that are no patient-file agent (triamcinolone, betamethasone, cortisone, ...):
a record of one is a steroid whose dose the file cannot hold - incomplete, never "not recognised"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fhir_helpers import RXNORM, SUBJECT, base, dosage, ivig_admin, med_request, qty, warnings_of
from ivig_cds.fhir import load_mapping, patient_from_resources

AS_OF = "2021-01-01"
ATC = "http://www.whocc.no/atc"


def _named(resource: dict[str, Any], text: str) -> dict[str, Any]:
    resource["medicationCodeableConcept"] = {"text": text}
    return resource


def _kenalog() -> dict[str, Any]:
    admin = ivig_admin("k1", "2020-06-01", qty(40, "mg"))
    return _named(admin, "Kenalog-40 injection")


@pytest.mark.parametrize(
    ("resource", "ref"),
    [
        (_kenalog(), "MedicationAdministration/k1"),
        (med_request("b1", "1514", dosage(qty(3, "mg"), "2020-01-01")), "MedicationRequest/b1"),
        (med_request("t1", "H02AB08", dosage(qty(8, "mg"), "2020-01-01"), system=ATC), "MedicationRequest/t1"),
        (
            _named(med_request("c1", "x", dosage(qty(25, "mg"), "2020-01-01")), "cortisone acetate 25 mg tablet"),
            "MedicationRequest/c1",
        ),
        ({**_kenalog(), "status": "on-hold"}, "MedicationAdministration/k1"),
        ({**_kenalog(), "status": "given"}, "MedicationAdministration/k1"),  # not an R4 status
    ],
)
def test_a_steroid_the_file_has_no_agent_for_makes_the_doses_incomplete(
    resource: dict[str, Any], ref: str
) -> None:
    """A depot triamcinolone injection in the middle of a prednisone taper: the file would show the taper
    alone - a steroid given, unseen by the taper and relapse rules."""
    order = med_request("pr", "8640", dosage(qty(20, "mg"), "2020-01-01"))
    p, report = patient_from_resources([*base(), order, resource], as_of=AS_OF)
    assert report.incomplete.get("glucocorticoid_doses") == [ref]
    assert [t.agent.value for t in p.therapies] == ["prednisone"]  # no therapy of its own: no such agent
    said = warnings_of(report, ref)
    if resource.get("status") != "given":
        assert any("systemic glucocorticoid that is no patient-file agent" in w for w in said), said
    assert not any("not recognised" in w for w in said), said


def test_a_cream_of_one_is_local_and_a_mix_of_two_steroids_is_said() -> None:
    cream = _named(med_request("bc", "x", dosage(qty(1, "g"), "2020-01-01")), "betamethasone 0.1% cream")
    _, report = patient_from_resources([*base(), cream], as_of=AS_OF)
    assert report.incomplete == {}
    assert any("betamethasone acting locally" in w for w in warnings_of(report, "MedicationRequest/bc"))
    mix = _named(med_request("mx", "x", dosage(qty(5, "mg"), "2020-01-01")), "prednisone and triamcinolone")
    _, report = patient_from_resources([*base(), mix], as_of=AS_OF)
    said = warnings_of(report, "MedicationRequest/mx")
    assert any("names several agents (prednisone, triamcinolone)" in w for w in said), said


def test_hydrocortisone_is_still_hydrocortisone_and_each_listed_code_is_recognised() -> None:
    order = _named(med_request("h1", "x", dosage(qty(20, "mg"), "2020-01-01")), "hydrocortisone 10 mg tablet")
    p, report = patient_from_resources([*base(), order], as_of=AS_OF)
    assert [(str(d.date), d.prednisone_mg_per_day) for d in p.glucocorticoid_doses] == [("2020-01-01", 5.0)]
    m = load_mapping()
    assert sorted(m.other_glucocorticoids) == sorted(
        [
            "triamcinolone",
            "betamethasone",
            "cortisone",
            "paramethasone",
            "fluocortolone",
            "meprednisone",
            "prednylidene",
            "cloprednol",
            "cortivazol",
            "vamorolone",
        ]
    )
    rxnorm = m.systems["rxnorm"]
    assert rxnorm == RXNORM
    for name, codes in m.other_glucocorticoids.items():
        assert set(m.other_glucocorticoids) & set(m.agents) == set()
        code = codes.first(rxnorm).code
        _, report = patient_from_resources(
            [*base(), med_request("o", code, dosage(qty(1, "mg"), "2020-01-01"))], as_of=AS_OF
        )
        assert report.incomplete == {"glucocorticoid_doses": ["MedicationRequest/o"]}, name


def test_a_site_table_without_the_section_recognises_none(tmp_path: Path) -> None:
    text = Path(load_mapping().source).read_text(encoding="utf-8")
    start = text.index("other_glucocorticoids:")
    end = text.index("\n# Procedures that are therapies")
    site = tmp_path / "site.yaml"
    site.write_text(text[:start] + text[end:], encoding="utf-8")
    m = load_mapping(site)
    assert m.other_glucocorticoids == {}
    _, report = patient_from_resources([*base(), _kenalog()], as_of=AS_OF, mapping=m)
    assert any("not recognised" in w for w in warnings_of(report, "MedicationAdministration/k1"))
    assert SUBJECT  # (the helpers' subject: every resource is the patient's)
