"""Differential tests: the durable backend and the pure-Python reference backend must agree exactly.

The reference backend (``Engine(backend="reference")``) is the oracle. On every generated patient
the whole result must be identical - status, findings, dose plan, byte for byte once
``engine.backend`` is removed - and the raw rule matches must be the same set.

Budget: 300 hypothesis examples plus a fixed-seed loop of 1,000 generated patients (and 300 for
the raw-match and plugin loops): ~20 s. ``IVIG_CDS_DIFF_N=10000`` runs every seeded loop on
10,000 patients (or any number); ``IVIG_CDS_DIFF_SEED`` changes the seed.

Every mismatch found so far is kept below as an explicit regression test.
"""

from __future__ import annotations

import copy
import importlib
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builders import eligible
from ivig_cds import Engine, EngineError, Evaluation
from ivig_cds.backends import _durable
from ivig_cds.inputs.files import load_patient
from ivig_cds.rulebook import conditions as cnd
from ivig_cds.rulebook import truth
from strategies import cohort, patients, random_patient

DIFF_N = int(os.environ.get("IVIG_CDS_DIFF_N", "1000"))
SIDE_N = DIFF_N if "IVIG_CDS_DIFF_N" in os.environ else 300  # raw-match and plugin loops
DIFF_SEED = int(os.environ.get("IVIG_CDS_DIFF_SEED", "20240601"))
REPO = Path(__file__).resolve().parents[1]


def canon(ev: Evaluation) -> dict[str, Any]:
    """The result as JSON, without the one field that must differ (the backend's name)."""
    data: dict[str, Any] = json.loads(ev.to_json())
    data["engine"].pop("backend")
    return data


