"""Hash what the FHIR adapter makes of a varied corpus, to show a change leaves its outputs byte-identical.

The corpus: every example and seed-cohort patient exported to FHIR, 250 generated patients, the Synthea
bundles (when fetched: ``python tests/fhir_data.py``) — each mapped at three ``as_of`` dates and in six
seeded mutations — and the HL7 R4 example resources ``tests/fhir_data.py`` fetches, each next to the
example Patient. For each mapping the document, the report, the errors and the Patient are hashed.

Usage::

    python scripts/fhir_golden.py --write before.json     # on the old tree
    python scripts/fhir_golden.py --compare before.json   # on the new one: "differences: 0"
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import random
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
os.environ["IVIG_CDS_LOAD_PLUGINS"] = ""
sys.path.insert(0, str(REPO / "tests"))

from ivig_cds.fhir import bundle_from_patient, map_bundle, map_resources  # noqa: E402
from ivig_cds.inputs.files import load_patient  # noqa: E402
from ivig_cds.model.patient import Patient  # noqa: E402
from strategies import cohort  # noqa: E402

DATA = REPO / ".cache" / "test-data"
READ = ("Observation", "Condition", "MedicationRequest", "MedicationStatement", "MedicationAdministration")
READ += ("AllergyIntolerance", "Procedure", "Medication")
MUTATIONS = ("del", "str", "unit", "status", "date", "num", "list", "ref", "code", "dup")


def bundles() -> Iterator[tuple[str, dict[str, Any]]]:
    patients = sorted((REPO / "examples").glob("*.json"))
    patients += sorted((REPO / "examples" / "seed_cohort" / "patients").glob("*.json"))
    for path in patients:
        yield path.name, bundle_from_patient(load_patient(path))
    for i, doc in enumerate(cohort(250, seed=4242)):
        yield f"gen{i}", bundle_from_patient(Patient.model_validate(doc))
    for path in sorted((DATA / "fhiry-5.2.2").glob("*fhir.json")):
        yield path.name, json.loads(path.read_text(encoding="utf-8"))


def mutate(bundle: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    out = copy.deepcopy(bundle)
    entries = out.get("entry", [])
    for _ in range(rng.randint(1, 4) if entries else 0):
        node = rng.choice(entries).get("resource", {})
        for _ in range(rng.randint(0, 3)):
            kids = [v for v in node.values() if isinstance(v, dict)]
            kids += [x for v in node.values() if isinstance(v, list) for x in v if isinstance(x, dict)]
            if not kids:
                break
            node = rng.choice(kids)
        keys = [k for k in node if k != "resourceType"]
        if not keys:
            continue
        key, how = rng.choice(keys), rng.choice(MUTATIONS)
        if how == "del":
            del node[key]
        elif how == "str":
            node[key] = "x"
        elif how == "unit":
            units = ["[lb_av]", "g", "mg", "mg/dL", "umol/L", "cm", "weird", "wk"]
            node["unit"] = node["code"] = rng.choice(units)
        elif how == "status":
            node["status"] = rng.choice(["preliminary", "entered-in-error", "stopped", "completed", "draft"])
        elif how == "date":
            node[key] = rng.choice(["2019", "2019-05", "2031-01-01", "2019-02-30", "2020-06-01T10:00:00Z"])
        elif how == "num":
            node[key] = rng.choice([-1, 0, 1e20, 2.5, True, 150])
        elif how == "list":
            node[key] = [node[key]]
        elif how == "ref":
            node["reference"] = rng.choice(["Patient/other", "#missing", "Medication/none", "urn:uuid:x"])
        elif how == "code":
            node["code"] = rng.choice(["38483-4", "2160-0", "29463-7", "rf-pregnancy", "dysphagia", "mmt8"])
        else:
            entries.append(copy.deepcopy(rng.choice(entries)))
    return out


def digest(result: Any) -> str:
    return json.dumps(
        {
            "doc": result.document,
            "report": result.report.to_dict(),
            "errors": [(e.loc, e.msg, e.type) for e in result.errors],
            "patient": result.patient.model_dump(mode="json") if result.patient else None,
        },
        sort_keys=True,
        default=str,
    )


def hashes() -> dict[str, str]:
    out: dict[str, str] = {}

    def add(key: str, run: Any) -> None:
        try:
            text = digest(run())
        except Exception as exc:  # a crash is an output too: it must not appear
            text = f"EXCEPTION {type(exc).__name__}: {exc}"
        out[key] = hashlib.sha256(text.encode("utf-8", "backslashreplace")).hexdigest()[:16]

    rng = random.Random(99)
    for name, bundle in bundles():
        for as_of in (None, date(2026, 12, 1), date(2019, 6, 1)):
            add(f"{name}|{as_of}", lambda b=bundle, d=as_of: map_bundle(b, as_of=d))
        for j in range(6):
            mutated = mutate(bundle, rng)
            add(f"{name}|m{j}", lambda b=mutated: map_bundle(b, as_of=date(2026, 12, 1)))
    hl7 = DATA / "hl7.fhir.r4.examples-4.0.1"
    example = hl7 / "Patient-example.json"
    if example.exists():
        patient = json.loads(example.read_text(encoding="utf-8"))
        for path in sorted(hl7.glob("*.json")):
            resource = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(resource, dict) and resource.get("resourceType") in READ:
                add(path.name, lambda r=resource: map_resources([patient, r]))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, help="save the hashes to this file")
    parser.add_argument("--compare", type=Path, help="compare with hashes saved before")
    args = parser.parse_args()
    got = hashes()
    total = hashlib.sha256("".join(f"{k}={v}" for k, v in sorted(got.items())).encode()).hexdigest()[:16]
    print(f"{len(got)} mappings, hash {total}")
    if args.write:
        args.write.write_text(json.dumps(got, indent=0, sort_keys=True), encoding="utf-8")
    if args.compare:
        before = json.loads(args.compare.read_text(encoding="utf-8"))
        differ = sorted(k for k in set(before) | set(got) if before.get(k) != got.get(k))
        print(f"differences: {len(differ)}", *differ[:20])
        return 1 if differ else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
