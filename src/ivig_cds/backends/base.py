"""What a rules backend is: it runs compiled rule strata over facts and reports every match."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

__all__ = ["Backend", "Conclude", "Match"]

Match = tuple[str, dict[str, str]]
"""A firing: ``(rule id, {alias: matched fact key})``; keys are ``f<index>`` into the facts asserted."""

Conclude = Callable[[int, list[Match]], list[dict[str, Any]]]
"""Called after each stratum with its matches; returns the conclusion facts the next strata see."""


class Backend(Protocol):
    """A rules backend (durable-rules, or the pure-Python reference evaluation).

    ``run`` evaluates the strata in order over ``facts`` (each a flat dict with its type in ``t``;
    a missing field is absent, never ``None``) and returns every match; ``close`` releases native
    resources. Both backends give the same matches for the same rules and facts (differential tests).
    """

    name: str

    def run(self, facts: Sequence[Mapping[str, Any]], conclude: Conclude) -> list[Match]: ...

    def close(self) -> None: ...
