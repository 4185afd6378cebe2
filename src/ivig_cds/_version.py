"""The ivig-cds version (one place: the package, the CLI and every result read it)."""

from __future__ import annotations

__version__ = "0.1.0"
