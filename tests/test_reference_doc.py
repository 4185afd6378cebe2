"""``docs/reference.md`` is generated from the fact catalog, the glossary and the product table: no drift."""

from __future__ import annotations

from pathlib import Path

from ivig_cds.facts.catalog import CATALOG
from ivig_cds.glossary import glossary, reference_markdown
from ivig_cds.model.terminology import load_product_table

DOC = Path(__file__).resolve().parents[1] / "docs" / "reference.md"


def test_the_reference_is_up_to_date() -> None:
    assert DOC.read_text(encoding="utf-8") == reference_markdown(), "run: python scripts/gen_reference.py"


def test_it_lists_every_fact_field_and_every_product() -> None:
    text = reference_markdown()
    for fact_type, fields in CATALOG.items():
        assert f"### `{fact_type}`" in text
        for name in fields:
            assert f"| `{name}` |" in text
    for product in load_product_table().products:
        assert f"| {product.name} |" in text


def test_the_glossary_names_only_fields_and_thresholds_that_exist() -> None:
    g = glossary()
    known = {f"{t}.{f}" for t, fields in CATALOG.items() for f in fields}
    assert set(g["facts"]) <= known, sorted(set(g["facts"]) - known)
    from ivig_cds.glossary import threshold_table

    assert set(g["thresholds"]) <= set(threshold_table()), sorted(set(g["thresholds"]) - set(threshold_table()))
