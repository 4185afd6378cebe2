"""Deprecated import paths of 0.1: each old module name is an alias of its new home, with a warning.

An import finder (installed by ``ivig_cds/__init__.py``) answers the old names, so ``import
ivig_cds.patient`` still works for one release and gives the very module ``ivig_cds.model.patient``.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
import warnings
from collections.abc import Sequence
from types import ModuleType

__all__ = ["MOVED", "install"]

MOVED: dict[str, str] = {
    "ivig_cds.patient": "ivig_cds.model.patient",
    "ivig_cds.evaluation": "ivig_cds.model.evaluation",
    "ivig_cds.terminology": "ivig_cds.model.terminology",
    "ivig_cds.resources": "ivig_cds.model.resources",
    "ivig_cds.patient_io": "ivig_cds.inputs.files",
    "ivig_cds.derive": "ivig_cds.facts.derive",
    "ivig_cds.scoring": "ivig_cds.facts.scoring",
    "ivig_cds.conditions": "ivig_cds.rulebook.conditions",
    "ivig_cds.rules": "ivig_cds.rulebook.load",
    "ivig_cds.plan": "ivig_cds.rulebook.plan",
    "ivig_cds.reference": "ivig_cds.backends.reference",
    "ivig_cds._durable": "ivig_cds.backends._durable",
    "ivig_cds.hookspecs": "ivig_cds.plugins.spec",
    "ivig_cds._builtin": "ivig_cds.plugins.core",
    "ivig_cds.render": "ivig_cds.console.evaluation",
    "ivig_cds.render_reports": "ivig_cds.console.reports",
    "ivig_cds.timeline": "ivig_cds.console.timeline",
}
"""Old module name -> its home since 0.2."""


def _caller_level() -> int:
    """``stacklevel`` of the first frame outside the import machinery (the code that imported).

    ``warnings`` itself skips importlib's ``_bootstrap`` frames when it counts, so only the others count.
    """
    level, frame = 1, sys._getframe(1)
    while frame.f_back is not None and (
        "importlib" in frame.f_code.co_filename or frame.f_code.co_filename == __file__
    ):
        frame = frame.f_back
        if "_bootstrap" not in frame.f_code.co_filename:
            level += 1
    return level


class _AliasFinder:  # a meta path finder and loader (duck-typed: importlib.abc costs ~20 ms to import)
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)  # type: ignore[arg-type]  # a duck-typed Loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        new = MOVED[spec.name]
        warnings.warn(
            f"{spec.name} is deprecated and will be removed in ivig-cds 0.3; import from {new} or ivig_cds",
            DeprecationWarning,
            stacklevel=_caller_level(),
        )
        return importlib.import_module(new)

    def exec_module(self, module: ModuleType) -> None:
        return None


def install() -> None:
    """Answer the old module names (idempotent)."""
    if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
        sys.meta_path.append(_AliasFinder())
