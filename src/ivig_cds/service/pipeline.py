"""One service call after the HTTP layer: complete prefetch → patient file → evaluation → cards (blocking).

Runs in a worker thread so the event loop never waits on mapping, the rules engine or the database.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

from ivig_cds import Engine, InputError, Patient, __version__
from ivig_cds.model.format import incomplete_lines
from ivig_cds.outputs.cds_hooks import CardMeta, CardOptions, DraftOrder, build_cards, unevaluable_cards

from .config import CardSettings
from .hooks import HookCall
from .services import ServiceSpec

__all__ = ["EMPTY", "CallResult", "Mapper", "Pipeline", "default_mapper"]

EMPTY: dict[str, Any] = {"cards": []}


class Mapper(Protocol):
    """The FHIR input adapter the service maps prefetch data with (``ivig_cds.fhir`` by default)."""

    def patient_from_prefetch(
        self,
        prefetch: Mapping[str, Any],
        *,
        as_of: Any = None,
        mapping: Any = None,
        patient_id: str | None = None,
        draft_orders: Sequence[Mapping[str, Any]] = (),
    ) -> tuple[Patient, Any]: ...

    def prefetch_gaps(self, prefetch: Mapping[str, Any], keys: Sequence[str]) -> Sequence[str]: ...

    def load_mapping(self, path: Any = None) -> Any: ...


def default_mapper() -> ModuleType:
    """``ivig_cds.fhir``, the project's FHIR R4 adapter."""
    return importlib.import_module("ivig_cds.fhir")


@dataclass(frozen=True)
class CallResult:
    """The response of a call and the cards to record as shown."""

    response: dict[str, Any]
    cards: tuple[CardMeta, ...] = ()
    ruleset_hash: str = ""
    outcome: str = "cards"


def _no_myositis(exc: InputError) -> bool:
    """The adapter found no myositis Condition: the patient is outside what this service advises on."""
    return any(e.loc == "diagnosis" and e.type == "fhir_missing" for e in exc.errors)


def _warnings(report: Any) -> tuple[str, ...]:
    notes = getattr(report, "warnings", None) or []
    incomplete = incomplete_lines({"incomplete": getattr(report, "incomplete", None) or {}})
    return incomplete + tuple(f"{n.resource} ({n.field}): {n.message}" for n in notes)


def _draft_resource(call: HookCall, source: str | None) -> Mapping[str, Any] | None:
    for resource in call.draft_orders:
        if source == f"{resource.get('resourceType')}/{resource.get('id')}":
            return resource
    return None


class Pipeline:
    """Maps, evaluates and builds the cards of one call.

    Args:
        engine: The engine (rules, thresholds, plugins) in force.
        mapper: The FHIR adapter.
        cards: Card settings (rule documentation URL, dose tolerance).
        mapping: A site mapping table file (default: the adapter's built-in table), loaded once here.

    Raises:
        IvigCdsError: The mapping table is invalid.
    """

    def __init__(
        self, engine: Engine, mapper: Mapper | ModuleType, cards: CardSettings, mapping: Path | None = None
    ) -> None:
        self.engine = engine
        self.mapper: Any = mapper
        self.cards = cards
        self.mapping = mapper.load_mapping(mapping)

    def gaps(self, prefetch: Mapping[str, Any], keys: Sequence[str]) -> Sequence[str]:
        """The prefetch keys not fetched (absent or an OperationOutcome)."""
        return list(self.mapper.prefetch_gaps(prefetch, keys))

    def run(self, service: ServiceSpec, call: HookCall, prefetch: Mapping[str, Any]) -> CallResult:
        """The response to a validated call whose prefetch is complete (never raises for bad FHIR data)."""
        try:
            patient, report = self.mapper.patient_from_prefetch(
                prefetch, mapping=self.mapping, patient_id=call.patient_id, draft_orders=call.draft_orders
            )
        except InputError as exc:
            if _no_myositis(exc):
                return CallResult(EMPTY, outcome="no myositis")
            # The record lacks what a patient file needs: say so on a card rather than stay silent.
            options = CardOptions(
                hook=service.hook,
                hook_instance=call.hook_instance,
                rule_url=self.cards.rule_url,
                mapping_warnings=_warnings(getattr(exc, "report", None)),
            )
            problems = [(e.loc, e.msg) for e in exc.errors]
            built = unevaluable_cards(
                problems, ruleset_hash=self.engine.fingerprint, version=__version__, options=options
            )
            return CallResult(built.response, built.cards, built.ruleset_hash, outcome="input incomplete")
        order = patient.ivig_order
        if service.hook != "patient-view" and order is None:
            return CallResult(EMPTY, outcome="no IVIG order")
        evaluation = self.engine.evaluate(patient)
        draft = None
        if order is not None:
            resource = _draft_resource(call, order.source)
            if resource is not None:
                draft = DraftOrder(resource, order.dose_g_per_kg_per_day, order.days)
        options = CardOptions(
            hook=service.hook,
            hook_instance=call.hook_instance,
            rule_url=self.cards.rule_url,
            patient_reference=f"Patient/{call.patient_id}",
            draft_order=draft if service.hook != "patient-view" else None,
            dose_tolerance_pct=self.cards.dose_tolerance_pct,
            mapping_warnings=_warnings(report),
        )
        built = build_cards(evaluation, options)
        return CallResult(built.response, built.cards, built.ruleset_hash)
