"""The CDS Hooks 2.0 service: the one package that imports the web stack (FastAPI, uvicorn, PyJWT, httpx, ...).

Install with ``pip install 'ivig-cds[service]'`` and run ``ivig-cds serve --config service.toml``, or build
the ASGI app with :func:`create_app` for any ASGI server. ``docs/service.md`` is the guide.
"""

from __future__ import annotations

from .app import create_app
from .config import ConfigError, ServiceConfig, load_config, parse_config

__all__ = ["ConfigError", "ServiceConfig", "create_app", "load_config", "parse_config"]
