"""What is known at ``as_of``: the records dated up to it, sorted, and the IVIG treatment episodes.

A course dated after ``ivig_discontinued_on`` means IVIG was restarted: the courses after it form
the *current* episode (on treatment again) and the courses up to it the *previous* one, which
ended on that date. Every fact family describes the current episode; the relapse family also
looks back at the previous one so an earlier relapse stays visible.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from ivig_cds.facts.scoring import TisTable
from ivig_cds.model.patient import Assessment, GlucocorticoidDose, IvigCourse, Lab, Patient, Therapy
from ivig_cds.model.terminology import ProductTable

__all__ = ["Episode", "Snapshot", "known_at", "ref", "truncate"]

TherapyRecord = tuple[int, Therapy, date | None, list[date]]  # (index, therapy, stop known at as_of, changes)


@dataclass(frozen=True)
class Episode:
    """One IVIG treatment episode: its courses (index in the file, course) and how it ended.

    Attributes:
        courses: The courses, sorted by start.
        stopped: The discontinuation date that ended it (``None``: ongoing at ``as_of``).
    """

    courses: tuple[tuple[int, IvigCourse], ...]
    stopped: date | None

    @property
    def first(self) -> date | None:
        """The first course's start."""
        return self.courses[0][1].start if self.courses else None


@dataclass(frozen=True)
class Snapshot:
    """The patient as known at ``as_of``, with the tables every fact family reads.

    Attributes:
        patient: The validated patient file.
        as_of: The evaluation date.
        t: Threshold values by name.
        terminology: The terminology table (agent classes, infusional agents, products).
        products: The product table.
        tis: The Total Improvement Score table.
        therapies: Therapies started by ``as_of``.
        gc: Glucocorticoid dose steps up to ``as_of``.
        assessments: Assessments up to ``as_of`` (index in the file, assessment).
        labs: Labs up to ``as_of``.
        courses: Every course started by ``as_of``.
        episode: The current episode.
        previous: The episode before a restart, if IVIG was restarted.
        ignored: Records dated after ``as_of`` that were left out.
        cancer_screening_on: The malignancy screening date, when known at ``as_of``.
    """

    patient: Patient
    as_of: date
    t: Mapping[str, Any]
    terminology: Mapping[str, Any]
    products: ProductTable
    tis: TisTable
    therapies: tuple[TherapyRecord, ...]
    gc: tuple[GlucocorticoidDose, ...]
    assessments: tuple[tuple[int, Assessment], ...]
    labs: tuple[tuple[int, Lab], ...]
    courses: tuple[tuple[int, IvigCourse], ...]
    episode: Episode
    previous: Episode | None
    ignored: int
    cancer_screening_on: date | None = None

    @property
    def ref_date(self) -> date:
        """The reference date of the safety screen and stability rules: the episode's first course, else as_of."""
        return self.episode.first or self.as_of


def ref(record: Any, path: str) -> str:
    """How a finding names a record: its ``source`` (e.g. ``Observation/123``) when recorded, else its path."""
    source = getattr(record, "source", None)
    return str(source) if source else path


def truncate(patient: Patient, as_of: date) -> tuple[dict[str, Any], int]:
    """The records known at ``as_of`` (sorted by date), and how many were ignored.

    A therapy that started before ``as_of`` but stopped after it is kept as ongoing; its stop
    date counts as one ignored record, as does each dose change or discontinuation after ``as_of``.
    """
    ignored = 0
    therapies: list[TherapyRecord] = []
    for i, t in enumerate(patient.therapies):
        if t.start > as_of:
            ignored += 1
            continue
        stop = t.stop
        if stop is not None and stop > as_of:
            ignored += 1
            stop = None
        changes = sorted(d for d in (t.dose_changed_on or []) if d <= as_of)
        ignored += len(t.dose_changed_on or []) - len(changes)
        therapies.append((i, t, stop, changes))

    def keep(items: Iterable[Any], key: str) -> list[tuple[int, Any]]:
        nonlocal ignored
        kept = []
        for i, x in enumerate(items):
            if getattr(x, key) > as_of:
                ignored += 1
            else:
                kept.append((i, x))
        return sorted(kept, key=lambda ix: (getattr(ix[1], key), ix[0]))

    gc = [d for _, d in keep(patient.glucocorticoid_doses, "date")]
    assessments = keep(patient.assessments, "date")
    labs = keep(patient.labs, "date")
    courses = keep(patient.ivig_courses, "start")
    stopped = patient.ivig_discontinued_on
    if stopped is not None and stopped > as_of:
        ignored += 1
        stopped = None
    # a screening dated after as_of is not known yet; a live vaccine date may be planned (never ignored)
    screened = patient.preventive_care.cancer_screening_on if patient.preventive_care is not None else None
    if screened is not None and screened > as_of:
        ignored += 1
        screened = None
    return (
        {
            "therapies": therapies,
            "gc": gc,
            "assessments": assessments,
            "labs": labs,
            "courses": courses,
            "discontinued_on": stopped,
            "cancer_screening_on": screened,
        },
        ignored,
    )


def _episodes(courses: list[tuple[int, IvigCourse]], stopped: date | None) -> tuple[Episode, Episode | None]:
    if stopped is None:
        return Episode(tuple(courses), None), None
    before = tuple(c for c in courses if c[1].start <= stopped)
    after = tuple(c for c in courses if c[1].start > stopped)
    if not after:
        return Episode(before, stopped), None
    return Episode(after, None), Episode(before, stopped)


def known_at(
    patient: Patient,
    as_of: date,
    thresholds: Mapping[str, Any],
    terminology: Mapping[str, Any],
    products: ProductTable,
    tis: TisTable,
) -> Snapshot:
    """The snapshot of ``patient`` at ``as_of``."""
    kept, ignored = truncate(patient, as_of)
    episode, previous = _episodes(kept["courses"], kept["discontinued_on"])
    return Snapshot(
        patient=patient,
        as_of=as_of,
        t=thresholds,
        terminology=terminology,
        products=products,
        tis=tis,
        therapies=tuple(kept["therapies"]),
        gc=tuple(kept["gc"]),
        assessments=tuple(kept["assessments"]),
        labs=tuple(kept["labs"]),
        courses=tuple(kept["courses"]),
        episode=episode,
        previous=previous,
        ignored=ignored,
        cancer_screening_on=kept["cancer_screening_on"],
    )
