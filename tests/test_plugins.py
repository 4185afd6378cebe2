"""The plugin host: discovery, load control, isolation, namespacing and core safety precedence.

Every hook in ``ivig_cds.hookspecs`` is exercised here (the guard test in test_docs.py checks
that each hook name appears in this file).
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from ivig_cds import Engine, Finding, PluginError, hookimpl
from ivig_cds.facts import FactField
from ivig_cds.plugins import FactDeriver, OutputFormatSpec

PATIENT: dict[str, Any] = {
    "schema_version": 1,
    "patient_id": "plug-001",
    "as_of": "2024-06-01",
    "demographics": {"birth_date": "1970-01-01", "sex": "female", "weight_kg": 70, "height_cm": 165},
    "diagnosis": {"condition": "polymyositis", "diagnosed_on": "2020-01-01", "classification": "definite"},
    "therapies": [
        {"agent": "prednisone", "start": "2020-01-01", "stop": None, "outcome": "inadequate_response"},
        {"agent": "methotrexate", "start": "2020-02-01", "stop": "2021-01-01", "outcome": "inadequate_response"},
    ],
    "risk_factors": {"prior_ig_anaphylaxis": True},
}


def rule_file(plugin: str, rule_id: str = "LOCAL-001", **extra: Any) -> dict[str, Any]:
    rule = {
        "id": f"{plugin}:{rule_id}",
        "version": "1.0.0",
        "title": "Local rule",
        "category": "local",
        "severity": "advisory",
        "evidence": ["cherin2002"],
        "when": [{"fact": "patient", "as": "p", "where": {"age_years": {"ge": 18}}}],
        "summary": "Adult aged {p.age_years}",
    }
    rule.update(extra)
    return {"family": plugin, "version": "1.0.0", "rules": [rule]}


class RulesPlugin:
    def __init__(self, name: str, **extra: Any) -> None:
        self.name, self.extra = name, extra

    @hookimpl
    def register_rules(self, register: Callable[[Any], None]) -> None:
        register(rule_file(self.name, **self.extra))


def ids(ev: Any) -> list[str]:
    return [f.rule_id for f in ev.findings]


def failures(ev: Any) -> list[tuple[str, str]]:
    return [(f.plugin, f.hook) for f in ev.engine.plugin_failures]


# -- discovery and control ------------------------------------------------------------------------


def test_builtins_are_just_other_plugins_and_nothing_else_loads() -> None:
    engine = Engine(entry_points=False)
    assert [p.name for p in engine.plugins] == ["core", "core-console", "core-text"]
    assert engine.plugins[0].hooks == ["register_rules"]
    assert "SAFETY-001" in engine.plugins[0].rules
    assert [p.formats for p in engine.plugins[1:]] == [["rich"], ["json", "ndjson", "markdown"]]
    assert list(engine.output_formats) == ["json", "markdown", "ndjson", "rich"]
    assert engine.info.plugins == []  # built-ins are not third-party plugins


def test_each_engine_has_its_own_manager() -> None:
    a = Engine(entry_points=False, plugins=[("local", RulesPlugin("local"))])
    b = Engine(entry_points=False)
    assert a.host.pm is not b.host.pm
    assert "local:LOCAL-001" in ids(a.evaluate(PATIENT)) and "local:LOCAL-001" not in ids(b.evaluate(PATIENT))


def test_register_rules_from_a_local_plugin_file(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(
        "family: clinic\nversion: 1.0.0\nrules:\n"
        "  - {id: 'clinic:AGE-001', version: 1.0.0, title: Age, category: local, severity: info,\n"
        "     evidence: [cherin2002], when: [{fact: patient, as: p, where: {age_years: {ge: 18}}}],\n"
        "     summary: 'Adult {p.age_years}'}\n"
    )
    (tmp_path / "clinic.py").write_text(
        textwrap.dedent(f"""
        from pathlib import Path
        from ivig_cds import hookimpl
        __version__ = "2.3.4"
        @hookimpl
        def register_rules(register):
            register(Path({str(tmp_path / "rules.yaml")!r}))
    """)
    )
    engine = Engine(entry_points=False, plugin_paths=[tmp_path])
    ev = engine.evaluate(PATIENT)
    assert "clinic:AGE-001" in ids(ev)
    assert ev.engine.plugins == ["clinic==2.3.4"]
    finding = next(f for f in ev.findings if f.rule_id == "clinic:AGE-001")
    assert finding.origin == "clinic"


def fake_entry_points(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, names: list[str]) -> None:
    for name in names:
        (tmp_path / f"ep_{name}.py").write_text(
            "from ivig_cds import hookimpl\n@hookimpl\ndef provide_thresholds():\n    return None\n"
        )
    monkeypatch.syspath_prepend(str(tmp_path))
    eps = [metadata.EntryPoint(name=n, value=f"ep_{n}", group="ivig_cds") for n in names]
    real = metadata.entry_points

    def entry_points(**kw: Any) -> Any:
        return eps if kw.get("group") == "ivig_cds" else real(**kw)

    monkeypatch.setattr(metadata, "entry_points", entry_points)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (None, ["alpha", "beta", "core"]),
        ("", ["core"]),
        ("beta", ["beta", "core"]),
        ("alpha, beta", ["alpha", "beta", "core"]),
    ],
)
def test_load_plugins_allowlist(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env: str | None, expected: list[str]
) -> None:
    fake_entry_points(monkeypatch, tmp_path, ["alpha", "beta"])
    if env is None:
        monkeypatch.delenv("IVIG_CDS_LOAD_PLUGINS", raising=False)
    else:
        monkeypatch.setenv("IVIG_CDS_LOAD_PLUGINS", env)
    builtin = {"core", "core-console", "core-text"}
    assert [p.name for p in Engine().plugins if p.name not in builtin] == [e for e in expected if e != "core"]


def test_entry_point_that_fails_to_import_is_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "ep_broken.py").write_text("raise RuntimeError('boom at import')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    eps = [metadata.EntryPoint(name="broken", value="ep_broken", group="ivig_cds")]
    monkeypatch.setattr(metadata, "entry_points", lambda **kw: eps if kw.get("group") == "ivig_cds" else [])
    monkeypatch.delenv("IVIG_CDS_LOAD_PLUGINS", raising=False)
    ev = Engine().evaluate(PATIENT)
    assert failures(ev) == [("broken", "load")]
    assert "SAFETY-001" in ids(ev), "core findings are still there"
    gap = next(f for f in ev.findings if f.rule_id == "PLUGIN-001")
    assert gap.severity == "warning" and gap.category == "data" and "broken" in gap.summary
    with pytest.raises(PluginError, match="broken"):
        Engine(strict_plugins=True)


def test_misspelled_hook_fails_loudly() -> None:
    class Typo:
        @hookimpl
        def register_rule(self, register: Any) -> None:  # not a hook: register_rules
            raise AssertionError("never called")

    engine = Engine(entry_points=False, plugins=[("typo", Typo())])
    assert [(p, h) for p, h, _ in engine.host.failures] == [("typo", "load")]
    assert "register_rule" in engine.host.failures[0][2]
    with pytest.raises(PluginError, match="typo"):
        Engine(entry_points=False, plugins=[("typo", Typo())], strict_plugins=True)


# -- isolation in every hook -----------------------------------------------------------------------


class Raising:
    """Raises in one named hook; implements all of them."""

    def __init__(self, where: str) -> None:
        self.where = where

    def _maybe(self, hook: str) -> None:
        if self.where == hook:
            raise RuntimeError(f"boom in {hook}")

    @hookimpl
    def register_rules(self, register: Callable[[Any], None]) -> None:
        register(rule_file("raising"))
        self._maybe("register_rules")

    @hookimpl
    def register_fact_derivers(self, register: Callable[[FactDeriver], None]) -> None:
        self._maybe("register_fact_derivers")

        def derive(patient: Any, as_of: Any, thresholds: Any) -> dict[str, Any]:
            self._maybe("derive")
            return {"raising_flag": True}

        register(FactDeriver("flag", "patient", {"raising_flag": FactField("bool", "x", "flag")}, derive))

    @hookimpl
    def provide_thresholds(self) -> dict[str, Any]:
        self._maybe("provide_thresholds")
        return {}

    @hookimpl
    def register_output_formats(self, register: Callable[[OutputFormatSpec], None]) -> None:
        self._maybe("register_output_formats")
        register(OutputFormatSpec("ids", "rule ids", lambda evs: " ".join(ids(evs[0]))))

    @hookimpl
    def adjust_findings(self, evaluation: Any, findings: list[Finding]) -> list[Finding] | None:
        self._maybe("adjust_findings")
        return None

    @hookimpl
    def observe_evaluation(self, evaluation: Any, context: Any) -> None:
        self._maybe("observe_evaluation")


@pytest.mark.parametrize(
    ("where", "hook"),
    [
        ("register_rules", "register_rules"),
        ("register_fact_derivers", "register_fact_derivers"),
        ("provide_thresholds", "provide_thresholds"),
        ("register_output_formats", "register_output_formats"),
        ("adjust_findings", "adjust_findings"),
        ("observe_evaluation", "observe_evaluation"),
        ("derive", "register_fact_derivers[flag]"),
    ],
)
def test_a_raising_hook_is_isolated_and_reported(where: str, hook: str) -> None:
    engine = Engine(entry_points=False, plugins=[("raising", Raising(where))])
    ev = engine.evaluate(PATIENT)
    assert failures(ev) == [("raising", hook)]
    assert "SAFETY-001" in ids(ev) and ev.status.eligibility == "contraindicated", "core result intact"
    plugin_warning = [f for f in ev.findings if f.rule_id == "PLUGIN-001"]
    assert len(plugin_warning) == 1 and plugin_warning[0].severity == "warning"
    with pytest.raises(PluginError, match=hook.split("[")[0]):
        Engine(entry_points=False, plugins=[("raising", Raising(where))], strict_plugins=True).evaluate(PATIENT)


def test_healthy_plugin_contributes_everything() -> None:
    engine = Engine(entry_points=False, plugins=[("raising", Raising("nowhere"))])
    ev = engine.evaluate(PATIENT)
    assert failures(ev) == []
    assert "raising:LOCAL-001" in ids(ev)
    assert engine.format("ids", [ev]).split() == ids(ev)


# -- namespacing, duplicates, thresholds -----------------------------------------------------------


def test_plugin_rules_must_carry_the_plugin_namespace() -> None:
    bad = RulesPlugin("ns")
    bad.name = "other"  # registers other:LOCAL-001 from plugin "ns"
    engine = Engine(entry_points=False, plugins=[("ns", bad)])
    assert engine.host.failures and engine.host.failures[0][:2] == ("ns", "register_rules")
    assert "ns:" in engine.host.failures[0][2]


def test_two_plugins_cannot_register_the_same_rule_id() -> None:
    # two plugins loaded under the same name space would clash on alpha:LOCAL-001; the host loads
    # "alpha" first (name order), so the second registration of that name is the one refused
    engine = Engine(entry_points=False, plugins=[("alpha", RulesPlugin("alpha")), ("alpha", RulesPlugin("alpha"))])
    ev = engine.evaluate(PATIENT)
    assert ids(ev).count("alpha:LOCAL-001") == 1
    assert ("alpha", "load") in failures(ev)


def test_duplicate_rule_id_within_rule_sources_is_refused() -> None:
    class Twice:
        @hookimpl
        def register_rules(self, register: Callable[[Any], None]) -> None:
            register(rule_file("twice"))
            register(rule_file("twice"))

    ev = Engine(entry_points=False, plugins=[("twice", Twice())]).evaluate(PATIENT)
    assert ("twice", "register_rules") in failures(ev)
    assert "twice:LOCAL-001" not in ids(ev), "a failing plugin's rules are left out whole"


def test_threshold_overrides_conflict_and_precedence() -> None:
    class Five:
        @hookimpl
        def provide_thresholds(self) -> dict[str, Any]:
            return {"low_dose_gc_mg": 5}

    class Six:
        @hookimpl
        def provide_thresholds(self) -> dict[str, Any]:
            return {"low_dose_gc_mg": 6}

    engine = Engine(entry_points=False, plugins=[("five", Five()), ("six", Six())])
    assert engine.info.thresholds_overridden == {"low_dose_gc_mg": 5}
    assert [(p, h) for p, h, _ in engine.host.failures] == [("six", "provide_thresholds")]
    explicit = Engine(entry_points=False, plugins=[("five", Five())], thresholds={"low_dose_gc_mg": 4})
    assert explicit.info.thresholds_overridden == {"low_dose_gc_mg": 4}


def test_unknown_threshold_from_a_plugin_is_its_failure() -> None:
    class Typo:
        @hookimpl
        def provide_thresholds(self) -> dict[str, Any]:
            return {"low_dose_mg": 5}

    engine = Engine(entry_points=False, plugins=[("typo", Typo())])
    assert [(p, h) for p, h, _ in engine.host.failures] == [("typo", "provide_thresholds")]
    assert "low_dose_mg" in engine.host.failures[0][2]
    assert engine.info.thresholds_overridden == {}


# -- adjust_findings: core safety takes precedence -----------------------------------------------


class Adjuster:
    def __init__(self, how: str) -> None:
        self.how = how

    @hookimpl
    def adjust_findings(self, evaluation: Any, findings: list[Finding]) -> list[Finding]:
        if self.how == "drop":
            return [f for f in findings if f.rule_id != "SAFETY-001"]
        if self.how == "downgrade":
            return [
                f.model_copy(update={"severity": "info"}) if f.rule_id == "SAFETY-001" else f for f in findings
            ]
        if self.how == "reword":
            return [f.model_copy(update={"summary": "fine"}) if f.rule_id == "SAFETY-001" else f for f in findings]
        extra = Finding(
            rule_id="orders:LINK-001",
            rule_version="1.0.0",
            title="Order set",
            category="local",
            severity="info",
            summary="Local IVIG order set: https://intranet.example/ivig",
            evidence=["site order set"],
            facts={},
        )
        return [*findings, extra]


@pytest.mark.parametrize("how", ["drop", "downgrade", "reword"])
def test_adjust_findings_cannot_remove_or_weaken_core_stop(how: str) -> None:
    ev = Engine(entry_points=False, plugins=[("orders", Adjuster(how))]).evaluate(PATIENT)
    core = next(f for f in ev.findings if f.rule_id == "SAFETY-001")
    assert core.severity == "stop" and core.summary.startswith("Contraindicated")
    assert failures(ev) == [("orders", "adjust_findings")]


def test_adjust_findings_can_add_a_local_finding() -> None:
    ev = Engine(entry_points=False, plugins=[("orders", Adjuster("add"))]).evaluate(PATIENT)
    added = next(f for f in ev.findings if f.rule_id == "orders:LINK-001")
    assert added.origin == "orders"
    assert failures(ev) == []
    keys = [(f.severity, f.rule_id) for f in ev.findings]
    order = {"stop": 0, "warning": 1, "advisory": 2, "info": 3}
    assert keys == sorted(keys, key=lambda k: (order[k[0]], k[1]))


def test_observe_evaluation_sees_the_final_result() -> None:
    seen: list[Any] = []

    class Observer:
        @hookimpl
        def observe_evaluation(self, evaluation: Any, context: Any) -> None:
            seen.append((evaluation.patient_id, context.input_sha256, context.ruleset_hash))

    engine = Engine(entry_points=False, plugins=[("obs", Observer())])
    ev = engine.evaluate(PATIENT)
    assert seen == [("plug-001", seen[0][1], ev.engine.ruleset_hash)] and len(seen[0][1]) == 64


def test_plugin_fact_deriver_feeds_plugin_rules() -> None:
    class Derives:
        @hookimpl
        def register_fact_derivers(self, register: Callable[[FactDeriver], None]) -> None:
            register(
                FactDeriver(
                    "bmi_band",
                    "patient",
                    {"bands_obese": FactField("bool", "demographics", "x")},
                    lambda p, d, t: {"bands_obese": p.demographics.weight_kg > 100},
                )
            )

        @hookimpl
        def register_rules(self, register: Callable[[Any], None]) -> None:
            register(
                rule_file(
                    "bands",
                    when=[{"fact": "patient", "as": "p", "where": {"bands_obese": False}}],
                    summary="Not obese",
                )
            )

    ev = Engine(entry_points=False, plugins=[("bands", Derives())]).evaluate(PATIENT)
    assert "bands:LOCAL-001" in ids(ev)
    assert failures(ev) == []


def test_deriver_returning_wrong_types_is_isolated() -> None:
    class Wrong:
        @hookimpl
        def register_fact_derivers(self, register: Callable[[FactDeriver], None]) -> None:
            register(
                FactDeriver(
                    "w", "patient", {"wrong_n": FactField("number", "x", "n")}, lambda p, d, t: {"wrong_n": "12"}
                )
            )

    ev = Engine(entry_points=False, plugins=[("wrong", Wrong())]).evaluate(PATIENT)
    assert failures(ev) == [("wrong", "register_fact_derivers[w]")]


def test_installed_example_plugins_are_discovered(monkeypatch: pytest.MonkeyPatch) -> None:
    names = {ep.name for ep in metadata.entry_points(group="ivig_cds")}
    if "site_example" not in names:
        pytest.skip("plugins/ivig-cds-site-example is not installed here (CI installs it)")
    monkeypatch.delenv("IVIG_CDS_LOAD_PLUGINS", raising=False)
    ev = Engine().evaluate(PATIENT)
    assert any(f.rule_id.startswith("site_example:") for f in ev.findings)
    monkeypatch.setenv("IVIG_CDS_LOAD_PLUGINS", "")
    assert not any(f.rule_id.startswith("site_example:") for f in Engine().evaluate(PATIENT).findings)
