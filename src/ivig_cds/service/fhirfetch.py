"""Completing the prefetch: what the EHR did not prefetch is fetched from its FHIR server with its token.

A prefetch key whose value is ``null`` is "no data" and is not fetched again; an absent key or an
``OperationOutcome`` is "not fetched". Fetching needs ``fhirServer`` and ``fhirAuthorization``; it
uses the service's own templates with the context filled in, a timeout per request, one size cap
for everything fetched in a call, at most ``max_pages`` pages per search, and never leaves the
FHIR server (a ``next`` link elsewhere and redirects are refused). Anything that cannot be had is
a :class:`Precondition` (the service answers 412).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from .config import FhirSettings
from .hooks import HookCall

__all__ = ["Precondition", "complete_prefetch", "render_template"]

_TOKEN = re.compile(r"\{\{\s*([A-Za-z][A-Za-z0-9_.]*)\s*\}\}")
_USER_TOKENS = {
    "userPractitionerId": "Practitioner",
    "userPractitionerRoleId": "PractitionerRole",
    "userPatientId": "Patient",
    "userRelatedPersonId": "RelatedPerson",
}
Gaps = Callable[[Mapping[str, Any], Sequence[str]], Sequence[str]]


class Precondition(Exception):
    """The data the service needs can be neither prefetched nor fetched; ``reason`` names what, not values."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def render_template(template: str, context: Mapping[str, Any]) -> str | None:
    """Fill a prefetch template's tokens from the context; None when a token has no value."""
    missing = False

    def sub(m: re.Match[str]) -> str:
        nonlocal missing
        name = m.group(1)
        value: Any = None
        if name.startswith("context."):
            value = context.get(name[len("context.") :])
        elif name in _USER_TOKENS:
            user = context.get("userId")
            prefix = _USER_TOKENS[name] + "/"
            value = user[len(prefix) :] if isinstance(user, str) and user.startswith(prefix) else None
        if not isinstance(value, (str, int)) or isinstance(value, bool) or value == "":
            missing = True
            return ""
        return quote(str(value), safe="")

    text = _TOKEN.sub(sub, template)
    return None if missing else text


class _Budget:
    """Bytes still allowed for this call."""

    def __init__(self, limit: int) -> None:
        self.left = limit


async def _get(client: httpx.AsyncClient, url: str, token: str, settings: FhirSettings, budget: _Budget) -> Any:
    body = bytearray()
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/fhir+json, application/json"}
    try:
        async with client.stream(
            "GET", url, headers=headers, timeout=settings.timeout_seconds, follow_redirects=False
        ) as response:
            if response.status_code == 404 and "?" not in url:
                return None  # a read of a resource the server does not have: no data
            if response.status_code != 200:
                raise Precondition(f"the FHIR server answered {response.status_code}")
            async for chunk in response.aiter_bytes():
                body += chunk
                budget.left -= len(chunk)
                if budget.left < 0:
                    raise Precondition("the FHIR data is larger than the service accepts")
    except httpx.TimeoutException:
        raise Precondition("the FHIR server did not answer in time") from None
    except httpx.HTTPError:
        raise Precondition("the FHIR server could not be reached") from None
    try:
        doc = json.loads(bytes(body))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise Precondition("the FHIR server sent something that is not JSON") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("resourceType"), str):
        raise Precondition("the FHIR server sent something that is not a FHIR resource")
    if doc["resourceType"] == "OperationOutcome":
        raise Precondition("the FHIR server answered with an OperationOutcome")
    return doc


def _next_link(bundle: Mapping[str, Any]) -> str | None:
    for link in bundle.get("link", []) or []:
        if isinstance(link, dict) and link.get("relation") == "next" and isinstance(link.get("url"), str):
            return str(link["url"])
    return None


async def _fetch_key(
    client: httpx.AsyncClient, base: str, query: str, token: str, settings: FhirSettings, budget: _Budget
) -> Any:
    first = await _get(client, f"{base}/{query}", token, settings, budget)
    if first is None or first.get("resourceType") != "Bundle":
        return first
    entries = list(first.get("entry", []) or [])
    page, url = 1, _next_link(first)
    while url is not None:
        if not (url == base or url.startswith(base + "/") or url.startswith(base + "?")):
            raise Precondition("a search result page points outside the FHIR server")
        if page >= settings.max_pages:
            raise Precondition("a search has more result pages than the service follows")
        more = await _get(client, url, token, settings, budget)
        if more is None or more.get("resourceType") != "Bundle":
            raise Precondition("a search result page is not a Bundle")
        entries += list(more.get("entry", []) or [])
        page, url = page + 1, _next_link(more)
    merged = {k: v for k, v in first.items() if k != "link"}
    if entries:
        merged["entry"] = entries
    return merged


async def complete_prefetch(
    call: HookCall,
    templates: Mapping[str, str],
    gaps: Gaps,
    client: httpx.AsyncClient,
    settings: FhirSettings,
) -> dict[str, Any]:
    """The prefetch with every missing key fetched.

    Args:
        call: The validated call (prefetch, context, fhirServer, token).
        templates: The service's prefetch templates by key.
        gaps: ``gaps(prefetch, keys)``: the keys not fetched (absent or OperationOutcome).
        client: The HTTP client.
        settings: Timeout, size cap, pages, http policy.

    Raises:
        Precondition: Something needed can be neither prefetched nor fetched.
    """
    prefetch = dict(call.prefetch)
    missing = list(gaps(prefetch, list(templates)))
    if not missing:
        return prefetch
    if call.fhir_server is None or call.access_token is None:
        raise Precondition(
            f"prefetch incomplete ({', '.join(sorted(missing))}) and no fhirServer with fhirAuthorization"
        )
    queries = {}
    for key in missing:
        query = render_template(templates[key], call.context)
        if query is None:
            raise Precondition(f"prefetch key {key} cannot be fetched: its context value is missing")
        queries[key] = query
    budget = _Budget(settings.max_bytes)
    token, base = call.access_token, call.fhir_server
    results = await asyncio.gather(
        *(_fetch_key(client, base, q, token, settings, budget) for q in queries.values()), return_exceptions=True
    )
    for key, result in zip(queries, results, strict=True):
        if isinstance(result, Precondition):
            raise Precondition(f"{key}: {result.reason}")
        if isinstance(result, BaseException):
            raise result
        prefetch[key] = result
    return prefetch
