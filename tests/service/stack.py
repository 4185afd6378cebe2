"""Whether the web stack of the service tests is installed; test modules skip, with the reason, when it is not."""

from __future__ import annotations

import importlib.util

import pytest

SERVICE_DEPS = ("fastapi", "uvicorn", "jwt", "httpx", "sqlalchemy", "cryptography", "fhirpathpy")
MISSING = [m for m in SERVICE_DEPS if importlib.util.find_spec(m) is None]
REASON = (
    "the service tests need the [service] extra and fhirpathpy: pip install '.[service]' fhirpathpy"
    f" (missing: {', '.join(MISSING)})"
)


def skip_without_stack() -> None:
    """Skip the calling test module when a dependency of the service tests is missing."""
    if MISSING:
        pytest.skip(REASON, allow_module_level=True)
