"""Embedding ivig-cds in an application: one Engine, many patients, and input errors by field path.

Run it from anywhere::

    python examples/embed.py

It evaluates every patient file in ``examples/`` and prints one line per patient (identifiers and
statuses only, never clinical values), then shows what a caller gets back for a broken record.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ivig_cds import Engine, Evaluation, InputError

EXAMPLES = Path(__file__).resolve().parent


def is_patient_file(path: Path) -> bool:
    """A JSON object with the contract's two identifying keys (skips any other JSON in the folder)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and "schema_version" in data and "patient_id" in data


def summary(result: Evaluation) -> str:
    """One line: id, eligibility, response, outcome and how many findings need action."""
    s = result.status
    stops = sum(1 for f in result.findings if f.severity == "stop")
    warnings = sum(1 for f in result.findings if f.severity == "warning")
    return (
        f"{result.patient_id:<32} {s.eligibility:<26} {s.response:<14} {s.outcome:<28} "
        f"stop={stops} warning={warnings}"
    )


def broken_record() -> dict[str, Any]:
    """A record with three contract violations an EHR export could plausibly produce."""
    return {
        "schema_version": 1,
        "patient_id": "broken-001",
        "demographics": {"birth_date": "1980-02-30", "sex": "female", "weight_kg": "64"},
        "diagnosis": {"condition": "polymyositis", "diagnosed_on": "2019-02-01", "classification": "definite"},
        "therapies": [
            {
                "agent": "methotrexate",
                "start": "2019-04-01",
                "stop": "2019-01-15",
                "outcome": "inadequate_response",
            }
        ],
    }


def main() -> int:
    engine = Engine()  # load rules and plugins once; reuse for every patient (thread-safe)
    failed = 0
    print(f"{'patient':<32} {'eligibility':<26} {'response':<14} {'outcome':<28} findings")
    for path in sorted(EXAMPLES.glob("*.json")):
        if not is_patient_file(path):
            continue
        try:
            print(summary(engine.evaluate(path)))  # the file's as_of is used
        except InputError as exc:
            failed += 1
            print(f"{path.name}: invalid ({len(exc.errors)} problems)")

    print("\nA broken record:")
    try:
        engine.evaluate(broken_record())
    except InputError as exc:
        # exc.errors holds one FieldError per problem; loc is the field path to point the user at
        for err in exc.errors:
            print(f"  {err.loc}: {err.msg} [{err.type}]")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
