"""The IVIG product table: recognise a free-text product name, and say what is known about it.

A name is matched case- and punctuation-insensitively, word by word, anywhere in the text, so
"Immune globulin IV (Privigen) 10%" and "PRIVIGEN" are both Privigen. What the table does not
recognise is *unknown* - never "not sucrose" or "not proline": :meth:`ProductInfo.contains` then
answers ``None`` and every rule that needs the answer reports a data gap.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ivig_cds.errors import RuleFileError
from ivig_cds.model.resources import default_rules_dir
from ivig_cds.model.yaml_safe import YamlRejected, load_rule_yaml

__all__ = ["STABILIZERS", "Product", "ProductInfo", "ProductTable", "load_product_table"]

STABILIZERS = ("proline", "maltose", "sucrose", "glycine", "sorbitol", "glucose")
"""Stabilisers and excipients the table may name."""

_WORD = re.compile(r"[a-z0-9]+")
_CONCENTRATION = re.compile(r"(\d{1,2}(?:[.,]\d+)?)\s*%")
MatchStatus = Literal["recognised", "generic", "unrecognised", "ambiguous"]


def _words(text: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(text.lower()))


@dataclass(frozen=True)
class Product:
    """One entry of the product table.

    Attributes:
        name: The display name (e.g. ``Privigen``).
        match: Names that identify it, as word sequences (``gammagard liquid``).
        stabilizers: What stabilises it (``proline``, ``maltose``, ...).
        concentrations_pct: The concentrations it is marketed at (empty: variable, e.g. lyophilised).
        route: ``intravenous`` or ``subcutaneous``.
        verified: Whether the entry was checked against the label.
        max_rates_mg_kg_min: The labelled maximum infusion rate (mg/kg/min) for the myositis (DM) indication,
            by concentration (%); a concentration not listed has no known maximum.
    """

    name: str
    match: tuple[tuple[str, ...], ...]
    stabilizers: tuple[str, ...]
    concentrations_pct: tuple[float, ...]
    route: str
    verified: bool
    max_rates_mg_kg_min: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True)
class ProductInfo:
    """What is known about one product name.

    Attributes:
        text: The name as written (``None``: no product named).
        status: ``recognised`` (one product of the table), ``generic`` (an immunoglobulin, brand not
            given), ``unrecognised``, or ``ambiguous`` (names of two products); ``None`` without text.
        product: The recognised product, else ``None``.
        concentration_pct: The concentration, when known (from the name or the product's only one).
        concentration_from: ``name`` or ``product`` when known, else ``None``.
        note: Why something is unknown, in words (``not in the product table``, ...), else ``None``.
    """

    text: str | None
    status: MatchStatus | None
    product: Product | None = None
    concentration_pct: float | None = None
    concentration_from: Literal["name", "product"] | None = None
    note: str | None = None

    @property
    def name(self) -> str | None:
        """The recognised product's display name."""
        return self.product.name if self.product is not None else None

    def contains(self, stabilizer: str) -> bool | None:
        """Whether the product contains ``stabilizer``: ``None`` when the product is not recognised."""
        if self.product is None:
            return None
        return stabilizer in self.product.stabilizers

    @property
    def max_rate_mg_kg_min(self) -> float | None:
        """The labelled maximum infusion rate at the known concentration, ``None`` when not known."""
        if self.product is None or self.concentration_pct is None:
            return None
        return dict(self.product.max_rates_mg_kg_min).get(self.concentration_pct)

    @property
    def stabilizer(self) -> str | None:
        """The stabilisers joined with ``+`` (``sorbitol+glycine``), ``None`` when unknown."""
        return "+".join(self.product.stabilizers) if self.product is not None else None


_NO_PRODUCT = ProductInfo(None, None)


class ProductTable:
    """The product table of ``rules/terminology.yaml`` (``products`` and ``generic_names``)."""

    def __init__(self, products: Sequence[Product], generic: Sequence[tuple[str, ...]], version: str) -> None:
        self.products = tuple(products)
        self.version = version
        self._generic = tuple(generic)
        # longest names first, so "gammagard liquid" wins over a shorter name inside it
        keys = [(words, p) for p in self.products for words in p.match]
        self._keys = sorted(keys, key=lambda k: (-len(k[0]), k[0]))
        self._cache: dict[str, ProductInfo] = {}

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str) -> ProductTable:
        """Build the table from the parsed terminology file, checking every entry.

        Raises:
            RuleFileError: An entry lacks a field, names an unknown stabiliser, or two products share a name.
        """
        raw = data.get("products", [])
        if not isinstance(raw, list):
            raise RuleFileError(source, "'products' must be a list")
        products: list[Product] = []
        seen: dict[tuple[str, ...], str] = {}
        for i, entry in enumerate(raw):
            where = f"products[{i}]"
            if not isinstance(entry, Mapping):
                raise RuleFileError(source, f"{where}: expected a mapping")
            missing = {"name", "match", "stabilizers", "concentrations_pct"} - set(entry)
            if missing:
                raise RuleFileError(source, f"{where}: missing {', '.join(sorted(missing))}")
            unknown = set(entry) - {
                "name",
                "match",
                "stabilizers",
                "concentrations_pct",
                "route",
                "verified",
                "max_rate_mg_kg_min",
            }
            if unknown:
                raise RuleFileError(source, f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
            names = entry["match"]
            if (
                not isinstance(names, list)
                or not names
                or not all(isinstance(n, str) and _words(n) for n in names)
            ):
                raise RuleFileError(source, f"{where}.match: a non-empty list of names")
            stabilizers = entry["stabilizers"]
            if (
                not isinstance(stabilizers, list)
                or not stabilizers
                or any(s not in STABILIZERS for s in stabilizers)
            ):
                raise RuleFileError(source, f"{where}.stabilizers: a non-empty list of {', '.join(STABILIZERS)}")
            conc = entry["concentrations_pct"]
            if not isinstance(conc, list) or any(
                isinstance(c, bool) or not isinstance(c, int | float) or not 0 < c <= 30 for c in conc
            ):
                raise RuleFileError(source, f"{where}.concentrations_pct: a list of percentages (0-30]")
            rates = _max_rates(entry.get("max_rate_mg_kg_min", {}), conc, source, where)
            match = tuple(_words(n) for n in names)
            for words in match:
                if words in seen:
                    raise RuleFileError(source, f"{where}: name {' '.join(words)!r} is also {seen[words]!r}")
                seen[words] = str(entry["name"])
            products.append(
                Product(
                    name=str(entry["name"]),
                    match=match,
                    stabilizers=tuple(str(s) for s in stabilizers),
                    concentrations_pct=tuple(float(c) for c in conc),
                    route=str(entry.get("route", "intravenous")),
                    max_rates_mg_kg_min=rates,
                    verified=bool(entry.get("verified", False)),
                )
            )
        generic = data.get("generic_names", [])
        if not isinstance(generic, list) or not all(isinstance(g, str) and _words(g) for g in generic):
            raise RuleFileError(source, "'generic_names' must be a list of names")
        return cls(products, [_words(g) for g in generic], str(data.get("products_version", "1")))

    def lookup(self, text: str | None) -> ProductInfo:
        """What the table knows about a product name (cached; ``None`` or blank: no product)."""
        if text is None or not text.strip():
            return _NO_PRODUCT
        hit = self._cache.get(text)
        if hit is None:
            if len(self._cache) > 4096:
                self._cache.clear()
            hit = self._cache[text] = self._lookup(text)
        return hit

    def _lookup(self, text: str) -> ProductInfo:
        words = _words(text)
        found: dict[str, Product] = {}
        taken: set[int] = set()
        for key, product in self._keys:
            for start in _occurrences(words, key):
                span = set(range(start, start + len(key)))
                if span & taken:
                    continue
                taken |= span
                found[product.name] = product
        if len(found) > 1:
            names = ", ".join(sorted(found))
            return ProductInfo(text, "ambiguous", note=f"names more than one product ({names})")
        if not found:
            if any(_occurrences(words, g) for g in self._generic):
                return ProductInfo(text, "generic", note="an immunoglobulin without a brand: stabiliser unknown")
            return ProductInfo(text, "unrecognised", note="not in the product table")
        product = next(iter(found.values()))
        written = [float(m.replace(",", ".")) for m in _CONCENTRATION.findall(text)]
        if written:
            if len(set(written)) == 1 and written[0] in product.concentrations_pct:
                return ProductInfo(text, "recognised", product, written[0], "name")
            note = (
                f"{product.name} is not marketed at {', '.join(f'{w:g}%' for w in written)}: concentration unknown"
            )
            return ProductInfo(text, "recognised", product, note=note)
        if len(product.concentrations_pct) == 1:
            return ProductInfo(text, "recognised", product, product.concentrations_pct[0], "product")
        return ProductInfo(
            text, "recognised", product, note=f"{product.name}: concentration not given in the name"
        )


def _max_rates(raw: Any, concentrations: list[Any], source: str, where: str) -> tuple[tuple[float, float], ...]:
    """``{concentration %: max mg/kg/min}`` of a product entry, each concentration one the product is sold at."""
    if not isinstance(raw, Mapping):
        raise RuleFileError(source, f"{where}.max_rate_mg_kg_min: a mapping of concentration % to mg/kg/min")
    out: list[tuple[float, float]] = []
    for key, rate in raw.items():
        pct = _number_key(key)
        numbers = all(isinstance(x, int | float) and not isinstance(x, bool) for x in (pct, rate))
        if not numbers or pct not in concentrations or not 0 < rate <= 100:
            raise RuleFileError(
                source,
                f"{where}.max_rate_mg_kg_min: {pct!r}: {rate!r} (a listed concentration: a rate in (0, 100])",
            )
        out.append((float(pct), float(rate)))
    return tuple(sorted(out))


def _number_key(key: Any) -> Any:
    """A mapping key that names a number: YAML keys are strings (``"10": 4``); a Python table may use 10."""
    if isinstance(key, str):
        try:
            number = float(key)
        except ValueError:
            return key
        return int(number) if number.is_integer() else number
    return key


def _occurrences(words: tuple[str, ...], key: tuple[str, ...]) -> list[int]:
    n = len(key)
    return [i for i in range(len(words) - n + 1) if words[i : i + n] == key]


def load_product_table(rules_dir: Path | None = None) -> ProductTable:
    """The product table of ``terminology.yaml`` in ``rules_dir`` (default: the built-in rules).

    Raises:
        RuleFileError: The file is missing, not YAML, or the table is invalid.
    """
    path = (rules_dir or default_rules_dir()) / "terminology.yaml"
    try:
        data = load_rule_yaml(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RuleFileError(str(path), f"cannot read the file: {exc.strerror or exc}") from None
    except (YamlRejected, UnicodeDecodeError, RecursionError) as exc:
        raise RuleFileError(str(path), f"not valid YAML: {exc}") from None
    if not isinstance(data, Mapping):
        raise RuleFileError(str(path), "expected a mapping")
    return ProductTable.from_mapping(data, source=str(path))
