"""Service calls over real HTTP: prefetch and fetching, the three hooks, cards, and the 4xx answers."""

from __future__ import annotations

import json
import re
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from stack import skip_without_stack

skip_without_stack()

from hook_data import hook_request, ivig_draft, lab_draft, other_draft, prefetch_of  # noqa: E402
from invariants import failures  # noqa: E402
from servers import FHIR_TOKEN  # noqa: E402

PV, OSEL, OSIGN = "ivig-cds-patient-view", "ivig-cds-order-select", "ivig-cds-order-sign"
TODAY = date.today()


def fetched(api: Any, pid: str) -> list[str]:
    """The FHIR requests the service made for a patient (path and query)."""
    return [f"{path}?{query}" if query else path for path, query in api.fhir.requests if pid in path + query]


def summaries(response: Any) -> list[str]:
    return [c["summary"] for c in response.json()["cards"]]


# ---------------------------------------------------------------- discovery


def test_discovery_declares_three_services_with_spec_subset_prefetch(api: Any) -> None:
    path = "/cds-services"
    services = api.client.get(path, headers={"Authorization": f"Bearer {api.token(path)}"}).json()["services"]
    assert {(s["id"], s["hook"]) for s in services} == {
        (PV, "patient-view"),
        (OSEL, "order-select"),
        (OSIGN, "order-sign"),
    }
    query = re.compile(r"^[A-Z][A-Za-z]+(/\{\{context\.patientId\}\}|\?patient=\{\{context\.patientId\}\})$")
    for s in services:
        assert s["title"] and s["description"] and s["prefetch"]
        for template in s["prefetch"].values():
            assert query.match(template), template


# ---------------------------------------------------------------- data: prefetch, fetch, 412


def test_patient_view_from_the_prefetch_alone(api: Any) -> None:
    pid, resources = api.patient()
    response = api.call(
        PV, hook_request("patient-view", pid, prefetch=prefetch_of(resources), **api.fhir_access())
    )
    assert response.status_code == 200
    assert summaries(response)[0] == "IVIG: eligible; response not started; outcome not started"
    assert fetched(api, pid) == [], "everything was prefetched: nothing is fetched"


def test_without_prefetch_the_service_fetches_and_answers_the_same(api: Any) -> None:
    pid, resources = api.patient()
    instance = str(uuid.uuid4())
    prefetched = api.call(
        PV, hook_request("patient-view", pid, prefetch=prefetch_of(resources), instance=instance)
    )
    response = api.call(PV, hook_request("patient-view", pid, instance=instance, **api.fhir_access()))
    assert response.status_code == 200
    assert response.json() == prefetched.json(), "same data, same hook instance: the same cards"
    requests = fetched(api, pid)
    assert f"/fhir/Patient/{pid}" in requests
    assert any("_page=3" in r for r in requests), "search result pages are followed"
    assert len(requests) == 8 + 3


def test_only_missing_keys_are_fetched_and_null_means_no_data(api: Any) -> None:
    pid, resources = api.patient()
    prefetch = prefetch_of(resources)
    del prefetch["observations"]  # absent: not fetched by the EHR
    prefetch["procedures"] = None  # null: the EHR has none
    prefetch["allergies"] = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "timeout"}],
    }
    response = api.call(PV, hook_request("patient-view", pid, prefetch=prefetch, **api.fhir_access()))
    assert response.status_code == 200
    paths = {r.split("?")[0] for r in fetched(api, pid)}
    assert paths == {"/fhir/Observation", "/fhir/AllergyIntolerance"}


def test_412_when_data_can_be_neither_prefetched_nor_fetched(api: Any) -> None:
    pid, resources = api.patient()
    prefetch = prefetch_of(resources)
    del prefetch["conditions"]
    response = api.call(PV, hook_request("patient-view", pid, prefetch=prefetch))
    assert response.status_code == 412
    assert "conditions" in response.json()["issue"][0]["diagnostics"]
    no_token = hook_request("patient-view", pid, prefetch=prefetch, fhirServer=f"{api.fhir.base}/fhir")
    assert api.call(PV, no_token).status_code == 412
    prefetch["conditions"] = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "timeout"}],
    }
    response = api.call(PV, hook_request("patient-view", pid, prefetch=prefetch))
    assert response.status_code == 412 and "conditions" in response.json()["issue"][0]["diagnostics"]
    assert fetched(api, pid) == []


