"""End-to-end CLI tests: exact output lines and exit codes, through ``cli.main``."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from contract_vocab import CATEGORIES, SEVERITIES
from contract_vocab import STATUS_VALUES as STATUS_VOCAB
from ivig_cds import __version__, cli

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(autouse=True)
def _plain_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS", "IVIG_CDS_DEBUG"):
        monkeypatch.delenv(name, raising=False)


_BASE: dict[str, Any] = {}


@pytest.fixture(autouse=True)
def _base(minimal_patient_dict: dict[str, Any]) -> None:
    """The contract's minimal example, which every patient file here starts from."""
    _BASE.clear()
    _BASE.update(minimal_patient_dict)


def _doc(patient_id: str = "demo-001", **changes: Any) -> dict[str, Any]:
    data = json.loads(json.dumps(_BASE))
    data["patient_id"] = patient_id
    data.update(changes)
    return data


@pytest.fixture
def patient_file(tmp_path: Path) -> Path:
    path = tmp_path / "demo.json"
    path.write_text(json.dumps(_doc()))
    return path


@pytest.fixture
def invalid_file(tmp_path: Path) -> Path:
    data = _doc()
    data["demographics"]["weight_kg"] = 5
    del data["diagnosis"]["classification"]
    path = tmp_path / "invalid.json"
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def messy(tmp_path: Path) -> Path:
    root = tmp_path / "cohort"
    root.mkdir()
    (root / "a.json").write_text(json.dumps(_doc("a")))
    (root / "b.json").write_text('{"schema_version": 1,')
    (root / "c.ndjson").write_text("\n".join([json.dumps(_doc("c1")), "{oops", json.dumps(_doc("c3"))]) + "\n")
    bad = _doc("d")
    bad["demographics"]["weight_kg"] = 5
    (root / "d.json").write_text(json.dumps(bad))
    return root


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], list[str]]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.splitlines()


# -- one patient ---------------------------------------------------------------------------------


def test_evaluate_one_file_shows_the_rich_view(capsys: pytest.CaptureFixture[str], patient_file: Path) -> None:
    code, out, err = run(capsys, "evaluate", str(patient_file), "--width", "100")
    assert code == 0 and err == []
    assert out[1] == "│ as of 2024-06-01   46 y female · 64 kg   polymyositis (definite)".ljust(99) + "│"
    # the contract's minimal file records no renal lab and no hyperprolinemia: the screen is incomplete,
    # said first as what to record
    assert out[5] == (
        "│ IVIG            not yet: record creatinine or eGFR (within 180 days), hyperprolinemia (yes/no)   │"
    )
    assert out[6] == "│                 first".ljust(99) + "│"
    assert "│ Eligibility     pre-IVIG screen incomplete".ljust(99) + "│" in out
    assert "│ Response        not started".ljust(99) + "│" in out
    assert any(line.startswith("╭─ Timeline ─") for line in out)
    assert out[-1] == "Decision support only: a clinician must review every recommendation."
    assert not any("\x1b[" in line for line in out)


def test_json_output_follows_the_contract(capsys: pytest.CaptureFixture[str]) -> None:
    files = sorted(EXAMPLES.glob("*.json")) or []
    code = cli.main(["evaluate", "--format", "ndjson", *map(str, files)])
    out = capsys.readouterr().out.splitlines()
    assert code == 0 and len(out) == len(files) > 0
    for line in out:
        doc = json.loads(line)
        assert {"patient_id", "as_of", "engine", "status", "dose_plan", "findings", "ignored_after_as_of"} <= set(
            doc
        )
        assert {"version", "rulesets", "plugins"} <= set(doc["engine"])
        for field, allowed in STATUS_VOCAB.items():
            assert doc["status"][field] in allowed, field
        assert isinstance(doc["status"]["eligibility_reasons"], list)
        for key in ("total_improvement_score", "steroid_reduction_pct", "months_to_relapse"):
            assert doc["status"][key] is None or isinstance(doc["status"][key], (int, float))
        if doc["dose_plan"] is not None:
            assert doc["dose_plan"]["weight_basis"] in ("actual", "adjusted")
            assert {"dosing_weight_kg", "grams_per_day", "days_per_course", "interval_weeks"} <= set(
                doc["dose_plan"]
            )
        keys = [(SEVERITIES.index(f["severity"]), f["rule_id"]) for f in doc["findings"]]
        assert keys == sorted(keys)
        for f in doc["findings"]:
            assert f["category"] in CATEGORIES and f["evidence"] and isinstance(f["facts"], dict)


