"""The FHIR adapter's fast paths give what their plain definitions give (the definitions are written out here).

Each index or inline check exists for speed only: these tests compare it, on many generated inputs, with the
slow, obvious reading of the mapping table it replaces.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from ivig_cds.inputs.fhir.clinical import observation_reader
from ivig_cds.inputs.fhir.index import DATE_PATHS, Index, Item, check_shape
from ivig_cds.inputs.fhir.mapping import load_mapping
from ivig_cds.inputs.fhir.values import first_date

TABLE = load_mapping()
READER = observation_reader(TABLE)


def _table_pairs() -> list[tuple[str, str]]:
    pairs = set()
    for codes in list(TABLE.diagnoses.values()) + [s.conditions for s in TABLE.risk_factors.values()]:
        for c in codes.codes:
            pairs.add((c.system, c.code))
            if c.prefix:
                pairs.add((c.system, c.code + ".9"))  # a child code of a prefix
                pairs.add((c.system, c.code[:-1]))  # the parent: not a match
    pairs |= {("http://snomed.info/sct", "73211009"), ("http://loinc.org", "2160-0"), ("urn:x", "M33.2")}
    return sorted(pairs)


PAIRS = _table_pairs()


def _cases(n: int, seed: int) -> list[list[tuple[str, str]]]:
    rng = random.Random(seed)
    return [rng.sample(PAIRS, rng.randint(0, 4)) for _ in range(n)]


@pytest.mark.parametrize("seed", range(5))
def test_diagnoses_of_are_the_matching_conditions_in_table_order(seed: int) -> None:
    for pairs in _cases(400, seed):
        # the definition: the table scanned in order, each condition's code set matched
        expected = [(name, hit) for name, codes in TABLE.diagnoses.items() if (hit := codes.match(pairs))]
        assert READER.diagnoses_of(pairs) == expected, pairs


@pytest.mark.parametrize("seed", range(5))
def test_risk_hits_are_each_factors_first_matching_code(seed: int) -> None:
    for pairs in _cases(400, seed):
        expected = [
            (key, spec, hit) for key, spec in TABLE.risk_factors.items() if (hit := spec.conditions.match(pairs))
        ]
        assert READER.risk_hits(pairs) == expected, pairs


def _dated(rng: random.Random, kind: str) -> dict[str, Any]:
    values: list[Any] = ["2024-02-05", "2024-02", "2024-02-05T10:00:00Z", "nope", 7, None, {"start": "2023-01-01"}]
    res: dict[str, Any] = {"resourceType": kind, "id": "x"}
    for path in DATE_PATHS[kind]:
        if rng.random() < 0.5:
            continue
        head, _, part = path.partition(".")
        if part:
            res[head] = rng.choice([{part: rng.choice(values)}, {}, "2024-01-01", None, {"end": "2024-01-01"}])
        else:
            res[head] = rng.choice(values)
    return res


@pytest.mark.parametrize("kind", sorted(DATE_PATHS))
def test_an_items_day_is_first_date_over_its_types_paths(kind: str) -> None:
    rng = random.Random(kind)
    for _ in range(300):
        res = _dated(rng, kind)
        assert Item(kind, "x", "entry[0]", res).day() == first_date(res, *DATE_PATHS[kind]), res


_ODD: list[Any] = [None, True, 3, 2.5, "text", [], {}, [{}], "\ud800", {"coding": {}}, {"coding": []}]


@pytest.mark.parametrize("seed", range(4))
def test_index_keeps_exactly_what_check_shape_accepts(seed: int) -> None:
    """Index.of checks the usual resource inline: it must keep and refuse what check_shape keeps and refuses."""
    rng = random.Random(seed)
    kinds = ["Observation", "Condition", "Patient", "MedicationRequest", "AllergyIntolerance", "Encounter"]
    keys = ["status", "code", "subject", "effectiveDateTime", "valueQuantity", "type", "meta", "dosageInstruction"]
    keys += ["medicationCodeableConcept", "valueCodeableConcept"]
    for _ in range(300):
        res: dict[str, Any] = {"resourceType": rng.choice(kinds)}
        if rng.random() < 0.9:
            res["id"] = rng.choice(["a1", "é", "\ud800", 5, None])
        for key in rng.sample(keys, rng.randint(0, 4)):
            res[key] = rng.choice(_ODD)
        index = Index.of([("entry[0]", res, None)])
        problem = check_shape(res, "entry[0]")
        assert (len(index.items), len(index.errors)) == ((0, 1) if problem else (1, 0)), res
        if problem is not None:
            assert index.errors[0].msg == problem.msg


def test_contains_words_is_the_plain_scan() -> None:
    from ivig_cds.inputs.fhir.mapping import contains_words

    def plain(haystack: tuple[str, ...], needle: tuple[str, ...]) -> bool:
        n = len(needle)
        return n > 0 and any(haystack[i : i + n] == needle for i in range(len(haystack) - n + 1))

    rng = random.Random(7)
    vocab = ["no", "side", "effects", "cream", "eye", "drops"]
    for _ in range(20_000):
        haystack = tuple(rng.choice(vocab) for _ in range(rng.randint(0, 6)))
        needle = tuple(rng.choice(vocab) for _ in range(rng.randint(0, 3)))
        assert contains_words(haystack, needle) == plain(haystack, needle), (haystack, needle)
