"""Immunoglobulins that are not IVIG: subcutaneous or intramuscular ones, and the specific (hyperimmune)
immunoglobulins - reported, never read as a course or an order."""

from __future__ import annotations

from .mapping import Code, FhirMapping, contains_words

__all__ = ["not_ivig", "scig_brand"]

_IV_WORDS = (("iv",), ("intravenous",), ("i", "v"), ("ivig",), ("igiv",), ("i", "v", "i", "g"))
"""Words of a name that say intravenous use ("IV/SC", "Immune Globulin Intravenous")."""
_ROUTE_WORDS = frozenset(
    {("subcutaneous",), ("subcut",), ("sc",), ("subq",), ("sub", "q"), ("intramuscular",), ("im",)}
)
"""The route words of ``ivig.subcutaneous_names`` (the rest are SCIG brands)."""


def _first(said: list[tuple[str, ...]], names: list[tuple[str, ...]]) -> str | None:
    return next((" ".join(n) for n in names if any(contains_words(w, n) for w in said)), None)


def scig_brand(said: list[tuple[str, ...]], mapping: FhirMapping) -> bool:
    """Whether a name (its words ``said``) holds an SCIG brand of the table."""
    return _first(said, [n for n in mapping.subcutaneous_names if n not in _ROUTE_WORDS]) is not None


def not_ivig(
    said: list[tuple[str, ...]],
    mapping: FhirMapping,
    ivig_code: Code | None,
    other: Code | None,
    *,
    iv_product: bool,
) -> tuple[str | None, bool]:
    """Why an immunoglobulin is not IVIG (``None``: it is), and whether free text alone (or a name against the
    IVIG code) decided it - then the file is incomplete.

    A specific immunoglobulin's name or an SCIG brand, unless the product table names an intravenous product
    ("Privigen Hep B neg"); a route word ("SC", "IM") only without the IVIG code, an intravenous product or
    an intravenous word ("Gamunex-C 10% IV/SC", "Octagam lot SC-0123" are IVIG); a not-IVIG code (ATC
    J06BA01, J06BB*) without the IVIG code or an intravenous product.
    """
    specific = _first(said, list(mapping.specific_names))
    brand = _first(said, [n for n in mapping.subcutaneous_names if n not in _ROUTE_WORDS])
    route = _first(said, [n for n in mapping.subcutaneous_names if n in _ROUTE_WORDS])
    iv_word = any(contains_words(w, n) for w in said for n in _IV_WORDS)
    if specific is not None and not iv_product:
        return f"a specific immunoglobulin ({specific!r} in its name)", ivig_code is not None
    if brand is not None and not iv_product:
        return f"an immunoglobulin for subcutaneous use ({brand!r} in its name)", False
    if route is not None and not (ivig_code is not None or iv_product or iv_word):
        return f"an immunoglobulin for subcutaneous or intramuscular use ({route!r} in its name)", True
    if other is not None and ivig_code is None and not iv_product:
        return f"an immunoglobulin that is not IVIG ({other.label()})", False
    return None, False
