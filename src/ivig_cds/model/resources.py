"""Where the packaged data lives: the rules directory (rule files, thresholds, terminology, tables)."""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

__all__ = ["default_rules_dir"]


@functools.cache
def default_rules_dir() -> Path:
    """The built-in rules: packaged in the wheel as ``ivig_cds/_rules``, or the repo's ``rules/``.

    Found once per process (the installation does not move while it runs; every FHIR mapping asks).
    """
    packaged = resources.files("ivig_cds").joinpath("_rules")
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[3] / "rules"