def first_difference(a: Any, b: Any, path: str = "") -> str:
    """A readable pointer to the first place two JSON values differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if a.get(key, "<absent>") != b.get(key, "<absent>"):
                return first_difference(a.get(key, "<absent>"), b.get(key, "<absent>"), f"{path}.{key}")
    if isinstance(a, list) and isinstance(b, list):
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            if x != y:
                return first_difference(x, y, f"{path}[{i}]")
        if len(a) != len(b):
            return f"{path}: lengths {len(a)} != {len(b)}"
    return f"{path}: durable={json.dumps(a)[:300]} reference={json.dumps(b)[:300]}"


class Pair:
    """A durable and a reference engine over the same rules and plugins."""

    def __init__(self, **kw: Any) -> None:
        self.durable = Engine(backend="durable", **kw)
        self.reference = Engine(backend="reference", **kw)

    def outcome(self, engine: Engine, doc: Any, as_of: date | None) -> tuple[str, Any]:
        try:
            return "ok", canon(engine.evaluate(copy.deepcopy(doc), as_of=as_of))
        except EngineError as exc:  # both must fail the same way (e.g. a NaN fact): compare the kind
            return "EngineError", type(exc).__name__

    def mismatch(self, doc: Any, as_of: date | None = None) -> str | None:
        """``None`` when both backends give the same result, else where they differ."""
        d = self.outcome(self.durable, doc, as_of)
        r = self.outcome(self.reference, doc, as_of)
        if d == r:
            return None
        if d[0] != r[0]:
            return f"durable {d[0]} vs reference {r[0]}: {d[1]!s:.200} / {r[1]!s:.200}"
        return first_difference(d[1], r[1])

    def matches(self, engine: Engine, doc: Any) -> list[tuple[str, list[tuple[str, str]]]]:
        model = load_patient(copy.deepcopy(doc))
        day = model.as_of or date(2024, 6, 1)
        _, found = engine.run_rules(engine.derive(model, day))
        return sorted((rid, sorted(combo.items())) for rid, combo in found)

    def match_mismatch(self, doc: Any) -> str | None:
        d, r = self.matches(self.durable, doc), self.matches(self.reference, doc)
        if d == r:
            return None
        return f"only durable: {sorted(set(map(repr, d)) - set(map(repr, r)))[:5]}; " + (
            f"only reference: {sorted(set(map(repr, r)) - set(map(repr, d)))[:5]}"
        )


@pytest.fixture(scope="module")
def pair() -> Pair:
    return Pair(entry_points=False)


def _site_plugin() -> Any:
    try:
        return importlib.import_module("ivig_cds_site_example")
    except ImportError:
        return None


@pytest.fixture(scope="module")
def plugin_pair() -> Pair:
    plugin = _site_plugin()
    if plugin is None:
        pytest.skip("the example site plugin is not installed")
    return Pair(entry_points=False, plugins=[plugin])


# ---------------------------------------------------------------- generated patients


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(doc=patients())
def test_backends_agree_on_generated_patients(pair: Pair, doc: dict[str, Any]) -> None:
    problem = pair.mismatch(doc)
    assert problem is None, f"{doc['patient_id']}: {problem}\n{json.dumps(doc)}"


def _seeded(n: int, seed: int) -> Iterator[dict[str, Any]]:
    chunk = 500  # generate lazily: IVIG_CDS_DIFF_N may be large
    for start in range(0, n, chunk):
        yield from cohort(min(chunk, n - start), seed=seed + start)


def test_backends_agree_on_a_seeded_cohort(pair: Pair) -> None:
    """``IVIG_CDS_DIFF_N`` patients (default 1,000) from a fixed seed; every mismatch is listed."""
    bad: list[str] = []
    for i, doc in enumerate(_seeded(DIFF_N, DIFF_SEED)):
        as_of = None if i % 7 else date(2024, 6, 1)  # also override as_of on some
        problem = pair.mismatch(doc, as_of)
        if problem is not None:
            bad.append(f"{doc['patient_id']}: {problem}")
    assert not bad, f"{len(bad)}/{DIFF_N} mismatches, first: " + "\n".join(bad[:5])


def test_raw_matches_agree_on_a_seeded_cohort(pair: Pair) -> None:
    """Stronger than the output: the very (rule, alias -> fact) matches are the same set."""
    bad = [
        f"{doc['patient_id']}: {problem}"
        for doc in _seeded(SIDE_N, DIFF_SEED + 1)
        if (problem := pair.match_mismatch(doc)) is not None
    ]
    assert not bad, "\n".join(bad[:5])


def test_backends_agree_with_a_site_plugin(plugin_pair: Pair) -> None:
    bad = [
        f"{doc['patient_id']}: {problem}"
        for doc in _seeded(SIDE_N, DIFF_SEED + 2)
        if (problem := plugin_pair.mismatch(doc)) is not None
    ]
    assert not bad, "\n".join(bad[:5])


def test_examples_agree(pair: Pair) -> None:
    files = sorted((REPO / "examples").glob("*.json"))
    assert files
    for path in files:
        doc = json.loads(path.read_text())
        assert pair.mismatch(doc) is None, path.name


# ---------------------------------------------------------------- regression cases (each was a real mismatch)


def test_regression_session_without_any_action_does_not_crash() -> None:
    """durable never initialises a session's action context; deleting a session in which no action
    ran freed garbage ('free(): invalid pointer', or a segfault). A patient without IVIG course makes
    the last stratum (OUT-102) fire nothing. MALLOC_PERTURB_ makes the garbage
    deterministic: before the fix this aborted on the first evaluation, every time."""
    script = textwrap.dedent(
        """
        import json, sys
        from ivig_cds import Engine
        doc = json.loads(sys.argv[1])
        e = Engine(entry_points=False)
        for _ in range(3):
            print(e.evaluate(doc).status.outcome)
        """
    )
    minimal = eligible().build()  # no IVIG course: the last stratum fires nothing
    minimal["ivig_courses"] = []
    env = dict(os.environ, MALLOC_PERTURB_="165", IVIG_CDS_LOAD_PLUGINS="")
    proc = subprocess.run(
        [sys.executable, "-c", script, json.dumps(minimal)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["not_started"] * 3


@pytest.mark.parametrize(
    ("test", "value"),
    [("iga_mg_dl", 1e20), ("iga_mg_dl", 1e-7), ("creatinine_mg_dl", 2e16), ("egfr_ml_min_1_73m2", 1e300)],
)
def test_regression_numbers_in_exponent_form(pair: Pair, test: str, value: float) -> None:
    """Python writes 1e+20 / 1e-07; durable's parser cannot read an exponent without a fraction and
    silently dropped the fact *and every later fact of the batch* (the patient fact comes first:
    no patient rule fired at all). Now written as 1.0e+20."""
    doc = eligible().lab(date(2024, 5, 30), test, value).build()
    assert pair.mismatch(doc) is None
    assert pair.match_mismatch(doc) is None
    ev = pair.durable.evaluate(doc)
    if test == "iga_mg_dl" and value < 7:
        assert "SAFETY-002B" in ev.status.eligibility_reasons
    if test == "creatinine_mg_dl":
        assert "SAFETY-008" in ev.status.eligibility_reasons


def test_regression_extreme_ck_gives_the_same_answer_or_the_same_error(pair: Pair) -> None:
    """CK / ULN overflowing to infinity reaches the rules: both backends must agree (inf compares
    like the largest double in durable; NaN is refused by both with EngineError)."""
    doc = eligible().build()
    doc["assessments"].append({"date": "2024-05-30", "ck_u_per_l": 1e308, "ck_uln_u_per_l": 1e-300})
    doc["diagnosis"]["statin_exposure"] = True
    assert pair.mismatch(doc) is None


def test_dumps_writes_numbers_durable_can_read() -> None:
    assert _durable._dumps([{"v": 1e20}]) == '[{"v": 1.0e+20}]'
    assert _durable._dumps([{"v": 1e-7, "w": 2.5e-7}]) == '[{"v": 1.0e-07, "w": 2.5e-07}]'
    assert _durable._dumps([{"v": float("inf")}]) == '[{"v": 1.7976931348623157e+308}]'
    assert _durable._dumps([{"v": float("-inf")}]) == '[{"v": -1.7976931348623157e+308}]'
    assert _durable._dumps([{"v": 2**70}]) == '[{"v": 1.1805916207174113e+21}]'
    assert _durable._dumps([{"v": "1e5 é"}]) == '[{"v": "1e5 é"}]'  # strings untouched, raw UTF-8
    with pytest.raises(EngineError, match="NaN"):
        _durable._dumps([{"v": float("nan")}])


def test_durable_parses_what_dumps_writes() -> None:
    """Round trip through durable's own C parser (its stored facts come back as Python values)."""
    import durable_rules_engine as dre

    host = _durable._QuietHost()
    host.register_rulesets({"rt": {"r": {"all": [{"m": {"t": "x"}}], "run": lambda c: None}}})
    handle = host.get_ruleset("rt")._handle
    values = [1e20, 1e-7, 5e-324, 1.5, -0.0, 2**62, 12345678901234567.0, float("inf")]
    facts = [{"t": "x", "v": v, "sid": "p", "id": f"i{i}"} for i, v in enumerate(values)]
    dre.assert_facts(handle, _durable._dumps(facts))
    stored = sorted(json.loads(dre.get_facts(handle, "p")), key=lambda f: int(f["id"][1:]))
    got = [f["v"] for f in stored]
    assert got[:7] == values[:7]
    assert got[7] == 1.7976931348623157e308


