"""The CDS Hooks 2.0 service: the one package that imports the web stack (FastAPI, uvicorn, PyJWT, httpx, ...).

Install with ``pip install 'ivig-cds[service]'`` and run ``ivig-cds serve --config service.toml``, or build
the ASGI app with :func:`create_app` for any ASGI server. ``docs/service.md`` is the guide. The web stack is
imported when :func:`create_app` is first used, so reading a configuration stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config import ConfigError, ServiceConfig, load_config, parse_config

if TYPE_CHECKING:
    from .app import create_app

__all__ = ["ConfigError", "ServiceConfig", "create_app", "load_config", "parse_config"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
