"""The service settings object: read from TOML, validated with one clear message per problem."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ivig_cds import IvigCdsError

__all__ = [
    "ALGORITHMS",
    "CardSettings",
    "ConfigError",
    "CorsSettings",
    "EngineSettings",
    "FeedbackSettings",
    "FhirSettings",
    "JwtSettings",
    "LimitSettings",
    "ServiceConfig",
    "TlsSettings",
    "TrustEntry",
    "load_config",
    "parse_config",
]

ALGORITHMS = ("ES384", "RS384", "ES256")
"""Signing algorithms a trust entry may allow: the spec's two, and ES256 where a site opts in."""
Algorithm = Literal["ES384", "RS384", "ES256"]
DEFAULT_ALGORITHMS: tuple[Algorithm, ...] = ("ES384", "RS384")
DEFAULT_DATABASE = "sqlite:///ivig-cds-service.sqlite3"


class ConfigError(IvigCdsError):
    """The service configuration is invalid: every problem, each with the key it concerns."""


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_url(value: str, *, https: bool, path: bool = True) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ValueError(f"not an absolute http(s) URL: {value!r}")
    if https and parts.scheme != "https":
        raise ValueError(f"must be https: {value!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"must have no query or fragment: {value!r}")
    if not path and parts.path not in ("", "/"):
        raise ValueError(f"an origin has no path: {value!r}")
    return value.rstrip("/")


Seconds = Annotated[float, Field(gt=0, le=300)]


class TrustEntry(_Settings):
    """One EHR (JWT issuer) the service trusts."""

    iss: str = Field(min_length=1, description="The JWT `iss` exactly as the EHR sends it.")
    jku: list[str] = Field(
        default_factory=list, description="JWK Set URLs the EHR may name in its `jku` header (https, exact match)."
    )
    jwks_file: Path | None = Field(
        default=None, description="A JWK Set exchanged out of band, for tokens without `jku`."
    )
    algorithms: list[Algorithm] = Field(
        default_factory=lambda: list(DEFAULT_ALGORITHMS), min_length=1, description="Allowed `alg` values."
    )
    fhir_servers: list[str] = Field(
        default_factory=list, description="If set, the only fhirServer base URLs this EHR may send."
    )

    @field_validator("jku")
    @classmethod
    def check_jku_https(cls, value: list[str]) -> list[str]:
        """Every jku is an https URL, kept exactly as written (it is compared byte for byte)."""
        for url in value:
            _check_url(url, https=True)
        return value

    @field_validator("fhir_servers")
    @classmethod
    def check_fhir_servers(cls, value: list[str]) -> list[str]:
        """FHIR server base URLs are absolute http(s) URLs (https is enforced per request)."""
        return [_check_url(url, https=False) for url in value]

    @model_validator(mode="after")
    def check_has_keys(self) -> TrustEntry:
        """A trust entry needs somewhere to find keys."""
        if not self.jku and self.jwks_file is None:
            raise ValueError("give `jku` (allowed JWK Set URLs) or `jwks_file` (or both)")
        return self


class JwtSettings(_Settings):
    """How tokens are checked."""

    leeway_seconds: int = Field(default=30, ge=0, le=60, description="Clock skew allowed on exp/iat (≤ 60 s).")
    max_lifetime_seconds: int = Field(
        default=300, ge=1, le=3600, description="Longest `exp - iat` accepted (bounds the replay store)."
    )
    jwks_cache_seconds: int = Field(default=300, ge=0, le=86400, description="How long a fetched JWK Set is used.")
    jwks_refresh_seconds: int = Field(
        default=30, ge=0, le=3600, description="Minimum time between two fetches of one JWK Set (unknown kid)."
    )
    jwks_timeout_seconds: Seconds = Field(default=3.0, description="Timeout of a JWK Set fetch.")
    jwks_max_bytes: int = Field(default=65536, ge=1024, le=1_048_576, description="Size cap of a JWK Set.")
    max_token_bytes: int = Field(default=8192, ge=512, le=65536, description="Longest Authorization token.")


class LimitSettings(_Settings):
    """Request limits."""

    max_body_bytes: int = Field(default=10_000_000, ge=1024, description="Request body cap (413 past it).")
    request_budget_seconds: Seconds = Field(default=10.0, description="Time budget of one call (503 past it).")


class FhirSettings(_Settings):
    """Fetching what the prefetch did not bring."""

    timeout_seconds: Seconds = Field(default=5.0, description="Timeout of one FHIR request.")
    max_bytes: int = Field(default=20_000_000, ge=1024, description="Size cap of everything fetched for a call.")
    max_pages: int = Field(default=10, ge=1, le=1000, description="Search result pages followed per query.")
    allow_http: bool = Field(default=False, description="Allow http:// FHIR servers (development only).")
    mapping: Path | None = Field(
        default=None,
        description="A site FHIR mapping table (YAML) instead of the built-in rules/fhir/mapping.yaml.",
    )


class TlsSettings(_Settings):
    """Outgoing https (JWK Sets, FHIR servers)."""

    ca_file: Path | None = Field(
        default=None, description="A PEM CA bundle to trust instead of the default one (e.g. a hospital CA)."
    )


class FeedbackSettings(_Settings):
    """The feedback store (also the shared replay store of token ids)."""

    database_url: str = Field(default=DEFAULT_DATABASE, description="A SQLAlchemy URL (SQLite, PostgreSQL).")
    max_comment_chars: int = Field(default=2000, ge=0, le=100_000, description="Longest stored user comment.")


class CorsSettings(_Settings):
    """Cross-origin access for browser-based EHRs."""

    origins: list[str] = Field(default_factory=list, description="Allowed origins, e.g. https://ehr.example.")

    @field_validator("origins")
    @classmethod
    def check_origins(cls, value: list[str]) -> list[str]:
        """Origins are scheme://host[:port], never a wildcard."""
        return [_check_url(origin, https=False, path=False) for origin in value]


class EngineSettings(_Settings):
    """The engine the service evaluates with."""

    backend: Literal["durable", "reference"] = "durable"
    thresholds: dict[str, Any] = Field(default_factory=dict, description="Site values for named thresholds.")
    plugins: list[Path] = Field(default_factory=list, description="Local plugin files or directories.")
    entry_points: bool = Field(default=True, description="Load installed plugins (IVIG_CDS_LOAD_PLUGINS applies).")
    strict_plugins: bool = Field(default=True, description="A failing plugin stops start-up.")


class CardSettings(_Settings):
    """Card content."""

    rule_url: str | None = Field(
        default=None, description="A rule's documentation URL with {rule_id}, e.g. https://docs.example/{rule_id}."
    )
    dose_tolerance_pct: float = Field(
        default=5.0,
        ge=0,
        le=50,
        description="Ordered daily grams may differ this much before a change is suggested.",
    )

    @field_validator("rule_url")
    @classmethod
    def check_rule_url(cls, value: str | None) -> str | None:
        """The template is an absolute URL naming the rule."""
        if value is not None:
            if "{rule_id}" not in value:
                raise ValueError("must contain {rule_id}")
            _check_url(value.replace("{rule_id}", "X"), https=False)
        return value


class ServiceConfig(_Settings):
    """Everything the service needs; ``dev`` is set by ``ivig-cds serve --dev`` only, never from a file."""

    dev: bool = Field(default=False, exclude=True, description="Unauthenticated development mode (loopback only).")
    public_url: str = Field(description="The base URL EHRs call; JWT `aud` = public_url + the endpoint path.")
    trust: list[TrustEntry] = Field(default_factory=list, description="Trusted EHRs.")
    jwt: JwtSettings = Field(default_factory=JwtSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    fhir: FhirSettings = Field(default_factory=FhirSettings)
    tls: TlsSettings = Field(default_factory=TlsSettings)
    feedback: FeedbackSettings = Field(default_factory=FeedbackSettings)
    cors: CorsSettings = Field(default_factory=CorsSettings)
    engine: EngineSettings = Field(default_factory=EngineSettings)
    cards: CardSettings = Field(default_factory=CardSettings)

    @field_validator("public_url")
    @classmethod
    def check_public_url(cls, value: str, info: ValidationInfo) -> str:
        """An absolute URL without query or fragment; https unless in development mode."""
        return _check_url(value, https=not info.data.get("dev", False))

    @model_validator(mode="after")
    def check_public_url_and_trust(self) -> ServiceConfig:
        """Production needs https, at least one trusted issuer and a rule documentation URL; issuers are unique."""
        if not self.dev and not self.trust:
            raise ValueError("no [[trust]] entry: no EHR could call the service (or use `ivig-cds serve --dev`)")
        if not self.dev and self.cards.rule_url is None:
            raise ValueError(
                "[cards] rule_url is required: where clinicians read a rule's documentation, with {rule_id}"
            )
        issuers = [t.iss for t in self.trust]
        dupes = sorted({i for i in issuers if issuers.count(i) > 1})
        if dupes:
            raise ValueError(f"issuer listed twice in [[trust]]: {', '.join(dupes)}")
        return self

    @property
    def base_url(self) -> str:
        """``public_url`` without a trailing slash."""
        return self.public_url


def _resolve(data: dict[str, Any], base: Path) -> dict[str, Any]:
    """Make file paths and SQLite paths relative to the config file's directory."""
    out = dict(data)
    trust = []
    for entry in out.get("trust", []) or []:
        if isinstance(entry, dict) and isinstance(entry.get("jwks_file"), str):
            entry = {**entry, "jwks_file": str(base / entry["jwks_file"])}
        trust.append(entry)
    if trust:
        out["trust"] = trust
    fhir = out.get("fhir")
    if isinstance(fhir, dict) and isinstance(fhir.get("mapping"), str):
        out["fhir"] = {**fhir, "mapping": str(base / fhir["mapping"])}
    tls = out.get("tls")
    if isinstance(tls, dict) and isinstance(tls.get("ca_file"), str):
        out["tls"] = {**tls, "ca_file": str(base / tls["ca_file"])}
    engine = out.get("engine")
    if isinstance(engine, dict) and isinstance(engine.get("plugins"), list):
        out["engine"] = {
            **engine,
            "plugins": [str(base / p) if isinstance(p, str) else p for p in engine["plugins"]],
        }
    feedback = out.get("feedback")
    url = feedback.get("database_url") if isinstance(feedback, dict) else None
    if isinstance(feedback, dict) and isinstance(url, str) and url.startswith("sqlite:///") and url != "sqlite://":
        path = url[len("sqlite:///") :]
        if path and not path.startswith("/") and path != ":memory:":
            out["feedback"] = {**feedback, "database_url": f"sqlite:///{base / path}"}
    return out


def _messages(source: str, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = str(err["msg"]).removeprefix("Value error, ")
        lines.append(f"  {loc}: {msg}")
    return f"invalid service configuration {source}:\n" + "\n".join(lines)


def parse_config(data: dict[str, Any], *, source: str = "<dict>", dev: bool = False) -> ServiceConfig:
    """Validate a configuration mapping (the TOML document's shape).

    Raises:
        ConfigError: Every problem, one per line with its key.
    """
    if "dev" in data:
        raise ConfigError(f"invalid service configuration {source}:\n  dev: not a file setting (use --dev)")
    try:
        return ServiceConfig.model_validate({**data, "dev": dev})
    except ValidationError as exc:
        raise ConfigError(_messages(source, exc)) from None


def load_config(path: str | Path, *, dev: bool = False, overrides: dict[str, Any] | None = None) -> ServiceConfig:
    """Read and validate a TOML configuration file; relative paths are relative to its directory.

    Args:
        path: The TOML file.
        dev: Development mode (unauthenticated; only ``ivig-cds serve --dev`` sets it).
        overrides: Top-level keys that replace the file's (e.g. ``public_url`` from the command line).

    Raises:
        ConfigError: The file is missing, is not TOML, or holds invalid settings.
    """
    file = Path(path)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read service configuration {file}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"service configuration {file} is not valid TOML: {exc}") from None
    data = _resolve({**data, **(overrides or {})}, file.resolve().parent)
    return parse_config(data, source=str(file), dev=dev)
