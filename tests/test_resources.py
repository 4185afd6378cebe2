"""Native resources: an Engine's durable rulesets are released on close() and when it is collected."""

from __future__ import annotations

import gc

import pytest

from ivig_cds import Engine

pytest.importorskip("durable_rules_engine", reason="durable-rules is not installed")


def test_a_collected_engine_releases_its_rulesets(monkeypatch: pytest.MonkeyPatch) -> None:
    from ivig_cds.backends import _durable

    released: list[int] = []
    original = _durable._dre.delete_ruleset

    def counting(handle: int) -> None:
        released.append(handle)
        original(handle)

    monkeypatch.setattr(_durable._dre, "delete_ruleset", counting)

    def handles(engine: Engine) -> set[int]:
        return set(engine._backend._handles)  # type: ignore[attr-defined]

    engine = Engine(entry_points=False)
    dropped = handles(engine)
    assert dropped and len(dropped) == len(engine.plan.strata)
    del engine
    gc.collect()
    assert dropped <= set(released), "every stratum's ruleset is deleted without close()"

    with Engine(entry_points=False) as engine:
        managed = handles(engine)
    assert managed <= set(released)

    engine = Engine(entry_points=False)
    closed = handles(engine)
    gc.collect()  # nothing else left to collect: from here on only this engine releases
    before = len(released)
    engine.close()
    engine.close()  # idempotent
    del engine
    gc.collect()
    assert sorted(released[before:]) == sorted(closed), "close() then collection releases each ruleset once"