def test_json_single_file_is_one_pretty_object(capsys: pytest.CaptureFixture[str], patient_file: Path) -> None:
    code, out, _ = run(capsys, "evaluate", str(patient_file), "--format", "json", "--as-of", "2024-03-01")
    doc = json.loads("\n".join(out))
    assert code == 0 and doc["patient_id"] == "demo-001" and doc["as_of"] == "2024-03-01"


def test_invalid_file_lists_each_field_and_exits_2(capsys: pytest.CaptureFixture[str], invalid_file: Path) -> None:
    code, out, err = run(capsys, "evaluate", str(invalid_file))
    assert code == 2 and out == []
    assert err == [
        f"invalid patient file {invalid_file}",
        "  demographics.weight_kg: Input should be greater than or equal to 20",
        "  diagnosis.classification: Field required",
        "1 record: 0 evaluated, 1 invalid",
    ]


# -- many patients -------------------------------------------------------------------------------


def test_a_batch_with_bad_records_keeps_every_record_in_order(
    capsys: pytest.CaptureFixture[str], messy: Path
) -> None:
    code, out, err = run(capsys, "evaluate", str(messy), "--format", "ndjson")
    assert code == 2
    docs = [json.loads(line) for line in out]
    got = [d["patient_id"] if "patient_id" in d else d["error"]["source"] for d in docs]
    assert got == ["a", str(messy / "b.json"), "c1", f"{messy / 'c.ndjson'}:2", "c3", str(messy / "d.json")]
    assert docs[5]["error"]["errors"] == [
        {
            "loc": "demographics.weight_kg",
            "msg": "Input should be greater than or equal to 20",
            "type": "greater_than_equal",
        }
    ]
    assert err[-1] == "6 records: 3 evaluated, 3 invalid"


def test_two_jobs_print_the_same_as_one(capsys: pytest.CaptureFixture[str], messy: Path) -> None:
    for i in range(4):
        (messy / f"z{i}.json").write_text(json.dumps(_doc(f"z{i}")))
    one = run(capsys, "evaluate", str(messy), "--format", "ndjson", "--jobs", "1")
    two = run(capsys, "evaluate", str(messy), "--format", "ndjson", "--jobs", "2")
    assert one == two and one[0] == 2 and len(one[1]) == 10
    # the other formats build the model from a worker's JSON; --fail-on and the summary read its digest
    for extra in (["--format", "json"], ["--format", "markdown", "--fail-on", "advisory"]):
        assert run(capsys, "evaluate", str(messy), *extra, "--jobs", "1") == run(
            capsys, "evaluate", str(messy), *extra, "--jobs", "2"
        )


def test_rich_batch_ends_with_the_cohort_table_and_counts(
    capsys: pytest.CaptureFixture[str], messy: Path, tmp_path: Path
) -> None:
    summary = tmp_path / "summary.json"
    code, out, err = run(
        capsys, "evaluate", str(messy), "--brief", "--width", "100", "--summary-json", str(summary)
    )
    assert code == 2
    assert "Cohort summary (seed form: Cherin et al. 2002)" in [line.rstrip() for line in out]
    assert err[-1] == "6 records: 3 evaluated, 3 invalid"
    doc = json.loads(summary.read_text())
    assert (doc["records"], doc["evaluated"], doc["invalid"]) == (6, 3, 3)
    assert doc["cohort"]["patients"] == 3 and doc["cohort"]["treated"]["n"] == 0


def test_stdin_ndjson(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    data = (json.dumps(_doc("s1")) + "\n" + json.dumps(_doc("s2")) + "\n").encode()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))
    code, out, err = run(capsys, "evaluate", "-", "--format", "ndjson")
    assert code == 0 and [json.loads(line)["patient_id"] for line in out] == ["s1", "s2"]
    assert err == ["2 records: 2 evaluated, 0 invalid"]


