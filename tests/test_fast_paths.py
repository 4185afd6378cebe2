"""The hot path's shortcuts give exactly what the plain forms give (they exist only for speed)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ivig_cds import Engine, Finding
from ivig_cds.engine.findings import compile_template, fill_template, trusted_finding
from ivig_cds.model.evaluation import StatusSource
from ivig_cds.model.format import format_value
from ivig_cds.rulebook.spec import TEMPLATE_REF
from strategies import cohort


def test_every_finding_built_fast_equals_a_validated_one() -> None:
    engine = Engine()
    seen = gaps = 0
    for doc in cohort(150, seed=31):
        evaluation = engine.evaluate(doc)
        for source in evaluation.status_sources:
            assert StatusSource.model_validate(dict(source.__dict__)).model_dump_json() == source.model_dump_json()
        gaps += len(evaluation.data_gaps)
        for finding in evaluation.findings:
            values: dict[str, Any] = dict(finding.__dict__)
            validated = Finding.model_validate(values)
            fast = trusted_finding(dict(values))
            assert fast == validated
            assert fast.model_dump_json() == validated.model_dump_json()
            seen += 1
    assert seen > 500 and gaps > 100  # DATA-001 findings are built the fast way too


def render_template(text: str, aliases: Mapping[str, Mapping[str, Any]], thresholds: Mapping[str, Any]) -> str:
    """The plain renderer the engine used before templates were compiled: the oracle of the test below."""

    def sub(m: re.Match[str]) -> str:
        ref, spec = m.group(1), m.group(2) or ""
        if "." in ref:
            alias, field = ref.split(".", 1)
            return format_value(aliases.get(alias, {}).get(field), "message", spec=spec)
        return format_value(thresholds.get(ref), "message", spec=spec)

    return TEMPLATE_REF.sub(sub, text)


def test_compiled_templates_render_like_the_template() -> None:
    engine = Engine()
    thresholds = engine._thresholds
    facts = {"p": {"bmi": 31.25, "age_years": 70, "product": "Octagam 10%", "flag": True}, "x": {}}
    rendered = 0
    for rule in engine.book.rules.values():
        for text in (rule.spec.summary, rule.spec.detail):
            aliases = {p.alias: facts["p"] for p in rule.patterns}
            assert fill_template(compile_template(text, thresholds), aliases) == render_template(
                text, aliases, thresholds
            )
            rendered += 1
    for text in ("{missing.field:.1f} and {no_such_threshold} {p.bmi:.2q}", "", "plain", "{p.flag}{p.bmi}"):
        assert fill_template(compile_template(text, thresholds), facts) == render_template(text, facts, thresholds)
    assert rendered > 200


def test_sorting_findings_computes_the_facts_key_only_for_ties() -> None:
    from ivig_cds.engine.findings import finding_key, sort_findings

    engine = Engine()
    for doc in cohort(40, seed=5):
        findings = list(engine.evaluate(doc).findings)
        shuffled = findings[::-1]
        sort_findings(shuffled)
        assert shuffled == sorted(findings, key=finding_key)
    base = findings[0]
    twins = [base.model_copy(update={"facts": {"x": 2}}), base.model_copy(update={"facts": {"x": 1}})]
    sort_findings(twins)
    assert [f.facts for f in twins] == [{"x": 1}, {"x": 2}]  # a tie falls back to the facts
