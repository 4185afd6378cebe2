"""The closed vocabularies of the patient file (each a ``StrEnum``: its values are the contract's words)."""

from __future__ import annotations

import enum

__all__ = [
    "AboGroup",
    "AdverseEventSeverity",
    "AdverseEventType",
    "Agent",
    "Classification",
    "Condition",
    "Criteria",
    "Dysphagia",
    "LabTest",
    "Sex",
    "TherapyOutcome",
]


class Sex(enum.StrEnum):
    """Sex, as used by the ideal-body-weight formula."""

    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNKNOWN = "unknown"


class AboGroup(enum.StrEnum):
    """ABO blood group (haemolysis risk)."""

    O = "O"  # noqa: E741 - the blood group's name
    A = "A"
    B = "B"
    AB = "AB"


class Condition(enum.StrEnum):
    """Working diagnosis."""

    POLYMYOSITIS = "polymyositis"
    DERMATOMYOSITIS = "dermatomyositis"
    INCLUSION_BODY_MYOSITIS = "inclusion_body_myositis"
    IMMUNE_MEDIATED_NECROTIZING_MYOPATHY = "immune_mediated_necrotizing_myopathy"
    ANTISYNTHETASE_SYNDROME = "antisynthetase_syndrome"
    OVERLAP_MYOSITIS = "overlap_myositis"
    OTHER = "other"


class Classification(enum.StrEnum):
    """Bohan & Peter or EULAR/ACR 2017 category."""

    DEFINITE = "definite"
    PROBABLE = "probable"
    POSSIBLE = "possible"
    UNKNOWN = "unknown"


class Criteria(enum.StrEnum):
    """Classification criteria set."""

    BOHAN_PETER = "bohan_peter"
    EULAR_ACR_2017 = "eular_acr_2017"


class Agent(enum.StrEnum):
    """A myositis treatment: drug or procedure."""

    PREDNISONE = "prednisone"
    PREDNISOLONE = "prednisolone"
    METHYLPREDNISOLONE = "methylprednisolone"
    DEXAMETHASONE = "dexamethasone"
    HYDROCORTISONE = "hydrocortisone"
    DEFLAZACORT = "deflazacort"
    METHOTREXATE = "methotrexate"
    AZATHIOPRINE = "azathioprine"
    MYCOPHENOLATE = "mycophenolate"
    CYCLOPHOSPHAMIDE = "cyclophosphamide"
    CYCLOSPORINE = "cyclosporine"
    TACROLIMUS = "tacrolimus"
    CHLORAMBUCIL = "chlorambucil"
    RITUXIMAB = "rituximab"
    PLASMAPHERESIS = "plasmapheresis"
    LYMPHOPHERESIS = "lymphopheresis"
    TOTAL_BODY_IRRADIATION = "total_body_irradiation"
    OTHER = "other"


class TherapyOutcome(enum.StrEnum):
    """How a treatment went."""

    INADEQUATE_RESPONSE = "inadequate_response"
    INTOLERANCE = "intolerance"
    ADEQUATE_RESPONSE = "adequate_response"
    ONGOING = "ongoing"
    UNKNOWN = "unknown"


class Dysphagia(enum.StrEnum):
    """Oesophageal involvement."""

    NONE = "none"
    MILD = "mild"
    SEVERE = "severe"


class LabTest(enum.StrEnum):
    """A safety lab; the unit is in the name."""

    CREATININE_MG_DL = "creatinine_mg_dl"
    EGFR_ML_MIN_1_73M2 = "egfr_ml_min_1_73m2"
    IGA_MG_DL = "iga_mg_dl"
    HEMOGLOBIN_G_DL = "hemoglobin_g_dl"


class AdverseEventType(enum.StrEnum):
    """An IVIG adverse event."""

    HEADACHE = "headache"
    ASEPTIC_MENINGITIS = "aseptic_meningitis"
    THROMBOSIS = "thrombosis"
    RENAL_INJURY = "renal_injury"
    HEMOLYSIS = "hemolysis"
    ANAPHYLAXIS = "anaphylaxis"
    INFUSION_REACTION = "infusion_reaction"
    RASH = "rash"
    FEVER = "fever"
    OTHER = "other"


class AdverseEventSeverity(enum.StrEnum):
    """Severity of an adverse event."""

    MILD = "mild"
    MODERATE = "moderate"
    SEVERE = "severe"
