"""Tests for ivig_cds.scoring: the ACR/EULAR 2016 Total Improvement Score (RESP-003)."""

from __future__ import annotations

import copy
import dataclasses
import itertools
import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from ivig_cds.errors import RuleFileError
from ivig_cds.facts.scoring import (
    MEASURE_NAMES,
    MeasureScore,
    TisResult,
    TisTable,
    load_tis_table,
    total_improvement_score,
)

TABLE_PATH = Path(__file__).resolve().parents[1] / "rules" / "tis.yaml"


@dataclasses.dataclass(frozen=True)
class Visit:
    """A stand-in for a patient-file assessment: every core set measure, all optional."""

    mmt8: float | None = None
    mmt8_max: float | None = None
    ck_u_per_l: float | None = None
    ck_uln_u_per_l: float | None = None
    physician_global_cm: float | None = None
    patient_global_cm: float | None = None
    haq: float | None = None
    extramuscular_global_cm: float | None = None


@pytest.fixture(scope="module")
def table() -> TisTable:
    return load_tis_table(TABLE_PATH)


@pytest.fixture
def raw_table() -> dict[str, Any]:
    data = yaml.safe_load(TABLE_PATH.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def by_name(result: TisResult, name: str) -> MeasureScore:
    return next(m for m in result.measures if m.measure == name)


# --- the shipped table -------------------------------------------------------------------

SPEC = {
    # name: (field, higher_is_better, edges, points)
    "physician_global": ("physician_global_cm", False, (5, 15, 25, 40), (0, 7.5, 15, 17.5, 20)),
    "patient_global": ("patient_global_cm", False, (5, 15, 25, 40), (0, 2.5, 5, 7.5, 10)),
    "mmt": ("mmt8", True, (2, 10, 20, 30), (0, 10, 20, 27.5, 32.5)),
    "haq": ("haq", False, (5, 15, 25, 40), (0, 5, 7.5, 7.5, 10)),
    "enzyme": ("ck_u_per_l", False, (5, 15, 25, 40), (0, 2.5, 5, 7.5, 7.5)),
    "extramuscular": ("extramuscular_global_cm", False, (5, 15, 25, 40), (0, 7.5, 12.5, 15, 20)),
}


def test_shipped_table_matches_the_clinical_spec(table: TisTable) -> None:
    assert tuple(spec.name for spec in table.measures) == MEASURE_NAMES
    for name, (field, higher, edges, points) in SPEC.items():
        spec = table.measure(name)
        assert spec.field == field
        assert spec.higher_is_better is higher
        assert spec.band_upper_edges_pct == edges
        assert spec.points == points
    assert table.measure("mmt").scale_field == "mmt8_max"
    assert table.measure("enzyme").uln_field == "ck_uln_u_per_l"
    assert [s.name for s in table.measures if s.scale_field or s.uln_field] == ["mmt", "enzyme"]


def test_shipped_table_cites_its_source_and_flags_the_enzyme_formula(table: TisTable) -> None:
    assert table.version
    assert "2016 ACR/EULAR myositis response criteria" in table.source
    assert "Ann Rheum Dis 2017;76:792" in table.source
    assert "PMC5577002 table 3" in table.source
    assert any("UNVERIFIED" in note and "enzyme" in note for note in table.notes)
    assert [s.change for s in table.measures] == ["absolute"] * 4 + ["relative", "absolute"]
    assert {s.name: s.range for s in table.measures if s.range} == {
        "physician_global": 10,
        "patient_global": 10,
        "haq": 3,
        "extramuscular": 10,
    }


def test_unknown_measure_lookup_raises_key_error(table: TisTable) -> None:
    with pytest.raises(KeyError):
        table.measure("aldolase")


# --- band boundaries ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "points"),
    [
        # baseline 50 of 150: the change is absolute, in % of the scale's range (150)
        (45, 0),  # worsening
        (50, 0),  # no change
        (53, 0),  # exactly 2 %
        (53.01, 10),  # 2.007 %
        (65, 10),  # exactly 10 %
        (65.01, 20),
        (80, 20),  # exactly 20 %
        (80.01, 27.5),
        (95, 27.5),  # exactly 30 %
        (95.01, 32.5),
        (140, 32.5),
    ],
)
def test_mmt_band_edges(table: TisTable, current: float, points: float) -> None:
    result = total_improvement_score(Visit(mmt8=50, mmt8_max=150), Visit(mmt8=current, mmt8_max=150), table)
    mmt = by_name(result, "mmt")
    assert mmt.points == points
    assert mmt.note is None
    assert mmt.change_pct == pytest.approx((current - 50) / 150 * 100)
    assert result.score == points


