"""Shared by the service test modules: is the web stack installed (else skip with the reason), and the secrets."""

from __future__ import annotations

import importlib.util

import pytest

SERVICE_DEPS = ("fastapi", "uvicorn", "jwt", "httpx", "sqlalchemy", "cryptography", "fhirpathpy")
MISSING = [m for m in SERVICE_DEPS if importlib.util.find_spec(m) is None]
REASON = (
    "the service tests need the [service] extra and fhirpathpy: pip install '.[service]' fhirpathpy"
    f" (missing: {', '.join(MISSING)})"
)


SECRETS: list[str] = []  # strings that must never reach a log: patient ids, tokens, patient values


def assert_no_secrets(text: str, secrets: list[str]) -> None:
    """Fail when any of ``secrets`` occurs in ``text`` (without printing the secret)."""
    leaked = sorted({s for s in secrets if s and s in text})
    assert not leaked, f"{len(leaked)} secret(s) reached the log, e.g. one starting {leaked[0][:6]!r}"


def skip_without_stack() -> None:
    """Skip the calling test module when a dependency of the service tests is missing."""
    if MISSING:
        pytest.skip(REASON, allow_module_level=True)
