"""CDS Hooks cards (`ivig_cds.outputs.cds_hooks`, `--format cds-hooks`): card rules and suggestions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ivig_cds import Engine, Evaluation
from ivig_cds.cli import main
from ivig_cds.outputs.cds_hooks import MAX_SUMMARY, CardOptions, DraftOrder, build_cards, render_cds_hooks, shorten

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
HOOK_INSTANCE = "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea"


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(backend="reference", entry_points=False)


def walk(value: Any) -> list[Any]:
    out = [value]
    if isinstance(value, dict):
        for v in value.values():
            out += walk(v)
    elif isinstance(value, list):
        for v in value:
            out += walk(v)
    return out


def check_card_rules(response: dict[str, Any]) -> None:
    """The JSON rules and the card schema of CDS Hooks 2.0."""
    assert set(response) == {"cards"}
    for value in walk(response):
        assert value is not None and value != "" and value != [] and value != {}, "omit, never null or empty"
    for card in response["cards"]:
        assert set(card) <= {
            "uuid",
            "summary",
            "detail",
            "indicator",
            "source",
            "suggestions",
            "selectionBehavior",
            "overrideReasons",
            "links",
        }
        assert len(card["summary"]) < 140 and "\n" not in card["summary"]
        assert card["indicator"] in ("info", "warning", "critical")
        assert card["source"]["label"] and card["source"]["topic"]["code"]
        assert all(r["display"] for r in card["overrideReasons"])
        if "suggestions" in card:
            assert card["selectionBehavior"] in ("any", "at-most-one")
            for s in card["suggestions"]:
                assert s["uuid"] and s["label"] and s["actions"]
                assert all(a["description"] and a["type"] in ("create", "update") for a in s["actions"])


def evaluate(engine: Engine, name: str) -> Evaluation:
    return engine.evaluate(EXAMPLES / name)


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.json")))
def test_every_example_gives_valid_cards(engine: Engine, name: str) -> None:
    for hook in ("patient-view", "order-select", "order-sign"):
        cards = build_cards(evaluate(engine, name), CardOptions(hook=hook, hook_instance=HOOK_INSTANCE))
        check_card_rules(cards.response)
        assert len(cards.cards) == len(cards.response["cards"])


def test_contraindication_is_critical_and_first_after_the_summary(engine: Engine) -> None:
    ev = evaluate(engine, "contraindicated.json")
    cards = build_cards(ev, CardOptions(hook_instance=HOOK_INSTANCE)).response["cards"]
    summary, first = cards[0], cards[1]
    assert summary["indicator"] == "critical" and "contraindicated" in summary["summary"]
    assert first["indicator"] == "critical" and first["source"]["topic"]["code"].startswith("SAFETY-")
    ranks = [{"critical": 2, "warning": 1, "info": 0}[c["indicator"]] for c in cards[1:]]
    assert ranks == sorted(ranks, reverse=True), "most severe first"
    carded = [f for f in ev.findings if f.severity != "info"]
    assert len(cards) == 1 + len(carded)
    assert "**Evidence**" in first["detail"] and "**Values used**" in first["detail"]


def test_order_sign_has_the_strongest_wording(engine: Engine) -> None:
    ev = evaluate(engine, "contraindicated.json")
    sign = build_cards(ev, CardOptions(hook="order-sign", hook_instance=HOOK_INSTANCE)).response["cards"]
    view = build_cards(ev, CardOptions(hook="patient-view", hook_instance=HOOK_INSTANCE)).response["cards"]
    assert sign[0]["summary"].startswith("Do not sign: IVIG is contraindicated")
    assert sign[1]["summary"].startswith("Do not sign: ")
    assert not view[1]["summary"].startswith("Do not sign")


def test_uuids_are_stable_per_hook_instance_rule_and_ruleset(engine: Engine) -> None:
    ev = evaluate(engine, "relapse.json")
    first = build_cards(ev, CardOptions(hook_instance=HOOK_INSTANCE))
    again = build_cards(ev, CardOptions(hook_instance=HOOK_INSTANCE))
    other = build_cards(ev, CardOptions(hook_instance="0b9c7c06-8a7f-4b53-9a5a-8a3d0b1f3a51"))
    assert first.response == again.response
    uuids = [c["uuid"] for c in first.response["cards"]]
    assert len(set(uuids)) == len(uuids)
    assert not set(uuids) & {c["uuid"] for c in other.response["cards"]}
    assert [m.uuid for m in first.cards] == uuids
    assert {m.rule_id for m in first.cards} >= {"ivig-cds-summary", "OUT-004"}


def test_source_names_the_rule_and_links_its_documentation(engine: Engine) -> None:
    ev = evaluate(engine, "relapse.json")
    url = "https://docs.example/rules/{rule_id}"
    cards = build_cards(ev, CardOptions(hook_instance=HOOK_INSTANCE, rule_url=url)).response["cards"]
    relapse = next(c for c in cards if c["source"]["topic"]["code"] == "OUT-004")
    assert relapse["source"]["url"] == "https://docs.example/rules/OUT-004"
    assert relapse["source"]["label"] == "ivig-cds OUT-004 v1.0.0"
    without = build_cards(ev, CardOptions(hook_instance=HOOK_INSTANCE)).response["cards"]
    assert all("url" not in c["source"] for c in without), "no documentation URL configured: none invented"


def test_summary_card_reports_status_and_relapse(engine: Engine) -> None:
    ev = evaluate(engine, "relapse.json")
    summary = build_cards(ev).response["cards"][0]
    assert "RELAPSE ALERT" in summary["summary"]
    for text in ("**Eligibility**", "**Response**", "**Steroid taper**", "**Outcome**", "**Relapse alert**"):
        assert text in summary["detail"]
    assert ev.engine.ruleset_hash[:12] in summary["detail"]


def test_the_summary_card_speaks_the_console_words_not_status_codes(engine: Engine) -> None:
    ev = evaluate(engine, "non-responder.json")
    card = build_cards(ev).response["cards"][0]
    assert "; response non-responder;" in card["summary"]
    assert "- **Refractory**: yes" in card["detail"]
    assert "non_responder" not in card["detail"] and "True" not in card["detail"]
    gaps = with_screen_gaps(evaluate(engine, "new-patient-eligible.json"), ["risk_factors.iga_deficiency"])
    detail = build_cards(gaps).response["cards"][0]["detail"]
    assert "- **Not recorded**: serum IgA (or IgA deficiency yes/no) (`risk_factors.iga_deficiency`)" in detail
    unknown = ev.model_copy(update={"status": ev.status.model_copy(update={"refractory": None})})
    assert "- **Refractory**: unknown (no therapy history)" in build_cards(unknown).response["cards"][0]["detail"]


def with_screen_gaps(ev: Evaluation, gaps: list[str]) -> Evaluation:
    """The evaluation with ``status.missing_screen`` set (the engine's contract-1.1 field)."""
    status = ev.status.model_copy(update={"eligibility": "screen_incomplete", "missing_screen": gaps})
    return ev.model_copy(update={"status": status})


def test_missing_iga_and_creatinine_become_order_suggestions(engine: Engine) -> None:
    ev = with_screen_gaps(
        evaluate(engine, "new-patient-eligible.json"),
        [
            "risk_factors.iga_deficiency",
            "labs[iga_mg_dl]",
            "labs[creatinine_mg_dl]",
            "risk_factors.hyperprolinemia",
        ],
    )
    summary = build_cards(ev, CardOptions(patient_reference="Patient/p-9")).response["cards"][0]
    check_card_rules({"cards": [summary]})
    assert summary["summary"].startswith("IVIG: pre-IVIG screen incomplete")
    assert "`labs[iga_mg_dl]`" in summary["detail"] and "`risk_factors.hyperprolinemia`" in summary["detail"]
    labels = [s["label"] for s in summary["suggestions"]]
    assert labels == ["Order a serum IgA level", "Order a serum creatinine"]
    assert summary["selectionBehavior"] == "any"
    (action,) = summary["suggestions"][0]["actions"]
    assert action["type"] == "create"
    resource = action["resource"]
    assert resource["resourceType"] == "ServiceRequest" and resource["subject"] == {"reference": "Patient/p-9"}
    assert resource["code"]["coding"][0] == {
        "system": "http://loinc.org",
        "code": "2458-8",
        "display": "IgA [Mass/volume] in Serum or Plasma",
    }
    only_hyperprolinemia = with_screen_gaps(
        evaluate(engine, "new-patient-eligible.json"), ["risk_factors.hyperprolinemia"]
    )
    summary = build_cards(only_hyperprolinemia).response["cards"][0]
    assert "suggestions" not in summary and "selectionBehavior" not in summary, "no lab answers that gap"


def _dose_suggestions(card: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in card.get("suggestions", []) if s["label"].startswith("Change the dose")]


def _draft(dose_g: float, days: int | None = 2) -> dict[str, Any]:
    timing = {"repeat": {"count": days, "frequency": 1, "period": 1, "periodUnit": "d"}} if days else {}
    return {
        "resourceType": "MedicationRequest",
        "id": "draft-ivig",
        "status": "draft",
        "intent": "order",
        "medicationCodeableConcept": {"text": "Privigen"},
        "subject": {"reference": "Patient/p-1"},
        "dosageInstruction": [
            {"timing": timing, "doseAndRate": [{"doseQuantity": {"value": dose_g, "unit": "g"}}]}
        ],
    }


def test_a_draft_order_off_the_plan_gets_a_dose_change(
    engine: Engine, minimal_patient_dict: dict[str, Any]
) -> None:
    ev = engine.evaluate(minimal_patient_dict)  # 64 kg, BMI 23.5: 64 g/day on actual weight
    assert ev.dose_plan is not None and ev.dose_plan.grams_per_day == 64
    draft = DraftOrder(_draft(80), g_per_kg_per_day=1.25, days=2)
    summary = build_cards(ev, CardOptions(hook="order-select", draft_order=draft)).response["cards"][0]
    assert "ordered 80 g/day, plan 64 g/day" in summary["summary"]
    assert summary["indicator"] == "warning"
    (suggestion,) = _dose_suggestions(summary)
    assert suggestion["label"] == "Change the dose to 64 g/day"
    (action,) = suggestion["actions"]
    assert action["type"] == "update" and action["resource"]["id"] == "draft-ivig"
    dose = action["resource"]["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]
    assert dose == {"value": 64.0, "system": "http://unitsofmeasure.org", "code": "g", "unit": "g"}
    assert action["resource"]["dosageInstruction"][0]["timing"] == _draft(80)["dosageInstruction"][0]["timing"]
    assert draft.resource["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"] == 80, "not mutated"


def test_no_dose_change_when_the_order_matches_or_its_schedule_differs(
    engine: Engine, minimal_patient_dict: dict[str, Any]
) -> None:
    ev = engine.evaluate(minimal_patient_dict)
    same = build_cards(ev, CardOptions(hook="order-sign", draft_order=DraftOrder(_draft(65), 65 / 64, 2)))
    assert not _dose_suggestions(same.response["cards"][0])
    assert "matches the plan" in same.response["cards"][0]["detail"]
    # 0.4 g/kg over 5 days is another schedule: raising the daily dose to the plan's would overdose
    five = build_cards(ev, CardOptions(hook="order-sign", draft_order=DraftOrder(_draft(25.6, 5), 0.4, 5)))
    assert not _dose_suggestions(five.response["cards"][0])
    assert "review the course" in five.response["cards"][0]["detail"]


def test_patient_text_is_shown_not_interpreted(engine: Engine) -> None:
    ev = evaluate(engine, "contraindicated.json")
    first = next(f for f in ev.findings if f.severity == "stop")
    hostile = "<img src=x onerror=alert(1)> *Privigen* [x](javascript:1)"
    tampered = first.model_copy(update={"facts": {"patient.product": hostile}, "sources": ["Medication/<b>"]})
    ev = ev.model_copy(update={"findings": [tampered]})
    detail = build_cards(ev).response["cards"][1]["detail"]
    assert "<img" not in detail and "<b>" not in detail and "[x](javascript" not in detail
    assert "&lt;img src=x onerror=alert(1)&gt; \\*Privigen\\*" in detail, "shown, escaped"


def test_shorten_keeps_summaries_under_140() -> None:
    cut = shorten("word " * 60)
    assert len(cut) <= MAX_SUMMARY < 140 and cut.endswith("…")
    assert shorten("two\nlines") == "two lines"


def test_cds_hooks_is_a_builtin_format(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["evaluate", str(EXAMPLES / "contraindicated.json"), str(EXAMPLES / "relapse.json"),
                 "--format", "cds-hooks", "--backend", "reference"])  # fmt: skip
    out = capsys.readouterr().out.splitlines()
    assert code == 0 and len(out) == 2
    for line in out:
        check_card_rules(json.loads(line))
    engine = Engine(backend="reference", entry_points=False)
    evs = [evaluate(engine, "contraindicated.json"), evaluate(engine, "relapse.json")]
    assert render_cds_hooks(evs).splitlines() == out
