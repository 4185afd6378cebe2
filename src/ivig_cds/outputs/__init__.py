"""Output formats: the registry and the built-in text formats (json, ndjson, markdown)."""

from __future__ import annotations

from ivig_cds.outputs.registry import (
    OutputFormat,
    available_formats,
    builtin_formats,
    error_record,
    render_json,
    render_markdown,
    render_ndjson,
)

__all__ = [
    "OutputFormat",
    "available_formats",
    "builtin_formats",
    "error_record",
    "render_json",
    "render_markdown",
    "render_ndjson",
]
