"""Authentication: every JWT rule of CDS Hooks §Security and the PyJWT CVE lessons, over real HTTP with real keys.

Every refusal is a 401 with the same body and no hint of which check failed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import pytest
from stack import skip_without_stack

skip_without_stack()

import httpx  # noqa: E402
from servers import ISS  # noqa: E402

DISCOVERY = "/cds-services"
PV_PATH = "/cds-services/ivig-cds-patient-view"
REFUSED: list[bytes] = []  # every 401 body seen: they must all be the same


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged(header: dict[str, Any], claims: dict[str, Any], secret: bytes | None) -> str:
    """A token signed with HMAC-SHA256 over ``secret`` (or unsigned when ``secret`` is None)."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = b"" if secret is None else hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def claims(aud: str = "https://cds.test" + DISCOVERY, **kw: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": ISS, "aud": aud, "iat": now, "exp": now + 60, "jti": str(uuid.uuid4()), **kw}


def discover(api: Any, token: str | None, scheme: str = "Bearer") -> httpx.Response:
    headers = {"Authorization": f"{scheme} {token}"} if token is not None else {}
    response = api.client.get(DISCOVERY, headers=headers)
    if response.status_code == 401:
        REFUSED.append(response.content)
        assert response.headers["www-authenticate"] == "Bearer"
    return response


def test_a_valid_es384_token_from_an_allowlisted_jku_is_accepted(api: Any) -> None:
    response = discover(api, api.token(DISCOVERY))
    assert response.status_code == 200
    assert [s["id"] for s in response.json()["services"]] == [
        "ivig-cds-patient-view",
        "ivig-cds-order-select",
        "ivig-cds-order-sign",
    ]


def test_rs384_by_jku_and_by_the_out_of_band_jwks_file_are_accepted(api: Any) -> None:
    assert discover(api, api.token(DISCOVERY, key=api.keys.rs384)).status_code == 200
    assert discover(api, api.token(DISCOVERY, key=api.keys.oob, jku=None)).status_code == 200


def test_es256_only_where_the_site_allows_it(api: Any) -> None:
    es256 = api.keys.es256
    allowed = api.tokens.make(
        es256, "https://cds.test" + DISCOVERY, iss="https://ehr-es256.test", jku=f"{api.jwks_base}/jwks/es256"
    )
    assert discover(api, allowed).status_code == 200
    # the main issuer allows ES384 and RS384 only
    assert discover(api, api.token(DISCOVERY, key=es256, jku=f"{api.jwks_base}/jwks/es256")).status_code == 401


def test_aud_must_be_the_exact_endpoint_url(api: Any) -> None:
    wrong = [
        "https://cds.test",
        "https://cds.test/",
        "https://cds.test" + PV_PATH,
        "https://cds.test/cds-services/",
    ]
    for aud in [*wrong, "https://other.test" + DISCOVERY]:
        assert discover(api, api.tokens.make(api.keys.es384, aud, jku=api.jku)).status_code == 401, aud
    listed = api.tokens.make(api.keys.es384, ["https://x.test", "https://cds.test" + DISCOVERY], jku=api.jku)
    assert discover(api, listed).status_code == 200, "aud may be an array holding the endpoint"


def test_expiry_and_issue_time_with_at_most_the_configured_leeway(api: Any) -> None:
    assert discover(api, api.token(DISCOVERY, iat_offset=-140, lifetime=120)).status_code == 200, (
        "20 s late: leeway"
    )
    assert discover(api, api.token(DISCOVERY, iat_offset=-200, lifetime=120)).status_code == 401, "expired"
    assert discover(api, api.token(DISCOVERY, iat_offset=20)).status_code == 200, "clock skew within leeway"
    assert discover(api, api.token(DISCOVERY, iat_offset=120)).status_code == 401, "iat in the future"
    assert discover(api, api.token(DISCOVERY, lifetime=3600)).status_code == 401, "longer than max lifetime"


def test_a_replayed_jti_is_refused(api: Any) -> None:
    token = api.token(DISCOVERY)
    assert discover(api, token).status_code == 200
    assert discover(api, token).status_code == 401
    same_jti = api.token(DISCOVERY, jti=json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))["jti"])
    assert discover(api, same_jti).status_code == 401, "a new token with a used jti is a replay too"


@pytest.mark.parametrize("claim", ["iss", "aud", "exp", "iat", "jti"])
def test_each_required_claim_is_required(api: Any, claim: str) -> None:
    assert discover(api, api.token(DISCOVERY, drop=(claim,))).status_code == 401


