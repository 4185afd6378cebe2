"""Native resources: an Engine's durable rulesets are released on close() and when it is collected."""

from __future__ import annotations

import gc

import pytest

from ivig_cds import Engine

pytest.importorskip("durable_rules_engine", reason="durable-rules is not installed")


def test_a_collected_engine_releases_its_rulesets() -> None:
    from ivig_cds.backends import _durable

    released: list[str] = []
    original = _durable._dre.delete_ruleset

    def counting(handle: int) -> None:
        released.append(str(handle))
        original(handle)

    _durable._dre.delete_ruleset = counting
    try:
        engine = Engine(entry_points=False)
        strata = len(engine.plan.strata)
        del engine
        gc.collect()
        assert len(released) == strata, "every stratum's ruleset is deleted without close()"
        with Engine(entry_points=False):
            pass
        assert len(released) == 2 * strata
        engine = Engine(entry_points=False)
        engine.close()
        engine.close()  # idempotent
        del engine
        gc.collect()
        assert len(released) == 3 * strata, "close() then collection releases once"
    finally:
        _durable._dre.delete_ruleset = original
