"""Real servers for the service tests: uvicorn on free loopback ports, a test CA, JWKS and FHIR servers, keys."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import socket
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jwt
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

ISS = "https://ehr.test"
FHIR_TOKEN = "fhir-access-token-SECRET-5a1c"  # the tests assert it never reaches a log


class ThreadServer:
    """A uvicorn server in a daemon thread on a free loopback port (https when given a certificate)."""

    def __init__(self, app: Any, *, cert: tuple[Path, Path] | None = None) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        kwargs: dict[str, Any] = {"ssl_certfile": str(cert[0]), "ssl_keyfile": str(cert[1])} if cert else {}
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on", **kwargs)
        self.server = uvicorn.Server(config)
        self.scheme = "https" if cert else "http"
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self) -> ThreadServer:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("test server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)


# ---------------------------------------------------------------- TLS


def make_tls(directory: Path) -> tuple[Path, Path, Path]:
    """A test CA and a certificate for 127.0.0.1 signed by it: (ca.pem, cert.pem, key.pem)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ivig-cds test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = (directory / "ca.pem", directory / "cert.pem", directory / "key.pem")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


# ---------------------------------------------------------------- keys and tokens


@dataclass(frozen=True)
class SigningKey:
    """An EHR signing key: its private half and the public JWK a JWK Set publishes."""

    kid: str
    alg: str
    private: Any
    jwk: dict[str, Any]

    @staticmethod
    def generate(kid: str, alg: str) -> SigningKey:
        private: Any
        if alg == "RS384":
            private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
        else:
            private = ec.generate_private_key(ec.SECP384R1() if alg == "ES384" else ec.SECP256R1())
            public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private.public_key()))
        return SigningKey(kid, alg, private, {**public, "kid": kid, "use": "sig", "alg": alg})

    def public_pem(self) -> bytes:
        return bytes(
            self.private.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )


def jwks(*keys: SigningKey) -> dict[str, Any]:
    return {"keys": [k.jwk for k in keys]}


@dataclass
class TokenFactory:
    """Signs CDS Hooks client JWTs; remembers every token made (the log test looks for them)."""

    issued: list[str] = field(default_factory=list)

    def make(
        self,
        key: SigningKey,
        aud: str | list[str],
        *,
        iss: str = ISS,
        jku: str | None = None,
        lifetime: int = 120,
        iat_offset: int = 0,
        drop: tuple[str, ...] = (),
        kid: str | None = "",
        headers: dict[str, Any] | None = None,
        jti: str | None = None,
        alg: str | None = None,
    ) -> str:
        now = int(time.time()) + iat_offset
        claims: dict[str, Any] = {
            "iss": iss,
            "aud": aud,
            "iat": now,
            "exp": now + lifetime,
            "jti": jti or str(uuid.uuid4()),
            "tenant": "t-1",
        }
        for name in drop:
            claims.pop(name, None)
        head: dict[str, Any] = {"typ": "JWT", **(headers or {})}
        if kid is not None:
            head["kid"] = kid or key.kid
        if jku is not None:
            head["jku"] = jku
        token = jwt.encode(claims, key.private, algorithm=alg or key.alg, headers=head)
        if kid is None:  # PyJWT adds no kid by itself: nothing to remove
            assert "kid" not in jwt.get_unverified_header(token)
        self.issued.append(token)
        return token


# ---------------------------------------------------------------- the JWKS server


class JwksApp:
    """Serves JWK Sets at /jwks/{name} and counts every fetch."""

    def __init__(self, sets: dict[str, dict[str, Any]]) -> None:
        self.sets = sets
        self.base = ""
        self.hits: Counter[str] = Counter()
        self.app = Starlette(routes=[Route("/jwks/{name}", self.serve)])

    async def serve(self, request: Request) -> Response:
        name = request.path_params["name"]
        self.hits[name] += 1
        if name not in self.sets:
            return JSONResponse({"error": "no such set"}, 404)
        return JSONResponse(self.sets[name])


# ---------------------------------------------------------------- the FHIR server


class FhirApp:
    """A small FHIR server: reads and patient searches over stored resources, bearer token required.

    Searches are paged (``page_size`` entries, ``next`` links). Patient ids with these prefixes behave
    badly on purpose: ``slow-`` (answers after ``slow_seconds``), ``huge-`` (an oversized Bundle),
    ``offsite-`` (a next link to another server), ``crawl-`` (slow pages without end), ``denied-`` (403).
    """

    def __init__(self, page_size: int = 10) -> None:
        self.resources: dict[str, list[dict[str, Any]]] = {}
        self.page_size = page_size
        self.slow_seconds = 3.0
        self.requests: list[tuple[str, str]] = []
        self.base = ""
        self.app = Starlette(routes=[Route("/fhir/{rtype}/{rid}", self.read), Route("/fhir/{rtype}", self.search)])

    def add(self, pid: str, resources: list[dict[str, Any]]) -> None:
        self.resources[pid] = resources

    def _refused(self, request: Request) -> Response | None:
        self.requests.append((request.url.path, request.url.query))
        if request.headers.get("authorization") != f"Bearer {FHIR_TOKEN}":
            return JSONResponse({"resourceType": "OperationOutcome", "issue": [{"code": "login"}]}, 401)
        return None

    async def read(self, request: Request) -> Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        rtype, rid = request.path_params["rtype"], request.path_params["rid"]
        await self._misbehave(rid)
        for r in self.resources.get(rid, []):
            if r["resourceType"] == rtype and r.get("id") == rid:
                return JSONResponse(r, media_type="application/fhir+json")
        return JSONResponse({"resourceType": "OperationOutcome", "issue": [{"code": "not-found"}]}, 404)

    async def _misbehave(self, pid: str) -> None:
        if pid.startswith(("slow-", "crawl-")):
            await asyncio.sleep(self.slow_seconds)

    async def search(self, request: Request) -> Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        rtype, pid = request.path_params["rtype"], request.query_params.get("patient", "")
        page = int(request.query_params.get("_page", "1"))
        await self._misbehave(pid)
        if pid.startswith("denied-"):
            return JSONResponse({"resourceType": "OperationOutcome", "issue": [{"code": "forbidden"}]}, 403)
        matches = [r for r in self.resources.get(pid, []) if r["resourceType"] == rtype]
        if pid.startswith("huge-") and rtype == "Observation":
            matches = [
                {"resourceType": "Observation", "id": f"pad-{i}", "note": [{"text": "x" * 1000}]}
                for i in range(4000)
            ]
            return JSONResponse(
                {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": m} for m in matches]}
            )
        chunk = matches[(page - 1) * self.page_size : page * self.page_size]
        bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "total": len(matches)}
        if chunk:
            bundle["entry"] = [{"resource": r} for r in chunk]
        more = page * self.page_size < len(matches) or pid.startswith("crawl-")
        if more:
            base = self.base if not pid.startswith("offsite-") else self.base.replace("127.0.0.1", "127.0.0.2")
            query = urlencode({"patient": pid, "_page": page + 1})
            bundle["link"] = [{"relation": "next", "url": f"{base}/fhir/{rtype}?{query}"}]
        return JSONResponse(bundle, media_type="application/fhir+json")
