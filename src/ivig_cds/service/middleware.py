"""ASGI middleware of the service: request ids and the request log, CORS from an allowlist, the dev-mode guard.

The request log has one line per request: request id, method, route, service, status, latency. It
never holds a patient identifier, a value or a token: the route is the matched template (or
``unmatched``), the service is logged only when it is one of ours, and nothing of the body or the
headers is written.
"""

from __future__ import annotations

import ipaddress
import logging
import time
import uuid
from collections.abc import Iterable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .services import SERVICES

__all__ = ["LOG", "CorsMiddleware", "DevGuardMiddleware", "RequestLogMiddleware", "route_of"]

LOG = logging.getLogger("ivig_cds.service")

_ROUTES = {"/health": "/health", "/cds-services": "/cds-services"}


def route_of(path: str) -> tuple[str, str]:
    """(route template, service id or ``-``) of a path relative to the app, for the log."""
    if path in _ROUTES:
        return _ROUTES[path], "-"
    parts = path.strip("/").split("/")
    if len(parts) in (2, 3) and parts[0] == "cds-services" and parts[1] in SERVICES:
        if len(parts) == 2:
            return "/cds-services/{id}", parts[1]
        if parts[2] == "feedback":
            return "/cds-services/{id}/feedback", parts[1]
    return "unmatched", "-"


def relative_path(scope: Scope) -> str:
    """The request path below the app's mount point (``root_path``)."""
    path = str(scope.get("path", ""))
    root = str(scope.get("root_path", ""))
    return path[len(root) :] if root and path.startswith(root) else path


class RequestLogMiddleware:
    """Gives every request an id (``X-Request-ID`` on the response) and logs one line when it ends."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        start = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route, service = route_of(relative_path(scope))
            LOG.info(
                "request_id=%s method=%s route=%s service=%s status=%d latency_ms=%.1f",
                request_id,
                scope.get("method", "-"),
                route,
                service,
                status,
                (time.perf_counter() - start) * 1000,
            )


class CorsMiddleware:
    """CORS for an allowlist of origins: preflights answered; a refused origin gets no CORS header at all."""

    def __init__(self, app: ASGIApp, origins: Iterable[str], max_age: int = 600) -> None:
        self.app = app
        self.origins = frozenset(origins)
        self.max_age = str(max_age).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        origin = headers.get(b"origin")
        allowed = origin is not None and origin.decode("latin-1") in self.origins
        preflight = scope.get("method") == "OPTIONS" and b"access-control-request-method" in headers
        if preflight:
            await self._preflight(send, origin if allowed else None)
            return
        if not allowed:
            await self.app(scope, receive, send)
            return
        assert origin is not None

        async def send_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [
                    (b"access-control-allow-origin", origin),
                    (b"access-control-expose-headers", b"X-Request-ID"),
                    (b"vary", b"Origin"),
                ]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_cors)

    async def _preflight(self, send: Send, origin: bytes | None) -> None:
        if origin is None:
            response: list[tuple[bytes, bytes]] = [(b"content-length", b"0"), (b"vary", b"Origin")]
            await send({"type": "http.response.start", "status": 403, "headers": response})
            await send({"type": "http.response.body", "body": b""})
            return
        response = [
            (b"access-control-allow-origin", origin),
            (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
            (b"access-control-allow-headers", b"Authorization, Content-Type"),
            (b"access-control-max-age", self.max_age),
            (b"vary", b"Origin"),
            (b"content-length", b"0"),
        ]
        await send({"type": "http.response.start", "status": 204, "headers": response})
        await send({"type": "http.response.body", "body": b""})


class DevGuardMiddleware:
    """Development mode: only loopback peers may call (the server is bound to loopback too)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client: Any = scope.get("client")
        host = client[0] if client else None
        try:
            loopback = host is not None and ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if scope["type"] == "http" and not loopback:
            body = b'{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"security",' \
                b'"diagnostics":"development mode answers loopback clients only"}]}'  # fmt: skip
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": 403, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)
