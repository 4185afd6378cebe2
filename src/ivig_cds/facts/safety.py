"""The IVIG safety screen's inputs: labs (renal screen, IgA), the product, the ordered or planned dose and volume.

The product is the one of ``ivig_order`` when an order is present (so the checks work before
course 1), else the latest course's; it is recognised through the product table and what is not
recognised is unknown (``None``), never "not sucrose". Dose and volume use the order, or the plan.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ivig_cds.facts.fields import FactField, flag, number, text
from ivig_cds.facts.records import Snapshot, ref
from ivig_cds.facts.renal import CreatinineSeries, course_creatinine
from ivig_cds.model.patient import AdverseEventType, IvigCourse
from ivig_cds.model.terminology import STABILIZERS, ProductInfo

__all__ = ["COURSE_FIELDS", "FIELDS", "PRODUCT_STATUSES", "fill"]

PRODUCT_STATUSES = ("recognised", "generic", "unrecognised", "ambiguous", "none")
_EVENTS = ("anaphylaxis", "thrombosis", "renal_injury", "hemolysis")


def _product_of(dose: float, days: float) -> float:
    """g/kg per course without binary noise (3 x 0.7 is 2.1, not 2.0999999999999996); not a display rounding."""
    return round(dose * days, 9)


Fact = tuple[dict[str, Any], str]

_PRODUCT = "ivig_order.product / ivig_courses[].product"
FIELDS: dict[str, FactField] = {
    "egfr_ml_min": number(
        "labs[egfr_ml_min_1_73m2]",
        "latest eGFR, mL/min/1.73 m², from the screen window (180 days before the reference date) on",
    ),
    "creatinine_mg_dl": number(
        "labs[creatinine_mg_dl]", "latest serum creatinine, mg/dL, from the screen window on"
    ),
    "renal_screen_recorded": flag(
        "labs[creatinine_mg_dl | egfr_ml_min_1_73m2]",
        "a creatinine or eGFR dated within 180 days before the reference date",
    ),
    "iga_mg_dl": number("labs[iga_mg_dl]", "latest serum IgA, mg/dL"),
    "product": text(
        _PRODUCT, "the product of the order, else of the latest course (its table name when recognised)"
    ),
    "product_status": text(_PRODUCT, "how the product name was recognised", *PRODUCT_STATUSES),
    "product_recognised": flag(_PRODUCT, "the product is in the product table"),
    "product_from": text(_PRODUCT, "where the product came from", "ivig_order", "last course"),
    "product_stabilizer": text(_PRODUCT, "the product's (first) stabiliser", *STABILIZERS),
    "product_proline": flag(_PRODUCT, "the product is L-proline-stabilised (unknown when not recognised)"),
    "product_maltose": flag(_PRODUCT, "the product contains maltose (unknown when not recognised)"),
    "product_sucrose": flag(_PRODUCT, "the product contains sucrose (unknown when not recognised)"),
    "product_concentration_pct": number(_PRODUCT, "the product's concentration, % (unknown when not recognised)"),
    "order_present": flag("ivig_order", "an IVIG course is ordered or considered (ivig_order)"),
    "order_dose_g_per_kg_per_day": number("ivig_order.dose_g_per_kg_per_day", "ordered g/kg/day"),
    "order_days": number("ivig_order.days", "ordered consecutive infusion days"),
    "order_course_g_per_kg": number("ivig_order.dose_g_per_kg_per_day, days", "ordered g/kg per course"),
    "order_start": text("ivig_order.start", "planned first infusion day"),
    "order_interval_days": number(
        "ivig_order.start, ivig_courses", "days from the last course's start to the order's (or as_of)"
    ),
    "order_max_rate_mg_kg_min": number(
        "ivig_order.max_rate_mg_kg_min", "planned highest infusion rate, mg/kg/min"
    ),
    "planned_g_per_kg_per_day": number(
        "ivig_order.dose_g_per_kg_per_day", "daily dose of the order, else the plan"
    ),
    "planned_days": number("ivig_order.days", "infusion days of the order, else the plan"),
    "dose_from": text("ivig_order", "where the dose checks take the dose from", "ivig_order", "plan"),
    "course_plan_g_per_kg": number("ivig_order", "g/kg per course: the order's, else the plan's"),
    "volume_concentration_pct": number(_PRODUCT, "concentration the volume estimate uses, %"),
    "volume_basis": text(_PRODUCT, "how the volume's concentration was chosen (known, or assumed)"),
    "daily_volume_ml": number(
        "demographics.weight_kg, ivig_order", "infusion volume per day on actual weight, mL"
    ),
    "daily_volume_adjusted_ml": number(
        "demographics, ivig_order", "infusion volume per day on adjusted weight, mL"
    ),
}

COURSE_FIELDS: dict[str, FactField] = {
    "number": number("ivig_courses[]", "course number, 1-based, over every course"),
    "start": text("ivig_courses[].start", "first infusion day"),
    "days": number("ivig_courses[].days", "consecutive infusion days"),
    "dose_g_per_kg_per_day": number("ivig_courses[].dose_g_per_kg_per_day", "g/kg/day"),
    "course_g_per_kg": number("ivig_courses[]", "total g/kg in the course"),
    "product": text("ivig_courses[].product", "product name as written"),
    "product_stabilizer": text(
        "ivig_courses[].product", "stabiliser (first), unknown when not recognised", *STABILIZERS
    ),
    "max_rate_mg_kg_min": number("ivig_courses[].max_rate_mg_kg_min", "highest infusion rate reached, mg/kg/min"),
    **{
        f"ae_{kind}": flag(f"ivig_courses[].adverse_events[{kind}]", f"a {kind.replace('_', ' ')} adverse event")
        for kind in _EVENTS
    },
}


def _labs(s: Snapshot, p: dict[str, Any], src: dict[str, str]) -> None:
    window = s.ref_date - timedelta(days=int(s.t["renal_lab_max_age_days"]))
    latest: dict[str, tuple[float, str]] = {}
    recent: dict[str, tuple[float, str]] = {}
    screened: str | None = None
    for i, lab in s.labs:  # sorted by date
        test, where = str(lab.test), ref(lab, f"labs[{i}]")
        latest[test] = (float(lab.value), where)
        if lab.date >= window:
            recent[test] = (float(lab.value), where)
            if test in ("creatinine_mg_dl", "egfr_ml_min_1_73m2") and lab.date <= s.ref_date:
                screened = where
    # a renal lab older than the screen window is no evidence either way: it is left out (a data gap)
    for field, table, test in (
        ("egfr_ml_min", recent, "egfr_ml_min_1_73m2"),
        ("creatinine_mg_dl", recent, "creatinine_mg_dl"),
        ("iga_mg_dl", latest, "iga_mg_dl"),
    ):
        value, where = table.get(test, (None, ""))
        p[field] = value
        if where:
            src[field] = where
    p["renal_screen_recorded"] = screened is not None
    if screened is not None:
        src["renal_screen_recorded"] = screened


def _product(p: dict[str, Any], info: ProductInfo, origin: str | None) -> None:
    p["product"] = info.name or info.text
    p["product_status"] = info.status or "none"
    p["product_recognised"] = info.product is not None
    p["product_from"] = origin if info.text is not None else None
    p["product_stabilizer"] = info.product.stabilizers[0] if info.product is not None else None
    for stabilizer in ("proline", "maltose", "sucrose"):
        p[f"product_{stabilizer}"] = info.contains(stabilizer)
    p["product_concentration_pct"] = info.concentration_pct


def _order_and_volume(s: Snapshot, p: dict[str, Any], info: ProductInfo) -> None:
    t, order = s.t, s.patient.ivig_order
    plan_dose, plan_days = float(t["dose_g_per_kg_per_day"]), int(t["days_per_course"])
    p["order_present"] = order is not None
    dose = order.dose_g_per_kg_per_day if order is not None else None
    days = order.days if order is not None else None
    p["order_dose_g_per_kg_per_day"], p["order_days"] = dose, days
    p["order_course_g_per_kg"] = _product_of(dose, days) if dose is not None and days is not None else None
    p["order_start"] = order.start.isoformat() if order is not None and order.start is not None else None
    p["order_max_rate_mg_kg_min"] = order.max_rate_mg_kg_min if order is not None else None
    p["order_interval_days"] = None
    if order is not None and s.courses:
        last = max(c.start for _, c in s.courses)
        p["order_interval_days"] = ((order.start or s.as_of) - last).days
    planned_dose = dose if dose is not None else plan_dose
    planned_days = days if days is not None else plan_days
    p["planned_g_per_kg_per_day"], p["planned_days"] = planned_dose, planned_days
    p["dose_from"] = "ivig_order" if dose is not None or days is not None else "plan"
    p["course_plan_g_per_kg"] = _product_of(planned_dose, planned_days)
    known = info.concentration_pct
    conc = known if known is not None else float(t["assumed_concentration_pct"])
    p["volume_concentration_pct"] = conc
    if known is not None:
        p["volume_basis"] = f"{conc:g}% ({info.name})"
    else:
        p["volume_basis"] = f"{conc:g}% assumed: the product's concentration is not known"
    ml_per_kg = planned_dose / (conc / 100)
    weight, adjusted = p.get("weight_kg"), p.get("adjusted_weight_kg")
    p["daily_volume_ml"] = weight * ml_per_kg if weight is not None else None
    p["daily_volume_adjusted_ml"] = adjusted * ml_per_kg if adjusted is not None else None


def _course_fact(s: Snapshot, number_: int, c: IvigCourse, creatinine: CreatinineSeries) -> dict[str, Any]:
    info = s.products.lookup(c.product)
    seen = {str(e.type) for e in c.adverse_events}
    fact: dict[str, Any] = {
        "t": "course",
        "number": number_,
        "start": c.start.isoformat(),
        "days": c.days,
        "dose_g_per_kg_per_day": c.dose_g_per_kg_per_day,
        "course_g_per_kg": _product_of(c.dose_g_per_kg_per_day, c.days),
        "product": c.product,
        "product_stabilizer": info.product.stabilizers[0] if info.product is not None else None,
        "max_rate_mg_kg_min": c.max_rate_mg_kg_min,
    }
    for kind in _EVENTS:
        fact[f"ae_{kind}"] = str(AdverseEventType(kind)) in seen
    fact.update(course_creatinine(s, c, creatinine))
    return fact


_ORDER_FIELDS = ("order_present", "order_dose_g_per_kg_per_day", "order_days", "order_course_g_per_kg",
                 "order_start", "order_interval_days", "order_max_rate_mg_kg_min", "planned_g_per_kg_per_day",
                 "planned_days", "dose_from", "course_plan_g_per_kg")  # fmt: skip
_PRODUCT_FIELDS = ("product", "product_status", "product_recognised", "product_from", "product_stabilizer",
                   "product_proline", "product_maltose", "product_sucrose", "product_concentration_pct",
                   "volume_concentration_pct", "volume_basis")  # fmt: skip


def fill(s: Snapshot, p: dict[str, Any], src: dict[str, str]) -> list[Fact]:
    """Fill the screen, product, order and volume fields (after demographics); return the course facts."""
    _labs(s, p, src)
    order = s.patient.ivig_order
    if order is not None:
        info, origin, where = s.products.lookup(order.product), "ivig_order", ref(order, "ivig_order")
        src.update(dict.fromkeys(_ORDER_FIELDS, where))
    elif s.courses:
        i, last = s.courses[-1]
        info, origin, where = s.products.lookup(last.product), "last course", ref(last, f"ivig_courses[{i}]")
    else:
        info, origin, where = s.products.lookup(None), None, ""
    if where:
        src.update(dict.fromkeys(_PRODUCT_FIELDS, where))
    _product(p, info, origin)
    _order_and_volume(s, p, info)
    creatinine = CreatinineSeries(s)  # once per patient: a long lab history costs linear time
    return [
        (_course_fact(s, n, c, creatinine), ref(c, f"ivig_courses[{i}]"))
        for n, (i, c) in enumerate(s.courses, start=1)
    ]