@pytest.mark.parametrize(
    ("prefix", "reason"),
    [
        ("denied-", "answered 403"),
        ("slow-", "did not answer in time"),
        ("huge-", "larger than the service accepts"),
        ("offsite-", "outside the FHIR server"),
    ],
)
def test_412_when_the_fhir_server_fails(api: Any, prefix: str, reason: str) -> None:
    pid, _ = api.patient(prefix=prefix)
    response = api.call(PV, hook_request("patient-view", pid, **api.fhir_access()))
    assert response.status_code == 412
    assert reason in response.json()["issue"][0]["diagnostics"]
    assert pid not in response.text


def test_the_fhir_server_gets_the_bearer_token_and_a_wrong_one_fails(api: Any) -> None:
    pid, _ = api.patient()
    access = api.fhir_access()
    access["fhirAuthorization"]["access_token"] = FHIR_TOKEN + "-wrong"
    response = api.call(PV, hook_request("patient-view", pid, **access))
    assert response.status_code == 412 and "answered 401" in response.json()["issue"][0]["diagnostics"]


def test_the_time_budget_ends_a_call_that_takes_too_long(api: Any) -> None:
    pid, _ = api.patient(prefix="crawl-")  # slow pages without end: the budget (5 s) runs out first
    api.fhir.slow_seconds = 1.5
    try:
        response = api.call(PV, hook_request("patient-view", pid, **api.fhir_access()))
    finally:
        api.fhir.slow_seconds = 3.0
    assert response.status_code == 503
    assert "time budget" in response.json()["issue"][0]["diagnostics"]


# ---------------------------------------------------------------- cards per hook


@pytest.mark.parametrize(("name", "service_id"), [("patient-view.json", PV), ("order-sign.json", OSIGN)])
def test_the_example_requests_give_cards(api: Any, name: str, service_id: str) -> None:
    body = json.loads((Path(__file__).resolve().parents[2] / "examples" / "cds-hooks" / name).read_text())
    cards = api.call(service_id, body).json()["cards"]
    assert cards and cards[0]["source"]["topic"]["code"] == "ivig-cds-summary"
    if service_id == OSIGN:
        assert "ordered 80 g/day, plan 64 g/day" in cards[0]["summary"]


def test_no_myositis_no_cards(api: Any) -> None:
    pid, resources = api.patient(myositis=False)
    response = api.call(PV, hook_request("patient-view", pid, prefetch=prefetch_of(resources)))
    assert response.status_code == 200 and response.json() == {"cards": []}


def test_a_contraindication_is_a_critical_card(api: Any) -> None:
    pid, resources = api.patient(prior_anaphylaxis=True)
    cards = api.call(PV, hook_request("patient-view", pid, prefetch=prefetch_of(resources))).json()["cards"]
    assert cards[0]["indicator"] == "critical" and "contraindicated" in cards[0]["summary"]
    safety = cards[1]
    assert safety["indicator"] == "critical" and safety["source"]["topic"]["code"] == "SAFETY-001"
    assert safety["source"]["url"] == "https://docs.ivig-cds.test/rules/SAFETY-001"
    assert "**Evidence**" in safety["detail"] and "`patient.rf_prior_ig_anaphylaxis`: yes" in safety["detail"]


def test_card_uuids_are_stable_for_a_hook_instance(api: Any) -> None:
    pid, resources = api.patient()
    instance = str(uuid.uuid4())
    body = hook_request("patient-view", pid, prefetch=prefetch_of(resources), instance=instance)
    first = [c["uuid"] for c in api.call(PV, body).json()["cards"]]
    again = [c["uuid"] for c in api.call(PV, body).json()["cards"]]
    body["hookInstance"] = str(uuid.uuid4())
    other = [c["uuid"] for c in api.call(PV, body).json()["cards"]]
    assert first == again and not set(first) & set(other)


