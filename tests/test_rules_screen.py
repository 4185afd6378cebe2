"""The minimum pre-IVIG screen (rules/screen.yaml): each SCREEN rule fires when its item is missing, else not."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from builders import AS_OF, C1, DualEngine, PatientBuilder, day, eligible, finding, findings


@pytest.fixture(scope="module")
def engine() -> DualEngine:
    return DualEngine()


def ordering(product: str) -> PatientBuilder:
    return eligible().set("ivig_order", {"product": product})


CASES: list[tuple[str, Callable[[], PatientBuilder], Callable[[], PatientBuilder], str]] = [
    # rule, fires, does not fire, the missing field it names
    (
        "SCREEN-001",
        lambda: eligible().risk(prior_ig_anaphylaxis=None),
        lambda: eligible().risk(prior_ig_anaphylaxis=False),
        "risk_factors.prior_ig_anaphylaxis",
    ),
    (
        "SCREEN-002",
        lambda: eligible().risk(iga_deficiency=None).no_labs().lab("2024-05-01", "creatinine_mg_dl", 0.8),
        lambda: eligible().risk(iga_deficiency=None),  # an IgA lab settles it
        "risk_factors.iga_deficiency",
    ),
    (
        "SCREEN-003",
        lambda: eligible().lab("2024-05-01", "iga_mg_dl", 5).risk(anti_iga_antibodies=None),
        lambda: eligible().lab("2024-05-01", "iga_mg_dl", 7).risk(anti_iga_antibodies=None),
        "risk_factors.anti_iga_antibodies",
    ),
    (
        "SCREEN-004",
        lambda: eligible().no_labs().lab(day(-181, AS_OF), "creatinine_mg_dl", 0.8).lab(AS_OF, "iga_mg_dl", 200),
        lambda: eligible().no_labs().lab(day(-180, AS_OF), "egfr_ml_min_1_73m2", 90).lab(AS_OF, "iga_mg_dl", 200),
        "labs[creatinine_mg_dl]",
    ),
    (
        "SCREEN-005",
        lambda: ordering("Privigen").risk(hyperprolinemia=None),
        lambda: ordering("Gamunex-C").risk(hyperprolinemia=None),
        "risk_factors.hyperprolinemia",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("rule", "fires", "silent", "missing"), CASES, ids=[c[0] for c in CASES])
def test_screen_rule(
    engine: DualEngine,
    rule: str,
    fires: Callable[[], PatientBuilder],
    silent: Callable[[], PatientBuilder],
    missing: str,
) -> None:
    ev = engine.evaluate(fires())
    f = finding(ev, rule)
    assert (f.severity, f.category) == ("warning", "eligibility")
    assert ev.status.eligibility == "screen_incomplete"
    assert ev.status.missing_screen == [missing]
    assert ev.status.eligibility_reasons == [rule]
    quiet = engine.evaluate(silent())
    assert not findings(quiet, rule)
    assert quiet.status.missing_screen == []


def test_screen005_for_an_unrecognised_product(engine: DualEngine) -> None:
    ev = engine.evaluate(ordering("BrandX").risk(hyperprolinemia=None))
    assert "unrecognised" in finding(ev, "SCREEN-005").summary


def test_the_screen_reference_date_is_course_1(engine: DualEngine) -> None:
    b = eligible().no_labs().lab(day(-30), "creatinine_mg_dl", 0.8).lab(day(-30), "iga_mg_dl", 200)
    b.courses(1, first=C1).as_of(day(365))  # the lab is 395 days before as_of, 30 before course 1
    assert not findings(engine.evaluate(b), "SCREEN-004")


def test_missing_screen_is_empty_unless_the_screen_decides(engine: DualEngine) -> None:
    ev = engine.evaluate(eligible().risk(prior_ig_anaphylaxis=None).born("2007-01-01"))  # under 18
    assert ev.status.eligibility == "not_eligible"
    assert ev.status.missing_screen == []
    assert findings(ev, "SCREEN-001")  # the finding still says what to record
