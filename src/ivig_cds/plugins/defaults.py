"""The built-in plugins: modules registered through the same hooks as third-party plugins.

They are named here, not imported, so the plugin layer depends on none of them: the rich console
and the text formats sit above it (``ivig_cds.console``, ``ivig_cds.outputs``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType

from ivig_cds.plugins.spec import OutputFormat

__all__ = ["DEFAULT_PLUGINS", "default_formats", "load_default"]

DEFAULT_PLUGINS: tuple[tuple[str, str], ...] = (
    ("core-console", "ivig_cds.console.format"),
    ("core-text", "ivig_cds.outputs.text"),
)
"""``(plugin name, module)`` of each built-in plugin besides the core rules (``ivig_cds.plugins.core``)."""


def load_default(module: str) -> ModuleType:
    """Import one built-in plugin module."""
    return importlib.import_module(module)


def default_formats() -> dict[str, OutputFormat]:
    """The output formats the built-in plugins register, by name in registration order (rich first)."""
    found: dict[str, OutputFormat] = {}

    def register(fmt: OutputFormat) -> None:
        found[fmt.name] = fmt

    for _, module in DEFAULT_PLUGINS:
        hook: Callable[..., None] | None = getattr(load_default(module), "register_output_formats", None)
        if hook is not None:
            hook(register=register)
    return found
