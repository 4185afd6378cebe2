"""Fixtures of the service tests: a test CA, EHR keys, a JWKS server, a FHIR server and the service, all real.

Every server runs under uvicorn on a free loopback port; the JWKS and FHIR servers speak https with a
test CA the service is configured to trust. Everything the service logs during the session is captured
(root logger at DEBUG), and at the end no patient id, token or patient value may appear in it.
"""

from __future__ import annotations

import itertools
import json
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from stack import MISSING, SECRETS, assert_no_secrets

TOKEN_FACTORIES: list[Any] = []
PUBLIC_URL = "https://cds.test"
PV, OSEL, OSIGN = "ivig-cds-patient-view", "ivig-cds-order-select", "ivig-cds-order-sign"


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.lines.append(f"{record.name} {record.levelname} {text}")


@pytest.fixture(scope="session", autouse=True)
def service_log() -> Iterator[_Capture]:
    """Everything logged during the session; at the end, no secret may be in it."""
    capture = _Capture()
    root = logging.getLogger()
    level = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    yield capture
    root.removeHandler(capture)
    root.setLevel(level)
    if capture.lines:
        from servers import FHIR_TOKEN

        issued = [t for factory in TOKEN_FACTORIES for t in factory.issued]
        assert_no_secrets("\n".join(capture.lines), [*SECRETS, *issued, FHIR_TOKEN])


