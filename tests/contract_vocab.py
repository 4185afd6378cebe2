"""The output contract's vocabularies, written out from docs/evaluation.md (an oracle independent of the code)."""

from __future__ import annotations

from typing import Any

STATUS_VALUES: dict[str, set[Any]] = {
    "refractory": {True, False, None},
    "eligibility": {
        "eligible",
        "eligible_with_precautions",
        "screen_incomplete",
        "not_eligible",
        "contraindicated",
    },
    "response": {"not_started", "too_early", "responder", "non_responder", "insufficient_data"},
    "response_level": {"minimal", "moderate", "major", None},
    "steroid_taper_beyond_50": {True, False, None},
    "outcome": {
        "not_started",
        "on_treatment",
        "non_responder",
        "ivig_dependent",
        "follow_up",
        "remission_off_therapy",
        "remission_low_dose_steroid",
        "sustained_response_on_therapy",
        "relapse",
    },
    "relapse_alert": {True, False},
    "as_of_source": {"argument", "file", "today"},
}
MISSING_SCREEN = {
    "risk_factors.prior_ig_anaphylaxis",
    "risk_factors.iga_deficiency",
    "risk_factors.anti_iga_antibodies",
    "labs[creatinine_mg_dl]",
    "risk_factors.hyperprolinemia",
}
SEVERITIES = ["stop", "warning", "advisory", "info"]
CATEGORIES = {
    "diagnosis",
    "refractory",
    "eligibility",
    "safety",
    "dosing",
    "response",
    "steroid",
    "outcome",
    "relapse",
    "data",
}
