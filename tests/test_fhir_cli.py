"""The FHIR side of the command line and the engine: no flag for Bundles, a mapping block, map/export, Bulk."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
from rich.console import Console

from fhir_helpers import base, med_request
from ivig_cds import Engine
from ivig_cds.cli import main
from ivig_cds.console.evaluation import render_evaluation
from ivig_cds.fhir import bundle_from_patient
from ivig_cds.inputs.files import load_patient

ROOT = Path(__file__).resolve().parents[1]
RELAPSE = ROOT / "examples" / "relapse.json"


@pytest.fixture
def bundle_file(tmp_path: Path) -> Path:
    path = tmp_path / "relapse-bundle.json"
    path.write_text(json.dumps(bundle_from_patient(load_patient(RELAPSE))), encoding="utf-8")
    return path


def test_evaluate_a_bundle_without_a_flag(bundle_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", str(bundle_file), "--format", "json", "--backend", "reference"]) == 0
    fhir = json.loads(capsys.readouterr().out)
    assert main(["evaluate", str(RELAPSE), "--format", "json", "--backend", "reference"]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert "mapping" not in plain  # patient-file output is unchanged
    assert fhir["mapping"]["patient"] == "Patient/ex-relapse" and fhir["mapping"]["warnings"] == []
    assert fhir["status"] == plain["status"]


def test_patient_file_json_is_byte_identical_to_before(capsys: pytest.CaptureFixture[str]) -> None:
    evaluation = Engine(backend="reference").evaluate(RELAPSE)
    assert evaluation.mapping is None
    assert '"mapping"' not in evaluation.to_json() and evaluation.to_json().endswith('"ignored_after_as_of": 0\n}')


def test_engine_accepts_bundle_dict_bytes_and_path(bundle_file: Path) -> None:
    engine = Engine(backend="reference")
    doc = json.loads(bundle_file.read_text(encoding="utf-8"))
    results = [engine.evaluate(x) for x in (doc, bundle_file.read_bytes(), bundle_file, str(bundle_file))]
    assert all(r.mapping is not None for r in results)
    assert len({r.model_copy(update={"mapping": None}).to_json() for r in results}) == 1


def test_the_console_shows_the_mapping_panel_and_unmapped_medications(tmp_path: Path) -> None:
    resources = [*base(), med_request("mystery", "123456789")]
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}
    evaluation = Engine(backend="reference").evaluate(bundle)
    out = io.StringIO()
    render_evaluation(evaluation, Console(file=out, width=120, color_system=None))
    text = out.getvalue()
    assert "FHIR mapping 1.6.0 · 1 warning(s)" in text
    assert (
        "WARNING MedicationRequest/mystery · therapies: medication not recognised (no mapped code or name): not"
        in text
    )


def test_fhir_map_prints_a_valid_patient_file(
    bundle_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report_path = tmp_path / "report.json"
    assert main(["fhir", "map", str(bundle_file), "--report", str(report_path)]) == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert load_patient(doc).patient_id == "ex-relapse"
    assert doc["therapies"][0]["source"].startswith("MedicationStatement/")
    assert captured.err.startswith("mapping 1.6.0 (default): read ")
    assert json.loads(report_path.read_text(encoding="utf-8"))["warnings"] == []


def test_fhir_map_as_of_and_bad_input(
    bundle_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["fhir", "map", str(bundle_file), "--as-of", "2016-12-01"]) == 0
    assert json.loads(capsys.readouterr().out)["as_of"] == "2016-12-01"
    bad = tmp_path / "bad.json"
    bad.write_text(
        '{"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Patient"}}]}', encoding="utf-8"
    )
    assert main(["fhir", "map", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "entry[0]: the Patient resource has no id" in err
    assert main(["fhir", "map", str(RELAPSE)]) == 2
    assert "not a FHIR resource (no resourceType)" in capsys.readouterr().err


def test_fhir_export_writes_a_bundle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "b.json"
    assert main(["fhir", "export", str(RELAPSE), "-o", str(out)]) == 0
    bundle = json.loads(out.read_text(encoding="utf-8"))
    assert bundle["resourceType"] == "Bundle" and bundle["timestamp"] == "2018-08-29T00:00:00Z"
    assert main(["fhir", "export", str(tmp_path / "missing.json")]) == 2
    assert "file not found" in capsys.readouterr().err


def test_evaluate_a_bulk_export_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines: dict[str, list[str]] = {}
    for name in ("relapse.json", "ivig-dependent.json"):
        for entry in bundle_from_patient(load_patient(ROOT / "examples" / name))["entry"]:
            lines.setdefault(entry["resource"]["resourceType"], []).append(json.dumps(entry["resource"]))
    for kind, rows in lines.items():
        (tmp_path / f"{kind}.ndjson").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (tmp_path / "Observation.ndjson").open("a", encoding="utf-8").write("{not json\n")
    assert main(["evaluate", str(tmp_path), "--format", "ndjson", "--backend", "reference"]) == 2
    captured = capsys.readouterr()
    records = [json.loads(line) for line in captured.out.splitlines()]
    assert sorted(r.get("patient_id", "error") for r in records) == ["error", "ex-ivig-dependent", "ex-relapse"]
    assert "3 records: 2 evaluated, 1 invalid" in captured.err
    assert "not valid JSON (a truncated or broken NDJSON line)" in captured.err


def test_a_junk_first_line_does_not_turn_a_bulk_file_into_patient_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines: dict[str, list[str]] = {}
    for entry in bundle_from_patient(load_patient(RELAPSE))["entry"]:
        lines.setdefault(entry["resource"]["resourceType"], []).append(json.dumps(entry["resource"]))
    lines["Observation"].insert(0, "[1, 2]")  # the first line of a file is not a resource
    for kind, rows in lines.items():
        (tmp_path / f"{kind}.ndjson").write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert main(["evaluate", str(tmp_path), "--format", "ndjson", "--backend", "reference"]) == 2
    captured = capsys.readouterr()
    records = [json.loads(line) for line in captured.out.splitlines()]
    assert sorted(r.get("patient_id", "error") for r in records) == ["error", "ex-relapse"]
    assert "2 records: 1 evaluated, 1 invalid" in captured.err


def test_a_site_mapping_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table = (ROOT / "rules" / "fhir" / "mapping.yaml").read_text(encoding="utf-8")
    site = tmp_path / "site.yaml"
    site.write_text(table.replace('version: "1.6.0"', 'version: "site-7"', 1), encoding="utf-8")
    bundle = tmp_path / "b.json"
    bundle.write_text(json.dumps(bundle_from_patient(load_patient(RELAPSE))), encoding="utf-8")
    assert (
        main(["evaluate", str(bundle), "--mapping", str(site), "--format", "json", "--backend", "reference"]) == 0
    )
    mapping = json.loads(capsys.readouterr().out)["mapping"]
    assert (mapping["mapping_version"], mapping["mapping_source"]) == ("site-7", "site.yaml")
    site.write_text("systems: {}\n", encoding="utf-8")
    assert main(["evaluate", str(bundle), "--mapping", str(site), "--backend", "reference"]) == 2
    assert "systems.local: the local CodeSystem URI is required" in capsys.readouterr().err


def test_strict_fhir_refuses_what_r4b_refuses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("fhir.resources", reason="the [fhir] extra (fhir.resources) is not installed")
    bundle = bundle_from_patient(load_patient(RELAPSE))
    good = tmp_path / "good.json"
    good.write_text(json.dumps(bundle), encoding="utf-8")
    assert main(["fhir", "map", str(good), "--strict-fhir"]) == 0
    capsys.readouterr()
    bundle["entry"][0]["resource"]["nickname"] = "Ace"  # not an element of R4 Patient
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(bundle), encoding="utf-8")
    assert main(["fhir", "map", str(bad)]) == 0  # the default path reads only the elements it needs
    capsys.readouterr()
    assert main(["fhir", "map", str(bad), "--strict-fhir"]) == 2
    err = capsys.readouterr().err
    assert "entry[0] (Patient/ex-relapse): not valid FHIR R4(B): nickname: extra_forbidden" in err
    assert "Ace" not in err


def test_strict_fhir_without_the_extra_says_how_to_install(
    bundle_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    real = importlib.import_module

    def no_fhir_resources(name: str, *args: object) -> object:
        if name.startswith("fhir.resources"):
            raise ImportError(name)
        return real(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib, "import_module", no_fhir_resources)
    assert main(["fhir", "map", str(bundle_file), "--strict-fhir"]) == 2
    assert "strict FHIR validation needs fhir.resources: pip install 'ivig-cds[fhir]'" in capsys.readouterr().err


def test_explain_reads_a_bundle_too(capsys: pytest.CaptureFixture[str]) -> None:
    bundle = ROOT / "examples" / "fhir" / "polymyositis-bundle.json"
    assert main(["explain", str(bundle), "RESP-003", "--format", "json", "--backend", "reference"]) == 0
    assert json.loads(capsys.readouterr().out)["fired"] is True


@pytest.fixture
def two_patients(tmp_path: Path) -> Path:
    """One Bundle holding two patients (relapse and ivig-dependent) and their resources."""
    entries = []
    for name in ("relapse.json", "ivig-dependent.json"):
        entries += bundle_from_patient(load_patient(ROOT / "examples" / name))["entry"]
    path = tmp_path / "two.json"
    path.write_text(
        json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}), encoding="utf-8"
    )
    return path


def test_evaluate_says_to_choose_a_patient_with_patient_id(
    two_patients: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["evaluate", str(two_patients), "--backend", "reference"]) == 2
    assert "  Patient: 2 Patient resources: say which one (patient_id / --patient-id)" in capsys.readouterr().err
    for pid in ("ex-relapse", "ex-ivig-dependent"):
        args = ["evaluate", str(two_patients), "--patient-id", pid, "--format", "json", "--backend", "reference"]
        assert main(args) == 0
        out = json.loads(capsys.readouterr().out)
        assert (out["patient_id"], out["mapping"]["patient"]) == (pid, f"Patient/{pid}")
    assert main(["evaluate", str(two_patients), "--patient-id", "ex-relapse", "-j", "2", "--backend", "reference",
                 "--format", "json"]) == 0  # fmt: skip
    assert json.loads(capsys.readouterr().out)["patient_id"] == "ex-relapse"  # workers get it too
    assert main(["evaluate", str(two_patients), "--patient-id", "nobody", "--backend", "reference"]) == 2
    err = capsys.readouterr().err
    assert "  Patient: no Patient resource with the requested id" in err
    assert f"invalid FHIR input {two_patients}\n" in err  # the heading fhir map gives, not 'patient file'
    assert "invalid patient file" not in err


def test_the_other_patient_of_a_bundle_is_not_warned_about(two_patients: Path) -> None:
    from ivig_cds.fhir import patient_from_bundle

    bundle = json.loads(two_patients.read_text(encoding="utf-8"))
    _, report = patient_from_bundle(bundle, patient_id="ex-relapse")
    assert not [w for w in report.warnings if w.resource == "Patient/ex-ivig-dependent"]
    assert report.resources_ignored["Patient"] == 1  # counted as not used, not a 'no subject' warning


def test_fhir_map_and_explain_take_patient_id(two_patients: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fhir", "map", str(two_patients)]) == 2
    assert "  Patient: 2 Patient resources: say which one (patient_id / --patient-id)" in capsys.readouterr().err
    assert main(["fhir", "map", str(two_patients), "--patient-id", "ex-ivig-dependent"]) == 0
    assert json.loads(capsys.readouterr().out)["patient_id"] == "ex-ivig-dependent"
    args = ["explain", str(two_patients), "RESP-003", "--patient-id", "ex-relapse", "--format", "json"]
    assert main([*args, "--backend", "reference"]) == 0
    assert json.loads(capsys.readouterr().out)["patient_id"] == "ex-relapse"


def test_patient_id_is_refused_for_a_patient_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", str(RELAPSE), "--patient-id", "ex-relapse", "--backend", "reference"]) == 2
    err = capsys.readouterr().err
    assert (
        "  patient_id: --patient-id (patient_id) chooses a Patient of FHIR input: a patient file holds one"
        " patient, so it does not apply (drop the option for patient files)"
    ) in err
    assert "1 record: 0 evaluated, 1 invalid" in err


def test_patient_id_has_help_text(capsys: pytest.CaptureFixture[str]) -> None:
    for command in (["evaluate"], ["fhir", "map"]):
        assert main([*command, "--help"]) == 0
        text = " ".join(capsys.readouterr().out.split())
        assert "--patient-id ID FHIR input: the Patient (its Patient.id) to read when a Bundle" in text


def test_fhir_export_of_a_fhir_file_says_it_is_already_fhir(
    bundle_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["fhir", "export", str(bundle_file)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"ivig-cds: error: {bundle_file}: already FHIR (a Bundle): fhir export takes a patient file"
        " (fhir map turns a Bundle into one)\n"
    )
    lone = tmp_path / "patient.json"
    lone.write_text('{"resourceType": "Patient", "id": "x"}', encoding="utf-8")
    assert main(["fhir", "export", str(lone)]) == 2
    assert "already FHIR (a Patient resource): fhir export takes a patient file" in capsys.readouterr().err


def test_a_pretty_printed_bundle_named_ndjson_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "export.ndjson"
    path.write_text((ROOT / "examples" / "fhir" / "polymyositis-bundle.json").read_text(encoding="utf-8"))
    assert main(["evaluate", str(path), "--backend", "reference"]) == 2
    err = capsys.readouterr().err
    assert "not valid JSON (a truncated or broken NDJSON line)" not in err
    assert err.count("not NDJSON (one resource per line): the file is one JSON Bundle over several lines") == 1
    assert "1 record: 0 evaluated, 1 invalid" in err


def test_a_single_fhir_file_is_headed_as_a_single_patient_file_is(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--brief heads one record by its directory whatever the input (checked: not a FHIR-only heading)."""
    monkeypatch.chdir(ROOT)
    heads = []
    for path in (ROOT / "examples" / "fhir" / "polymyositis-bundle.json", RELAPSE):
        assert main(
            ["evaluate", str(path.relative_to(ROOT)), "--brief", "--width", "100", "--backend", "reference"]
        ) in (0, 1)
        heads.append(capsys.readouterr().out.splitlines()[0].rstrip())
    assert heads == [f"1 record in examples{os.sep}fhir{os.sep}", f"1 record in examples{os.sep}"]
