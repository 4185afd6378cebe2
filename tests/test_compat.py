"""The 0.1 import paths keep working for one release: the very same module, with a DeprecationWarning."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from ivig_cds._compat import MOVED


@pytest.mark.parametrize(("old", "new"), sorted(MOVED.items()))
def test_old_module_is_the_new_module_with_a_warning(old: str, new: str) -> None:
    code = (
        "import warnings, importlib\n"
        "warnings.simplefilter('error', DeprecationWarning)\n"
        f"try:\n    importlib.import_module({old!r})\nexcept DeprecationWarning as w:\n    print('warned', w)\n"
        "warnings.simplefilter('ignore', DeprecationWarning)\n"
        f"print(importlib.import_module({old!r}) is importlib.import_module({new!r}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert f"warned {old} is deprecated" in out and f"import from {new}" in out
    assert out.strip().endswith("True")


def test_the_warning_points_at_the_importing_code() -> None:
    sys.modules.pop("ivig_cds.patient", None)
    with pytest.warns(DeprecationWarning, match="ivig_cds.patient is deprecated") as caught:
        importlib.import_module("ivig_cds.patient")
    assert caught[0].filename == __file__


def test_the_library_never_imports_an_old_path() -> None:
    code = (
        "import warnings\nwarnings.simplefilter('error', DeprecationWarning)\n"
        "import ivig_cds, ivig_cds.cli, ivig_cds.explain, ivig_cds.cohort\n"
        "ivig_cds.Engine(backend='reference', entry_points=False)\nprint('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
