"""The resources of one input, indexed: shapes checked (``shapes``), dates read, references resolved."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ivig_cds.errors import FieldError

from .shapes import ACCEPTED_TYPES, ANY_CONCEPT, CONCEPT_TYPES, READ_TYPES, STATUSES, check_shape, unicode_text
from .values import fhir_date, is_obj, parse_date

__all__ = ["DATE_PATHS", "READ_TYPES", "STATUSES", "Index", "Item", "check_shape", "unicode_text"]

DATE_PATHS: dict[str, tuple[str, ...]] = {
    "Observation": ("effectiveDateTime", "effectivePeriod.start", "effectiveInstant"),
    "Condition": ("onsetDateTime", "onsetPeriod.start", "recordedDate"),
    "MedicationStatement": ("effectivePeriod.start", "effectiveDateTime"),
    "MedicationAdministration": ("effectiveDateTime", "effectivePeriod.start"),
    "AllergyIntolerance": ("onsetDateTime", "recordedDate"),
    "Procedure": ("performedDateTime", "performedPeriod.start"),
    "MedicationRequest": ("authoredOn",),
}
"""Where each type's date is (the first that holds a value): the ``as_of`` cut-off and the record's date."""
_DAY_PATHS: dict[str, tuple[tuple[str, str, str | None], ...]] = {
    kind: tuple((path, path.partition(".")[0], path.partition(".")[2] or None) for path in paths)
    for kind, paths in DATE_PATHS.items()
}
""":data:`DATE_PATHS` split once: ``(path, element, part or None)``."""
_Day = tuple[date | None, str | None, str | None]
_CONCEPT, _ANY_CONCEPT = CONCEPT_TYPES, ANY_CONCEPT
_NO_CODING: list[Any] = []  # (never changed) an absent coding is no problem


def _first_day(resource: Mapping[str, Any], paths: tuple[tuple[str, str, str | None], ...]) -> _Day:
    """``first_date(resource, *paths)`` for the one- and two-step paths of :data:`DATE_PATHS`."""
    for path, element, part in paths:
        value = resource.get(element)
        if part is not None and value is not None:
            value = value.get(part) if type(value) is dict or is_obj(value) else None
        if value is None:
            continue
        got = parse_date(value) if type(value) is str else fhir_date(value)
        if type(got) is date:
            return got, path, None
        return None, path, str(got)
    return None, None, None


class Item:
    """One resource of the input and where it came from."""

    __slots__ = ("_day", "full_url", "id", "kind", "loc", "pos", "ref", "resource")

    def __init__(
        self,
        kind: str,
        id: str | None,
        loc: str,
        resource: Mapping[str, Any],
        full_url: str | None = None,
        pos: int = 0,
    ) -> None:
        self.kind = kind
        self.id = id
        self.loc = loc
        self.resource = resource
        self.full_url = full_url
        self.pos = pos
        self.ref = f"{kind}/{id}" if id else f"{kind} ({loc})"
        """``Type/id``, or ``Type (entry[3])`` when the resource has no id."""
        self._day: tuple[date | None, str | None, str | None] | None = None

    def day(self) -> tuple[date | None, str | None, str | None]:
        """``first_date`` over the type's :data:`DATE_PATHS` (read once: the cut-off and the record use it)."""
        got = self._day
        if got is None:
            got = self._day = _first_day(self.resource, _DAY_PATHS.get(self.kind, ()))
        return got

    def __repr__(self) -> str:
        return f"Item({self.ref!r}, loc={self.loc!r})"  # no resource content: reprs reach logs


