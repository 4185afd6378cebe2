"""The durable-rules floor: the C calls of one evaluation replayed with no Python around them.

An evaluation on the durable backend makes, per stratum, one ``assert_facts`` of the stratum's
facts, then the ``start_action_for_state`` / ``complete_and_start_action`` loop and a
``delete_state``. :func:`capture` records the exact fact text each session sent; :func:`replay`
makes the same C calls again with a fresh session id and does nothing with the actions (no frame
parsing, no chaining back of conclusions: slightly *below* what any durable-driven engine can do).
``plain Python floor + durable C floor`` is what an engine that decides on durable could approach
with zero glue. A figure for ``bench/run.py``, not a test.
"""

from __future__ import annotations

import os
from typing import Any

import durable_rules_engine as _dre

from ivig_cds import Engine
from ivig_cds.backends._durable import DurableBackend

__all__ = ["capture", "replay"]

Session = tuple[int, str, str]  # (ruleset handle, sid, fact text)


def capture(engine: Engine, doc: dict[str, Any]) -> list[Session]:
    """The sessions one evaluation of ``doc`` runs (evaluated once, through the engine itself)."""
    backend = engine._backend
    if not isinstance(backend, DurableBackend):
        raise TypeError("the durable floor needs an engine on the durable backend")
    sessions: list[Session] = []
    original = backend._run_session

    def recording(handle: int, level: int, sid: str, text: str) -> Any:
        sessions.append((handle, sid, text))
        return original(handle, level, sid, text)

    backend._run_session = recording  # type: ignore[method-assign]
    try:
        engine.evaluate(doc)
    finally:
        del backend._run_session
    return sessions


def replay(backend: DurableBackend, sessions: list[Session]) -> None:
    """The same C calls again, each session under a new id; the actions are started and completed, unread."""
    for handle, old_sid, text in sessions:
        sid = os.urandom(16).hex()
        _, state = _dre.assert_facts(handle, text.replace(old_sid, sid))
        result = _dre.start_action_for_state(handle, state)
        started = bool(result)
        while result:
            result = _dre.complete_and_start_action(handle, state)
        if started:
            _dre.delete_state(handle, sid)
        else:  # a session no action ran in needs the backend's own close (deleting it bare can crash)
            backend._close_session(handle, sid, False)
