"""Authenticating EHRs: CDS Hooks JWTs verified with PyJWT against a trust table (iss → jku / JWKS, algorithms).

Order of the checks, so nothing is fetched or trusted before it is allowed: the header is parsed
(``kid`` required, no ``crit``/``b64``, ``typ`` JWT if present); the unverified ``iss`` selects a
trust entry (unknown: refused); ``alg`` must be one the entry allows (never ``none`` or HMAC: the
configuration accepts only ES384, RS384 and ES256); a ``jku`` must be in the entry's allowlist
*before* it is fetched, else the entry's out-of-band JWK Set is used; the key is the JWK with that
``kid``, of the algorithm's type and curve; PyJWT then verifies the signature with exactly that one
algorithm, ``aud`` (the exact endpoint URL), ``iss``, ``exp`` and ``iat`` (leeway ≤ 60 s) and requires
``jti``; ``exp - iat`` is bounded; last, the ``jti`` is claimed in the shared replay store. Every
failure is the same :class:`AuthError` (its ``reason`` goes to the log, never to the client).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from .config import ConfigError, JwtSettings, TrustEntry

__all__ = ["REQUIRED_CLAIMS", "AuthError", "JwksCache", "TokenVerifier", "load_jwks_file"]

REQUIRED_CLAIMS = ("iss", "aud", "exp", "iat", "jti")
_CURVES = {"ES384": ec.SECP384R1, "ES256": ec.SECP256R1}
_MIN_RSA_BITS = 2048


class AuthError(Exception):
    """The request is not authenticated; ``reason`` is for the operator's log only."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _keys_by_kid(doc: Any) -> dict[str, dict[str, Any]]:
    """The JWKs of a JWK Set document that have a ``kid``."""
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list):
        raise ValueError("not a JWK Set (an object with a 'keys' array)")
    out: dict[str, dict[str, Any]] = {}
    for key in doc["keys"]:
        if isinstance(key, dict) and isinstance(key.get("kid"), str) and key["kid"]:
            out.setdefault(key["kid"], key)
    return out