def test_regression_negated_facts_are_asserted_first() -> None:
    """durable decides a `$not` when the positive fact arrives and never revisits it. Raw durable,
    positive fact first: the rule wrongly fires. This canary fails if durable ever changes."""
    import durable_rules_engine as dre

    host = _durable._QuietHost()
    host.register_rulesets(
        {"neg": {"r": {"all": [{"a": {"t": "x"}}, {"b$not": {"t": "y"}}], "run": lambda c: None}}}
    )
    handle = host.get_ruleset("neg")._handle

    def fired(facts: list[dict[str, Any]], sid: str) -> int:
        payload = [dict(f, sid=sid, id=f"f{i}") for i, f in enumerate(facts)]
        _, state = dre.assert_facts(handle, json.dumps(payload))
        n = 0
        result = dre.start_action_for_state(handle, state)
        while result:
            n += 1
            result = dre.complete_and_start_action(handle, state)
        dre.delete_state(handle, sid)
        return n

    assert fired([{"t": "x"}, {"t": "y"}], "late") == 1  # the negated fact came too late: wrong
    assert fired([{"t": "y"}, {"t": "x"}], "early") == 0  # negated first: right


def test_negation_order_ranks_negated_types_and_conclusions_first(pair: Pair) -> None:
    backend = pair.durable._backend
    rules = pair.durable.plan.strata
    stratum0 = backend._orders[0]
    # REFRACTORY-101 matches the patient and negates therapies: therapies go first
    assert stratum0[("t", "therapy")] < stratum0[("t", "patient")]
    # OUT-102 (a later stratum) negates OUT-003's conclusion and matches response conclusions
    level = pair.durable.plan.level["OUT-102"]
    order = backend._orders[level]
    assert order[("c", "OUT-003")] < order[("c", "RESP-003")]
    assert len(rules) == len(backend._orders)


