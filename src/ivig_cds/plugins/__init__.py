"""Plugins on pluggy: the hook specifications, the per-Engine host and the built-in plugins."""

from __future__ import annotations

from ivig_cds.plugins.host import (
    LOAD_PLUGINS_ENV,
    EvaluationContext,
    FactDeriver,
    OutputFormatSpec,
    PluginHost,
    PluginInfo,
    Registrations,
)

__all__ = [
    "LOAD_PLUGINS_ENV",
    "EvaluationContext",
    "FactDeriver",
    "OutputFormatSpec",
    "PluginHost",
    "PluginInfo",
    "Registrations",
]