if not MISSING:
    import httpx
    from hook_data import patient_resources
    from invariants import check_cards_response
    from servers import FHIR_TOKEN, ISS, FhirApp, JwksApp, SigningKey, ThreadServer, TokenFactory, jwks, make_tls

    from ivig_cds.service import create_app, load_config

    @dataclass(frozen=True)
    class Keys:
        es384: SigningKey
        rs384: SigningKey
        es256: SigningKey
        oob: SigningKey
        evil: SigningKey

    @pytest.fixture(scope="session")
    def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
        return make_tls(tmp_path_factory.mktemp("tls"))

    @pytest.fixture(scope="session")
    def keys() -> Keys:
        return Keys(
            es384=SigningKey.generate("ehr-es384", "ES384"),
            rs384=SigningKey.generate("ehr-rs384", "RS384"),
            es256=SigningKey.generate("ehr-es256", "ES256"),
            oob=SigningKey.generate("oob-rs384", "RS384"),
            evil=SigningKey.generate("ehr-es384", "ES384"),  # same kid as the real key, in no trusted set
        )

    @pytest.fixture(scope="session")
    def jwks_server(keys: Keys, tls: tuple[Path, Path, Path]) -> Iterator[JwksApp]:
        app = JwksApp({"ehr": jwks(keys.es384, keys.rs384), "es256": jwks(keys.es256), "evil": jwks(keys.evil)})
        server = ThreadServer(app.app, cert=(tls[1], tls[2])).start()
        app.base = server.url
        yield app
        server.stop()

    @pytest.fixture(scope="session")
    def fhir_server(tls: tuple[Path, Path, Path]) -> Iterator[FhirApp]:
        app = FhirApp()
        server = ThreadServer(app.app, cert=(tls[1], tls[2])).start()
        app.base = server.url
        yield app
        server.stop()

    def write_config(directory: Path, jwks_base: str, fhir_base: str, keys: Keys, extra: str = "") -> Path:
        (directory / "oob-jwks.json").write_text(json.dumps(jwks(keys.oob)), encoding="utf-8")
        text = f"""
public_url = "{PUBLIC_URL}"

[[trust]]
iss = "{ISS}"
jku = ["{jwks_base}/jwks/ehr", "{jwks_base}/jwks/missing"]
jwks_file = "oob-jwks.json"

[[trust]]
iss = "https://ehr-es256.test"
jku = ["{jwks_base}/jwks/es256"]
algorithms = ["ES256"]

[[trust]]
iss = "https://ehr-pinned.test"
jwks_file = "oob-jwks.json"
fhir_servers = ["{fhir_base}/fhir"]

[jwt]
leeway_seconds = 30
max_lifetime_seconds = 600
jwks_refresh_seconds = 0

[tls]
ca_file = "ca.pem"

[fhir]
timeout_seconds = 2
max_bytes = 3000000

[limits]
request_budget_seconds = 5
max_body_bytes = 2000000

[cors]
origins = ["https://ehr-ui.test"]

[engine]
entry_points = false

[cards]
rule_url = "https://docs.ivig-cds.test/rules/{{rule_id}}"
{extra}
"""
        path = directory / "service.toml"
        path.write_text(text, encoding="utf-8")
        return path

    @dataclass
    class Service:
        url: str
        config_path: Path
        app: Any
        db_url: str

    @pytest.fixture(scope="session")
    def service(
        tmp_path_factory: pytest.TempPathFactory,
        tls: tuple[Path, Path, Path],
        keys: Keys,
        jwks_server: JwksApp,
        fhir_server: FhirApp,
    ) -> Iterator[Service]:
        directory = tmp_path_factory.mktemp("service")
        (directory / "ca.pem").write_bytes(tls[0].read_bytes())
        db = directory / "feedback.sqlite3"
        path = write_config(
            directory, jwks_server.base, fhir_server.base, keys, f'\n[feedback]\ndatabase_url = "sqlite:///{db}"\n'
        )
        app = create_app(load_config(path))
        server = ThreadServer(app).start()
        yield Service(server.url, path, app, f"sqlite:///{db}")
        server.stop()

    @pytest.fixture(scope="session")
    def tokens() -> TokenFactory:
        factory = TokenFactory()
        TOKEN_FACTORIES.append(factory)
        return factory

    _ids = itertools.count(1)

    @dataclass
    class Api:
        """Calls the service over HTTP; every card response is checked against the IG invariants."""

        service: Service
        tokens: TokenFactory
        keys: Keys
        jwks_base: str
        fhir: FhirApp
        client: httpx.Client = field(init=False)

        def __post_init__(self) -> None:
            self.client = httpx.Client(base_url=self.service.url, timeout=30)

        @property
        def jku(self) -> str:
            return f"{self.jwks_base}/jwks/ehr"

        def token(self, path: str, **kw: Any) -> str:
            key = kw.pop("key", self.keys.es384)
            kw.setdefault("jku", self.jku if key in (self.keys.es384, self.keys.rs384) else None)
            return self.tokens.make(key, PUBLIC_URL + path, **kw)

        def post(self, path: str, body: Any, *, token: str | None = None, **kw: Any) -> httpx.Response:
            headers = dict(kw.pop("headers", {}))
            headers.setdefault("Authorization", f"Bearer {token or self.token(path)}")
            content = body if isinstance(body, bytes) else None
            return self.client.post(path, content=content, json=None if content else body, headers=headers, **kw)

        def call(self, service_id: str, body: Any, **kw: Any) -> httpx.Response:
            response = self.post(f"/cds-services/{service_id}", body, **kw)
            if response.status_code == 200:
                check_cards_response(response.json())
            else:
                assert response.headers["content-type"].startswith("application/json")
                assert "Traceback" not in response.text
            return response

        def patient(self, **kw: Any) -> tuple[str, list[dict[str, Any]]]:
            """A new patient on the FHIR server: (id, resources)."""
            prefix = kw.pop("prefix", "")
            pid = f"{prefix}pt-SECRET-{next(_ids):04d}-{uuid.uuid4().hex[:6]}"
            resources = patient_resources(pid, date.today(), **kw)
            self.fhir.add(pid, resources)
            SECRETS.append(pid)
            return pid, resources

        def fhir_access(self) -> dict[str, Any]:
            return {
                "fhirServer": f"{self.fhir.base}/fhir",
                "fhirAuthorization": {
                    "access_token": FHIR_TOKEN,
                    "token_type": "Bearer",
                    "expires_in": 300,
                    "scope": "patient/*.read",
                    "subject": "ivig-cds",
                },
            }

    @pytest.fixture(scope="session")
    def api(service: Service, tokens: TokenFactory, keys: Keys, jwks_server: JwksApp, fhir_server: FhirApp) -> Api:
        return Api(service, tokens, keys, jwks_server.base, fhir_server)