def test_the_contracts_worked_examples_use_absolute_change(table: TisTable) -> None:
    # evaluation contract 1.1: MMT-8 64 -> 68 of 80 is +5 % (not +6.25 %) ...
    mmt = by_name(total_improvement_score(Visit(mmt8=64), Visit(mmt8=68), table), "mmt")
    assert mmt.change_pct == pytest.approx(5.0)
    assert mmt.points == 10
    # ... and physician global 2.0 -> 1.6 cm is +4 % (not +20 %): 0 points, not 15
    result = total_improvement_score(Visit(physician_global_cm=2.0), Visit(physician_global_cm=1.6), table)
    physician = by_name(result, "physician_global")
    assert physician.change_pct == pytest.approx(4.0)
    assert physician.points == 0


def test_a_low_baseline_is_not_a_false_responder(table: TisTable) -> None:
    # HAQ 0.2 -> 0.1: relative -50 % would score the top band; absolute is 0.1 / 3 = 3.3 %: 0 points
    result = total_improvement_score(Visit(haq=0.2), Visit(haq=0.1), table)
    assert by_name(result, "haq").points == 0


@pytest.mark.parametrize(
    ("current", "points"),
    [
        (11, 0),  # worsening
        (10, 0),  # no change
        (9.5, 0),  # exactly 5 %
        (9.499, 7.5),  # 5.01 %
        (8.5, 7.5),  # exactly 15 %
        (8.499, 15),
        (7.5, 15),  # exactly 25 %
        (7.499, 17.5),
        (6, 17.5),  # exactly 40 %
        (5.999, 20),
        (0, 20),
    ],
)
def test_lower_is_better_band_edges(table: TisTable, current: float, points: float) -> None:
    result = total_improvement_score(Visit(physician_global_cm=10), Visit(physician_global_cm=current), table)
    physician = by_name(result, "physician_global")
    assert physician.points == points
    assert physician.change_pct == pytest.approx((10 - current) * 10)
    assert result.score == points


@pytest.mark.parametrize(
    ("baseline", "current", "points"),
    [
        # Float arithmetic gives 5.000000000000004 % and 14.999999999999998 % of the 0-3 range; the
        # changes are exactly on an edge (0.15 and 0.45 of 3) and must stay in the lower band.
        (1.3, 1.15, 0),
        (2.2, 2.05, 0),
        (2.0, 1.55, 5),
    ],
)
def test_values_exactly_on_an_edge_are_not_pushed_over_by_float_noise(
    table: TisTable, baseline: float, current: float, points: float
) -> None:
    result = total_improvement_score(Visit(haq=baseline), Visit(haq=current), table)
    assert by_name(result, "haq").points == points


def test_points_for_uses_the_same_bands(table: TisTable) -> None:
    mmt = table.measure("mmt")
    assert [mmt.points_for(x) for x in (-50, 2, 2.01, 10, 30, 30.01)] == [0, 0, 10, 10, 27.5, 32.5]


# --- whole scores ------------------------------------------------------------------------


def test_perfect_improvement_scores_100(table: TisTable) -> None:
    baseline = Visit(
        mmt8=40,
        mmt8_max=80,
        ck_u_per_l=4000,
        ck_uln_u_per_l=200,
        physician_global_cm=8,
        patient_global_cm=8,
        haq=2,
        extramuscular_global_cm=5,
    )
    current = Visit(
        mmt8=78,
        mmt8_max=80,
        ck_u_per_l=150,
        ck_uln_u_per_l=200,
        physician_global_cm=1,
        patient_global_cm=1,
        haq=0.25,
        extramuscular_global_cm=0,
    )
    result = total_improvement_score(baseline, current, table)
    assert result.score == 100.0
    assert result.scored == 6
    assert [m.points for m in result.measures] == [20, 10, 32.5, 10, 7.5, 20]
    assert all(m.note is None for m in result.measures)


