"""The plugin tutorial of ``docs/plugins.md`` runs as written: its code blocks are the shipped plugin, and a
plugin built from them alone, installed in a fresh virtual environment, makes its findings appear.

The fresh environment gets ivig-cds and the plugin by ``pip install --no-deps --no-build-isolation`` (so it
runs offline); their dependencies, and hatchling to build them, come from this environment through a
``.pth`` file onto a view of its site-packages without ivig-cds or any plugin - the installed copies under
test are the fresh ones. About a minute: it builds two wheels.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import site
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "plugins.md"
SHIPPED = ROOT / "plugins" / "ivig-cds-site-example"
_BLOCK = re.compile(r"^```(\w+) (file=(\S+)|run)\n(.*?)^```$", re.S | re.M)
_OURS = ("ivig_cds", "ivig-cds", "ivig_cds_", "__editable__")

pytestmark = pytest.mark.tutorial


def tutorial() -> tuple[dict[str, str], list[str]]:
    """The files the tutorial's code blocks make (blocks of one file joined in order) and its commands."""
    text = DOC.read_text(encoding="utf-8").split("## Tutorial: a site rule plugin from scratch", 1)[1]
    text = text.split("\n## ", 1)[0]
    parts: dict[str, list[str]] = {}
    commands: list[str] = []
    for m in _BLOCK.finditer(text):
        if m.group(2) == "run":
            commands += [line for line in m.group(4).splitlines() if line.strip()]
        else:
            parts.setdefault(m.group(3), []).append(m.group(4).rstrip("\n"))
    return {name: "\n\n\n".join(blocks) + "\n" for name, blocks in parts.items()}, commands


def test_the_tutorials_code_blocks_are_the_shipped_plugin() -> None:
    files, commands = tutorial()
    assert set(files) == {"pyproject.toml", "src/ivig_cds_site_example/__init__.py",
                          "src/ivig_cds_site_example/rules.yaml"}  # fmt: skip
    for name, text in files.items():
        assert text == (SHIPPED / name).read_text(encoding="utf-8"), f"docs/plugins.md and {name} differ"
    assert "[build-system]" in files["pyproject.toml"]
    assert (
        "from ivig_cds import FactDeriver, FactField, hookimpl" in files["src/ivig_cds_site_example/__init__.py"]
    )
    assert commands[0].startswith("ivig-cds rules validate") and "--plugin" in commands[0]


def _site_packages_view(into: Path) -> Path:
    """This environment's site-packages without ivig-cds or any plugin (links to everything else)."""
    view = into / "deps"
    view.mkdir()
    for base in site.getsitepackages():
        for entry in Path(base).iterdir():
            lowered = entry.name.lower()
            if lowered.startswith(_OURS) or (lowered.endswith(".pth") and "ivig" in lowered):
                continue
            target = view / entry.name
            if not target.exists():
                target.symlink_to(entry)
    return view


def _fresh_venv(tmp: Path) -> Path:
    pytest.importorskip("hatchling", reason="building the wheels offline needs hatchling (the [test] extra)")
    venv = tmp / "fresh"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    lib = next((venv / "lib").glob("python3*")) / "site-packages"
    (lib / "deps.pth").write_text(str(_site_packages_view(tmp)) + "\n")
    return venv


def _run(line: str, venv: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("IVIG_CDS_LOAD_PLUGINS", "VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    words = shlex.split(line)
    while words and "=" in words[0] and not words[0].startswith("-"):  # VAR=value ivig-cds ...
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    if words[0] == "pip":  # offline: the dependencies are already there, the build backend too
        words = [str(venv / "bin" / "python"), "-m", "pip", "install", "--no-deps", "--no-build-isolation",
                 "--no-index", "-q", *words[2:]]  # fmt: skip
    elif words[0] == "ivig-cds":
        words[0] = str(venv / "bin" / "ivig-cds")
    done = subprocess.run(words, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, f"{line}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    return done


def test_the_tutorial_plugin_built_from_the_doc_installs_and_its_findings_fire(tmp_path: Path) -> None:
    files, commands = tutorial()
    work = tmp_path / "repo"  # what the commands see: the examples, and the plugin written from the doc
    work.mkdir()
    (work / "examples").symlink_to(ROOT / "examples")
    plugin = work / "plugins" / "ivig-cds-site-example"
    for name, text in files.items():
        (plugin / name).parent.mkdir(parents=True, exist_ok=True)
        (plugin / name).write_text(text, encoding="utf-8")
    venv = _fresh_venv(tmp_path)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index"]
    subprocess.run([*pip, "-q", str(ROOT)], check=True, timeout=600, capture_output=True)
    # ivig-cds is installed in the fresh environment from this checkout, and nothing else of ours is there
    where = _run("ivig-cds plugins --format json", venv, work)
    assert [p["name"] for p in json.loads(where.stdout)["plugins"]] == ["core", "core-cds-hooks", "core-console",
                                                                        "core-text"]  # fmt: skip
    outputs = [_run(line, venv, work) for line in commands]
    validate, _, plugins, now, later, off = outputs
    assert validate.stdout.strip().endswith("rules.yaml (2 rules)")
    listed = {
        p["name"]: p for p in json.loads(_run("ivig-cds plugins --format json", venv, work).stdout)["plugins"]
    }
    assert listed["site_example"]["rules"] == ["site_example:IGA-001", "site_example:PRODUCT-001"]
    assert "site_example" in plugins.stdout
    assert "site_example:PRODUCT-001" in now.stdout and "site_example:IGA-001" not in now.stdout
    assert "site_example:IGA-001" in later.stdout and "site_example:PRODUCT-001" in later.stdout
    assert "site_example" not in off.stdout
    doc = json.loads(_run("ivig-cds evaluate examples/obese-adjusted-weight.json -f json", venv, work).stdout)
    assert "site_example==0.1.0" in doc["engine"]["plugins"]
    assert doc["engine"]["thresholds_overridden"]["low_dose_gc_mg"] == 5
