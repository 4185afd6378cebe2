"""The draft IVIG order of a CDS Hooks order-sign or order-select request (``draftOrders``) as ``ivig_order``:
its product, dose per kg, maximum rate, start and days."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .index import Index, Item
from .ivig import _MAX_COURSE_DAYS, MedicationResult, _rate, identify_into, not_intravenous
from .mapping import FhirMapping
from .medications import dosages_of
from .report import ReportBuilder
from .values import array, day_of, first_date, is_obj, quantity

__all__ = ["draft_order"]


def _untyped(entry: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k != "type"}


def draft_order(
    drafts: Sequence[Item],
    index: Index,
    mapping: FhirMapping,
    weight: tuple[float, str] | None,
    rb: ReportBuilder,
    out: MedicationResult,
) -> dict[str, Any] | None:
    """The draft IVIG MedicationRequest (CDS Hooks draftOrders) as ``ivig_order``."""
    chosen: dict[str, Any] | None = None
    for item in drafts:
        if item.kind != "MedicationRequest":  # draftOrders may hold other requests: not an IVIG order
            rb.ignored[item.kind] += 1
            continue
        info = identify_into(item, index, mapping, out)
        if info is None or not info.ivig:
            rb.ignored[item.kind] += 1
            if info is not None and (info.not_ivig or info.subcutaneous):
                why = info.not_ivig or f"{info.subcutaneous}: subcutaneous immunoglobulin"
                rb.warn(item.ref, "ivig_order", f"draft order of {why}, not IVIG: not an IVIG order")
            elif info is not None and info.agent is None and not info.conflict:
                rb.warn(
                    item.ref,
                    "ivig_order",
                    "draft order of a medication not recognised: not an IVIG order (an IVIG product missing"
                    " from the product table is not recognised)",
                )
            continue
        if not_intravenous(item, mapping, rb, "ivig_order"):
            continue
        rb.used(item.kind, item.ref)
        if chosen is not None:
            rb.warn(item.ref, "ivig_order", f"a second draft IVIG order: {chosen['source']} is used")
            continue
        order: dict[str, Any] = {"source": item.ref}
        if info.product:
            order["product"] = info.product
        dosage = next(iter(dosages_of(item)), None)
        if is_obj(dosage):
            _order_dosage(item, dosage, mapping, weight, rb, order)
        chosen = order
    return chosen


def _order_dosage(
    item: Item,
    dosage: Mapping[str, Any],
    mapping: FhirMapping,
    weight: tuple[float, str] | None,
    rb: ReportBuilder,
    order: dict[str, Any],
) -> None:
    entries = [e for e in array(dosage.get("doseAndRate")) if is_obj(e)]
    if any(_untyped(e) != _untyped(entries[0]) for e in entries[1:]):
        # ordered and calculated doses are one dose said twice: when they differ, neither is chosen
        rb.warn(
            item.ref,
            "ivig_order.dose_g_per_kg_per_day",
            "several doseAndRate entries that differ: the ordered dose and rate are not mapped (never a choice)",
        )
        entries = []
    rate = entries[0] if entries else None
    if is_obj(rate):
        q = quantity(rate.get("doseQuantity"))
        if not (q is None or isinstance(q, str)):
            per_kg = mapping.unit("dose_g_per_kg").convert(q.value, q.unit)
            grams = mapping.unit("dose_g").convert(q.value, q.unit)
            if per_kg is None and grams is not None and weight is not None:
                per_kg = grams / weight[0]
                rb.convert(
                    item.ref, "ivig_order.dose_g_per_kg_per_day", f"grams ÷ body weight of {weight[1]} → g/kg"
                )
            if per_kg is None:
                rb.warn(
                    item.ref,
                    "ivig_order.dose_g_per_kg_per_day",
                    "dose not in g/kg (or grams with a weight): not mapped",
                )
            elif not 0.1 <= per_kg <= 2.0:
                rb.warn(
                    item.ref, "ivig_order.dose_g_per_kg_per_day", "ordered dose outside 0.1-2.0 g/kg: not mapped"
                )
            else:
                order["dose_g_per_kg_per_day"] = round(per_kg, 6)
        max_rate, problem = _rate(rate.get("rateQuantity"), mapping, "doseAndRate.rateQuantity")
        if max_rate is not None:
            order["max_rate_mg_kg_min"] = max_rate
        elif problem is not None:
            rb.warn(item.ref, "ivig_order.max_rate_mg_kg_min", problem)
        elif "rateRatio" in rate:
            rb.warn(item.ref, "ivig_order.max_rate_mg_kg_min", "rate given as a ratio (e.g. mL/min): not mapped")
    repeat = dosage.get("timing", {}).get("repeat", {}) if is_obj(dosage.get("timing")) else {}
    if is_obj(repeat):
        start, _, _ = first_date(repeat, "boundsPeriod.start")
        if start is not None:
            order["start"] = start.isoformat()
        days, said = _order_days(repeat)
        if days is not None:
            order["days"] = days
        elif said is not None:  # the order says how long; what it says is not 1-5 daily infusions
            rb.warn(
                item.ref, "ivig_order.days", f"timing.repeat.{said} is not 1-5 daily infusions: days not mapped"
            )


def _order_days(repeat: Mapping[str, Any]) -> tuple[int | None, str | None]:
    """The order's infusion days, and which element said how long (``None``: none did): a ``count`` of daily
    infusions, else a ``boundsPeriod`` with both ends, else a ``boundsDuration`` in days - 1 to 5 days of one
    infusion a day (another frequency, a longer span, a duration in another unit: not read)."""
    daily = (repeat.get("frequency", 1), repeat.get("period", 1), repeat.get("periodUnit", "d")) == (1, 1, "d")
    count = repeat.get("count")
    if isinstance(count, int) and not isinstance(count, bool):
        return (count if daily and 1 <= count <= _MAX_COURSE_DAYS else None), "count"
    period = repeat.get("boundsPeriod")
    if is_obj(period) and period.get("end") is not None:
        start, end = day_of(period.get("start")), day_of(period.get("end"))
        days = (end - start).days + 1 if start is not None and end is not None else None
        return (days if daily and days is not None and 1 <= days <= _MAX_COURSE_DAYS else None), "boundsPeriod"
    if "boundsDuration" in repeat:
        q = quantity(repeat["boundsDuration"])
        ok = q is not None and not isinstance(q, str) and not q.comparator and q.unit == "d"
        value = q.value if ok and q is not None and not isinstance(q, str) else None
        whole = value is not None and value == int(value) and 1 <= value <= _MAX_COURSE_DAYS
        return (int(value) if daily and whole and value is not None else None), "boundsDuration"
    return None, None