def test_all_missing_scores_0(table: TisTable) -> None:
    result = total_improvement_score(Visit(), Visit(), table)
    assert result.score == 0.0
    assert result.scored == 0
    assert [m.measure for m in result.measures] == list(MEASURE_NAMES)
    assert all(m.points == 0 and m.note == "missing" for m in result.measures)


def test_a_measure_missing_on_one_side_scores_0(table: TisTable) -> None:
    result = total_improvement_score(Visit(haq=2, mmt8=40), Visit(haq=0, mmt8=None), table)
    assert by_name(result, "haq").points == 10
    mmt = by_name(result, "mmt")
    assert (mmt.points, mmt.note, mmt.baseline, mmt.current) == (0, "missing", 40.0, None)
    assert result.score == 10.0
    assert result.scored == 1


def test_exactly_20(table: TisTable) -> None:
    # MMT +10 % (10) + physician -10 % (7.5) + patient -10 % (2.5) = 20: minimal improvement.
    result = total_improvement_score(
        Visit(mmt8=50, physician_global_cm=10, patient_global_cm=10),
        Visit(mmt8=55, physician_global_cm=9, patient_global_cm=9),
        table,
    )
    assert result.score == 20.0
    assert result.scored == 3


def test_just_below_20_with_the_shipped_table_is_17_5(table: TisTable) -> None:
    # MMT +10 % (10) + physician -10 % (7.5) = 17.5: the highest score below 20 (see next test).
    result = total_improvement_score(
        Visit(mmt8=50, physician_global_cm=10), Visit(mmt8=55, physician_global_cm=9), table
    )
    assert result.score == 17.5


def test_shipped_table_cannot_produce_19_5(table: TisTable) -> None:
    # Every shipped weight is a multiple of 2.5, so 19.5 is unreachable; 17.5 is the next below 20.
    sums = {sum(combo) for combo in itertools.product(*(spec.points for spec in table.measures))}
    assert 19.5 not in sums
    assert max(s for s in sums if s < 20) == 17.5
    assert max(sums) == 100


def test_exactly_19_5_with_a_site_table(raw_table: dict[str, Any]) -> None:
    raw_table["measures"]["physician_global"]["points"] = [0, 9.5, 15, 17.5, 20]
    site = TisTable.from_mapping(raw_table, source="site.yaml")
    # MMT +10 % (10) + physician -10 % (9.5) = 19.5: not a minimal improvement.
    result = total_improvement_score(
        Visit(mmt8=50, physician_global_cm=10), Visit(mmt8=55, physician_global_cm=9), site
    )
    assert result.score == 19.5


def test_score_is_deterministic_and_frozen(table: TisTable) -> None:
    baseline, current = Visit(mmt8=50, haq=1.3), Visit(mmt8=57, haq=1.1)
    first = total_improvement_score(baseline, current, table)
    assert total_improvement_score(baseline, current, table) == first
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.score = 99  # type: ignore[misc]


# --- MMT scale, enzyme ULN, baseline 0, invalid values -----------------------------------


def test_mmt_on_different_scales_is_not_compared(table: TisTable) -> None:
    result = total_improvement_score(
        Visit(mmt8=60, mmt8_max=80, haq=2), Visit(mmt8=120, mmt8_max=150, haq=1), table
    )
    mmt = by_name(result, "mmt")
    assert (mmt.points, mmt.note, mmt.change_pct) == (0, "scale mismatch", None)
    assert result.score == 7.5  # HAQ 2 -> 1: 1/3 of its range = 33.3 %
    assert result.scored == 1


def test_mmt_scale_not_recorded_means_80(table: TisTable) -> None:
    same = total_improvement_score(Visit(mmt8=60), Visit(mmt8=70, mmt8_max=80), table)
    assert by_name(same, "mmt").points == 20
    mismatch = total_improvement_score(Visit(mmt8=60), Visit(mmt8=70, mmt8_max=150), table)
    assert by_name(mismatch, "mmt").note == "scale mismatch"


