"""Output formats: the registry, the built-in text formats (json, ndjson, markdown) and their writer."""

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
from ivig_cds.outputs.writer import TextWriter, open_writer

__all__ = [
    "OutputFormat",
    "TextWriter",
    "available_formats",
    "builtin_formats",
    "error_record",
    "open_writer",
    "render_json",
    "render_markdown",
    "render_ndjson",
]
