"""Guard tests: documentation and tests keep up with the public surface."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import ivig_cds
from ivig_cds.plugins import spec as hookspecs

ROOT = Path(__file__).resolve().parents[1]


def hook_names() -> list[str]:
    return sorted(
        name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction) if hasattr(fn, "ivig_cds_spec")
    )


def test_there_are_hooks() -> None:
    assert len(hook_names()) >= 6


def test_every_hook_is_documented_in_the_reference_table() -> None:
    text = (ROOT / "docs" / "plugins.md").read_text()
    table = text.split("<!-- hooks:start -->")[1].split("<!-- hooks:end -->")[0]
    documented = sorted(re.findall(r"^\| `([a-z_]+)`", table, flags=re.M))
    assert documented == hook_names()


def test_every_hook_has_a_docstring_with_when_it_is_called() -> None:
    for name in hook_names():
        doc = inspect.getdoc(getattr(hookspecs, name)) or ""
        assert "Called" in doc, f"{name}: say when it is called"
        assert "firstresult" in doc, f"{name}: say whether it is firstresult"


def test_every_hook_is_exercised_by_the_plugin_tests() -> None:
    text = (ROOT / "tests" / "test_plugins.py").read_text()
    for name in hook_names():
        assert f"def {name}(" in text, f"no test plugin implements {name}"


def test_public_api_is_exactly_the_documented_surface() -> None:
    assert ivig_cds.__all__ == sorted(ivig_cds.__all__)
    public = {
        name
        for name in dir(ivig_cds)
        if not name.startswith("_") and not inspect.ismodule(getattr(ivig_cds, name)) and name != "annotations"
    }
    missing = sorted(public - set(ivig_cds.__all__))
    assert not missing, f"exported but not in __all__: {missing}"
    for name in ivig_cds.__all__:
        assert hasattr(ivig_cds, name), name
    readme = (ROOT / "README.md").read_text()
    for name in ("Engine", "evaluate", "InputError"):
        assert name in readme
