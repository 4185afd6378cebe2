"""How to build an Engine, as data: a picklable recipe each worker process (or Spark executor) builds from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ivig_cds.engine.engine import Engine

__all__ = ["EngineSpec"]


@dataclass(frozen=True)
class EngineSpec:
    """A picklable recipe for an engine: each worker process builds its own from it.

    Attributes:
        backend: ``durable`` or ``reference``.
        thresholds: Site threshold overrides, as ``(name, value)`` pairs.
        plugin_paths: Local plugin files or directories (``--plugin``).
        strict_plugins: A failing plugin is fatal (``--strict-plugins``).
        fhir_mapping: A site FHIR mapping table (``--mapping``).
        strict_fhir: Validate FHIR input with the R4B models first (``--strict-fhir``).
        entry_points: Load installed plugins (subject to ``IVIG_CDS_LOAD_PLUGINS``).
    """

    backend: Literal["durable", "reference"] = "durable"
    thresholds: tuple[tuple[str, Any], ...] = ()
    plugin_paths: tuple[str, ...] = ()
    strict_plugins: bool = False
    fhir_mapping: str | None = None
    strict_fhir: bool = False
    entry_points: bool = True

    def __call__(self) -> Engine:
        return Engine(
            backend=self.backend,
            thresholds=dict(self.thresholds) or None,
            plugin_paths=self.plugin_paths,
            strict_plugins=self.strict_plugins,
            fhir_mapping=self.fhir_mapping,
            strict_fhir=self.strict_fhir,
            entry_points=self.entry_points,
        )
