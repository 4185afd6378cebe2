"""Shared fixtures: example patient files as fresh dicts."""

from __future__ import annotations

import copy
import os
import tempfile
from typing import Any

import pytest

# The "A minimal file" example of the patient-file contract, version 1, verbatim.
MINIMAL_PATIENT: dict[str, Any] = {
    "schema_version": 1,
    "patient_id": "demo-001",
    "as_of": "2024-06-01",
    "demographics": {"birth_date": "1978-04-12", "sex": "female", "weight_kg": 64, "height_cm": 165},
    "diagnosis": {"condition": "polymyositis", "diagnosed_on": "2019-02-01", "classification": "definite"},
    "therapies": [
        {"agent": "prednisone", "start": "2019-02-01", "stop": None, "outcome": "inadequate_response"},
        {
            "agent": "methotrexate",
            "start": "2019-04-01",
            "stop": "2020-01-15",
            "outcome": "inadequate_response",
        },
    ],
    "glucocorticoid_doses": [
        {"date": "2019-02-01", "prednisone_mg_per_day": 60},
        {"date": "2020-06-01", "prednisone_mg_per_day": 30},
    ],
    "assessments": [
        {"date": "2023-12-01", "mmt8": 48, "ck_u_per_l": 3400, "ck_uln_u_per_l": 190, "dysphagia": "mild"}
    ],
    "ivig_courses": [],
    "risk_factors": {"prior_ig_anaphylaxis": False, "iga_deficiency": False},
}

# Every field of the contract set, so a round trip exercises them all.
FULL_PATIENT: dict[str, Any] = {
    "schema_version": 1,
    "patient_id": "demo-002",
    "as_of": "2024-06-01",
    "demographics": {
        "birth_date": "1978-04-12",
        "sex": "female",
        "weight_kg": 64.5,
        "height_cm": 165,
        "abo_group": "A",
        "source": "Patient/pm-2",
    },
    "diagnosis": {
        "condition": "polymyositis",
        "diagnosed_on": "2019-02-01",
        "classification": "definite",
        "criteria": "eular_acr_2017",
        "ibm_features": False,
        "statin_exposure": False,
        "anti_hmgcr": False,
        "anti_srp": None,
        "finger_flexor_weakness": False,
        "myotoxic_exposure": False,
        "thyroid_function_normal": True,
        "bohan_peter_items": {
            "symmetric_proximal_weakness": True,
            "biopsy_myositis": True,
            "raised_muscle_enzymes": True,
            "myopathic_emg": None,
            "rash": False,
        },
        "eular_acr_score": 7.9,
        "eular_acr_with_biopsy": True,
        "source": "Condition/pm-2-dx",
    },
    "therapies": [
        {
            "agent": "prednisone",
            "start": "2019-02-01",
            "stop": None,
            "outcome": "inadequate_response",
            "dose_changed_on": ["2020-06-01"],
            "source": "MedicationStatement/th-0",
        },
        {
            "agent": "methotrexate",
            "start": "2019-04-01",
            "stop": "2020-01-15",
            "outcome": "inadequate_response",
            "dose_changed_on": ["2019-06-01", "2019-09-01"],
            "source": "MedicationStatement/th-1",
        },
    ],
    "glucocorticoid_doses": [
        {"date": "2019-02-01", "prednisone_mg_per_day": 60, "source": "MedicationRequest/gc-0"},
        {"date": "2020-06-01", "prednisone_mg_per_day": 30, "source": "MedicationRequest/gc-1"},
    ],
    "assessments": [
        {
            "date": "2023-12-01",
            "mmt8": 48,
            "mmt8_max": 80,
            "ck_u_per_l": 3400,
            "ck_uln_u_per_l": 190,
            "physician_global_cm": 6.5,
            "patient_global_cm": 7,
            "haq": 1.25,
            "extramuscular_global_cm": 2,
            "dysphagia": "mild",
            "source": "Observation/visit-0",
        }
    ],
    "labs": [
        {"date": "2024-05-20", "test": "creatinine_mg_dl", "value": 0.8, "source": "Observation/lab-0"},
        {"date": "2024-05-20", "test": "egfr_ml_min_1_73m2", "value": 95, "source": "Observation/lab-1"},
        {"date": "2024-05-20", "test": "iga_mg_dl", "value": 210, "source": "Observation/lab-2"},
        {"date": "2024-05-20", "test": "hemoglobin_g_dl", "value": 12.9, "source": "Observation/lab-3"},
    ],
    "ivig_courses": [
        {
            "start": "2024-01-10",
            "days": 5,
            "dose_g_per_kg_per_day": 0.4,
            "product": "Privigen",
            "adverse_events": [{"type": "headache", "severity": "mild", "source": "AdverseEvent/ae-0"}],
            "max_rate_mg_kg_min": 4,
            "source": "MedicationAdministration/ivig-0",
        }
    ],
    "ivig_discontinued_on": "2024-05-01",
    "ivig_order": {
        "product": "Privigen",
        "dose_g_per_kg_per_day": 1.0,
        "days": 2,
        "start": "2024-06-03",
        "max_rate_mg_kg_min": 3.3,
        "source": "MedicationRequest/draft-1",
    },
    "risk_factors": {
        "prior_ig_anaphylaxis": False,
        "iga_deficiency": False,
        "anti_iga_antibodies": None,
        "hyperprolinemia": False,
        "corn_allergy": False,
        "thrombosis_history": True,
        "hypercoagulable_state": False,
        "immobilized": False,
        "estrogen_therapy": False,
        "central_venous_catheter": False,
        "cardiovascular_disease": None,
        "hyperviscosity": False,
        "diabetes": True,
        "heart_failure": False,
        "volume_depletion": False,
        "sepsis": False,
        "nephrotoxic_drugs": None,
        "pregnant": False,
    },
    "preventive_care": {
        "cancer_screening_on": "2019-03-15",
        "bone_protection": True,
        "live_vaccine_on": "2023-10-02",
        "source": "Observation/care-1",
    },
}


@pytest.fixture
def minimal_patient_dict() -> dict[str, Any]:
    """A fresh deep copy of the contract's minimal example, safe to mutate."""
    return copy.deepcopy(MINIMAL_PATIENT)


@pytest.fixture
def full_patient_dict() -> dict[str, Any]:
    """A fresh deep copy of a valid file that sets every field of the contract, safe to mutate."""
    return copy.deepcopy(FULL_PATIENT)


# -- plugin isolation ---------------------------------------------------------------------------
# Installed plugins (e.g. the examples under plugins/, installed in CI) must not change the core
# tests' results: no entry-point plugins unless a test asks for them explicitly.
os.environ["IVIG_CDS_LOAD_PLUGINS"] = ""
# parsed rule files are cached on disk between runs; the tests keep theirs out of the user's home
os.environ.setdefault(
    "IVIG_CDS_CACHE_DIR", os.path.join(tempfile.gettempdir(), f"ivig-cds-test-cache-{os.getuid()}")
)
