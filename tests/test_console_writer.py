"""The console format's writer: --brief fits 80 and 100 columns, rules between records, citations once per run."""

from __future__ import annotations

import io
from typing import Any

import pytest
from rich.console import Console

from builders import TIS_17_5, day, eligible, relapse_candidate, with_response
from ivig_cds import Engine
from ivig_cds.console.brief import render_brief
from ivig_cds.console.writer import RichWriter
from ivig_cds.errors import FieldError
from ivig_cds.outputs.registry import error_record
from ivig_cds.plugins.spec import OutputRecord, WriterOptions


@pytest.fixture(scope="module")
def records() -> list[OutputRecord]:
    engine = Engine(backend="reference")
    docs: list[tuple[str, dict[str, Any]]] = [
        ("cohort/anna.json", eligible(patient_id="anna").build()),
        ("cohort/ben.json", relapse_candidate().id("ben").assessment(day(150), mmt8=50).as_of(day(160)).build()),
        ("cohort/cara.ndjson:3", with_response(eligible(patient_id="cara"), TIS_17_5, n_courses=6).build()),
    ]
    out = [OutputRecord(source, evaluation=engine.evaluate(doc)) for source, doc in docs]
    bad = error_record("cohort/dan.json", [FieldError("", "invalid JSON at line 1, column 2", "parse")])
    return [*out[:2], OutputRecord("cohort/dan.json", error=bad), out[2]]


def _brief(records: list[OutputRecord], width: int) -> list[str]:
    buf = io.StringIO()
    render_brief(records, Console(file=buf, width=width, color_system=None))
    return [line.rstrip() for line in buf.getvalue().splitlines()]


def test_brief_fits_80_columns(records: list[OutputRecord]) -> None:
    """Was: ids and sources wrapped into five lines each."""
    assert _brief(records, 80) == [
        "4 records in cohort/",
        "",
        " patient    eligibility   response        outcome         alerts",
        " ─────────────────────────────────────────────────────────────────",
        " anna       eligible      not started     not started     advisory",
        " ben        eligible      responder       RELAPSE         WARNING",
        " dan.json   invalid",
        " cara       eligible      non-responder   non-responder   WARNING",
        "",
    ]


def test_brief_at_100_columns_adds_the_source_and_the_data_gaps(records: list[OutputRecord]) -> None:
    assert _brief(records, 100) == [
        "4 records in cohort/",
        "",
        " source          patient   eligibility   response        outcome         alerts     gaps",
        " ───────────────────────────────────────────────────────────────────────────────────────",
        " anna.json       anna      eligible      not started     not started     advisory      1",
        " ben.json        ben       eligible      responder       RELAPSE         WARNING       1",
        " dan.json                  invalid",
        " cara.ndjson:3   cara      eligible      non-responder   non-responder   WARNING       2",
        "",
    ]


def test_a_run_draws_a_rule_per_record_and_cites_each_source_once_at_the_end(records: list[OutputRecord]) -> None:
    buf = io.StringIO()
    writer = RichWriter(buf, WriterOptions(width=100, color="never", records=len(records), summary=False))
    for r in records:
        writer.write(r)
    writer.close()
    lines = buf.getvalue().splitlines()
    rules = [line for line in lines if line.startswith("cohort/")]
    assert [r.split(" ")[0] for r in rules] == ["cohort/anna.json", "cohort/ben.json", "cohort/cara.ndjson:3"]
    assert sum(1 for line in lines if line.startswith("╭─ Evidence cited")) == 1
    assert sum(1 for line in lines if "Cherin P et al." in line) == 1
    assert lines.index(next(line for line in lines if line.startswith("╭─ Evidence cited"))) > lines.index(
        rules[-1]
    )


def test_the_cohort_summary_follows_a_batch_unless_asked_not_to(records: list[OutputRecord]) -> None:
    for summary, expected in ((None, True), (False, False)):
        buf = io.StringIO()
        writer = RichWriter(buf, WriterOptions(width=100, color="never", records=4, brief=True, summary=summary))
        for r in records:
            writer.write(r)
        writer.close()
        assert ("Cohort summary (seed form: Cherin et al. 2002)" in buf.getvalue()) is expected
