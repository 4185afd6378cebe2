"""The app factory: ``create_app(config)`` builds the FastAPI app (routes, auth dependency, middleware, state)."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import os
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from types import ModuleType
from typing import Any

import httpx
from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from ivig_cds import Engine, IvigCdsError

from .config import ConfigError, ServiceConfig
from .fhirfetch import Precondition, complete_prefetch
from .hooks import BadRequest, HookCall, parse_call, parse_json
from .middleware import LOG, CorsMiddleware, DevGuardMiddleware, RequestLogMiddleware, relative_path
from .pipeline import EMPTY, CallResult, Mapper, Pipeline, default_mapper
from .security import AuthError, JwksCache, TokenVerifier
from .services import SERVICES, ServiceSpec, discovery_document
from .store import FeedbackItem, Store, StoreError

__all__ = ["ServiceState", "create_app"]

_DRAIN_FACTOR = 8  # a body over the cap is read (and dropped) up to this many times the cap, then cut
_MAX_FEEDBACK = 1000
_TELEMETRY_OFF = ("tracing", "metrics", "logs", "operation_spans", "auto_configure")


class _Problem(Exception):
    def __init__(self, status: int, reason: str, code: str = "invalid") -> None:
        super().__init__(reason)
        self.status, self.reason, self.code = status, reason, code


_UNAUTHORIZED = _Problem(401, "unauthorized", "security")


def problem_body(reason: str, code: str = "invalid") -> bytes:
    """A short JSON error: an OperationOutcome with one issue."""
    doc = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": reason}],
    }
    return json.dumps(doc).encode()


def _json(doc: Any, status: int = 200) -> Response:
    return Response(
        json.dumps(doc, ensure_ascii=False).encode(), status_code=status, media_type="application/json"
    )


@dataclass
class ServiceState:
    """What the routes share: built once per worker."""

    config: ServiceConfig
    engine: Engine
    store: Store
    pipeline: Pipeline
    http: httpx.AsyncClient | None = None
    verifier: TokenVerifier | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.ivig
    return state


async def authenticated(request: Request) -> dict[str, Any]:
    """The verified JWT claims of the call (development mode: none)."""
    state = _state(request)
    if state.config.dev:
        return {}
    assert state.verifier is not None
    audience = state.config.base_url + relative_path(request.scope)
    try:
        return await state.verifier.verify(request.headers.get("authorization"), audience)
    except AuthError as exc:
        LOG.info("request_id=%s auth refused: %s", request.scope.get("state", {}).get("request_id"), exc.reason)
        raise _UNAUTHORIZED from None
    except StoreError:
        raise _Problem(503, "the replay store is unavailable", "transient") from None


async def _body(request: Request, cap: int) -> bytes:
    """The request body, or 413 past the cap (a moderately larger body is drained so the client reads the 413)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > cap * _DRAIN_FACTOR:
        raise _Problem(413, f"the request body is over {cap} bytes", "too-costly")
    body = bytearray()
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen <= cap:
            body += chunk
        elif seen > cap * _DRAIN_FACTOR:
            break
    if seen > cap:
        raise _Problem(413, f"the request body is over {cap} bytes", "too-costly")
    return bytes(body)


