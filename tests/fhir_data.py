"""Fetch the FHIR test data no one here wrote (HL7 R4 examples, Synthea bundles) into a cache, outside git.

- ``hl7.fhir.r4.examples@4.0.1`` from the npm registry (``npm pack``; CC0): the R4 specification's examples.
- ``fhiry==5.2.2`` sdist from PyPI (``pip download --no-binary :all:``): its ``tests/resources`` hold
  Synthea R4 bundles (``afhir.json``, ``bfhir.json``, ``cfhir.json``) and Bulk-style NDJSON files.

The cache is ``.cache/test-data/`` in the repository (``IVIG_CDS_TEST_DATA`` overrides it). Run this file to
fetch (``python tests/fhir_data.py``); the test fixtures call the same functions and skip, with the reason,
when the data is absent and cannot be fetched.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

HL7_PACKAGE = "hl7.fhir.r4.examples@4.0.1"
FHIRY_SDIST = "fhiry==5.2.2"
HL7_FILES = (
    "Patient-example.json",
    "Medication-med0311.json",
    "MedicationRequest-medrx0302.json",
    "MedicationRequest-medrx0303.json",
    "MedicationAdministration-medadmin0303.json",
    "Observation-example.json",
    "Observation-f205.json",
    "Condition-f201.json",
    "Condition-f202.json",
    "Condition-f203.json",
    "Condition-f204.json",
    "Condition-f205.json",
    "AllergyIntolerance-example.json",
    "AllergyIntolerance-medication.json",
    "AllergyIntolerance-nkda.json",
    "AllergyIntolerance-fishallergy.json",
)
FHIRY_FILES = (
    "afhir.json",
    "bfhir.json",
    "cfhir.json",
    "Patient.ndjson",
    "AllergyIntolerance.ndjson",
    "Procedure.ndjson",
    "Device.ndjson",
)


def cache_dir() -> Path:
    """Where fetched data lives: ``$IVIG_CDS_TEST_DATA`` or ``<repo>/.cache/test-data``."""
    env = os.environ.get("IVIG_CDS_TEST_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[1] / ".cache" / "test-data"


def _complete(directory: Path, names: tuple[str, ...]) -> bool:
    return all((directory / n).is_file() for n in names)


def _guarded(fetcher: Any) -> Any:
    """A fetcher that returns ``(None, reason)`` instead of raising (no network, unwritable cache, ...)."""

    @functools.wraps(fetcher)
    def run(fetch: bool = True) -> tuple[Path | None, str]:
        try:
            return fetcher(fetch)  # type: ignore[no-any-return]
        except (OSError, subprocess.SubprocessError, tarfile.TarError, KeyError) as exc:
            return None, f"fetch failed: {type(exc).__name__}: {exc}"[:300]

    return run


@_guarded
def hl7_examples(fetch: bool = True) -> tuple[Path | None, str]:
    """The directory of the HL7 R4 example files, fetching them once; ``(None, reason)`` when unavailable."""
    target = cache_dir() / "hl7.fhir.r4.examples-4.0.1"
    if _complete(target, HL7_FILES):
        return target, ""
    if not fetch:
        return None, f"HL7 R4 examples not in {target} (run: python tests/fhir_data.py)"
    npm = shutil.which("npm")
    if npm is None:
        return None, "HL7 R4 examples absent and npm is not installed to fetch them"
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [npm, "pack", HL7_PACKAGE, "--silent"],
            cwd=tmp,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        archives = list(Path(tmp).glob("*.tgz"))
        if done.returncode != 0 or not archives:
            return None, f"npm pack {HL7_PACKAGE} failed: {(done.stderr or done.stdout).strip()[-200:]}"
        target.mkdir(parents=True, exist_ok=True)
        with tarfile.open(archives[0]) as tar:
            for name in HL7_FILES:
                member = tar.getmember(f"package/{name}")
                extracted = tar.extractfile(member)
                assert extracted is not None
                (target / name).write_bytes(extracted.read())
    return target, ""


@_guarded
def synthea_bundles(fetch: bool = True) -> tuple[Path | None, str]:
    """The directory of fhiry's Synthea test resources, fetching the sdist once; ``(None, reason)`` if not."""
    target = cache_dir() / "fhiry-5.2.2"
    if _complete(target, FHIRY_FILES):
        return target, ""
    if not fetch:
        return None, f"Synthea bundles not in {target} (run: python tests/fhir_data.py)"
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-binary",
            ":all:",
            FHIRY_SDIST,
            "-d",
            tmp,
            "-q",
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
        archives = list(Path(tmp).glob("fhiry-*.tar.gz"))
        if done.returncode != 0 or not archives:
            return None, f"pip download {FHIRY_SDIST} failed: {(done.stderr or done.stdout).strip()[-200:]}"
        target.mkdir(parents=True, exist_ok=True)
        with tarfile.open(archives[0]) as tar:
            for name in FHIRY_FILES:
                extracted = tar.extractfile(tar.getmember(f"fhiry-5.2.2/tests/resources/{name}"))
                assert extracted is not None
                (target / name).write_bytes(extracted.read())
    return target, ""


def main() -> int:
    """Fetch both data sets; exit 1 (with the reasons) when either could not be fetched."""
    failed = 0
    for name, fetcher in (("HL7 R4 examples", hl7_examples), ("Synthea bundles (fhiry sdist)", synthea_bundles)):
        path, reason = fetcher()
        if path is None:
            failed += 1
            print(f"{name}: NOT fetched: {reason}", file=sys.stderr)
        else:
            print(f"{name}: {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