def test_cohort_command_json(capsys: pytest.CaptureFixture[str], messy: Path) -> None:
    code, out, _ = run(capsys, "cohort", str(messy), "--format", "json")
    doc = json.loads("\n".join(out))
    assert code == 2 and doc["records"] == 6 and doc["cohort"]["patients"] == 3


# -- exit codes ----------------------------------------------------------------------------------


def test_fail_on(capsys: pytest.CaptureFixture[str], patient_file: Path, invalid_file: Path) -> None:
    assert run(capsys, "evaluate", str(patient_file), "-f", "json", "--fail-on", "warning")[0] == 1
    assert run(capsys, "evaluate", str(patient_file), "-f", "json", "--fail-on", "stop")[0] == 0
    both = run(capsys, "evaluate", str(patient_file), str(invalid_file), "-f", "json", "--fail-on", "info")
    assert both[0] == 2  # invalid input wins over --fail-on


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], patient_file: Path) -> None:
    assert run(capsys, "evaluate")[0] == 2
    assert run(capsys, "evaluate", str(patient_file), "--as-of", "01/02/2024")[0] == 2
    code, _, err = run(capsys, "evaluate", str(patient_file), "--format", "pdf")
    assert code == 2 and err[0].startswith("error: unknown format 'pdf' (available: ")
    assert run(capsys, "frobnicate")[0] == 2


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "--version") == (0, [f"ivig-cds {__version__}"], [])
    assert run(capsys, "-V") == (0, [f"ivig-cds {__version__}"], [])