def _feedback_items(doc: Any, max_comment: int) -> list[FeedbackItem]:
    """Validate a feedback body against the spec (cds-fb-1, -2, -3)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("feedback"), list) or not doc["feedback"]:
        raise BadRequest('the body must be {"feedback": [...]} with at least one entry')
    if len(doc["feedback"]) > _MAX_FEEDBACK:
        raise BadRequest(f"at most {_MAX_FEEDBACK} feedback entries per request")
    items = []
    for i, fb in enumerate(doc["feedback"]):
        where = f"feedback[{i}]"
        if not isinstance(fb, dict) or not isinstance(fb.get("card"), str) or not fb["card"]:
            raise BadRequest(f"{where}.card is required")
        outcome = fb.get("outcome")
        if outcome not in ("accepted", "overridden"):
            raise BadRequest(f"{where}.outcome must be accepted or overridden")
        accepted = fb.get("acceptedSuggestions")
        if outcome == "accepted" and (not isinstance(accepted, list) or not accepted):
            raise BadRequest(f"{where}.acceptedSuggestions is required when the outcome is accepted")
        if accepted is not None and not (
            isinstance(accepted, list)
            and all(isinstance(a, dict) and isinstance(a.get("id"), str) for a in accepted)
        ):
            raise BadRequest(f'{where}.acceptedSuggestions must be a list of {{"id": ...}}')
        try:
            when = datetime.fromisoformat(str(fb.get("outcomeTimestamp")))
        except ValueError:
            raise BadRequest(f"{where}.outcomeTimestamp must be an ISO 8601 instant") from None
        reason: dict[str, Any] = {}
        override = fb.get("overrideReason")
        if override is not None:
            coding, comment = (
                (override.get("reason"), override.get("userComment"))
                if isinstance(override, dict)
                else (None, None)
            )
            if coding is None and comment is None:
                raise BadRequest(f"{where}.overrideReason needs a reason, a userComment or both")
            if coding is not None and not (
                isinstance(coding, dict) and (coding.get("code") or coding.get("display"))
            ):
                raise BadRequest(f"{where}.overrideReason.reason must be a Coding")
            if comment is not None and not isinstance(comment, str):
                raise BadRequest(f"{where}.overrideReason.userComment must be a string")
            if coding is not None:
                reason = {k: str(coding[k])[:500] for k in ("system", "code", "display") if coding.get(k)}
            if comment:
                reason["comment"] = comment[:max_comment] if max_comment else None
        items.append(
            FeedbackItem(
                card=fb["card"][:64],
                outcome=outcome,
                outcome_at=when,
                accepted_suggestions=len(accepted or []),
                override_system=reason.get("system"),
                override_code=reason.get("code"),
                override_display=reason.get("display"),
                comment=reason.get("comment"),
            )
        )
    return items


def _routes(app: FastAPI) -> None:
    @app.get("/health")
    async def health() -> Response:
        return _json({"status": "ok"})

    @app.get("/cds-services", dependencies=[Depends(authenticated)])
    async def discovery() -> Response:
        return _json(discovery_document())

    @app.post("/cds-services/{service_id}")
    async def call(service_id: str, request: Request) -> Response:
        state = _state(request)
        try:
            async with asyncio.timeout(state.config.limits.request_budget_seconds):
                claims = await authenticated(request)
                service = SERVICES.get(service_id)
                if service is None:
                    raise _Problem(404, "no such CDS service", "not-found")
                body = await _body(request, state.config.limits.max_body_bytes)
                allowed = next((t.fhir_servers for t in state.config.trust if t.iss == claims.get("iss")), [])
                parsed = parse_call(
                    service,
                    body,
                    allow_http=state.config.fhir.allow_http or state.config.dev,
                    fhir_servers=allowed,
                )
                assert state.http is not None
                prefetch = await complete_prefetch(
                    parsed, service.prefetch, state.pipeline.gaps, state.http, state.config.fhir
                )
                result = await run_in_threadpool(_evaluate_and_record, state, service, parsed, prefetch)
                return _json(result.response if result.cards else EMPTY)
        except TimeoutError:
            raise _Problem(503, "the request took longer than the service's time budget", "timeout") from None
        except BadRequest as exc:
            raise _Problem(400, exc.reason) from None
        except Precondition as exc:
            raise _Problem(412, exc.reason, "incomplete") from None
        except (_Problem, StoreError):
            raise
        except Exception as exc:  # the type only: a message could quote patient data
            raise _internal(request, exc) from None

    @app.post("/cds-services/{service_id}/feedback", dependencies=[Depends(authenticated)])
    async def feedback(service_id: str, request: Request) -> Response:
        state = _state(request)
        if service_id not in SERVICES:
            raise _Problem(404, "no such CDS service", "not-found")
        body = await _body(request, state.config.limits.max_body_bytes)
        try:
            items = _feedback_items(parse_json(body), state.config.feedback.max_comment_chars)
        except BadRequest as exc:
            raise _Problem(400, exc.reason) from None
        stored = await run_in_threadpool(state.store.add_feedback, service_id, items)
        return _json({"stored": stored})


def _evaluate_and_record(
    state: ServiceState, service: ServiceSpec, call: HookCall, prefetch: dict[str, Any]
) -> CallResult:
    """Map, evaluate, build the cards and record them as shown (one worker-thread hop per call)."""
    result = state.pipeline.run(service, call, prefetch)
    if result.cards:
        state.store.record_cards(service.id, result.ruleset_hash, result.cards)
    return result


def _internal(request: Request, exc: Exception) -> _Problem:
    rid = request.scope.get("state", {}).get("request_id")
    LOG.error("request_id=%s internal error (%s)", rid, type(exc).__name__)
    return _Problem(500, f"internal error; request id {rid}", "exception")


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(_Problem)
    async def on_problem(_request: Request, exc: _Problem) -> Response:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return Response(problem_body(exc.reason, exc.code), exc.status, headers, media_type="application/json")

    @app.exception_handler(StarletteHTTPException)
    async def on_http(_request: Request, exc: StarletteHTTPException) -> Response:
        reason = {404: "not found", 405: "method not allowed"}.get(exc.status_code, "request refused")
        return Response(problem_body(reason), exc.status_code, media_type="application/json")

    @app.exception_handler(StoreError)
    async def on_store(_request: Request, _exc: StoreError) -> Response:
        return Response(problem_body("the feedback store is unavailable", "transient"), 503,
                        media_type="application/json")  # fmt: skip

    @app.exception_handler(Exception)
    async def on_error(request: Request, exc: Exception) -> Response:
        problem = _internal(request, exc)
        return Response(problem_body(problem.reason, problem.code), 500, media_type="application/json")


def _engine(config: ServiceConfig) -> Engine:
    e = config.engine
    try:
        return Engine(
            backend=e.backend,
            thresholds=e.thresholds or None,
            plugin_paths=e.plugins,
            entry_points=e.entry_points,
            strict_plugins=e.strict_plugins,
        )
    except IvigCdsError as exc:
        raise ConfigError(f"engine: {exc}") from None


def create_app(config: ServiceConfig, *, mapper: Mapper | ModuleType | None = None) -> FastAPI:
    """The CDS Hooks service as a FastAPI app (serve it with any ASGI server).

    Args:
        config: The validated configuration (:func:`ivig_cds.service.load_config`).
        mapper: The FHIR adapter (default ``ivig_cds.fhir``): ``patient_from_prefetch`` and ``prefetch_gaps``.

    Raises:
        ConfigError: The engine, its plugins, the JWK Set files or the database cannot be set up.
    """
    engine = _engine(config)
    try:
        store = Store(config.feedback.database_url)
    except StoreError as exc:
        raise ConfigError(f"feedback.database_url: {exc}") from None
    try:
        pipeline = Pipeline(engine, mapper or default_mapper(), config.cards, config.fhir.mapping)
    except IvigCdsError as exc:
        raise ConfigError(f"fhir.mapping: {exc}") from None
    state = ServiceState(config=config, engine=engine, store=store, pipeline=pipeline)

    async def claim(iss: str, jti: str, forget_after: int) -> bool:
        return await run_in_threadpool(store.claim_token, iss, jti, forget_after)

    jwks = JwksCache(config.jwt)
    state.verifier = TokenVerifier(config.trust, config.jwt, jwks, claim)  # reads the JWK Set files now
    verify: ssl.SSLContext | bool = True
    if config.tls.ca_file is not None:
        try:
            verify = ssl.create_default_context(cafile=str(config.tls.ca_file))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"tls.ca_file {config.tls.ca_file}: {exc}") from None

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
        async with httpx.AsyncClient(limits=limits, trust_env=False, verify=verify) as client:
            state.http = jwks.client = client
            if config.dev:
                LOG.warning("DEVELOPMENT MODE: no authentication; loopback clients only; never use patient data")
            yield
        store.close()

    options: dict[str, Any] = {}
    if "telemetry" in inspect.signature(FastAPI).parameters:
        # FastAPI's own OpenTelemetry export would carry exception messages (patient data) if a site
        # configured a provider: off; the request log is the service's observability.
        options["telemetry"] = {key: False for key in _TELEMETRY_OFF}
    app = FastAPI(
        title="ivig-cds CDS Hooks service",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
        **options,
    )
    app.state.ivig = state
    _routes(app)
    _handlers(app)
    if config.dev:
        app.add_middleware(DevGuardMiddleware)
    app.add_middleware(CorsMiddleware, origins=config.cors.origins)
    app.add_middleware(RequestLogMiddleware)
    logging.getLogger("ivig_cds.service").setLevel(os.environ.get("IVIG_CDS_SERVICE_LOG_LEVEL", "INFO"))
    for name in ("httpx", "httpcore"):  # their INFO lines carry request URLs, and FHIR URLs name the patient
        logging.getLogger(name).setLevel(logging.WARNING)
    return app
