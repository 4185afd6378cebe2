"""The package's shape: imports flow one way (import-linter layers) and no import cycle."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "ivig_cds"


def test_import_linter_contracts_are_kept() -> None:
    exe = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    if not Path(exe).exists():
        pytest.skip("import-linter is not installed (it is in the [test] extra)")
    config = str(ROOT / "pyproject.toml")
    done = subprocess.run([exe, "--config", config], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_no_import_cycle_even_through_lazy_or_type_checking_imports() -> None:
    pytest.importorskip("grimp", reason="grimp comes with import-linter (the [test] extra)")
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "import_graph.py")], capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert " 0 cycle(s)" in done.stdout


MAX_MODULE_LINES = 500


def test_no_module_grows_past_500_lines() -> None:
    """A module that needs more is two modules (issue 10: the 1,400-line engine.py is not coming back)."""
    sizes = {str(p.relative_to(SRC)): len(p.read_text(encoding="utf-8").splitlines()) for p in SRC.rglob("*.py")}
    assert len(sizes) > 100
    assert {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES} == {}