def test_ck_is_compared_as_a_multiple_of_each_labs_uln(table: TisTable) -> None:
    # 1000/200 = 5 x ULN -> 750/250 = 3 x ULN is a 40 % fall (7.5); raw CK fell only 25 % (5).
    result = total_improvement_score(
        Visit(ck_u_per_l=1000, ck_uln_u_per_l=200), Visit(ck_u_per_l=750, ck_uln_u_per_l=250), table
    )
    enzyme = by_name(result, "enzyme")
    assert (enzyme.baseline, enzyme.current, enzyme.change_pct) == (5.0, 3.0, 40.0)
    assert enzyme.points == 7.5


def test_ck_uln_not_recorded_means_200(table: TisTable) -> None:
    result = total_improvement_score(Visit(ck_u_per_l=1000), Visit(ck_u_per_l=750, ck_uln_u_per_l=250), table)
    assert by_name(result, "enzyme").change_pct == 40.0


def test_a_non_positive_uln_is_an_invalid_value(table: TisTable) -> None:
    result = total_improvement_score(
        Visit(ck_u_per_l=1000, ck_uln_u_per_l=0), Visit(ck_u_per_l=500, ck_uln_u_per_l=200), table
    )
    enzyme = by_name(result, "enzyme")
    assert (enzyme.points, enzyme.note) == (0, "invalid value")
    assert result.scored == 0


def test_a_non_finite_value_is_an_invalid_value(table: TisTable) -> None:
    result = total_improvement_score(Visit(haq=math.nan), Visit(haq=1), table)
    assert by_name(result, "haq").note == "invalid value"
    assert result.score == 0.0


def test_baseline_0_is_ordinary_for_absolute_measures(table: TisTable) -> None:
    result = total_improvement_score(Visit(haq=0, mmt8=0), Visit(haq=0, mmt8=8), table)
    haq, mmt = by_name(result, "haq"), by_name(result, "mmt")
    assert (haq.change_pct, haq.points, haq.note) == (0.0, 0, None)
    assert (mmt.change_pct, mmt.points, mmt.note) == (10.0, 10, None)  # 8 of 80
    rise = by_name(
        total_improvement_score(Visit(extramuscular_global_cm=0), Visit(extramuscular_global_cm=2), table),
        "extramuscular",
    )
    assert (rise.change_pct, rise.points, rise.note) == (-20.0, 0, None)


def test_enzyme_from_baseline_0(table: TisTable) -> None:
    # the enzyme's change is relative to baseline: from 0 it is unbounded
    same = by_name(total_improvement_score(Visit(ck_u_per_l=0), Visit(ck_u_per_l=0), table), "enzyme")
    assert (same.change_pct, same.points, same.note) == (0.0, 0, "baseline 0")
    rise = by_name(total_improvement_score(Visit(ck_u_per_l=0), Visit(ck_u_per_l=300), table), "enzyme")
    assert (rise.change_pct, rise.points, rise.note) == (None, 0, "baseline 0")


# --- invalid tables ----------------------------------------------------------------------


def _set(path: tuple[str, ...], value: Any) -> Any:
    def mutate(data: dict[str, Any]) -> None:
        *parents, last = path
        target = data
        for key in parents:
            target = target[key]
        target[last] = value

    return mutate


def _delete(path: tuple[str, ...]) -> Any:
    def mutate(data: dict[str, Any]) -> None:
        *parents, last = path
        target = data
        for key in parents:
            target = target[key]
        del target[last]

    return mutate