def test_regression_refractory_patient_is_not_called_not_refractory(pair: Pair) -> None:
    """The patient fact is derived first; without the ordering REFRACTORY-101 (no failed therapy)
    fired for every refractory patient on durable."""
    ev = pair.durable.evaluate(eligible().build())
    assert ev.status.refractory is True
    assert "REFRACTORY-101" not in {f.rule_id for f in ev.findings}


def _site_rules(tmp_path: Path, rules: list[dict[str, Any]]) -> Path:
    path = tmp_path / "site.yaml"
    path.write_text(json.dumps({"family": "site", "version": "1.0.0", "rules": rules}))
    return path


def _rule(rid: str, when: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
    return {
        "id": rid,
        "version": "1.0.0",
        "title": rid,
        "category": "site",
        "severity": "info",
        "evidence": ["cherin2002"],
        "when": when,
        "summary": f"{rid} fired",
        **kw,
    }


def test_regression_conclusion_only_rule_with_negation(tmp_path: Path) -> None:
    """A rule matching only an earlier stratum's conclusion and negating a base fact type: those
    conclusions were asserted before every base fact, so the negation was decided before the
    therapies arrived, and the rule fired although a therapy is ongoing."""
    path = _site_rules(
        tmp_path,
        [
            _rule(
                "site:SITE-001",
                [
                    {"status": {"refractory": True}},
                    {"none": {"fact": "therapy", "where": {"ongoing": True}}},
                    {"not_rule": "DX-001"},  # puts it in a later stratum: the conclusion arrives as a fact
                ],
            )
        ],
    )
    p = Pair(entry_points=False, extra_rule_files=[(path, "site")], strict_plugins=True)
    ongoing = eligible().build()  # prednisone is ongoing
    assert p.mismatch(ongoing) is None
    assert "site:SITE-001" in p.durable.rules
    assert p.durable.plan.level["site:SITE-001"] > p.durable.plan.level["REFRACTORY-001"]
    assert "site:SITE-001" not in {f.rule_id for f in p.durable.evaluate(ongoing).findings}
    stopped = eligible().build()
    for th in stopped["therapies"]:
        th["stop"] = th["stop"] or "2024-05-01"
    assert p.mismatch(stopped) is None


def test_regression_one_fact_may_fill_two_patterns(tmp_path: Path) -> None:
    """durable's default `dist: 1` lets a fact fill only one alias of a rule (and lets a negation
    ignore a fact already in the frame); the contract - and the reference - say each pattern holds
    if *some* fact satisfies it. OUT-004 concludes outcome=relapse and relapse_alert=true in one fact."""
    path = _site_rules(
        tmp_path,
        [
            _rule(
                "site:SITE-002",
                [
                    {"status": {"outcome": "relapse"}},
                    {"status": {"relapse_alert": True}},
                    {"fact": "patient", "as": "p", "where": {"discontinued": True}},
                ],
            )
        ],
    )
    p = Pair(entry_points=False, extra_rule_files=[(path, "site")], strict_plugins=True)
    doc = json.loads((REPO / "examples" / "relapse.json").read_text())
    ref = p.reference.evaluate(copy.deepcopy(doc))
    assert ref.status.outcome == "relapse"
    assert "site:SITE-002" in {f.rule_id for f in ref.findings}
    assert p.mismatch(doc) is None
    assert p.match_mismatch(doc) is None


def test_regression_reference_rechecks_rules_after_later_chained_conclusions(tmp_path: Path) -> None:
    """A rule that already fired must also match conclusions chained after it (durable does).
    SITE-C matches the conclusion of SITE-A (chained in round 1) or of SITE-B (which needs SITE-A:
    round 2). The reference stopped looking at SITE-C once it had fired in round 2, missing the
    (SITE-C, SITE-B) match."""
    patient = {"fact": "patient", "as": "p", "where": {"age_years": {"ge": 0}}}
    path = _site_rules(
        tmp_path,
        [
            _rule("site:SITE-A", [patient]),
            _rule("site:SITE-B", [{"rule": "site:SITE-A"}, patient]),
            _rule(
                "site:SITE-C",
                [
                    {
                        "fact": "conclusion",
                        "as": "c",
                        "where": {"any": [{"rule": "site:SITE-A"}, {"rule": "site:SITE-B"}]},
                    },
                    patient,
                ],
            ),
        ],
    )
    p = Pair(entry_points=False, extra_rule_files=[(path, "site")], strict_plugins=True)
    levels = {p.durable.plan.level[r] for r in ("site:SITE-A", "site:SITE-B", "site:SITE-C")}
    assert len(levels) == 1, "the three rules must share a stratum (chaining)"
    doc = eligible().build()
    found = p.matches(p.reference, doc)
    via = {dict(combo)["c"] for rid, combo in found if rid == "site:SITE-C"}
    assert via == {"csite:SITE-A", "csite:SITE-B"}
    assert p.match_mismatch(doc) is None
    assert p.mismatch(doc) is None


def test_random_patient_is_reproducible() -> None:
    assert random_patient(7) == random_patient(7)
    assert random_patient(7) != random_patient(8)


# ---------------------------------------------------------------- the reference's compiled conditions

_FIELDS = ("a", "b", "c")
_PLAIN = st.one_of(
    st.booleans(), st.integers(-3, 3), st.floats(-3, 3, allow_nan=False), st.sampled_from(["x", "y"])
)
_SCALARS = st.one_of(st.none(), _PLAIN, st.just(""))


def _tests() -> st.SearchStrategy[cnd.Test]:
    field = st.sampled_from(_FIELDS)
    return st.one_of(
        st.builds(cnd.Test, field, st.sampled_from(["eq", "ne"]), _PLAIN),
        st.builds(cnd.Test, field, st.sampled_from(["lt", "le", "gt", "ge"]), st.integers(-3, 3)),
        st.builds(cnd.Test, field, st.just("in"), st.lists(_PLAIN, min_size=1, max_size=3).map(tuple)),
        st.builds(cnd.Test, field, st.just("present"), st.booleans()),
    )


CONDITIONS = st.recursive(
    _tests(),
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3).map(lambda xs: cnd.And(tuple(xs))),
        st.lists(inner, min_size=1, max_size=3).map(lambda xs: cnd.Or(tuple(xs))),
    ),
    max_leaves=8,
)


