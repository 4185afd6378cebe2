"""The adversarial review's hostile plugins (issue 9, items 1-6): each one a fixture, each break a test.

The promise: a broken or hostile plugin is reported (``PLUGIN-001``, ``engine.plugin_failures``) and
isolated; it can never hide, weaken or rewrite a core finding, end the program, disable the engine,
or change the caller's data. Every test runs the same patient, whose core result carries a ``stop``
(prior anaphylaxis to immunoglobulin, SAFETY-001).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ivig_cds import Engine, FactDeriver, FactField, Finding, PluginError, hookimpl
from ivig_cds.cli import main as cli_main
from ivig_cds.explain import lint_rules
from ivig_cds.inputs.files import load_patient
from ivig_cds.plugins import host as plugin_host
from ivig_cds.rulebook.load import MAX_PLUGIN_RULES
from ivig_cds.rulebook.plan import MAX_CHAIN_DEPTH

PATIENT: dict[str, Any] = {
    "schema_version": 1,
    "patient_id": "hostile-001",
    "as_of": "2024-06-01",
    "demographics": {"birth_date": "1970-01-01", "sex": "female", "weight_kg": 70, "height_cm": 165},
    "diagnosis": {"condition": "polymyositis", "diagnosed_on": "2020-01-01", "classification": "definite"},
    "therapies": [
        {"agent": "prednisone", "start": "2020-01-01", "stop": None, "outcome": "inadequate_response"},
        {"agent": "methotrexate", "start": "2020-02-01", "stop": "2021-01-01", "outcome": "inadequate_response"},
    ],
    "risk_factors": {"prior_ig_anaphylaxis": True},
}

CLI = str(Path(sys.executable).with_name("ivig-cds"))
ADULT = {"fact": "patient", "as": "p", "where": {"age_years": {"ge": 18}}}


@pytest.fixture(scope="module")
def baseline() -> Any:
    """The core result with no plugin at all: what every hostile run must still produce."""
    return Engine(entry_points=False).evaluate(PATIENT)


def core_view(ev: Any) -> list[str]:
    """The core findings by value (PLUGIN-001 aside), to compare with the baseline."""
    return [f.model_dump_json() for f in ev.findings if f.origin == "core" and f.rule_id != "PLUGIN-001"]


def failed(ev: Any) -> list[tuple[str, str]]:
    return [(f.plugin, f.hook) for f in ev.engine.plugin_failures]


def rule(ns: str, rid: str, when: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    out = {
        "id": f"{ns}:{rid}",
        "version": "1.0.0",
        "title": "Hostile rule",
        "category": "local",
        "severity": "advisory",
        "evidence": ["cherin2002"],
        "when": when,
        "summary": "hostile",
    }
    out.update(extra)
    return out


class RulesOf:
    """A plugin registering the given rules (and, optionally, thresholds)."""

    def __init__(self, ns: str, rules: list[dict[str, Any]], thresholds: dict[str, Any] | None = None) -> None:
        self.ns, self.rules, self.thresholds = ns, rules, thresholds

    @hookimpl
    def register_rules(self, register: Callable[[Any], None]) -> None:
        register({"family": self.ns, "version": "1.0.0", "rules": self.rules})

    @hookimpl
    def provide_thresholds(self) -> dict[str, Any] | None:
        return self.thresholds


def assert_isolated(ev: Any, baseline: Any, plugin: str) -> None:
    assert core_view(ev) == core_view(baseline), "a core finding changed"
    assert ev.status == baseline.status
    assert plugin in {p for p, _ in failed(ev)}
    assert "PLUGIN-001" in {f.rule_id for f in ev.findings}
    assert not any(f.rule_id.startswith(f"{plugin}:") for f in ev.findings)


# -- 1. an observer emptying the result --------------------------------------------------------------


class ClearingObserver:
    @hookimpl
    def observe_evaluation(self, evaluation: Any, context: Any) -> None:
        evaluation.findings.clear()
        evaluation.engine.rulesets.clear()
        evaluation.status.__dict__["eligibility"] = "eligible"


def test_an_observer_cannot_change_the_result(baseline: Any) -> None:
    engine = Engine(entry_points=False, plugins=[("clear", ClearingObserver())])
    ev = engine.evaluate(PATIENT)
    assert core_view(ev) == core_view(baseline) and ev.status == baseline.status
    assert ev.engine.rulesets == baseline.engine.rulesets
    assert engine.evaluate(PATIENT).engine.rulesets, "nor the engine's own record, for the next evaluation"


# -- 2. adjust_findings rewriting in place, or by a copy ---------------------------------------------


class InPlaceRewriter:
    """Rewrites the stop it was given in place and empties the engine record, then returns None."""

    @hookimpl
    def adjust_findings(self, evaluation: Any, findings: list[Finding]) -> None:
        for f in findings:
            if f.severity == "stop":
                object.__setattr__(f, "summary", "safe to give")
                f.facts.clear()
                f.evidence.clear()
        for f in evaluation.findings:
            object.__setattr__(f, "severity", "info")
        evaluation.engine.rulesets.clear()
        evaluation.engine.plugin_failures.clear()


class CopyRewriter:
    """Returns a model_copy of the stop with a gentler detail: a rewrite, refused whole."""

    @hookimpl
    def adjust_findings(self, evaluation: Any, findings: list[Finding]) -> list[Finding]:
        return [f.model_copy(update={"detail": "no concern"}) if f.severity == "stop" else f for f in findings]


class FactsRewriter:
    @hookimpl
    def adjust_findings(self, evaluation: Any, findings: list[Finding]) -> list[Finding]:
        return [f.model_copy(update={"facts": {}}) if f.severity == "stop" else f for f in findings]


def test_adjust_findings_in_place_reaches_nothing(baseline: Any) -> None:
    engine = Engine(entry_points=False, plugins=[("inplace", InPlaceRewriter())])
    for _ in range(2):  # the engine's record stays whole for the next evaluation too
        ev = engine.evaluate(PATIENT)
        assert core_view(ev) == core_view(baseline)
        assert ev.engine.rulesets == baseline.engine.rulesets


@pytest.mark.parametrize("plugin", [CopyRewriter(), FactsRewriter()], ids=["detail", "facts"])
def test_adjust_findings_rewriting_a_core_stop_by_copy_is_refused(baseline: Any, plugin: object) -> None:
    ev = Engine(entry_points=False, plugins=[("rewrite", plugin)]).evaluate(PATIENT)
    assert core_view(ev) == core_view(baseline)
    assert failed(ev) == [("rewrite", "adjust_findings")]


# -- 3. SystemExit / KeyboardInterrupt from a plugin ---------------------------------------------------


class Raiser:
    """Raises ``exc`` from one hook."""

    def __init__(self, hook: str, exc: BaseException) -> None:
        self.hook, self.exc = hook, exc

    def _maybe(self, hook: str) -> None:
        if hook == self.hook:
            raise self.exc

    @hookimpl
    def register_rules(self, register: Callable[[Any], None]) -> None:
        self._maybe("register_rules")
        register({"family": "raise", "version": "1.0.0", "rules": [rule("raise", "R-001", [ADULT])]})

    @hookimpl
    def register_fact_derivers(self, register: Callable[[FactDeriver], None]) -> None:
        def derive(patient: Any, as_of: Any, thresholds: Any) -> dict[str, Any]:
            self._maybe("derive")
            return {"raise_flag": True}

        register(FactDeriver("flag", "patient", {"raise_flag": FactField("bool", "test", "x")}, derive))

    @hookimpl
    def provide_thresholds(self) -> None:
        self._maybe("provide_thresholds")

    @hookimpl
    def adjust_findings(self, evaluation: Any, findings: list[Finding]) -> None:
        self._maybe("adjust_findings")

    @hookimpl
    def observe_evaluation(self, evaluation: Any, context: Any) -> None:
        self._maybe("observe_evaluation")


HOOKS = ["register_rules", "derive", "provide_thresholds", "adjust_findings", "observe_evaluation"]


@pytest.fixture
def cli_interrupts(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """As under the CLI: SIGINT is counted, so a KeyboardInterrupt the plugin raised is told apart."""
    monkeypatch.setattr(plugin_host.INTERRUPTS, "installed", True)
    monkeypatch.setattr(plugin_host.INTERRUPTS, "seen", 0)
    yield


@pytest.mark.parametrize("hook", HOOKS)
@pytest.mark.parametrize(
    "exc", [SystemExit(0), SystemExit("bye"), GeneratorExit()], ids=["exit0", "exitmsg", "genexit"]
)
def test_a_plugin_cannot_end_the_program(baseline: Any, hook: str, exc: BaseException) -> None:
    ev = Engine(entry_points=False, plugins=[("raise", Raiser(hook, exc))]).evaluate(PATIENT)
    assert core_view(ev) == core_view(baseline)
    assert "raise" in {p for p, _ in failed(ev)}


@pytest.mark.parametrize("hook", HOOKS)
def test_a_keyboard_interrupt_the_plugin_raised_is_its_failure(
    baseline: Any, hook: str, cli_interrupts: None
) -> None:
    ev = Engine(entry_points=False, plugins=[("raise", Raiser(hook, KeyboardInterrupt()))]).evaluate(PATIENT)
    assert core_view(ev) == core_view(baseline)
    assert "raise" in {p for p, _ in failed(ev)}


def test_a_real_ctrl_c_still_stops(cli_interrupts: None) -> None:
    plugin_host.INTERRUPTS.seen = 1  # the SIGINT handler counted one: the interrupt is the user's
    with pytest.raises(KeyboardInterrupt):
        Engine(entry_points=False, plugins=[("raise", Raiser("derive", KeyboardInterrupt()))]).evaluate(PATIENT)


def test_without_the_cli_a_keyboard_interrupt_is_taken_as_real() -> None:
    # an embedding program cannot tell them apart: stopping is the safe reading of Ctrl-C
    assert not plugin_host.INTERRUPTS.installed
    with pytest.raises(KeyboardInterrupt):
        Engine(entry_points=False, plugins=[("raise", Raiser("derive", KeyboardInterrupt()))]).evaluate(PATIENT)


@pytest.mark.parametrize(
    "body", ["import sys\nsys.exit(0)\n", "raise KeyboardInterrupt\n", "raise SystemExit(3)\n"]
)
def test_a_plugin_file_exiting_at_import_is_isolated_in_the_cli(tmp_path: Path, body: str) -> None:
    plugin = tmp_path / "bye.py"
    plugin.write_text(body, encoding="utf-8")
    patient = tmp_path / "p.json"
    patient.write_text(json.dumps(PATIENT), encoding="utf-8")
    run = subprocess.run(
        [CLI, "evaluate", str(patient), "--plugin", str(plugin), "--format", "json", "--fail-on", "stop"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "IVIG_CDS_LOAD_PLUGINS": ""},
    )
    assert run.stdout, run.stderr
    doc = json.loads(run.stdout)
    ids = {f["rule_id"] for f in doc["findings"]}
    assert {"SAFETY-001", "PLUGIN-001"} <= ids
    assert run.returncode == 1  # a stop finding, reported, never a silent exit 0
    assert "Traceback" not in run.stderr


# -- 4. plugin data that disabled the whole engine ----------------------------------------------------

NEG_SELF = [rule("neg", "N-001", [ADULT, {"not_rule": "neg:N-001"}])]
NEG_CYCLE = [
    rule("neg", "N-001", [ADULT, {"not_rule": "neg:N-002"}]),
    rule("neg", "N-002", [ADULT, {"not_rule": "neg:N-001"}]),
]
CHAIN = [rule("neg", "C-001", [ADULT])] + [
    rule("neg", f"C-{i:03d}", [{"fact": "conclusion", "as": "c", "where": {"rule": f"neg:C-{i - 1:03d}"}}])
    for i in range(2, MAX_CHAIN_DEPTH + 2)
]
FLAT = [rule("neg", f"F-{i:04d}", [ADULT]) for i in range(MAX_PLUGIN_RULES + 1)]
SETS_CORE = [rule("neg", "X-001", [ADULT], sets={"refractory": False})]
SETS_ELIGIBLE = [rule("neg", "X-001", [ADULT], sets={"eligibility": "eligible"})]
BAD_FORMAT = [rule("neg", "X-001", [ADULT], summary="Weight {p.weight_kg:d} kg")]
NEG_OWN_TYPE = [rule("neg", "X-001", [ADULT, {"none": {"fact": "patient", "where": {"rf_heart_failure": True}}}])]
# found by the generated rule files (test_differential_rules): durable fired it, the reference did not
CONTRADICTION = [
    rule("neg", "X-001", [ADULT]),
    rule("neg", "X-002", [{"not_rule": "neg:X-001"}, {"rule": "neg:X-001"}]),
]
HOSTILE_RULES = {
    "negates-its-own-type": NEG_OWN_TYPE,
    "contradicts-itself": CONTRADICTION,
    "self-negation": NEG_SELF,
    "negation-cycle": NEG_CYCLE,
    "chain-too-long": CHAIN,
    "too-many-rules": FLAT,
    "sets-a-core-conclusion": SETS_CORE,
    "sets-eligible": SETS_ELIGIBLE,
    "format-spec-d": BAD_FORMAT,
}


@pytest.mark.parametrize("backend", ["durable", "reference"])
@pytest.mark.parametrize("case", sorted(HOSTILE_RULES))
def test_hostile_rules_isolate_the_plugin_and_keep_the_core(baseline: Any, case: str, backend: str) -> None:
    engine = Engine(entry_points=False, backend=backend, plugins=[("neg", RulesOf("neg", HOSTILE_RULES[case]))])
    ev = engine.evaluate(PATIENT)
    assert_isolated(ev, baseline, "neg")
    assert not any(r.startswith("neg:") for r in engine.rules)
    with pytest.raises(PluginError):
        Engine(
            entry_points=False, backend=backend, strict_plugins=True, plugins=[RulesOf("neg", HOSTILE_RULES[case])]
        )


RESPONDER = {"fact": "conclusion", "as": "c", "where": {"response": "responder"}}


def shared(ns: str, n: int, when: dict[str, Any] = ADULT) -> list[dict[str, Any]]:
    return [rule(ns, f"S-{i:04d}", [when]) for i in range(n)]


def test_rules_durable_refuses_isolate_the_plugin_on_durable(baseline: Any) -> None:
    # 250 rules on the condition 14 core rules test first: over durable's 256 successors of a node
    ev = Engine(entry_points=False, plugins=[("neg", RulesOf("neg", shared("neg", 250, RESPONDER)))]).evaluate(
        PATIENT
    )
    assert_isolated(ev, baseline, "neg")
    error = next(f.error for f in ev.engine.plugin_failures if f.plugin == "neg")
    assert "more than 256 rules share one condition" in error


def test_plugins_that_break_durable_only_together_leave_the_later_one_out(baseline: Any) -> None:
    # each plugin builds alone; together they are over durable's limit: the later (name order) goes.
    # The reference backend has no such limit and takes both.
    plugins = [("aaa", RulesOf("aaa", shared("aaa", 150))), ("neg", RulesOf("neg", shared("neg", 150)))]
    ev = Engine(entry_points=False, plugins=plugins).evaluate(PATIENT)
    assert_isolated(ev, baseline, "neg")
    assert sum(f.rule_id.startswith("aaa:") for f in ev.findings) == 150
    reference = Engine(entry_points=False, backend="reference", plugins=plugins).evaluate(PATIENT)
    assert failed(reference) == []


def test_a_chain_at_the_limit_builds_on_both_backends() -> None:
    chain = CHAIN[:MAX_CHAIN_DEPTH]
    for backend in ("durable", "reference"):
        ev = Engine(entry_points=False, backend=backend, plugins=[("neg", RulesOf("neg", chain))]).evaluate(
            PATIENT
        )
        assert failed(ev) == []
        assert sum(f.rule_id.startswith("neg:C-") for f in ev.findings) == MAX_CHAIN_DEPTH


def test_one_hostile_plugin_leaves_the_others_working(baseline: Any) -> None:
    good = RulesOf("good", [rule("good", "G-001", [ADULT])])
    ev = Engine(entry_points=False, plugins=[("neg", RulesOf("neg", NEG_CYCLE)), ("good", good)]).evaluate(PATIENT)
    assert_isolated(ev, baseline, "neg")
    assert "good:G-001" in {f.rule_id for f in ev.findings}


def test_two_plugins_that_only_break_together_leave_the_second_out(baseline: Any) -> None:
    # each plugin alone builds; together they negate each other: the later one (name order) is left out
    a = RulesOf("aaa", [rule("aaa", "N-001", [ADULT, {"not_rule": "zzz:N-001"}])])
    z = RulesOf("zzz", [rule("zzz", "N-001", [ADULT, {"not_rule": "aaa:N-001"}])])
    engine = Engine(entry_points=False, plugins=[("aaa", a), ("zzz", z)])
    ev = engine.evaluate(PATIENT)
    # aaa alone refers to an unknown rule, so it fails at load; zzz then does too: both out, core whole
    assert core_view(ev) == core_view(baseline)
    assert {p for p, _ in failed(ev)} == {"aaa", "zzz"}


BOMB = textwrap.dedent(
    """\
    family: bomb
    version: 1.0.0
    a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
    b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
    c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
    d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
    e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
    f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
    g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
    h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
    rules: [*h]
    """
)


def test_a_yaml_alias_bomb_rule_file_is_refused_at_once(tmp_path: Path, baseline: Any) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB, encoding="utf-8")
    ev = Engine(entry_points=False, extra_rule_files=[(path, "bomb")]).evaluate(PATIENT)
    assert core_view(ev) == core_view(baseline)
    error = next(f.error for f in ev.engine.plugin_failures if f.plugin == "bomb")
    assert "anchors and aliases are not allowed" in error
    report = lint_rules(path)
    assert report.errors and "aliases" in str(report.errors[0])


def test_a_yaml_alias_bomb_patient_file_is_refused(tmp_path: Path) -> None:
    from ivig_cds import InputError

    path = tmp_path / "p.yaml"
    path.write_text(BOMB.replace("rules: [*h]", "patient_id: x"), encoding="utf-8")
    with pytest.raises(InputError, match="aliases"):
        load_patient(path)


def write_rule_file(tmp_path: Path, rules: list[dict[str, Any]]) -> Path:
    path = tmp_path / "site.yaml"
    path.write_text(json.dumps({"family": "neg", "version": "1.0.0", "rules": rules}), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("case", "words"),
    [
        ("self-negation", "cycle"),
        ("negates-its-own-type", "negates the fact type it also matches"),
        ("contradicts-itself", "both matches and negates"),
        ("negation-cycle", "cycle"),
        ("chain-too-long", f"more than {MAX_CHAIN_DEPTH} rules"),
        ("too-many-rules", f"at most {MAX_PLUGIN_RULES}"),
        ("sets-a-core-conclusion", "may set only eligibility"),
        ("sets-eligible", "stricter than eligible"),
        ("format-spec-d", "format"),
    ],
)
def test_rules_validate_catches_what_used_to_disable_the_engine(tmp_path: Path, case: str, words: str) -> None:
    report = lint_rules(write_rule_file(tmp_path, HOSTILE_RULES[case]))
    assert report.errors, case
    assert any(words in str(e) for e in report.errors), [str(e) for e in report.errors]


def test_rules_validate_builds_on_durable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_rule_file(tmp_path, shared("neg", 250, RESPONDER))
    assert cli_main(["rules", "validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert "more than 256 rules share one condition" in out


# -- deriver values the engine cannot compare ----------------------------------------------------------


class BadDeriver:
    def __init__(self, value: Any, kind: str) -> None:
        self.value, self.kind = value, kind

    @hookimpl
    def register_fact_derivers(self, register: Callable[[FactDeriver], None]) -> None:
        register(
            FactDeriver(
                "bad",
                "patient",
                {"bad_v": FactField(self.kind, "test", "x")},
                lambda p, d, t: {"bad_v": self.value},
            )
        )

    @hookimpl
    def register_rules(self, register: Callable[[Any], None]) -> None:
        when = [{"fact": "patient", "as": "p", "where": {"bad_v": {"ne": 0 if self.kind == "number" else ""}}}]
        register({"family": "bad", "version": "1.0.0", "rules": [rule("bad", "B-001", when)]})


@pytest.mark.parametrize(
    ("value", "kind"),
    [(float("nan"), "number"), (float("inf"), "number"), ("\ud800", "string"), ("a\x1b[2Jb", "string")],
    ids=["nan", "inf", "lone-surrogate", "escape"],
)
@pytest.mark.parametrize("backend", ["durable", "reference"])
def test_a_deriver_value_no_rule_can_compare_is_its_failure(
    baseline: Any, value: Any, kind: str, backend: str
) -> None:
    ev = Engine(entry_points=False, backend=backend, plugins=[("bad", BadDeriver(value, kind))]).evaluate(PATIENT)
    assert core_view(ev) == core_view(baseline)
    assert failed(ev) == [("bad", "register_fact_derivers[bad]")]
    assert "bad:B-001" not in {f.rule_id for f in ev.findings}


# -- 5. a failed plugin's thresholds are never applied -------------------------------------------------


@pytest.mark.parametrize("broken", ["cycle", "unknown-field", "raises"])
def test_a_plugin_whose_rules_fail_applies_no_thresholds(broken: str) -> None:
    loosen = {"dose_g_per_kg_per_day": 2.0, "renal_lab_max_age_days": 10000}
    rules = {
        "cycle": NEG_CYCLE,
        "unknown-field": [rule("neg", "U-001", [{"fact": "patient", "as": "p", "where": {"no_such_field": 1}}])],
        "raises": None,
    }[broken]

    class Loosener(RulesOf):
        @hookimpl
        def register_rules(self, register: Callable[[Any], None]) -> None:
            if self.rules is None:
                raise RuntimeError("broken")
            super().register_rules(register)

    engine = Engine(entry_points=False, plugins=[("neg", Loosener("neg", rules, loosen))])  # type: ignore[arg-type]
    assert engine.book.thresholds["dose_g_per_kg_per_day"].value == 1.0
    assert engine.book.thresholds["renal_lab_max_age_days"].value == 180
    assert engine.info.thresholds_overridden == {}
    assert engine.evaluate(PATIENT).dose_plan == Engine(entry_points=False).evaluate(PATIENT).dose_plan


# -- 6. a deriver mutating the caller's patient --------------------------------------------------------


class Mutator:
    @hookimpl
    def register_fact_derivers(self, register: Callable[[FactDeriver], None]) -> None:
        def derive(patient: Any, as_of: Any, thresholds: Any) -> dict[str, Any]:
            patient.therapies.clear()
            patient.risk_factors.__dict__["prior_ig_anaphylaxis"] = False
            thresholds.clear()
            return {"mut_n": 1}

        register(FactDeriver("mut", "patient", {"mut_n": FactField("number", "test", "x")}, derive))


def test_a_deriver_cannot_change_the_callers_patient_or_the_core_facts(baseline: Any) -> None:
    patient = load_patient(PATIENT)
    before = patient.model_dump_json()
    ev = Engine(entry_points=False, plugins=[("mut", Mutator())]).evaluate(patient)
    assert patient.model_dump_json() == before
    assert core_view(ev) == core_view(baseline)
    assert failed(ev) == []