@dataclass
class Index:
    """Every resource of an input by reference and by ``fullUrl``."""

    items: list[Item] = field(default_factory=list)
    by_ref: dict[str, Item] = field(default_factory=dict)
    by_url: dict[str, Item] = field(default_factory=dict)
    errors: list[FieldError] = field(default_factory=list)
    by_kind: dict[str, list[Item]] = field(default_factory=dict)
    repeats: dict[str, int] = field(default_factory=dict)
    """``Type/id`` -> how many more times the same resource (identical) appeared; each is read once."""
    _resolved: dict[str, Item | None] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, entries: Iterable[tuple[str, Mapping[str, Any], str | None]]) -> Index:
        """Index ``(location, resource, fullUrl)`` triples; shape problems are collected in ``errors``."""
        index = cls()
        items, by_ref, by_url, by_kind = index.items, index.by_ref, index.by_url, index.by_kind
        plain = ACCEPTED_TYPES
        for loc, resource, full_url in entries:
            if type(resource) is not dict and not is_obj(resource):
                index.errors.append(FieldError(loc, "not a FHIR resource (not an object)", "fhir_shape"))
                continue
            kind = resource.get("resourceType")
            rid = resource.get("id")
            # check_shape's usual case inline: a type read, an ASCII id, every element of its JSON type
            accepts = plain.get(kind) if type(kind) is str else None
            problem = None
            if accepts is not None and type(rid) is str and rid.isascii():
                for key, value in resource.items():
                    types = accepts.get(key)
                    if types is not None and (
                        type(value) not in types
                        # an identifying concept (concept_problem): its coding must be an array
                        or (
                            (types is _CONCEPT or (types is _ANY_CONCEPT and type(value) is dict))
                            and type(value.get("coding", _NO_CODING)) is not list
                        )
                    ):
                        problem = check_shape(resource, loc)
                        break
            else:
                problem = check_shape(resource, loc)
                if type(rid) is not str or not unicode_text(rid):
                    rid = None  # (check_shape refused it): only an id that prints is named
            if problem is not None:
                # a label names the type and id only when they print, and never a 100,000-character type
                named = isinstance(kind, str) and len(kind) <= 64 and unicode_text(kind)
                label = f"{loc} ({kind}/{rid[:64]})" if named and rid else loc
                index.errors.append(FieldError(label, problem.msg, problem.type))
                continue
            assert isinstance(kind, str)
            item = Item(kind, rid, loc, resource, full_url, len(items))
            first = by_ref.get(item.ref) if rid is not None else None
            if first is not None:  # the same type and id again: read once, or refused when it differs
                if first.resource == resource:
                    index.repeats[item.ref] = index.repeats.get(item.ref, 0) + 1
                    if full_url and full_url not in by_url:  # its fullUrl is still a name of the resource
                        by_url[full_url] = first
                else:
                    index.errors.append(
                        FieldError(
                            f"{loc} ({item.ref[:130]})",
                            f"another resource with this type and id ({first.loc}) differs from it: which one is"
                            " current is unknown (send one version of each resource)",
                            "fhir_duplicate",
                        )
                    )
                continue
            items.append(item)
            group = by_kind.get(kind)
            if group is None:
                by_kind[kind] = [item]
            else:
                group.append(item)
            if rid is not None:
                by_ref[item.ref] = item
            if full_url and full_url not in by_url:
                by_url[full_url] = item
        return index

    def of_kind(self, kind: str) -> Iterator[Item]:
        return iter(self.by_kind.get(kind, ()))

    def resolve(self, ref: str | None, holder: Item | None = None) -> Mapping[str, Any] | None:
        """The resource ``ref`` points to: ``#id`` (contained in ``holder``), a ``fullUrl``, or ``Type/id``."""
        if ref is None:
            return None
        if ref.startswith("#"):
            if holder is None:
                return None
            for inner in holder.resource.get("contained") or []:
                if is_obj(inner) and inner.get("id") == ref[1:]:
                    return inner
            return None
        item = self.resolve_item(ref)
        return item.resource if item is not None else None

    def resolve_item(self, ref: str) -> Item | None:
        """The indexed resource of a ``fullUrl`` or (relative or absolute) ``Type/id`` reference."""
        try:
            return self._resolved[ref]  # the same references recur (every resource names its subject)
        except KeyError:
            pass
        hit = self.by_url.get(ref)
        if hit is None:
            parts = ref.split("/_history/")[0].rstrip("/").split("/")
            hit = self.by_ref.get(f"{parts[-2]}/{parts[-1]}") if len(parts) >= 2 else None
        if len(self._resolved) < 4096:
            self._resolved[ref] = hit
        return hit

    def subject(self, ref: str) -> Item | None:
        """The indexed Patient a subject reference points to, else ``None``."""
        target = self.resolve_item(ref)
        return target if target is not None and target.kind == "Patient" else None