@settings(max_examples=500, deadline=None)
@given(cond=CONDITIONS, fact=st.fixed_dictionaries({}, optional={f: _SCALARS for f in _FIELDS}))
def test_compiled_conditions_equal_eval_cond(cond: Any, fact: dict[str, Any]) -> None:
    c = truth.compiled(cond)
    assert c.holds(fact) == (truth.eval_cond(cond, fact) is True)
    got: list[str] = []
    want: list[str] = []
    assert c.truth(fact, got) == truth.eval_cond(cond, fact, want)
    assert got == want


Truth = tuple[bool | None, list[tuple[str, str]]]


def _rule_truth_spec(rule: Any, typed: dict[str, list[tuple[str, Any]]]) -> Truth:
    """rule_truth written straight from its definition with conditions.eval_cond (the oracle)."""
    verdict: bool | None = True
    missing: list[tuple[str, str]] = []
    for p in sorted(rule.patterns, key=lambda q: q.fact_type != "conclusion"):
        seen: list[bool | None] = []
        fields: list[str] = []
        for _, fact in typed.get(p.fact_type, []):
            local: list[str] = []
            value = truth.eval_cond(p.cond, fact, local)
            if p.fact_type == "conclusion" and value is None:
                value = False
            seen.append(value)
            if value is None:
                fields.extend(local)
        exists: bool | None = True if True in seen else (None if None in seen else False)
        holds = exists if p.kind == "match" else (None if exists is None else not exists)
        if holds is False:
            return False, []
        if holds is None:
            verdict = None
            missing.extend((p.fact_type, f) for f in fields)
    return verdict, list(dict.fromkeys(missing))


def test_rule_truth_equals_its_definition(pair: Pair) -> None:
    """The compiled, short-circuiting rule_truth (data-gap findings, explain) against the oracle."""
    engine = pair.reference
    checked = 0
    for doc in cohort(150, seed=DIFF_SEED + 3):
        model = load_patient(doc)
        all_facts, _ = engine.run_rules(engine.derive(model, model.as_of or date(2024, 6, 1)))
        typed: dict[str, list[tuple[str, Any]]] = {}
        for i, fact in enumerate(all_facts):
            typed.setdefault(str(fact["t"]), []).append((f"f{i}", fact))
        for rule in engine.rules.values():
            assert truth.rule_truth(rule, typed) == _rule_truth_spec(rule, typed), rule.id
            checked += 1
    assert checked > 1000


