"""Command-line conventions a new user expects: help, version, colour, quiet, completion, site configuration."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ivig_cds import __version__, cli
from ivig_cds.commands.completion import completion_script
from ivig_cds.commands.parser import COMMAND_EXAMPLES, ENVIRONMENT, build_parser

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
RELAPSE = str(EXAMPLES / "relapse.json")


@pytest.fixture(autouse=True)
def _plain(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FORCE_COLOR", "NO_COLOR", "COLUMNS", "IVIG_CDS_CONFIG", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_bare_command_prints_help_and_v_the_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys)
    assert code == 0 and out.startswith("usage: ivig-cds [-h] [--version] COMMAND ...")
    assert run(capsys, "-V") == (0, f"ivig-cds {__version__}\n", "")


def test_help_lists_the_environment_and_an_example_per_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for name, _ in ENVIRONMENT:
        assert f"  {name} " in out
    commands = {
        name for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction) for name in a.choices
    }
    assert set(COMMAND_EXAMPLES) == commands  # every command has its example
    for example in COMMAND_EXAMPLES.values():
        assert example in out


def _parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    out = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                out += _parsers(sub)
    return out


def test_every_option_and_argument_has_help() -> None:
    missing = [
        f"{p.prog}: {a.option_strings or a.dest}"
        for p in _parsers(build_parser())
        for a in p._actions
        if not isinstance(a, argparse._SubParsersAction) and not a.help
    ]
    assert not missing


def test_colour_follows_color_and_no_color(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, plain, _ = run(capsys, "evaluate", RELAPSE)
    assert "\x1b[" not in plain  # not a terminal: no colour
    _, forced, _ = run(capsys, "evaluate", RELAPSE, "--color", "always")
    assert "\x1b[" in forced
    monkeypatch.setenv("NO_COLOR", "1")
    _, forced, _ = run(capsys, "evaluate", RELAPSE, "--color", "always")
    assert "\x1b[" in forced  # the flag wins over the environment
    _, never, _ = run(capsys, "evaluate", RELAPSE, "--color", "never")
    assert "\x1b[" not in never


def test_quiet_leaves_out_the_counts_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "evaluate", str(EXAMPLES), "-f", "ndjson")[2].splitlines()[-1].endswith("0 invalid")
    code, out, err = run(capsys, "evaluate", str(EXAMPLES), "-f", "ndjson", "--quiet")
    assert code == 0 and err == "" and len(out.splitlines()) == 9


def _complete(script: str, *words: str) -> list[str]:
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash is not installed")
    line = " ".join(f"'{w}'" for w in words)
    call = f'COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; _ivig_cds; printf "%s\\n" "${{COMPREPLY[@]}}"'
    probe = f"{script}\n{call}"
    done = subprocess.run([bash, "-c", probe], capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_bash_completion_completes_commands_actions_options_and_values() -> None:
    script = completion_script(build_parser(), "bash")
    assert _complete(script, "ivig-cds", "ev") == ["evaluate"]
    assert _complete(script, "ivig-cds", "rules", "") == ["list", "show", "validate"]
    assert "--fail-on" in _complete(script, "ivig-cds", "evaluate", "x.json", "--fa")
    assert _complete(script, "ivig-cds", "evaluate", "--color", "") == ["auto", "always", "never"]
    assert "markdown" in _complete(script, "ivig-cds", "evaluate", "-f", "")
    assert _complete(script, "ivig-cds", "rules", "show", "--format", "") == ["yaml", "json"]


def test_zsh_completion_loads_the_bash_function_through_bashcompinit(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "completion", "zsh")
    assert code == 0 and out.splitlines()[1] == "autoload -U +X bashcompinit && bashcompinit"
    zsh = shutil.which("zsh")
    if zsh is not None:
        assert subprocess.run([zsh, "-n", "-c", out], check=False).returncode == 0
    bash_part = "\n".join(line for line in out.splitlines() if "bashcompinit" not in line)
    assert _complete(bash_part, "ivig-cds", "coh") == ["cohort"]


# -- the site configuration -----------------------------------------------------------------------


def _low_dose(out: str) -> Any:
    doc = json.loads(out)
    return next(f["thresholds"]["low_dose_gc_mg"] for f in doc["findings"] if "low_dose_gc_mg" in f["thresholds"])


def test_a_site_configuration_sets_thresholds_plugins_and_backend(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "site_plugins").mkdir()
    (tmp_path / "site_plugins" / "clinic.py").write_text(
        "from ivig_cds import hookimpl\n@hookimpl\ndef provide_thresholds():\n"
        "    return {'taper_target_pct': 40}\n"
    )
    config = tmp_path / "site.toml"
    config.write_text(
        '[thresholds]\nlow_dose_gc_mg = 5\n\n[plugins]\npaths = ["site_plugins/"]\n\n'
        '[engine]\nbackend = "reference"\n'
    )
    code, out, _ = run(capsys, "evaluate", RELAPSE, "-f", "json", "--config", str(config))
    doc = json.loads(out)
    assert code == 0 and _low_dose(out) == 5 and doc["engine"]["backend"] == "reference"
    assert doc["engine"]["thresholds_overridden"] == {"low_dose_gc_mg": 5, "taper_target_pct": 40}
    # the environment names it too; a --threshold on the command line wins over the file
    monkeypatch.setenv("IVIG_CDS_CONFIG", str(config))
    code, out, _ = run(capsys, "evaluate", RELAPSE, "-f", "json", "--threshold", "low_dose_gc_mg=7")
    assert code == 0 and _low_dose(out) == 7


def test_threshold_on_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "evaluate", RELAPSE, "-f", "json", "--threshold", "low_dose_gc_mg=5")
    assert code == 0 and _low_dose(out) == 5
    code, _, err = run(capsys, "evaluate", RELAPSE, "--threshold", "low_dose_gc_mg")
    assert (
        code == 2
        and err == "ivig-cds: error: --threshold 'low_dose_gc_mg': expected NAME=VALUE (e.g. low_dose_gc_mg=5)\n"
    )
    code, _, err = run(capsys, "evaluate", RELAPSE, "--threshold", "low_dose_gc=5")
    assert code == 2 and "unknown threshold 'low_dose_gc'" in err
    code, _, err = run(capsys, "evaluate", RELAPSE, "--threshold", "low_dose_gc_mg=five")
    assert code == 2 and "threshold 'low_dose_gc_mg' must be a number" in err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[plugin]\npaths = []\n", "unknown key 'plugin' (did you mean 'plugins'?)"),
        ("[engine]\nbackend = 'fast'\n", "engine.backend must be one of durable, reference"),
        ("[plugins]\npath = ['x']\n", "[plugins]: unknown key 'path' (did you mean 'paths'?)"),
        ("[thresholds]\nlow_dose_gc_mg = true\n", "thresholds.low_dose_gc_mg must be a number or a string"),
        ("[engine\n", "not valid TOML"),
    ],
)
def test_a_broken_site_configuration_names_the_file_and_key(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, message: str
) -> None:
    config = tmp_path / "site.toml"
    config.write_text(text)
    code, out, err = run(capsys, "evaluate", RELAPSE, "--config", str(config))
    assert code == 2 and out == ""
    assert err.startswith(f"ivig-cds: error: {config}") and message in err


def test_a_missing_site_configuration(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "rules", "list", "--config", str(tmp_path / "nope.toml"))
    assert code == 2 and err == f"ivig-cds: error: site configuration not found: {tmp_path / 'nope.toml'}\n"


def test_without_durable_rules_the_error_names_the_flag(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ivig_cds.backends._durable", None)  # importing it now fails
    code, out, err = run(capsys, "evaluate", RELAPSE)
    assert code == 2 and out == ""
    assert "--backend reference" in err
    assert run(capsys, "evaluate", RELAPSE, "--backend", "reference", "-f", "json")[0] == 0
