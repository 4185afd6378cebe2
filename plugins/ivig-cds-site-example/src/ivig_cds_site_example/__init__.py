"""Example site plugin: declarative site rules, a fact deriver and threshold overrides.

What it adds (all rule ids are namespaced ``site_example:``):

* ``site_example:IGA-001`` — no serum IgA in the 12 months before the first course (or before
  ``as_of`` when IVIG has not started): a data-gap finding, because IgA deficiency changes the
  product choice (see core SAFETY-002/002B);
* ``site_example:PRODUCT-001`` — renal risk present (core SAFETY-008 fired): the site prefers a
  sucrose-free product;
* threshold overrides: the site calls glucocorticoid "low dose" at 5 mg/day (core default 7.5).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

from ivig_cds import FactDeriver, FactField, hookimpl

__version__ = "0.1.0"

RULES = Path(__file__).with_name("rules.yaml")


def iga_facts(patient: Any, as_of: date, thresholds: Mapping[str, Any]) -> dict[str, Any]:
    """Days between the latest IgA result and the first course (or ``as_of`` before any course)."""
    starts = sorted(c.start for c in patient.ivig_courses if c.start <= as_of)
    anchor = starts[0] if starts else as_of
    tests = sorted(lab.date for lab in patient.labs if str(lab.test) == "iga_mg_dl" and lab.date <= anchor)
    return {"site_iga_days_before_anchor": (anchor - tests[-1]).days if tests else None}


@hookimpl
def register_rules(register: Callable[[Path | Mapping[str, Any]], None]) -> None:
    register(RULES)


@hookimpl
def register_fact_derivers(register: Callable[[FactDeriver], None]) -> None:
    register(
        FactDeriver(
            name="iga_recency",
            fact_type="patient",
            fields={
                "site_iga_days_before_anchor": FactField(
                    "number", "labs[iga_mg_dl]", "days from the latest IgA to course 1 (or as_of)"
                )
            },
            derive=iga_facts,
        )
    )


@hookimpl
def provide_thresholds() -> dict[str, Any]:
    return {"low_dose_gc_mg": 5}
