"""The CLI with plugins: --plugin, --strict-plugins, `ivig-cds plugins`, and plugin formats end to end."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from ivig_cds import cli

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "new-patient-eligible.json"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def good_plugin(tmp_path: Path) -> Path:
    path = tmp_path / "clinic.py"
    path.write_text(
        textwrap.dedent("""
        from ivig_cds import hookimpl
        from ivig_cds.plugins import OutputFormatSpec
        __version__ = "1.2.0"
        RULES = {"family": "clinic", "version": "1.0.0", "rules": [{
            "id": "clinic:AGE-001", "version": "1.0.0", "title": "Adult", "category": "local",
            "severity": "advisory", "evidence": ["cherin2002"],
            "when": [{"fact": "patient", "as": "p", "where": {"age_years": {"ge": 18}}}],
            "summary": "Clinic rule: adult aged {p.age_years}"}]}
        @hookimpl
        def register_rules(register):
            register(RULES)
        @hookimpl
        def register_output_formats(register):
            register(OutputFormatSpec("ids", "ids", lambda evs: "".join(e.patient_id + "\\n" for e in evs)))
        """)
    )
    return path


def test_plugins_command_lists_only_the_builtin_plugins_when_plugins_are_off(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "plugins", "--format", "json")
    doc = json.loads(out)
    assert code == 0
    assert [p["name"] for p in doc["plugins"]] == ["core", "core-console", "core-text"]
    core, console, text = doc["plugins"]
    assert "SAFETY-001" in core["rules"] and core["error"] is None
    assert core["hooks"] == ["register_rules"]
    # the built-in formats register through the same hook as a third party's
    assert (console["hooks"], console["formats"]) == (["register_output_formats"], ["rich"])
    assert (text["hooks"], text["formats"]) == (["register_output_formats"], ["json", "markdown", "ndjson"])
    assert {p["source"] for p in doc["plugins"]} == {"builtin"}


def test_local_plugin_rules_and_format_appear(capsys: pytest.CaptureFixture[str], good_plugin: Path) -> None:
    code, out, _ = run(capsys, "evaluate", "--plugin", str(good_plugin), str(EXAMPLE), "--format", "json")
    doc = json.loads(out)
    assert code == 0
    assert "clinic==1.2.0" in doc["engine"]["plugins"]
    assert any(f["rule_id"] == "clinic:AGE-001" and f["origin"] == "clinic" for f in doc["findings"])
    code, out, _ = run(capsys, "evaluate", "--plugin", str(good_plugin), str(EXAMPLE), "--format", "ids")
    assert (code, out) == (0, "ex-new-patient-eligible\n")
    code, out, _ = run(capsys, "plugins", "--plugin", str(good_plugin), "--format", "json")
    clinic = next(p for p in json.loads(out)["plugins"] if p["name"] == "clinic")
    assert clinic["rules"] == ["clinic:AGE-001"] and clinic["formats"] == ["ids"] and clinic["version"] == "1.2.0"


def test_broken_plugin_is_reported_and_isolated(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('boom at import')\n")
    code, out, err = run(capsys, "evaluate", "--plugin", str(broken), str(EXAMPLE), "--format", "json")
    doc = json.loads(out)
    assert code == 0
    assert doc["engine"]["plugin_failures"] == [
        {"plugin": "broken", "hook": "load", "error": "RuntimeError: boom at import"}
    ]
    assert next(f["rule_id"] for f in doc["findings"]) == "PLUGIN-001"
    assert doc["status"]["eligibility"] == "eligible", "the core result is intact"
    assert "plugin 'broken' failed in load" in err and "incomplete" in err
    code, out, _ = run(capsys, "plugins", "--plugin", str(broken), "--format", "json")
    assert code == 1 and any(p["error"] for p in json.loads(out)["plugins"])


def test_strict_plugins_makes_a_broken_plugin_fatal(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('boom at import')\n")
    code, out, err = run(capsys, "evaluate", "--strict-plugins", "--plugin", str(broken), str(EXAMPLE))
    assert code == 2 and out == ""
    assert "ivig-cds: error: plugin 'broken' failed in load: RuntimeError: boom at import" in err
    assert "Traceback" not in err
