"""Validating a CDS Hooks request body against the spec and the hook's context; failures are a short reason."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .services import ServiceSpec

__all__ = ["BadRequest", "HookCall", "parse_call", "parse_json"]

_CONTEXT: dict[str, dict[str, type | tuple[type, ...]]] = {
    # required context fields of each hook (CDS Hooks library), with their JSON types
    "patient-view": {"userId": str, "patientId": str},
    "order-select": {"userId": str, "patientId": str, "selections": list, "draftOrders": dict},
    "order-sign": {"userId": str, "patientId": str, "draftOrders": dict},
}
_FHIR_AUTH = {"access_token": str, "token_type": str, "expires_in": int, "scope": str, "subject": str}


class BadRequest(Exception):
    """The request breaks the spec; ``reason`` is one short sentence for the caller (no patient data)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class HookCall:
    """A validated service call."""

    hook: str
    hook_instance: str
    context: Mapping[str, Any]
    patient_id: str
    fhir_server: str | None = None
    access_token: str | None = field(default=None, repr=False)
    prefetch: Mapping[str, Any] = field(default_factory=dict, repr=False)
    draft_orders: tuple[dict[str, Any], ...] = field(default=(), repr=False)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(body: bytes) -> Any:
    """The JSON document of a request body (NaN, Infinity and deep nesting are refused)."""
    try:
        return json.loads(body, parse_constant=_no_constants)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BadRequest("the request body is not a JSON document") from None


def _check_fhir_server(url: Any, allow_http: bool, allowed: Sequence[str]) -> str:
    if not isinstance(url, str) or not url:
        raise BadRequest("fhirServer must be a URL")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.query or parts.fragment:
        raise BadRequest("fhirServer must be an absolute http(s) base URL")
    if parts.scheme != "https" and not allow_http:
        raise BadRequest("fhirServer must use https")
    base = url.rstrip("/")
    if allowed and base not in allowed:
        raise BadRequest("fhirServer is not one this EHR may use")
    return base


def _draft_orders(context: Mapping[str, Any], hook: str) -> tuple[dict[str, Any], ...]:
    """The draft MedicationRequests to check: the selected ones (order-select) or all (order-sign)."""
    bundle = context["draftOrders"]
    if bundle.get("resourceType") != "Bundle" or not isinstance(bundle.get("entry", []), list):
        raise BadRequest("context.draftOrders must be a FHIR Bundle")
    resources = []
    for entry in bundle.get("entry", []):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            raise BadRequest("context.draftOrders: every entry needs a resource")
        resources.append(resource)
    if hook != "order-select":
        return tuple(r for r in resources if r["resourceType"] == "MedicationRequest")
    selections = context["selections"]
    if not selections or not all(isinstance(s, str) and s for s in selections):
        raise BadRequest("context.selections must list the selected orders (ResourceType/id)")
    by_ref = {f"{r['resourceType']}/{r.get('id')}": r for r in resources if isinstance(r.get("id"), str)}
    missing = [s for s in selections if s not in by_ref]
    if missing:
        raise BadRequest("context.selections names an order that is not in context.draftOrders")
    return tuple(by_ref[s] for s in selections if by_ref[s]["resourceType"] == "MedicationRequest")


def parse_call(
    service: ServiceSpec,
    body: bytes,
    *,
    allow_http: bool = False,
    fhir_servers: Sequence[str] = (),
) -> HookCall:
    """Validate a service call.

    Args:
        service: The service called.
        body: The raw request body.
        allow_http: Accept an http:// fhirServer (development).
        fhir_servers: If not empty, the fhirServer base URLs the caller may send.

    Raises:
        BadRequest: The first problem found, as a short reason.
    """
    doc = parse_json(body)
    if not isinstance(doc, dict):
        raise BadRequest("the request body must be a JSON object")
    hook = doc.get("hook")
    if not isinstance(hook, str) or not hook:
        raise BadRequest("hook is required")
    if hook != service.hook:
        raise BadRequest(f"hook {hook[:40]!r} does not match this service (it answers {service.hook!r})")
    instance = doc.get("hookInstance")
    try:
        if not isinstance(instance, str):
            raise ValueError
        uuid.UUID(instance)
    except ValueError:
        raise BadRequest("hookInstance must be a UUID") from None
    context = doc.get("context")
    if not isinstance(context, dict):
        raise BadRequest("context is required and must be an object")
    for name, kind in _CONTEXT[hook].items():
        value = context.get(name)
        if value is None:
            raise BadRequest(f"context.{name} is required for {hook}")
        if not isinstance(value, kind) or (isinstance(value, str) and not value.strip()):
            raise BadRequest(f"context.{name} has the wrong type")
    if "encounterId" in context and not isinstance(context["encounterId"], str):
        raise BadRequest("context.encounterId must be a string")
    auth = doc.get("fhirAuthorization")
    token: str | None = None
    if auth is not None:
        if not isinstance(auth, dict):
            raise BadRequest("fhirAuthorization must be an object")
        for name, kind in _FHIR_AUTH.items():
            if not isinstance(auth.get(name), kind) or isinstance(auth.get(name), bool):
                raise BadRequest(f"fhirAuthorization.{name} is required")
        if auth["token_type"] != "Bearer":
            raise BadRequest("fhirAuthorization.token_type must be Bearer")
        if "fhirServer" not in doc:
            raise BadRequest("fhirAuthorization requires fhirServer")  # cds-r-1
        token = auth["access_token"]
    server = doc.get("fhirServer")
    base = _check_fhir_server(server, allow_http, fhir_servers) if server is not None else None
    prefetch = doc.get("prefetch", {})
    if prefetch is None:
        prefetch = {}
    if not isinstance(prefetch, dict):
        raise BadRequest("prefetch must be an object")
    for key, value in prefetch.items():
        if value is not None and (not isinstance(value, dict) or not isinstance(value.get("resourceType"), str)):
            raise BadRequest(f"prefetch key {key[:40]!r} must hold a FHIR resource or null")
    if "extension" in doc and not isinstance(doc["extension"], dict):
        raise BadRequest("extension must be an object")
    drafts = _draft_orders(context, hook) if "draftOrders" in _CONTEXT[hook] else ()
    return HookCall(
        hook=hook,
        hook_instance=instance,
        context=context,
        patient_id=context["patientId"],
        fhir_server=base,
        access_token=token,
        prefetch=prefetch,
        draft_orders=drafts,
    )
