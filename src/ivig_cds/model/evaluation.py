"""The evaluation result: Pydantic models whose JSON is the output contract (evaluation v1)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "SEVERITY_ORDER",
    "DosePlan",
    "EngineInfo",
    "Evaluation",
    "Finding",
    "PatientSummary",
    "PluginFailure",
    "RulesetInfo",
    "Status",
    "StatusSource",
]

Severity = Literal["stop", "warning", "advisory", "info"]
SEVERITY_ORDER: dict[str, int] = {"stop": 0, "warning": 1, "advisory": 2, "info": 3}


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RulesetInfo(_Out):
    name: str = Field(description="Rule file family (or plugin rule file) name.")
    version: str = Field(description="The file's declared version.")
    sha256: str = Field(description="SHA-256 of the file's bytes.")
    origin: str = Field(default="core", description="'core' or the plugin that contributed it.")


class PluginFailure(_Out):
    plugin: str = Field(description="Plugin name.")
    hook: str = Field(description="Hook that failed, or 'load'.")
    error: str = Field(description="The error, without patient data.")


class EngineInfo(_Out):
    version: str = Field(description="ivig-cds version.")
    backend: str = Field(description="Rules backend that made the decisions (durable or reference).")
    ruleset_hash: str = Field(description="Hash of every rule and threshold in force: the ruleset version.")
    rulesets: list[RulesetInfo] = Field(description="Rule files loaded.")
    plugins: list[str] = Field(default_factory=list, description="Plugins in force, as name==version.")
    plugin_failures: list[PluginFailure] = Field(default_factory=list, description="Plugins that failed.")
    thresholds_overridden: dict[str, Any] = Field(default_factory=dict, description="Site values in force.")


class Status(_Out):
    refractory: bool | None = Field(description="Refractory per the seed definition; null: therapy history empty.")
    eligibility: Literal[
        "eligible", "eligible_with_precautions", "screen_incomplete", "not_eligible", "contraindicated"
    ]
    eligibility_reasons: list[str] = Field(
        description="Rule ids that set the value shown (only rules at that level)."
    )
    missing_screen: list[str] = Field(
        default_factory=list,
        description="Patient-file fields whose absence makes eligibility screen_incomplete (empty otherwise).",
    )
    response: Literal["not_started", "too_early", "responder", "non_responder", "insufficient_data"]
    response_level: Literal["minimal", "moderate", "major"] | None
    total_improvement_score: float | None = Field(description="Best ACR/EULAR 2016 TIS in the response window.")
    latest_total_improvement_score: float | None = Field(
        default=None, description="TIS of the latest assessment at or before as_of (a worsening shows here)."
    )
    steroid_reduction_pct: float | None = Field(description="(baseline - current) / baseline x 100.")
    steroid_taper_beyond_50: bool | None
    outcome: Literal[
        "not_started",
        "on_treatment",
        "non_responder",
        "ivig_dependent",
        "follow_up",
        "remission_off_therapy",
        "remission_low_dose_steroid",
        "sustained_response_on_therapy",
        "relapse",
    ]
    relapse_alert: bool
    months_to_relapse: float | None = Field(description="Months from discontinuation to the relapse visit.")
    as_of_source: Literal["argument", "file", "today"] = Field(
        default="file", description="Where as_of came from: the caller, the file, or the clock (today)."
    )


class StatusSource(_Out):
    field: str = Field(description="Status field.")
    value: Any = Field(description="Value concluded.")
    rule_id: str = Field(description="Rule that concluded it.")
    rule_version: str


class DosePlan(_Out):
    weight_basis: Literal["actual", "adjusted"]
    dosing_weight_kg: float
    actual_weight_kg: float
    g_per_kg_per_day: float
    grams_per_day: float
    days_per_course: int
    interval_weeks: int
    courses_in_first_phase: str
    grams_per_course: float
    basis_rule: str | None = Field(default=None, description="Rule that chose the weight basis, if any.")


class Finding(_Out):
    rule_id: str
    rule_version: str
    title: str
    category: str
    severity: Severity
    summary: str
    detail: str = ""
    evidence: list[str] = Field(description="Citations, strongest first; '(UNVERIFIED)' marks design choices.")
    facts: dict[str, Any] = Field(description="The input-derived values the rule read, by fact.field.")
    thresholds: dict[str, Any] = Field(default_factory=dict, description="Thresholds the rule used.")
    sources: list[str] = Field(default_factory=list, description="Patient-file records the facts came from.")
    dates: dict[str, str] = Field(default_factory=dict, description="Dates that anchor this evaluation.")
    origin: str = Field(default="core", description="'core' or the plugin that contributed the rule.")
    codes: list[str] = Field(default_factory=list, description="Interoperability codes (system|code).")


class PatientSummary(_Out):
    age_years: int = Field(description="Age in whole years at as_of.")
    sex: str | None
    condition: str
    classification: str
    weight_kg: float | None
    courses_given: int = Field(description="IVIG courses started up to as_of.")
    first_course: str | None
    discontinued_on: str | None
    restarted_on: str | None = Field(default=None, description="First course after a discontinuation.")


class Evaluation(_Out):
    patient_id: str
    as_of: str
    engine: EngineInfo
    patient: PatientSummary = Field(description="Who was evaluated (header of the console view).")
    status: Status
    dose_plan: DosePlan | None
    findings: list[Finding]
    status_sources: list[StatusSource] = Field(
        default_factory=list, description="Which rule set each status value."
    )
    ignored_after_as_of: int
    mapping: dict[str, Any] | None = Field(
        default=None, description="FHIR input only: the mapping report (absent for a patient file)."
    )

    def to_json(self, *, indent: int | None = 2) -> str:
        """The contract's JSON, byte-stable for the same input and rules (no ``mapping`` key for patient files)."""
        return self.model_dump_json(indent=indent, exclude={"mapping"} if self.mapping is None else None)
