"""Feedback stored with its card's rule, version and ruleset, never the patient, and reported."""

from __future__ import annotations

import json
import os
import time
import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
from stack import skip_without_stack

skip_without_stack()

from hook_data import hook_request, ivig_draft, prefetch_of  # noqa: E402
from invariants import failures  # noqa: E402
from sqlalchemy import text  # noqa: E402

from ivig_cds.cli import main  # noqa: E402
from ivig_cds.outputs.cds_hooks import CardMeta  # noqa: E402
from ivig_cds.service.store import UNKNOWN_CARD, FeedbackItem, Store  # noqa: E402

PV, OSEL = "ivig-cds-patient-view", "ivig-cds-order-select"
PG_ENV = "IVIG_CDS_TEST_POSTGRES_URL"
NOW = "2026-12-01T10:05:31Z"


def counts(url: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r.rule_id, r.rule_version): r.to_dict() for r in Store(url, create=False).report()}


def send(api: Any, service: str, entries: list[dict[str, Any]]) -> Any:
    body = {"feedback": entries}
    return api.post(
        f"/cds-services/{service}/feedback", body, token=api.token(f"/cds-services/{service}/feedback")
    )


def test_feedback_is_stored_per_rule_and_reported(
    api: Any, service: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    before = counts(service.db_url)
    pid, resources = api.patient(prior_anaphylaxis=True)
    cards = api.call(PV, hook_request("patient-view", pid, prefetch=prefetch_of(resources))).json()["cards"]
    safety = next(c for c in cards if c["source"]["topic"]["code"] == "SAFETY-001")
    order_pid, order_resources = api.patient()
    body = hook_request(
        "order-select",
        order_pid,
        prefetch=prefetch_of(order_resources),
        drafts=[ivig_draft(order_pid, date.today(), grams=80)],
    )
    summary = api.call(OSEL, body).json()["cards"][0]
    suggestion = summary["suggestions"][0]["uuid"]
    entries = [
        {
            "card": safety["uuid"],
            "outcome": "overridden",
            "overrideReason": {
                "reason": safety["overrideReasons"][3],
                "userComment": "benefit outweighs the risk",
            },
            "outcomeTimestamp": NOW,
        },
        {"card": safety["uuid"], "outcome": "overridden", "outcomeTimestamp": NOW},
        {
            "card": summary["uuid"],
            "outcome": "accepted",
            "acceptedSuggestions": [{"id": suggestion}],
            "outcomeTimestamp": NOW,
        },
    ]
    assert failures({"feedback": entries}, "cds-fb-") == []
    response = send(api, PV, entries[:2])
    assert response.status_code == 200 and response.json() == {"stored": 2}
    assert send(api, OSEL, entries[2:]).json() == {"stored": 1}
    after = counts(service.db_url)
    version = safety["source"]["label"].rsplit(" v", 1)[1]
    row, old = after[("SAFETY-001", version)], before.get(("SAFETY-001", version), {})
    assert row["shown"] == old.get("shown", 0) + 1
    assert row["overridden"] == old.get("overridden", 0) + 2
    reasons = {r["reason"]: r["count"] for r in row["override_reasons"]}
    assert reasons["Recipient assessment of risk/benefit ratio [risk-benefit-ratio]"] >= 1
    assert reasons["(no reason given)"] >= 1
    summary_row = after[("ivig-cds-summary", summary["source"]["label"].rsplit(" v", 1)[1])]
    assert summary_row["accepted"] >= 1
    # the report command, JSON and rich
    assert main(["feedback", "report", "--database-url", service.db_url, "--format", "json"]) == 0
    rules = json.loads(capsys.readouterr().out)["rules"]
    assert next(r for r in rules if r["rule_id"] == "SAFETY-001")["overridden"] == row["overridden"]
    assert main(["feedback", "report", "--config", str(service.config_path)]) == 0
    out = capsys.readouterr().out
    assert "SAFETY-001" in out and "risk/benefit" in out
    # nothing stored names the patient
    store = Store(service.db_url, create=False)
    with store.engine.connect() as conn:
        dump = json.dumps(
            [
                list(map(str, r))
                for t in ("ivig_cds_cards_shown", "ivig_cds_feedback", "ivig_cds_token_ids")
                for r in conn.execute(text(f"SELECT * FROM {t}"))
            ]
        )
    assert pid not in dump and order_pid not in dump
    assert "benefit outweighs the risk" in dump


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ({"card": "c", "outcome": "ignored", "outcomeTimestamp": NOW}, "accepted or overridden"),
        ({"card": "c", "outcome": "accepted", "outcomeTimestamp": NOW}, "acceptedSuggestions is required"),
        ({"card": "c", "outcome": "overridden", "overrideReason": {}, "outcomeTimestamp": NOW}, "needs a reason"),
        ({"card": "c", "outcome": "overridden", "outcomeTimestamp": "yesterday"}, "ISO 8601"),
        ({"outcome": "overridden", "outcomeTimestamp": NOW}, "card is required"),
    ],
)
def test_invalid_feedback_is_400(api: Any, entry: dict[str, Any], reason: str) -> None:
    response = send(api, PV, [entry])
    assert response.status_code == 400 and reason in response.json()["issue"][0]["diagnostics"]
    if "card" in entry and "ISO" not in reason:
        assert failures({"feedback": [entry]}, "cds-fb-") != [], "the IG's invariants refuse it too"


def test_feedback_for_a_card_never_shown_is_kept_apart(api: Any, service: Any) -> None:
    card = str(uuid.uuid4())
    assert send(api, PV, [{"card": card, "outcome": "overridden", "outcomeTimestamp": NOW}]).status_code == 200
    assert counts(service.db_url)[(UNKNOWN_CARD, "-")]["overridden"] >= 1


def test_report_of_an_empty_store(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    assert main(["feedback", "report", "--database-url", url, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"rules": []}
    assert main(["feedback", "report", "--database-url", url]) == 0
    assert "No cards shown" in capsys.readouterr().out


def exercise_store(url: str) -> None:
    """Two stores on one database, as two workers: replay refused across them, feedback counted once."""
    first, second = Store(url), Store(url)
    jti, exp = str(uuid.uuid4()), int(time.time()) + 60
    assert first.claim_token("https://ehr.test", jti, exp) is True
    assert second.claim_token("https://ehr.test", jti, exp) is False
    assert second.claim_token("https://other-ehr.test", jti, exp) is True, "jti is per issuer"
    card = str(uuid.uuid4())
    meta = CardMeta(card, f"TEST-{card[:8]}", "1.2.3", "warning")
    first.record_cards("svc", "hash", [meta])
    second.record_cards("svc", "hash", [meta])  # the same card shown again counts once
    item = FeedbackItem(card, "overridden", datetime.now(UTC), override_code="c", override_display="Because")
    assert second.add_feedback("svc", [item]) == 1
    row = next(r for r in first.report() if r.rule_id == meta.rule_id)
    assert (row.shown, row.overridden, row.reasons) == (1, 1, {"Because [c]": 1})


def test_store_on_sqlite(tmp_path: Any) -> None:
    exercise_store(f"sqlite:///{tmp_path / 'store.sqlite3'}")


@pytest.mark.skipif(not os.environ.get(PG_ENV), reason=f"no PostgreSQL server: set {PG_ENV} (.ci/run does)")
def test_store_on_postgresql() -> None:
    exercise_store(os.environ[PG_ENV])