MMT = ("measures", "mmt")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (_set(("measures", "aldolase"), {}), "measures: unknown key(s) aldolase"),
        (_delete(("measures", "haq")), "measures: missing key(s) haq"),
        (_delete(("version",)), "table: missing key(s) version"),
        (_set(("colour",), "red"), "table: unknown key(s) colour"),
        (_set((*MMT, "weight"), 2), "measures.mmt: unknown key(s) weight"),
        (_delete((*MMT, "points")), "measures.mmt: missing key(s) points"),
        (_set((*MMT, "band_upper_edges_pct"), [2, 20, 10, 30]), "must be strictly ascending"),
        (_set((*MMT, "band_upper_edges_pct"), [2, 2, 20, 30]), "must be strictly ascending"),
        (_set((*MMT, "band_upper_edges_pct"), []), "needs at least one edge"),
        (_set((*MMT, "points"), [0, 10, 20, 32.5]), "measures.mmt.points: expected 5 numbers"),
        (_set((*MMT, "points"), [0, True, 20, 27.5, 32.5]), "measures.mmt.points[1]: expected a number"),
        (
            _set((*MMT, "band_upper_edges_pct"), [2, "10", 20, 30]),
            "band_upper_edges_pct[1]: expected a number",
        ),
        (_set((*MMT, "band_upper_edges_pct"), [2, 10, 20, float("inf")]), "expected a finite number"),
        (_set((*MMT, "points"), "0, 10"), "measures.mmt.points: expected a list of numbers"),
        (_set((*MMT, "points"), [0, 20, 10, 27.5, 32.5]), "must not fall as improvement grows"),
        (_set((*MMT, "points"), [-1, 10, 20, 27.5, 32.5]), "must not be negative"),
        (_set((*MMT, "points"), [0, 10, 20, 27.5, 33]), "highest points add up to 100.5, expected 100"),
        (_set((*MMT, "direction"), "up"), "measures.mmt.direction: expected one of"),
        (_set((*MMT, "field"), "mmt24"), "measures.mmt.field: expected one of"),
        (_set((*MMT, "scale_field"), "mmt8"), "measures.mmt.scale_field: expected one of mmt8_max"),
        (
            _set(("measures", "enzyme", "uln_field"), "ck_u_per_l"),
            "uln_field: expected one of ck_uln_u_per_l",
        ),
        (_set(("measures", "haq", "field"), "mmt8"), "field 'mmt8' is used by more than one measure"),
        (_set(("measures", "haq"), [1, 2]), "measures.haq: expected a mapping, got list"),
        (_set(("version",), True), "version: expected a non-empty string"),
        (_set(("source",), ""), "source: expected a non-empty string"),
        (_set(("notes",), "see paper"), "notes: expected a list of strings"),
        (_delete((*MMT, "change")), "measures.mmt: missing key(s) change"),
        (_set((*MMT, "change"), "percent"), "measures.mmt.change: expected one of absolute, relative"),
        (_set((*MMT, "range"), 80), "needs exactly one of range or scale_field"),
        (_delete(("measures", "haq", "range")), "needs exactly one of range or scale_field"),
        (_set(("measures", "haq", "range"), 0), "measures.haq.range: must be > 0"),
        (_set(("measures", "enzyme", "range"), 10), "a relative change takes no range"),
    ],
)
def test_invalid_tables_raise_rule_file_error(raw_table: dict[str, Any], mutate: Any, message: str) -> None:
    data = copy.deepcopy(raw_table)
    mutate(data)
    with pytest.raises(RuleFileError) as caught:
        TisTable.from_mapping(data, source="site/tis.yaml")
    assert message in str(caught.value)
    assert caught.value.path == "site/tis.yaml"
    assert caught.value.rule_id == "RESP-003"


def test_from_mapping_rejects_a_non_mapping() -> None:
    with pytest.raises(RuleFileError, match="table: expected a mapping, got list"):
        TisTable.from_mapping([], source="x.yaml")  # type: ignore[arg-type]


def test_an_integer_version_is_accepted(raw_table: dict[str, Any]) -> None:
    raw_table["version"] = 3
    assert TisTable.from_mapping(raw_table, source="x.yaml").version == "3"


def test_load_tis_table_reports_unreadable_and_malformed_files(tmp_path: Path) -> None:
    missing = tmp_path / "absent.yaml"
    with pytest.raises(RuleFileError, match="cannot read the file") as caught:
        load_tis_table(missing)
    assert caught.value.path == str(missing)

    broken = tmp_path / "broken.yaml"
    broken.write_text("measures: [unclosed\n", encoding="utf-8")
    with pytest.raises(RuleFileError, match="not valid YAML"):
        load_tis_table(broken)

    listing = tmp_path / "list.yaml"
    listing.write_text("- 1\n- 2\n", encoding="utf-8")
    with pytest.raises(RuleFileError, match="expected a mapping at the top level"):
        load_tis_table(listing)
