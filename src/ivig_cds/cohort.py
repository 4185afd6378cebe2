"""Cohort summary in the form of the seed study's results (Cherin et al. 2002), computed from evaluations.

Pure arithmetic on the ``status`` block of each evaluation; no rich, no clinical decisions of its
own. Denominators follow the seed: responders are counted among the treated (patients with at
least one IVIG course); remission, IVIG dependence, relapse and steroid taper among the responders.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ivig_cds.model.evaluation import Evaluation, PatientSummary, Status

__all__ = ["SEED", "CohortEntry", "CohortSummary", "Count", "summarize"]


class _Summarizable(Protocol):
    @property
    def status(self) -> Status: ...

    @property
    def patient(self) -> PatientSummary: ...


@dataclass(frozen=True)
class CohortEntry:
    """The part of an evaluation a cohort summary reads, so a long run need not keep whole evaluations."""

    status: Status
    patient: PatientSummary

    @classmethod
    def of(cls, evaluation: Evaluation) -> CohortEntry:
        return cls(evaluation.status, evaluation.patient)


@dataclass(frozen=True)
class Count:
    """``n`` of ``of`` with its percentage (one decimal; ``None`` when the denominator is 0)."""

    n: int
    of: int

    @property
    def pct(self) -> float | None:
        return round(self.n / self.of * 100, 1) if self.of else None

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "of": self.of, "pct": self.pct}

    def __str__(self) -> str:
        return f"{self.n}/{self.of}" + (f" ({self.pct:g}%)" if self.pct is not None else "")


@dataclass(frozen=True)
class CohortSummary:
    """The seed-form results of a cohort.

    Attributes:
        patients: Evaluations summarised.
        treated: Patients with ≥ 1 IVIG course (the seed's denominator for response).
        responders: Treated patients whose ``status.response`` is ``responder``.
        non_responders / too_early / insufficient_data: The other treated patients by response.
        remission_off_therapy / remission_low_dose_steroid / ivig_dependent / relapses /
        sustained_on_therapy / follow_up: Outcomes among the responders.
        months_to_relapse: Months from discontinuation to relapse, for relapses with a date.
        steroid_taper_beyond_50: Responders with a > 50% prednisone reduction.
        eligibility: Counts of each eligibility value over all patients.
        outcomes: Counts of each outcome over all patients.
    """

    patients: int
    treated: Count
    responders: Count
    non_responders: Count
    too_early: Count
    insufficient_data: Count
    remission_off_therapy: Count
    remission_low_dose_steroid: Count
    ivig_dependent: Count
    relapses: Count
    sustained_on_therapy: Count
    follow_up: Count
    steroid_taper_beyond_50: Count
    months_to_relapse: tuple[float, ...] = ()
    eligibility: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)

    @property
    def remission(self) -> Count:
        """Sustained remission (off drugs + on low-dose steroid), among the responders."""
        n = self.remission_off_therapy.n + self.remission_low_dose_steroid.n
        return Count(n, self.responders.n)

    @property
    def relapse_mean_months(self) -> float | None:
        m = self.months_to_relapse
        return round(sum(m) / len(m), 1) if m else None

    @property
    def relapse_range_months(self) -> tuple[float, float] | None:
        m = self.months_to_relapse
        return (min(m), max(m)) if m else None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (``ivig-cds cohort --format json``, ``--summary-json``)."""
        counts = {
            name: getattr(self, name).to_dict()
            for name in (
                "treated",
                "responders",
                "non_responders",
                "too_early",
                "insufficient_data",
                "remission",
                "remission_off_therapy",
                "remission_low_dose_steroid",
                "ivig_dependent",
                "relapses",
                "sustained_on_therapy",
                "follow_up",
                "steroid_taper_beyond_50",
            )
        }
        rng = self.relapse_range_months
        return {
            "patients": self.patients,
            **counts,
            "months_to_relapse": {
                "n": len(self.months_to_relapse),
                "mean": self.relapse_mean_months,
                "min": rng[0] if rng else None,
                "max": rng[1] if rng else None,
            },
            "eligibility": dict(sorted(self.eligibility.items())),
            "outcomes": dict(sorted(self.outcomes.items())),
        }


def summarize(evaluations: Iterable[_Summarizable]) -> CohortSummary:
    """Summarise evaluations (or their :class:`CohortEntry`) in the seed study's form."""
    evs = list(evaluations)
    treated = [e for e in evs if e.patient.courses_given >= 1]
    responders = [e for e in treated if e.status.response == "responder"]
    n_t, n_r = len(treated), len(responders)
    response = Counter(e.status.response for e in treated)
    outcome_r = Counter(e.status.outcome for e in responders)
    months = tuple(
        sorted(
            e.status.months_to_relapse
            for e in responders
            if e.status.outcome == "relapse" and e.status.months_to_relapse is not None
        )
    )
    return CohortSummary(
        patients=len(evs),
        treated=Count(n_t, len(evs)),
        responders=Count(n_r, n_t),
        non_responders=Count(response["non_responder"], n_t),
        too_early=Count(response["too_early"], n_t),
        insufficient_data=Count(response["insufficient_data"], n_t),
        remission_off_therapy=Count(outcome_r["remission_off_therapy"], n_r),
        remission_low_dose_steroid=Count(outcome_r["remission_low_dose_steroid"], n_r),
        ivig_dependent=Count(outcome_r["ivig_dependent"], n_r),
        relapses=Count(outcome_r["relapse"], n_r),
        sustained_on_therapy=Count(outcome_r["sustained_response_on_therapy"], n_r),
        follow_up=Count(outcome_r["follow_up"], n_r),
        steroid_taper_beyond_50=Count(sum(1 for e in responders if e.status.steroid_taper_beyond_50), n_r),
        months_to_relapse=months,
        eligibility=dict(Counter(e.status.eligibility for e in evs)),
        outcomes=dict(Counter(e.status.outcome for e in evs)),
    )


SEED: dict[str, str] = {
    "treated": "35",
    "responders": "25/35 (71.4%)",
    "remission": "12/25 (48%)",
    "remission_off_therapy": "5/25 (20%)",
    "remission_low_dose_steroid": "7/25 (28%)",
    "ivig_dependent": "6/25 (24%)",
    "relapses": "7/25 (28%)",
    "months_to_relapse": "mean 17.1 (4–23)",
    "steroid_taper_beyond_50": "all responders",
}
"""The seed study's figures (Cherin et al. 2002, abstract), shown beside a cohort for calibration."""