def test_none_and_hmac_algorithms_are_refused(api: Any) -> None:
    head = {"typ": "JWT", "kid": "ehr-es384", "jku": api.jku}
    assert discover(api, forged({**head, "alg": "none"}, claims(), None)).status_code == 401
    assert discover(api, forged({**head, "alg": "HS256"}, claims(), b"a shared secret")).status_code == 401
    # the algorithm-confusion attacks: the public key (PEM, JWK JSON) used as the HMAC secret
    pem = api.keys.rs384.public_pem()
    rs = {"typ": "JWT", "kid": "ehr-rs384", "jku": api.jku}
    assert discover(api, forged({**rs, "alg": "HS256"}, claims(), pem)).status_code == 401
    jwk_text = json.dumps(api.keys.es384.jwk).encode()
    assert discover(api, forged({**head, "alg": "HS256"}, claims(), jwk_text)).status_code == 401
    oob = {"typ": "JWT", "kid": "oob-rs384", "alg": "HS384"}
    assert discover(api, forged(oob, claims(), api.keys.oob.public_pem())).status_code == 401


def test_kid_is_required_and_must_name_a_trusted_key(api: Any, jwks_server: Any) -> None:
    assert discover(api, api.token(DISCOVERY, kid=None)).status_code == 401
    before = jwks_server.hits["ehr"]
    assert discover(api, api.token(DISCOVERY, kid="rotated-away")).status_code == 401
    assert jwks_server.hits["ehr"] == before + 1, "an unknown kid refreshes the allowlisted JWK Set once"
    # a forged key that reuses a trusted kid: the signature does not verify
    assert discover(api, api.token(DISCOVERY, key=api.keys.evil, jku=api.jku)).status_code == 401


def test_a_jku_outside_the_allowlist_is_never_fetched(api: Any, jwks_server: Any) -> None:
    evil = f"{api.jwks_base}/jwks/evil"
    for jku in (evil, evil + "?", api.jku + "/", api.jku.replace("https://", "http://")):
        assert discover(api, api.token(DISCOVERY, key=api.keys.evil, jku=jku)).status_code == 401
    assert jwks_server.hits["evil"] == 0
    assert discover(api, api.token(DISCOVERY, jku=f"{api.jwks_base}/jwks/missing")).status_code == 401


def test_unknown_issuer_and_unusual_headers_are_refused(api: Any) -> None:
    assert discover(api, api.token(DISCOVERY, iss="https://unknown-ehr.test")).status_code == 401
    assert discover(api, api.token(DISCOVERY, headers={"crit": ["exp"]})).status_code == 401
    assert discover(api, api.token(DISCOVERY, headers={"typ": "at+jwt"})).status_code == 401


def test_missing_or_malformed_authorization(api: Any) -> None:
    assert discover(api, None).status_code == 401
    assert discover(api, api.token(DISCOVERY), scheme="Basic").status_code == 401
    assert discover(api, "not.a.jwt").status_code == 401
    assert discover(api, "x" * 20000).status_code == 401


def test_every_endpoint_but_health_needs_a_token(api: Any) -> None:
    assert api.client.get("/health").json() == {"status": "ok"}
    for path in (PV_PATH, PV_PATH + "/feedback"):
        response = api.client.post(path, json={})
        assert response.status_code == 401
        REFUSED.append(response.content)
    wrong_endpoint = api.post(PV_PATH + "/feedback", {"feedback": []}, token=api.token(PV_PATH))
    assert wrong_endpoint.status_code == 401, "a token for the service is not a token for its feedback"
    REFUSED.append(wrong_endpoint.content)


def test_all_refusals_look_the_same(api: Any) -> None:
    head = {"typ": "JWT", "kid": "ehr-es384", "jku": api.jku}
    bad = [
        None,
        "not.a.jwt",
        api.token(DISCOVERY, drop=("jti",)),
        api.token(DISCOVERY, iat_offset=-900),
        api.token(DISCOVERY, iss="https://unknown-ehr.test"),
        api.token(DISCOVERY, kid=None),
        api.token(DISCOVERY, key=api.keys.evil, jku=f"{api.jwks_base}/jwks/evil"),
        api.tokens.make(api.keys.es384, "https://cds.test", jku=api.jku),
        forged({**head, "alg": "none"}, claims(), None),
        forged({**head, "alg": "HS256"}, claims(), api.keys.rs384.public_pem()),
    ]
    bodies = set()
    for token in bad:
        response = discover(api, token)
        assert response.status_code == 401
        bodies.add(
            (
                response.content,
                tuple(
                    sorted(
                        (k, v)
                        for k, v in response.headers.items()
                        if k not in ("date", "x-request-id", "content-length")
                    )
                ),
            )
        )
    assert len(bodies) == 1, "the refusals differ: they would tell an attacker which check failed"
    assert set(REFUSED) == {REFUSED[0]}
    assert json.loads(REFUSED[0])["issue"][0]["diagnostics"] == "unauthorized"
