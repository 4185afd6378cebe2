"""``ivig-cds serve`` and ``ivig-cds feedback report`` (imported by the core CLI only when they are run)."""

from __future__ import annotations

import argparse
import importlib
import ipaddress
import json
import os
import sys
from typing import Any

from .config import ConfigError, ServiceConfig, load_config, parse_config

__all__ = ["app_from_env", "ensure_stack", "is_loopback", "run_command"]

ENV_CONFIG = "IVIG_CDS_SERVICE_CONFIG_JSON"
ENV_DEV = "IVIG_CDS_SERVICE_DEV"
ENV_HOST = "IVIG_CDS_SERVICE_HOST"
_BANNER = """\
==========================================================================================
 ivig-cds serve --dev: DEVELOPMENT MODE
 NO AUTHENTICATION: any local program can call this service. Loopback only ({host}).
 Never use it with real patient data; use a configuration with [[trust]] entries instead.
==========================================================================================
"""


_STACK = {
    "serve": ("fastapi", "uvicorn", "jwt", "httpx", "sqlalchemy", "cryptography"),
    "feedback": ("sqlalchemy",),
}


def ensure_stack(command: str) -> None:
    """Import what ``command`` needs now, so a missing extra is one clear error and not a traceback later.

    Raises:
        ImportError: A module of the [service] extra is not installed.
    """
    for name in _STACK.get(command, ()):
        importlib.import_module(name)


def is_loopback(host: str) -> bool:
    """Whether a bind address is loopback only (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _log_config() -> dict[str, Any]:
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = json.loads(json.dumps(LOGGING_CONFIG))
    config["formatters"]["service"] = {"format": "%(asctime)s %(levelname)s pid=%(process)d %(message)s"}
    config["handlers"]["service"] = {
        "formatter": "service",
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
    }
    config["loggers"]["ivig_cds.service"] = {"handlers": ["service"], "level": "INFO", "propagate": False}
    return config


def app_from_env() -> Any:
    """The app of one uvicorn worker, from the configuration ``serve`` passed in the environment."""
    from .app import create_app

    dev = os.environ.get(ENV_DEV) == "1"
    if dev and not is_loopback(os.environ.get(ENV_HOST, "")):
        raise ConfigError("development mode is refused on a non-loopback address")
    config = parse_config(json.loads(os.environ[ENV_CONFIG]), source="(from ivig-cds serve)", dev=dev)
    return create_app(config)


def _config(args: argparse.Namespace) -> ServiceConfig:
    overrides: dict[str, Any] = {}
    if args.config:
        return load_config(args.config, dev=args.dev, overrides=overrides)
    if not args.dev:
        raise ConfigError("give --config FILE (see docs/service.md), or --dev for unauthenticated development")
    host = f"[{args.host}]" if ":" in args.host else args.host
    return parse_config({"public_url": f"http://{host}:{args.port}"}, source="(--dev defaults)", dev=True)


def _serve(args: argparse.Namespace) -> int:
    if args.dev and not is_loopback(args.host):
        sys.stderr.write(f"ivig-cds: error: --dev is refused on a non-loopback address ({args.host})\n")
        return 2
    config = _config(args)
    import uvicorn

    from .app import create_app

    # Built here first, once: a bad key file, plugin, CA or database stops start-up with one clear
    # message (and creates the tables before several workers could race to).
    app = create_app(config)
    if config.dev:
        sys.stderr.write(_BANNER.format(host=args.host))
        sys.stderr.flush()
    options: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "access_log": False,  # the service logs one line per request itself, without patient data
        "log_config": _log_config(),
        "server_header": False,
        "timeout_graceful_shutdown": 10,
    }
    if args.workers <= 1:
        uvicorn.run(app, **options)
        return 0
    del app  # each worker builds its own from the configuration in the environment
    os.environ[ENV_CONFIG] = config.model_dump_json()
    os.environ[ENV_DEV] = "1" if config.dev else "0"
    os.environ[ENV_HOST] = args.host
    uvicorn.run("ivig_cds.service.cli:app_from_env", factory=True, workers=args.workers, **options)
    return 0


def _report(args: argparse.Namespace) -> int:
    from sqlalchemy import inspect

    from .store import Store, StoreError

    if args.database_url:
        url = args.database_url
    elif args.config:
        url = load_config(args.config).feedback.database_url
    else:
        url = parse_config({"public_url": "https://localhost"}, dev=True).feedback.database_url
    try:
        store = Store(url, create=False)
        exists = inspect(store.engine).has_table("ivig_cds_cards_shown")
        rows = [r.to_dict() for r in store.report()] if exists else []
        store.close()
    except StoreError as exc:
        sys.stderr.write(f"ivig-cds: error: {exc}\n")
        return 2
    if args.format == "json":
        sys.stdout.write(json.dumps({"rules": rows}, indent=2) + "\n")
    else:
        from ivig_cds.console.reports import render_feedback

        render_feedback(rows)
    return 0


def run_command(args: argparse.Namespace) -> int:
    """Run ``serve`` or ``feedback report``; return the exit code."""
    if args.command == "serve":
        return _serve(args)
    return _report(args)
