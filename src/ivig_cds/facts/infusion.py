"""The next infusion: its rate against the product's labelled maximum, and what sets the observation period.

The rate checked is the order's planned maximum (``ivig_order.max_rate_mg_kg_min``) when recorded, else the
highest rate reached on the latest course; the product is that order's or that course's. The product's
maximum comes from the product table at the product's known concentration (unknown: no maximum to check).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from ivig_cds.facts.fields import FactField, flag, number, text
from ivig_cds.facts.records import Snapshot, ref
from ivig_cds.model.terminology import ProductInfo

__all__ = ["FIELDS", "fill"]

_RATE = "ivig_order.max_rate_mg_kg_min / ivig_courses[].max_rate_mg_kg_min"
_WORD = re.compile(r"[a-z0-9]+")

FIELDS: dict[str, FactField] = {
    "rate_mg_kg_min": number(_RATE, "planned maximum rate of the order, else the latest course's, mg/kg/min"),
    "rate_from": text(_RATE, "where the rate came from", "ivig_order", "last course"),
    "rate_product": text(_RATE, "the product given at that rate (its table name when recognised)"),
    "rate_product_max_mg_kg_min": number(
        "rules/terminology.yaml products[].max_rate_mg_kg_min", "that product's labelled maximum rate, mg/kg/min"
    ),
    "rate_x_product_max": number(_RATE, "rate ÷ the product's labelled maximum"),
    "ivig_naive": flag("ivig_courses", "no IVIG course recorded up to as_of"),
    "product_switch": flag(
        "ivig_order.product, ivig_courses[].product", "the ordered product differs from the latest course's"
    ),
    "observation_context": text(
        "ivig_courses, ivig_order", "what the observation period depends on, in words (naive; products; gap)"
    ),
    "days_since_last_infusion": number(
        "ivig_courses, ivig_order.start",
        "days from the latest course's last infusion day to the order's start (or as_of)",
    ),
}


def _same(a: ProductInfo, b: ProductInfo) -> bool | None:
    """Whether two product names are the same product: by table name, else by their words; unknown without both."""
    if a.product is not None and b.product is not None:
        return a.product.name == b.product.name
    if a.text is None or b.text is None:
        return None
    return _WORD.findall(a.text.lower()) == _WORD.findall(b.text.lower())


def _rate_source(s: Snapshot) -> tuple[float, str, ProductInfo, str] | None:
    """(rate, where from, product, record) of the rate to check, or ``None`` when no rate is recorded."""
    order = s.patient.ivig_order
    if order is not None and order.max_rate_mg_kg_min is not None:
        return order.max_rate_mg_kg_min, "ivig_order", s.products.lookup(order.product), ref(order, "ivig_order")
    if s.courses and s.courses[-1][1].max_rate_mg_kg_min is not None:
        i, course = s.courses[-1]  # sorted by start
        rate = course.max_rate_mg_kg_min
        assert rate is not None
        return rate, "last course", s.products.lookup(course.product), ref(course, f"ivig_courses[{i}]")
    return None


def fill(s: Snapshot, p: dict[str, Any], src: dict[str, str]) -> None:
    """Fill the rate, naive, product-switch and gap fields of the patient fact."""
    p.update(dict.fromkeys(FIELDS))
    p["ivig_naive"] = not s.courses
    p["observation_context"] = "IVIG-naive" if not s.courses else None
    found = _rate_source(s)
    if found is not None:
        rate, origin, info, where = found
        cap = info.max_rate_mg_kg_min
        p.update(rate_mg_kg_min=rate, rate_from=origin, rate_product=info.name or info.text)
        p["rate_product_max_mg_kg_min"] = cap
        # round(…, 9) removes binary noise, not a display rounding (4.4 / 4 is 1.1000000000000001)
        p["rate_x_product_max"] = round(rate / cap, 9) if cap else None
        src.update(dict.fromkeys(("rate_mg_kg_min", "rate_from", "rate_product", "rate_x_product_max"), where))
    if not s.courses:
        return
    i, course = s.courses[-1]
    order = s.patient.ivig_order
    end = course.start + timedelta(days=course.days - 1)
    until = order.start if order is not None and order.start is not None else s.as_of
    p["days_since_last_infusion"] = (until - end).days
    src["days_since_last_infusion"] = ref(course, f"ivig_courses[{i}]")
    context = f"{p['days_since_last_infusion']} days since the last infusion"
    if order is not None:
        ordered, given = s.products.lookup(order.product), s.products.lookup(course.product)
        same = _same(ordered, given)
        p["product_switch"] = None if same is None else not same
        src["product_switch"] = ref(order, "ivig_order")
        names = [i.name or i.text or "not recorded" for i in (given, ordered)]
        context = ("same product" if same else f"product {names[0]} -> {names[1]}") + f", {context}"
    p["observation_context"] = context
