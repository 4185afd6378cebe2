"""The pure-Python reference backend: the same rules evaluated stratum by stratum, without durable-rules.

It never imports durable, so it is the documented fallback where durable-rules cannot be built, and
the oracle the differential tests compare the durable backend with.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ivig_cds.backends.base import Match
from ivig_cds.errors import EngineError
from ivig_cds.rulebook.plan import Plan, conclusion_fact
from ivig_cds.rulebook.truth import by_type, rule_matches

__all__ = ["Match", "ReferenceBackend"]


class ReferenceBackend:
    """Evaluates a :class:`~ivig_cds.plan.Plan` in Python, stratum by stratum, chaining to a fixpoint."""

    name = "reference"

    def __init__(self, plan: Plan) -> None:
        self._plan = plan
        self._rules = {r.id: r for stratum in plan.strata for r in stratum}

    def run(
        self, facts: Sequence[Mapping[str, Any]], conclude: Callable[[int, list[Match]], list[dict[str, Any]]]
    ) -> list[Match]:
        """Evaluate the facts stratum by stratum (same contract as the durable backend's ``run``).

        Within a stratum, conclusions of chained rules are added until nothing new fires; every
        rule's matches are then those against the final pool (a rule that already fired can match
        again on a conclusion chained after it, as in durable). Chaining only adds facts and
        negation only looks at earlier strata, so the fixpoint is unique. A new conclusion
        re-evaluates only the rules it feeds (``Plan.feeds``): a chain of n rules costs O(n^2)
        pattern tests, not O(n^3).

        Raises:
            EngineError: a fact holds NaN (it compares with nothing; durable cannot take it either).
        """
        for fact in facts:
            for value in fact.values():
                if value != value:  # only NaN is unequal to itself
                    raise EngineError(f"fact {fact.get('t')} holds NaN, which no rule can compare")
        keyed: list[tuple[str, Mapping[str, Any]]] = [(f"f{i}", f) for i, f in enumerate(facts)]
        out: list[Match] = []
        for level, stratum in enumerate(self._plan.strata):
            chained = self._plan.chained[level]
            typed = by_type(keyed)
            fired: dict[str, list[dict[str, str]]] = {}
            for rule in stratum:
                found = rule_matches(rule, typed)
                if found:
                    fired[rule.id] = found
            added: set[str] = set()
            while True:  # chain within the stratum until no new conclusion appears
                new = sorted(rid for rid in fired if rid in chained and rid not in added)
                if not new:
                    break
                for rid in new:
                    typed.setdefault("conclusion", []).append((f"c{rid}", conclusion_fact(self._rules[rid])))
                    added.add(rid)
                for consumer in sorted({c for rid in new for c in self._plan.feeds.get(rid, ())}):
                    found = rule_matches(self._rules[consumer], typed)
                    if found:
                        fired[consumer] = found
            matches = [(rid, m) for rid in sorted(fired) for m in fired[rid]]
            out.extend(matches)
            for fact in conclude(level, matches):
                keyed.append((f"f{len(keyed)}", fact))
        return out

    def close(self) -> None:
        """Nothing to release: the reference backend holds no native resources."""
        return None
