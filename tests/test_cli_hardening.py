"""The output side under stress: a full disk, Ctrl-C, plugins that exit or interrupt, terminal escapes in data.

Each test reproduces what a user met (issue 9) and checks the fix: outputs are written whole or not
at all and name the file when they cannot be; Ctrl-C exits 130 without worker tracebacks or a file
that looks complete; a plugin's ``sys.exit()`` or ``KeyboardInterrupt`` is a ``PLUGIN-001`` warning;
patient text never reaches the terminal raw.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from ivig_cds import cli

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SEED = EXAMPLES / "seed_cohort" / "patients"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


class _FullDisk:
    """A file that takes ``room`` characters, then fails as a full disk does."""

    def __init__(self, real: Any, room: int) -> None:
        self._real, self._room = real, room

    def write(self, text: str) -> int:
        if len(text) > self._room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._room -= len(text)
        return int(self._real.write(text))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def test_a_full_disk_names_the_file_and_leaves_nothing_torn(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Was: "error: : No space left on device", a torn last record and a 0-byte --summary-json."""
    real_fdopen = os.fdopen
    monkeypatch.setattr("ivig_cds.outfile.os.fdopen", lambda *a, **k: _FullDisk(real_fdopen(*a, **k), 20_000))
    out, summary = tmp_path / "results.ndjson", tmp_path / "summary.json"
    code, stdout, err = run(
        capsys, "evaluate", str(SEED), "-f", "ndjson", "-o", str(out), "--summary-json", str(summary),
        "--backend", "reference",
    )  # fmt: skip
    assert code == 2 and stdout == ""
    assert err.splitlines() == [f"ivig-cds: error: {out}: No space left on device; nothing was written there"]
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no torn file, no temporary file, no empty summary


def test_a_full_disk_on_a_real_tiny_filesystem(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a 64 KiB tmpfs needs root")
    mount = tmp_path / "tiny"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], check=False).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        done = subprocess.run(
            [sys.executable, "-c", "import sys; from ivig_cds.cli import main; sys.exit(main())", "evaluate",
             str(SEED), "-f", "ndjson", "-o", str(mount / "out.ndjson"), "--summary-json", str(mount / "s.json"),
             "--backend", "reference"],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert done.returncode == 2, done.stderr
        assert f"{mount / 'out.ndjson'}: No space left on device" in done.stderr
        assert list(mount.iterdir()) == []
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_outputs_are_complete_when_the_run_is(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out, summary = tmp_path / "results.ndjson", tmp_path / "summary.json"
    code, _, _ = run(
        capsys, "evaluate", str(SEED), "-f", "ndjson", "-o", str(out), "--summary-json", str(summary),
        "--backend", "reference",
    )  # fmt: skip
    assert code == 0
    assert len(out.read_text().splitlines()) == 35
    assert json.loads(summary.read_text())["cohort"]["responders"]["n"] == 25
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.ndjson", "summary.json"]


def test_ctrl_c_exits_130_without_tracebacks_or_a_complete_looking_file(tmp_path: Path) -> None:
    """Was: worker tracebacks on Ctrl-C and a partial file with no marker."""
    out = tmp_path / "results.ndjson"
    argv = [sys.executable, "-c", "import sys; from ivig_cds.cli import main; sys.exit(main())", "evaluate",
            *[str(SEED)] * 60, "-f", "ndjson", "-o", str(out), "-j", "2"]  # fmt: skip
    env = {**os.environ, "IVIG_CDS_LOAD_PLUGINS": ""}
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any(p.stat().st_size for p in tmp_path.glob(".results.ndjson.*")):
        time.sleep(0.05)  # wait until records are being written: the workers are busy
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole process group
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert err.strip().endswith("ivig-cds: interrupted (an output file is written only when the run completes)")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("body", "error"),
    [("sys.exit(0)", "SystemExit: 0"), ("raise KeyboardInterrupt", "KeyboardInterrupt: ")],
)
@pytest.mark.parametrize(
    "hook", ["adjust_findings(evaluation, findings)", "observe_evaluation(evaluation, context)"]
)
def test_a_plugin_that_exits_or_interrupts_never_ends_the_run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, body: str, error: str, hook: str
) -> None:
    """Was: a --jobs 1 run ended with exit 0 and no output."""
    plugin = tmp_path / "rogue.py"
    plugin.write_text(f"import sys\nfrom ivig_cds import hookimpl\n@hookimpl\ndef {hook}:\n    {body}\n")
    code, out, err = run(capsys, "evaluate", str(EXAMPLES / "relapse.json"), "--plugin", str(plugin), "-f", "json")
    doc = json.loads(out)
    assert (
        code == 0
    )  # documented: a plugin failure is reported in the result, not an exit code (see --strict-plugins)
    assert doc["engine"]["plugin_failures"] == [{"plugin": "rogue", "hook": hook.split("(")[0], "error": error}]
    assert "PLUGIN-001" in [f["rule_id"] for f in doc["findings"]]
    assert doc["status"]["outcome"] == "relapse"  # the core's result is whole
    assert f"ivig-cds: warning: plugin 'rogue' failed in {hook.split('(')[0]}: {error}" in err
    code, out, err = run(capsys, "evaluate", str(EXAMPLES / "relapse.json"), "--plugin", str(plugin),
                         "--strict-plugins", "-f", "json")  # fmt: skip
    assert code == 2 and out == "" and "ivig-cds: error: plugin 'rogue' failed" in err