@pytest.mark.parametrize("redirect", ["| true", ">&-", ">/dev/full"])
def test_version_to_a_closed_or_full_stdout_is_quiet(redirect: str) -> None:
    code = "import sys; from ivig_cds.cli import main; sys.exit(main(['--version']))"
    proc = subprocess.run(
        ["bash", "-c", f'set -o pipefail; {sys.executable} -c "{code}" {redirect}; echo rc=$? >&2'],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.stderr.strip().splitlines() == ["rc=0"]


def test_subpackages_stay_reachable_as_attributes() -> None:
    code = "import ivig_cds\nprint(ivig_cds.engine.__name__, ivig_cds.model.patient.__name__)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.split() == ["ivig_cds.engine", "ivig_cds.model.patient"]


def test_version_and_import_load_nothing_heavy() -> None:
    """``ivig-cds --version`` and ``import ivig_cds`` stay cheap: no pydantic, durable, rich, yaml or pluggy."""
    code = (
        "import sys\nfrom ivig_cds.cli import main\nassert main(['--version']) == 0\nimport ivig_cds\n"
        "heavy = sorted(m for m in ('pydantic', 'durable', 'rich', 'yaml', 'pluggy', 'ivig_cds.engine') "
        "if m in sys.modules)\nprint(heavy)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "[]"


def test_an_unexpected_error_is_one_line_and_exit_3(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, patient_file: Path
) -> None:
    def boom(args: Any) -> int:
        raise RuntimeError("patient demo-001 weighs 64 kg")

    import ivig_cds.commands.evaluate

    monkeypatch.setattr(ivig_cds.commands.evaluate, "run_evaluate", boom)
    code, out, err = run(capsys, "evaluate", str(patient_file))
    assert code == 3 and out == []
    assert err == [
        "ivig-cds: internal error (RuntimeError); please report. Set IVIG_CDS_DEBUG=1 for the traceback."
    ]
    monkeypatch.setenv("IVIG_CDS_DEBUG", "1")
    code, _, err = run(capsys, "evaluate", str(patient_file))
    assert code == 3 and err[0] == "Traceback (most recent call last):"


# -- outputs -------------------------------------------------------------------------------------


def test_output_file_and_exports(capsys: pytest.CaptureFixture[str], patient_file: Path, tmp_path: Path) -> None:
    out_file, svg, html = tmp_path / "report.md", tmp_path / "view.svg", tmp_path / "view.html"
    argv = ["evaluate", str(patient_file), "-f", "markdown", "-o", str(out_file)]
    code, out, _ = run(capsys, *argv, "--export-svg", str(svg), "--export-html", str(html))
    assert code == 0 and out == []
    assert out_file.read_text().startswith("## Patient demo-001\n")
    assert svg.read_text().startswith("<svg") and "Eligibility" in html.read_text()


def test_formats_and_schema(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "formats")
    assert code == 0 and [line.split()[0] for line in out] == ["cds-hooks", "json", "markdown", "ndjson", "rich"]
    code, out, _ = run(capsys, "schema")
    assert code == 0 and json.loads("\n".join(out))["title"] == "ivig-cds patient file, version 1"


# -- explain and rules ---------------------------------------------------------------------------


def test_explain(capsys: pytest.CaptureFixture[str], patient_file: Path) -> None:
    code, out, _ = run(capsys, "explain", str(patient_file), "REFRACTORY-001", "--width", "100")
    assert code == 0
    assert "│ patient demo-001 as of 2024-06-01: FIRED".ljust(99) + "│" in out
    code, out, _ = run(capsys, "explain", str(patient_file), "SAFETY-006", "--format", "json")
    assert code == 0 and json.loads("\n".join(out))["outcome"] == "undecided (missing data)"


def test_explain_unknown_rule_exits_2_with_close_ids(
    capsys: pytest.CaptureFixture[str], patient_file: Path
) -> None:
    code, out, err = run(capsys, "explain", str(patient_file), "SAFETY-06")
    assert code == 2 and out == []
    assert err[0] == "error: unknown rule id 'SAFETY-06'"
    assert err[1].startswith("close ids: ") and "SAFETY-006" in err[1].split(": ", 1)[1].split(", ")


def test_rules_list_and_show(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "rules", "list", "--format", "json")
    rows = json.loads("\n".join(out))
    assert (
        code == 0
        and {"id": "RESP-003", "version": "1.1.0"}.items()
        <= next(r for r in rows if r["id"] == "RESP-003").items()
    )
    code, out, _ = run(capsys, "rules", "show", "RESP-003")
    doc = yaml.safe_load("\n".join(out))
    assert code == 0 and doc["id"] == "RESP-003" and doc["thresholds"]["tis_minimal"]["value"] == 20
    assert run(capsys, "rules", "show", "NOPE-1")[0] == 2


def test_rules_validate(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rule = {
        "id": "site:HEAVY-001",
        "version": "1.0.0",
        "title": "Heavy",
        "category": "dosing",
        "severity": "info",
        "evidence": ["cherin2002"],
        "when": [{"fact": "patient", "as": "p", "where": {"weight_kg": {"gt": 100}}}],
        "summary": "Heavy",
    }
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump({"family": "site", "version": "1.0.0", "rules": [rule]}))
    assert run(capsys, "rules", "validate", str(good)) == (0, [f"OK     {good} (1 rule)"], [])
    broken = tmp_path / "broken.yaml"
    rule["evidence"] = ["nowhere"]
    broken.write_text(yaml.safe_dump({"family": "site", "version": "1.0.0", "rules": [rule]}))
    code, out, _ = run(capsys, "rules", "validate", str(broken))
    assert code == 1
    assert out == [f"ERROR  {broken} [site:HEAVY-001]: evidence 'nowhere' is not in the bibliography", "1 error"]
    assert run(capsys, "rules", "validate", str(tmp_path / "missing.yaml"))[0] == 2


def test_no_records_found_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(capsys, "evaluate", str(tmp_path))
    assert code == 2 and out == []
    assert err == [
        "ivig-cds: error: no patient records found (a directory is read one level deep:"
        " *.json, *.yaml, *.yml, *.ndjson)"
    ]


def test_a_plugin_format_renders_the_batch_in_one_call(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from ivig_cds.outputs import OutputFormat, available_formats

    def ids(evaluations: Any) -> str:
        return "id\n" + "".join(f"{e.patient_id}\n" for e in evaluations)

    extra = {"ids": OutputFormat("ids", "patient ids", ids, "text/csv")}
    monkeypatch.setattr("ivig_cds.commands.evaluate._formats", lambda name, spec, engine: available_formats(extra))
    for name in ("p1", "p2", "p3"):
        (tmp_path / f"{name}.json").write_text(json.dumps(_doc(name)))
    code, out, err = run(capsys, "evaluate", str(tmp_path), "--format", "ids")
    assert (code, out, err) == (0, ["id", "p1", "p2", "p3"], ["3 records: 3 evaluated, 0 invalid"])
