"""The core plugin: registers the core rule files through the public ``register_rules`` hook."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ivig_cds.plugins.spec import hookimpl
from ivig_cds.rulebook.load import SPECIAL_FILES, default_rules_dir

__all__ = ["CorePlugin"]


class CorePlugin:
    """The core rules: one file per family in the rules directory."""

    def __init__(self, rules_dir: Path | None = None) -> None:
        self.rules_dir = rules_dir or default_rules_dir()

    @hookimpl
    def register_rules(self, register: Callable[[Path | Mapping[str, Any]], None]) -> None:
        for path in sorted(self.rules_dir.glob("*.yaml")):
            if path.name not in SPECIAL_FILES:
                register(path)
