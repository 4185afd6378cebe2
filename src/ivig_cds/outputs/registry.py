"""The output-format registry: the built-in formats and the plugins', resolved by name; error records.

Every format, built in or a plugin's, is an :class:`~ivig_cds.OutputFormat` registered through the
``register_output_formats`` hook; the built-in ones come from the default plugins
(:data:`ivig_cds.plugins.defaults.DEFAULT_PLUGINS`). Renderers take evaluations in input order
and return the whole text, ending in a newline.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ivig_cds.errors import FieldError
from ivig_cds.outputs.text import render_json, render_markdown, render_ndjson
from ivig_cds.plugins.defaults import default_formats
from ivig_cds.plugins.spec import OutputFormat

__all__ = [
    "OutputFormat",
    "available_formats",
    "builtin_formats",
    "error_record",
    "render_json",
    "render_markdown",
    "render_ndjson",
]


def error_record(source: str, errors: Sequence[FieldError]) -> dict[str, Any]:
    """The JSON error record of an input that could not be evaluated: ``{"error": {source, errors}}``."""
    return {"error": {"source": source, "errors": [e.to_dict() for e in errors]}}


def builtin_formats() -> dict[str, OutputFormat]:
    """The built-in formats, by name (a fresh dict each call)."""
    return default_formats()


def _as_format(fmt: Any) -> OutputFormat:
    """Accept any object with the fields of :class:`OutputFormat`."""
    if isinstance(fmt, OutputFormat):
        return fmt
    return OutputFormat(
        str(fmt.name),
        str(fmt.description),
        fmt.render,
        str(getattr(fmt, "media_type", "text/plain")),
        getattr(fmt, "error", None),
        bool(getattr(fmt, "per_record", False)),
        getattr(fmt, "open", None),
    )


def available_formats(extra: Mapping[str, OutputFormat] | None = None) -> dict[str, OutputFormat]:
    """The built-in formats plus ``extra`` (e.g. from plugins), sorted by name.

    Args:
        extra: Additional formats by name (objects with the same fields are accepted). A name must
            equal its format's ``name``; built-in names cannot be replaced (a plugin cannot change
            what ``json`` means).

    Raises:
        ValueError: An extra format reuses a built-in name or is filed under another name.
    """
    formats = builtin_formats()
    for key, fmt in (extra or {}).items():
        if key != fmt.name:
            raise ValueError(f"output format filed as {key!r} is named {fmt.name!r}")
        if key in formats:
            raise ValueError(f"output format {key!r} is built in and cannot be replaced")
        formats[key] = _as_format(fmt)
    return dict(sorted(formats.items()))