def load_jwks_file(path: Path) -> dict[str, dict[str, Any]]:
    """Read an out-of-band JWK Set file.

    Raises:
        ConfigError: Unreadable, not JSON, or not a JWK Set.
    """
    try:
        return _keys_by_kid(json.loads(path.read_text(encoding="utf-8")))
    except OSError as exc:
        raise ConfigError(f"trust.jwks_file {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ConfigError(f"trust.jwks_file {path}: {exc}") from None


@dataclass
class _Entry:
    keys: dict[str, dict[str, Any]]
    fetched_at: float


class JwksCache:
    """JWK Sets fetched from allowlisted ``jku`` URLs: cached, refreshed at most every few seconds per URL.

    A failed refresh keeps the previous keys (one bad fetch must not lock every EHR out). Redirects are
    not followed (a redirect could leave the allowlist), and a document over the size cap is refused.
    """

    def __init__(self, settings: JwtSettings, client: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self.client = client  # set when the event loop runs (the app's lifespan)
        self._entries: dict[str, _Entry] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._attempts: dict[str, float] = {}

    async def _fetch(self, url: str) -> dict[str, dict[str, Any]]:
        if self.client is None:
            raise ValueError("no HTTP client")
        body = bytearray()
        async with self.client.stream(
            "GET", url, timeout=self.settings.jwks_timeout_seconds, follow_redirects=False
        ) as response:
            if response.status_code != 200:
                raise ValueError(f"status {response.status_code}")
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > self.settings.jwks_max_bytes:
                    raise ValueError("JWK Set too large")
        return _keys_by_kid(json.loads(bytes(body)))

    async def key(self, url: str, kid: str) -> dict[str, Any] | None:
        """The JWK ``kid`` of the JWK Set at ``url`` (an allowlisted jku), or None."""
        async with self._locks.setdefault(url, asyncio.Lock()):
            now = time.monotonic()
            entry = self._entries.get(url)
            stale = entry is None or now - entry.fetched_at >= self.settings.jwks_cache_seconds
            unknown = entry is None or kid not in entry.keys
            last = self._attempts.get(url)
            if (stale or unknown) and (last is None or now - last >= self.settings.jwks_refresh_seconds):
                self._attempts[url] = now
                # on failure keep the keys we had: one failed refresh must not lock every EHR out
                with contextlib.suppress(httpx.HTTPError, ValueError):
                    entry = self._entries[url] = _Entry(await self._fetch(url), now)
            return None if entry is None else entry.keys.get(kid)


def _check_key(jwk: Mapping[str, Any], alg: str) -> jwt.PyJWK:
    """The verification key for ``alg`` from a JWK, refusing a key of another type, curve or use."""
    if jwk.get("use") not in (None, "sig"):
        raise AuthError("key use")
    if jwk.get("alg") not in (None, alg):
        raise AuthError("key alg")
    if jwk.get("key_ops") is not None and "verify" not in (jwk.get("key_ops") or []):
        raise AuthError("key ops")
    try:
        key = jwt.PyJWK(dict(jwk), algorithm=alg)
    except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
        raise AuthError("key unusable") from None
    material = key.key
    if alg.startswith("ES"):
        if not isinstance(material, ec.EllipticCurvePublicKey) or not isinstance(material.curve, _CURVES[alg]):
            raise AuthError("key curve")
    elif not isinstance(material, rsa.RSAPublicKey) or material.key_size < _MIN_RSA_BITS:
        raise AuthError("key type")
    return key


ClaimToken = Callable[[str, str, int], Awaitable[bool]]


class TokenVerifier:
    """Verifies the bearer JWT of each call against the trust table.

    Args:
        trust: The trusted issuers.
        settings: Leeway, lifetime, JWK Set fetching.
        jwks: The cache of fetched JWK Sets.
        claim: ``claim(iss, jti, forget_after)`` records a token id; False when seen before (a replay).
    """

    def __init__(self, trust: list[TrustEntry], settings: JwtSettings, jwks: JwksCache, claim: ClaimToken) -> None:
        self.settings = settings
        self.trust = {t.iss: t for t in trust}
        self.files = {t.iss: load_jwks_file(t.jwks_file) for t in trust if t.jwks_file is not None}
        self.jwks = jwks
        self.claim = claim

    async def verify(self, authorization: str | None, audience: str) -> dict[str, Any]:
        """The verified claims of the request's token.

        Args:
            authorization: The ``Authorization`` header.
            audience: The exact URL of the endpoint called (``public_url`` + path).

        Raises:
            AuthError: Whatever failed (the same error for every check).
        """
        if not authorization or not authorization.startswith("Bearer "):
            raise AuthError("no bearer token")
        token = authorization[len("Bearer ") :].strip()
        if not token or len(token) > self.settings.max_token_bytes:
            raise AuthError("token size")
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except (jwt.PyJWTError, ValueError, TypeError):
            raise AuthError("malformed") from None
        alg, kid, jku = header.get("alg"), header.get("kid"), header.get("jku")
        if not isinstance(kid, str) or not kid:
            raise AuthError("kid missing")
        if "crit" in header or "b64" in header:
            raise AuthError("crit/b64 header")
        if "typ" in header and str(header["typ"]).upper() != "JWT":
            raise AuthError("typ")
        iss = unverified.get("iss")
        entry = self.trust.get(iss) if isinstance(iss, str) else None
        if entry is None:
            raise AuthError("unknown iss")
        if alg not in entry.algorithms:  # "none" and HS* are never in the list: the config refuses them
            raise AuthError("alg not allowed")
        if jku is not None:
            if not isinstance(jku, str) or jku not in entry.jku:
                raise AuthError("jku not allowlisted")  # checked before anything is fetched
            jwk = await self.jwks.key(jku, kid)
        else:
            jwk = self.files.get(entry.iss, {}).get(kid) if entry.jwks_file is not None else None
        if jwk is None:
            raise AuthError("unknown kid")
        key = _check_key(jwk, str(alg))
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[str(alg)],
                audience=audience,
                issuer=entry.iss,
                leeway=self.settings.leeway_seconds,
                options={"require": list(REQUIRED_CLAIMS), "verify_signature": True},
            )
        except jwt.PyJWTError as exc:
            raise AuthError(type(exc).__name__) from None
        jti, iat, exp = claims.get("jti"), claims.get("iat"), claims.get("exp")
        if not isinstance(jti, str) or not jti or len(jti) > 256:
            raise AuthError("jti")
        if not isinstance(iat, (int, float)) or not isinstance(exp, (int, float)):
            raise AuthError("iat/exp type")
        if exp - iat > self.settings.max_lifetime_seconds:
            raise AuthError("lifetime")
        if not await self.claim(entry.iss, jti, int(exp) + self.settings.leeway_seconds + 1):
            raise AuthError("jti replayed")
        return claims
