"""The mapping report: what was read, ignored and converted, and every warning, each naming its resource."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["MappingNote", "MappingReport", "ReportBuilder"]


class MappingNote(BaseModel):
    """One conversion or warning: which resource, which patient-file field, what happened (no patient values)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    resource: str = Field(
        description="The resource reference, 'Type/id' (or the input position when it has no id)."
    )
    field: str = Field(description="The patient-file field concerned, e.g. 'glucocorticoid_doses' or 'labs'.")
    message: str = Field(description="What was done or could not be done, without patient values.")


class MappingReport(BaseModel):
    """What the FHIR adapter did with one patient's resources."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mapping_version: str = Field(description="Version of the mapping table in force.")
    mapping_source: str = Field(description="'default' or the site table's file name.")
    patient: str | None = Field(description="The Patient resource the file was built for ('Patient/id').")
    as_of: str | None = Field(description="The date resources were read up to (ISO), or null: no cut-off.")
    resources_read: dict[str, int] = Field(description="Resources that contributed, by type.")
    resources_ignored: dict[str, int] = Field(
        description="Resources not used (another type, status, another patient, not relevant), by type."
    )
    ignored_after_as_of: dict[str, int] = Field(description="Resources dated after as_of, by type.")
    conversions: list[MappingNote] = Field(description="Unit and dose conversions done.")
    warnings: list[MappingNote] = Field(description="What could not be mapped, or was mapped with a caveat.")
    incomplete: dict[str, list[str]] = Field(
        default_factory=dict,
        description=(
            "Patient-file fields the record holds more of than the file: resources recognised as IVIG given or"
            " a glucocorticoid dose but not mapped, or medication records whose drug cannot be known (therapies:"
            " a Medication reference not in the input, a medication that names no drug; therapies.stop: a therapy"
            " ended on a day the record does not hold; ivig_discontinued_on: an"
            " IVIG order stopped on a day the record does not hold; labs: a later result of a test that cannot be"
            " read), each also a warning, by field. The"
            " evaluation does not"
            " count them: with ivig_courses here a patient can look IVIG-naive or earlier in treatment than"
            " they are."
        ),
    )

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (the evaluation's ``mapping`` block)."""
        return self.model_dump(mode="json")

    @property
    def unmapped_medications(self) -> list[MappingNote]:
        """Warnings about medication resources (shown in the console panel first)."""
        return [w for w in self.warnings if w.resource.startswith("Medication")]


class ReportBuilder:
    """Collects counts and notes while mapping; notes are sorted when the report is built (deterministic)."""

    def __init__(self) -> None:
        self.ignored: Counter[str] = Counter()
        self.after: Counter[str] = Counter()
        self._conversions: set[tuple[str, str, str]] = set()  # (resource, field, message): models built once
        self._warnings: set[tuple[str, str, str]] = set()
        self._read_refs: dict[str, str] = {}  # ref -> its type, as first counted
        self._incomplete: dict[str, set[str]] = {}  # field -> resources recognised for it but not mapped

    def used(self, kind: str, ref: str) -> None:
        """Count ``ref`` as read once, however many fields it fed."""
        self._read_refs.setdefault(ref, kind)

    def was_used(self, ref: str) -> bool:
        return ref in self._read_refs

    @property
    def read(self) -> Counter[str]:
        """Resources read so far, by type."""
        return Counter(self._read_refs.values())

    @property
    def warnings(self) -> list[MappingNote]:
        """The warnings so far, sorted and without repeats (as the report will hold them)."""
        return _notes(self._warnings)

    @property
    def conversions(self) -> list[MappingNote]:
        """The conversions so far, sorted and without repeats."""
        return _notes(self._conversions)

    def notes_on(self, field: str, *, conversions: bool = False) -> list[tuple[str, str]]:
        """``(resource, message)`` of the warnings (or conversions) on ``field`` so far, sorted."""
        return sorted((r, m) for r, f, m in (self._conversions if conversions else self._warnings) if f == field)

    def warn(self, ref: str, field: str, message: str) -> None:
        self._warnings.add((str(ref), str(field), str(message)))

    def convert(self, ref: str, field: str, message: str) -> None:
        self._conversions.add((str(ref), str(field), str(message)))

    def incomplete(self, field: str, ref: str) -> None:
        """``ref`` is a record of ``field`` (an IVIG infusion given, a glucocorticoid dose) that is not mapped."""
        self._incomplete.setdefault(field, set()).add(str(ref))

    def settle(self, totals: Mapping[str, int]) -> None:
        """Count as ignored, by type, every resource of the input (``totals``: each once) neither read nor
        dated after ``as_of``: the report's three counts then add up to the input, whatever path left a
        resource unused (a medication not recognised, a value not mapped)."""
        read = self.read
        for kind, n in totals.items():
            left = n - read.get(kind, 0) - self.after.get(kind, 0)
            if left > 0:
                self.ignored[kind] = left
            else:
                self.ignored.pop(kind, None)

    def build(self, *, version: str, source: str, patient: str | None, as_of: str | None) -> MappingReport:
        return MappingReport(
            mapping_version=version,
            mapping_source=source,
            patient=patient,
            as_of=as_of,
            resources_read=dict(sorted(self.read.items())),
            resources_ignored=dict(sorted(self.ignored.items())),
            ignored_after_as_of=dict(sorted(self.after.items())),
            conversions=self.conversions,
            warnings=self.warnings,
            incomplete={f: sorted(refs) for f, refs in sorted(self._incomplete.items())},
        )


def _notes(notes: set[tuple[str, str, str]]) -> list[MappingNote]:
    return [MappingNote(resource=r, field=f, message=m) for r, f, m in sorted(notes)]