def test_order_select_checks_the_selected_ivig_order_against_the_plan(api: Any) -> None:
    pid, resources = api.patient()
    drafts = [ivig_draft(pid, TODAY, grams=80), other_draft(pid)]
    body = hook_request(
        "order-select",
        pid,
        prefetch=prefetch_of(resources),
        drafts=drafts,
        selections=["MedicationRequest/draft-ivig"],
    )
    cards = api.call(OSEL, body).json()["cards"]
    summary = cards[0]
    assert (
        summary["summary"].startswith("IVIG order: eligible")
        and "ordered 80 g/day, plan 64 g/day" in summary["summary"]
    )
    (change,) = [s for s in summary["suggestions"] if s["label"].startswith("Change the dose")]
    (action,) = change["actions"]
    assert action["type"] == "update" and action["resource"]["id"] == "draft-ivig"
    assert action["resource"]["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"] == 64
    not_ivig = hook_request(
        "order-select",
        pid,
        prefetch=prefetch_of(resources),
        drafts=drafts,
        selections=["MedicationRequest/draft-amox"],
    )
    assert api.call(OSEL, not_ivig).json() == {"cards": []}


def test_order_sign_uses_the_strongest_wording_and_ignores_other_orders(api: Any) -> None:
    pid, resources = api.patient(prior_anaphylaxis=True)
    prefetch = prefetch_of(resources)
    body = hook_request("order-sign", pid, prefetch=prefetch, drafts=[ivig_draft(pid, TODAY), other_draft(pid)])
    cards = api.call(OSIGN, body).json()["cards"]
    assert cards[0]["summary"].startswith("Do not sign: IVIG is contraindicated")
    assert cards[1]["summary"].startswith("Do not sign: ")
    only_other = hook_request("order-sign", pid, prefetch=prefetch, drafts=[other_draft(pid), lab_draft(pid)])
    assert api.call(OSIGN, only_other).json() == {"cards": []}


def test_a_record_missing_required_data_gets_a_card_not_silence(api: Any) -> None:
    pid, resources = api.patient()
    prefetch = prefetch_of(resources)
    prefetch["observations"]["entry"] = [
        e for e in prefetch["observations"]["entry"] if e["resource"]["code"]["coding"][0]["code"] != "29463-7"
    ]  # no body weight
    (card,) = api.call(PV, hook_request("patient-view", pid, prefetch=prefetch)).json()["cards"]
    assert card["summary"] == "IVIG decision support could not run: the record lacks data it needs"
    assert "`demographics.weight_kg`" in card["detail"]


def test_what_the_mapping_could_not_read_is_on_the_summary_card(api: Any) -> None:
    pid, resources = api.patient()
    prefetch = prefetch_of(resources)
    unknown = {
        "resourceType": "MedicationStatement",
        "id": f"{pid}-unknown",
        "status": "active",
        "subject": {"reference": f"Patient/{pid}"},
        "medicationCodeableConcept": {"text": "Zzzumab 40 mg"},
        "effectivePeriod": {"start": "2024-01-01"},
    }
    prefetch["medicationStatements"]["entry"].append({"resource": unknown})
    detail = api.call(PV, hook_request("patient-view", pid, prefetch=prefetch)).json()["cards"][0]["detail"]
    # the fixture's free-text outcome is the other note ("read from free text ...: confirm it")
    assert "**Not read from the record** (2)" in detail
    assert f"MedicationStatement/{pid}-unknown (therapies): medication not recognised" in detail


# ---------------------------------------------------------------- malformed requests: 400, 404, 405, 413


def bad(api: Any, service: str, body: Any) -> str:
    response = api.call(service, body)
    assert response.status_code == 400, response.text
    return str(response.json()["issue"][0]["diagnostics"])


