"""The Python examples of the README's API section and of docs/api.md run as written, from the repository root."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_PYTHON = re.compile(r"^```python\n(.*?)^```$", re.S | re.M)


def _blocks() -> list[tuple[str, str]]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    api = readme.split("## Python API", 1)[1].split("\n## ", 1)[0]
    found = [(f"README.md#{i}", code) for i, code in enumerate(_PYTHON.findall(api), 1)]
    doc = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    found += [(f"docs/api.md#{i}", code) for i, code in enumerate(_PYTHON.findall(doc), 1)]
    return found


def test_there_are_examples() -> None:
    assert len([b for b in _blocks() if b[0].startswith("README")]) >= 1
    assert len([b for b in _blocks() if b[0].startswith("docs/api")]) >= 4


@pytest.mark.parametrize(("where", "code"), _blocks(), ids=[w for w, _ in _blocks()])
def test_the_example_runs(where: str, code: str) -> None:
    env = {**os.environ, "IVIG_CDS_LOAD_PLUGINS": ""}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, f"{where}\n{done.stdout}\n{done.stderr}"


def test_the_output_format_writer_of_docs_plugins_works_as_a_plugin(tmp_path: Path) -> None:
    text = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    section = text.split("### `register_output_formats(register)`", 1)[1].split("\n### ", 1)[0]
    (code,) = _PYTHON.findall(section)
    plugin = tmp_path / "csvfmt.py"
    plugin.write_text(code, encoding="utf-8")
    env = {**os.environ, "IVIG_CDS_LOAD_PLUGINS": ""}
    main = "import sys; from ivig_cds.cli import main; sys.exit(main())"
    argv = [sys.executable, "-c", main, "evaluate", "examples/relapse.json", "examples/non-responder.json",
            "--plugin", str(plugin), "-f", "csv"]  # fmt: skip
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "patient_id,eligibility,outcome",
        "ex-relapse,eligible_with_precautions,relapse",
        "ex-non-responder,eligible,non_responder",
    ]
