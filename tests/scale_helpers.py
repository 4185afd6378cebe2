"""Helpers shared by the Arrow-core and Spark tests: the CLI as a user runs it, and an engine-counting plugin."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SEED_FILES = sorted((REPO / "examples" / "seed_cohort" / "patients").glob("*.json"))
AS_OF = "2024-06-01"

# Broken NDJSON lines, each with what makes it an error record (all non-blank: the CLI skips blank lines).
BROKEN_LINES: list[str] = [
    '{"schema_version": 1, "patient_id": ',  # truncated JSON
    "[1, 2, 3]",  # not an object
    '{"schema_version": 1, "schema_version": 1}',  # duplicate key
    '{"schema_version": 1, "patient_id": "x", "weight": NaN}',  # NaN is not JSON
    '{"schema_version": 1, "patient_id": "secret-id-123"}',  # contract violation: fields missing
]


def cli_command() -> list[str]:
    """The installed ``ivig-cds`` entry point (beside this interpreter), else the module through it."""
    beside = Path(sys.executable).with_name("ivig-cds")
    found = str(beside) if beside.exists() else shutil.which("ivig-cds")
    if found is not None:
        return [found]
    return [sys.executable, "-c", "import sys; from ivig_cds.cli import main; sys.exit(main())"]


def start_cli_ndjson(*inputs: str | Path, jobs: int = 1, as_of: str = AS_OF) -> subprocess.Popen[bytes]:
    """Start ``ivig-cds evaluate INPUTS --format ndjson --as-of AS_OF`` (finish with :func:`cli_lines`)."""
    env = {k: v for k, v in os.environ.items() if k != "IVIG_CDS_DEBUG"}
    env["IVIG_CDS_LOAD_PLUGINS"] = ""
    cmd = [*cli_command(), "evaluate", *map(str, inputs), "--format", "ndjson", "--as-of", as_of]
    cmd += ["--jobs", str(jobs), "--no-summary"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def cli_lines(proc: subprocess.Popen[bytes]) -> list[str]:
    """The lines a started CLI run printed (results and error records); exit 0 or 2 (invalid input) only."""
    out, err = proc.communicate(timeout=900)
    assert proc.returncode in (0, 2), err.decode()[-2000:]
    return out.decode("utf-8").splitlines()


def cli_ndjson(*inputs: str | Path, jobs: int = 1, as_of: str = AS_OF) -> list[str]:
    """The lines ``ivig-cds evaluate INPUTS --format ndjson --as-of AS_OF`` prints (results and error records)."""
    return cli_lines(start_cli_ndjson(*inputs, jobs=jobs, as_of=as_of))


def write_ndjson(path: Path, docs: list[Any]) -> Path:
    """Write documents (dicts are dumped, strings written as they are) one per line."""
    lines = [d if isinstance(d, str) else json.dumps(d) for d in docs]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def counting_plugin(directory: Path) -> tuple[Path, Path]:
    """A plugin file that appends its process id to a side file each time an engine loads it.

    Returns:
        ``(plugin file, side file)``: one side-file line per Engine constructed with the plugin.
    """
    side = directory / "engines.txt"
    plugin = directory / "engine_counter.py"
    plugin.write_text(
        '"""Test plugin: one line per engine that loads it, with the process id."""\n'
        "import os\n"
        "from ivig_cds import hookimpl\n"
        f"with open({str(side)!r}, 'a', encoding='utf-8') as _fh:\n"
        "    _fh.write(f'{os.getpid()}\\n')\n"
        "\n"
        "@hookimpl\n"
        "def provide_thresholds():\n"
        "    return None\n",
        encoding="utf-8",
    )
    return plugin, side


def engines_per_pid(side: Path) -> Counter[int]:
    """How many engines each process built, from the counting plugin's side file."""
    if not side.exists():
        return Counter()
    return Counter(int(line) for line in side.read_text(encoding="utf-8").split())