def test_malformed_requests_are_400_with_a_short_reason(api: Any) -> None:
    pid, resources = api.patient()
    prefetch = prefetch_of(resources)
    ok = hook_request("patient-view", pid, prefetch=prefetch)
    assert "does not match this service" in bad(api, PV, {**ok, "hook": "order-sign"})
    assert "hookInstance" in bad(api, PV, {**ok, "hookInstance": "1234"})
    assert "context.patientId" in bad(api, PV, {**ok, "context": {"userId": "Practitioner/1"}})
    assert "context is required" in bad(api, PV, {k: v for k, v in ok.items() if k != "context"})
    assert "not a JSON document" in bad(api, PV, b"{not json")
    assert "not a JSON document" in bad(api, PV, b'{"hook": NaN}')
    assert "must be a JSON object" in bad(api, PV, b"[]")
    assert "must hold a FHIR resource or null" in bad(api, PV, {**ok, "prefetch": {"patient": "Patient/1"}})
    assert "must use https" in bad(api, PV, {**ok, "fhirServer": "http://127.0.0.1:1/fhir"})
    sign = hook_request("order-sign", pid, prefetch=prefetch)
    del sign["context"]["draftOrders"]
    assert "context.draftOrders is required" in bad(api, OSIGN, sign)
    select = hook_request(
        "order-select", pid, prefetch=prefetch, drafts=[other_draft(pid)], selections=["MedicationRequest/absent"]
    )
    assert "selections" in bad(api, OSEL, select)
    assert "[" * 100_000 not in bad(api, PV, b"[" * 100_000), "deep nesting is a 400, not a crash"


def test_fhir_authorization_requires_fhir_server(api: Any) -> None:
    pid, resources = api.patient()
    body = hook_request("patient-view", pid, prefetch=prefetch_of(resources), **api.fhir_access())
    del body["fhirServer"]
    assert failures(body, "cds-r-") != [], "the IG's cds-r-1 refuses this request too"
    assert "fhirAuthorization requires fhirServer" in bad(api, PV, body)


def test_fhir_servers_allowlist_per_issuer(api: Any) -> None:
    pid, resources = api.patient()
    path = f"/cds-services/{PV}"
    token = api.tokens.make(api.keys.oob, "https://cds.test" + path, iss="https://ehr-pinned.test")
    body = hook_request(
        "patient-view", pid, prefetch=prefetch_of(resources), fhirServer="https://elsewhere.test/fhir"
    )
    assert api.call(PV, body, token=token).status_code == 400
    token = api.tokens.make(api.keys.oob, "https://cds.test" + path, iss="https://ehr-pinned.test")
    body["fhirServer"] = f"{api.fhir.base}/fhir"
    assert api.call(PV, body, token=token).status_code == 200


def test_unknown_service_wrong_method_and_oversized_body(api: Any) -> None:
    path = "/cds-services/no-such-service"
    assert api.post(path, {}, token=api.token(path)).status_code == 404
    get = api.client.get(
        f"/cds-services/{PV}", headers={"Authorization": f"Bearer {api.token('/cds-services/' + PV)}"}
    )
    assert get.status_code == 405 and get.json()["resourceType"] == "OperationOutcome"
    big = b'{"hook": "patient-view", "pad": "' + b"x" * 20_000_000 + b'"}'
    response = api.call(PV, big)
    assert response.status_code == 413
    assert "over 2000000 bytes" in response.json()["issue"][0]["diagnostics"]


# ---------------------------------------------------------------- CORS


def test_cors_preflight_and_responses_from_an_allowed_origin_only(api: Any) -> None:
    path = f"/cds-services/{PV}"
    ask = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    allowed = api.client.options(path, headers={"Origin": "https://ehr-ui.test", **ask})
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == "https://ehr-ui.test"
    assert "POST" in allowed.headers["access-control-allow-methods"]
    assert "Authorization" in allowed.headers["access-control-allow-headers"]
    refused = api.client.options(path, headers={"Origin": "https://evil.test", **ask})
    assert refused.status_code == 403
    assert not [h for h in refused.headers if h.startswith("access-control-")]
    health = api.client.get("/health", headers={"Origin": "https://ehr-ui.test"})
    assert health.headers["access-control-allow-origin"] == "https://ehr-ui.test"
    other = api.client.get("/health", headers={"Origin": "https://evil.test"})
    assert not [h for h in other.headers if h.startswith("access-control-")]