def test_a_plugin_failure_is_said_first_in_the_console_view(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    plugin = tmp_path / "rogue.py"
    plugin.write_text("from ivig_cds import hookimpl\n@hookimpl\ndef observe_evaluation(evaluation, context):\n"
                      "    raise KeyboardInterrupt\n")  # fmt: skip
    code, out, _ = run(
        capsys, "evaluate", str(EXAMPLES / "relapse.json"), "--plugin", str(plugin), "--width", "100"
    )
    lines = out.splitlines()
    assert code == 0
    assert lines[5] == (
        "│ Incomplete     plugin rogue (observe_evaluation) failed: its checks are missing from this result".ljust(
            99
        )
        + "│"
    )


NASTY = "p\x1b]0;owned\x07\x1b[2J"


@pytest.fixture
def nasty_file(tmp_path: Path, minimal_patient_dict: dict[str, Any]) -> Path:
    data = dict(minimal_patient_dict, patient_id=NASTY)
    path = tmp_path / "nasty.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    "extra",
    [["--width", "100"], ["--brief", "--width", "100"], ["--brief", "--width", "80"], ["-f", "markdown"]],
)
def test_terminal_escapes_in_patient_text_never_reach_the_terminal(
    capsys: pytest.CaptureFixture[str], nasty_file: Path, extra: list[str]
) -> None:
    code, out, err = run(capsys, "evaluate", str(nasty_file), *extra)
    assert code == 0
    assert "\x1b" not in out + err and "\x07" not in out + err
    assert "x1b" in out and "0;owned" in out  # shown, as characters


def test_json_output_stays_exact(capsys: pytest.CaptureFixture[str], nasty_file: Path) -> None:
    code, out, _ = run(capsys, "evaluate", str(nasty_file), "-f", "json")
    assert code == 0 and json.loads(out)["patient_id"] == NASTY


def test_escapes_in_a_file_name_and_in_explain(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, nasty_file: Path
) -> None:
    bad = tmp_path / "bad\x1b[2J.json"
    bad.write_text("{")
    code, out, err = run(capsys, "evaluate", str(bad))
    assert code == 2 and "\x1b" not in err and "bad\\x1b[2J.json" in err
    code, out, err = run(capsys, "explain", str(nasty_file), "REFRACTORY-001", "--width", "100")
    assert code == 0 and "\x1b" not in out and "x1b]0;owned" in out
    code, out, err = run(capsys, "evaluate", str(tmp_path / "missing\x07.json"))
    assert code == 2 and err.splitlines()[0] == f"file not found: {tmp_path}/missing\\x07.json"


def test_worker_processes_ignore_ctrl_c_themselves() -> None:
    """The parent stops the run; a worker taking SIGINT itself would only print a traceback over it."""
    code = textwrap.dedent("""
        import multiprocessing, signal
        from ivig_cds.batch.pool import _worker_main
        parent, child = multiprocessing.Pipe()
        def boom():
            raise RuntimeError("no engine")
        _worker_main(child, boom, None, False)
        print(signal.getsignal(signal.SIGINT) is signal.SIG_IGN, parent.recv()[0])
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.stdout.split() == ["True", "engine_error"], done.stderr