def test_action_messages_are_read_without_parsing_the_facts() -> None:
    """_message_frames finds alias -> id by a marker that cannot occur inside a fact's JSON."""
    tricky = {"id": "f1", "sid": "s", "t": "x", "note": 'a":{"id": "f9"}', "k": "}{", "e": "\\"}
    other = {"id": "c9", "t": "y", "note": '"b":{"id": "f8"'}
    msg = '{"R":{"a":' + _durable._fact_json(tricky) + ',"b":' + _durable._fact_json(other) + "}}"
    assert _durable._message_frames(msg) == ("R", [{"a": "f1", "b": "c9"}])
    assert _durable._message_frames(msg, fast=False) == ("R", [{"a": "f1", "b": "c9"}])
    listed = '{"site:R-1":[{"a":{"id": "f1"}},{"a":{"id": "f2"}}]}'
    assert _durable._message_frames(listed) == ("site:R-1", [{"a": "f1"}, {"a": "f2"}])


def test_string_values_with_json_lookalikes_round_trip_through_durable(tmp_path: Path) -> None:
    """A plugin fact field holding quotes, braces and the frame marker: both backends agree."""
    host = _durable._QuietHost()
    host.register_rulesets(
        {
            "rt": {
                "r": {
                    "all": [{"m": {"$and": [{"t": "x"}, {"note": 'a":{"id": "f9"}'}]}}],
                    "dist": 0,
                    "run": lambda c: None,
                }
            }
        }
    )
    import durable_rules_engine as dre

    handle = host.get_ruleset("rt")._handle
    fact = {"id": "f0", "sid": "p", "t": "x", "note": 'a":{"id": "f9"}'}
    _, state = dre.assert_facts(handle, "[" + _durable._fact_json(fact) + "]")
    result = dre.start_action_for_state(handle, state)
    assert _durable._message_frames(result[1]) == ("r", [{"m": "f0"}])
    dre.complete_and_start_action(handle, state)
    dre.delete_state(handle, "p")


def test_a_stratum_without_facts_of_its_types_is_skipped(pair: Pair) -> None:
    backend = pair.durable._backend
    seen: list[int] = []
    got = backend.run([{"t": "nothing_reads_this"}], lambda level, matches: seen.append(level) or [])
    assert got == []
    assert seen == list(range(len(backend._handles)))


def test_conclusion_pattern_with_rule_in_a_list_loads(tmp_path: Path) -> None:
    patient = {"fact": "patient", "as": "p", "where": {"age_years": {"ge": 0}}}
    path = _site_rules(
        tmp_path,
        [
            _rule("site:SITE-A", [patient]),
            _rule(
                "site:SITE-C",
                [{"fact": "conclusion", "as": "c", "where": {"rule": {"in": ["site:SITE-A", "DX-001"]}}}, patient],
            ),
        ],
    )
    engine = Engine(entry_points=False, extra_rule_files=[(path, "site")], strict_plugins=True)
    assert "site:SITE-C" in engine.rules


def test_property_hash_is_durables() -> None:
    """durable looks fields up by a 32-bit FNV-1a hash of the name (its own constants for id / sid)."""
    assert _durable._property_hash("id") == 926444256
    assert _durable._property_hash("sid") == 3593476751


def test_field_names_durable_cannot_tell_apart_are_refused() -> None:
    rule = Engine(entry_points=False, backend="reference").rules["DX-001"]
    _durable._check_property_names([rule])  # the real names do not collide
    a, b = "r__x_", "wvbcq"  # found by brute force: equal FNV-1a hashes
    assert _durable._property_hash(a) == _durable._property_hash(b)
    fake: Any = type("R", (), {})()
    fake.id = "X-1"
    fake.spec = type("S", (), {"sets": {}})()
    fake.patterns = [cnd.Pattern("match", "patient", "p", cnd.And((cnd.Test(a, "eq", 1), cnd.Test(b, "eq", 2))))]
    with pytest.raises(EngineError, match="collide"):
        _durable._check_property_names([fake])
