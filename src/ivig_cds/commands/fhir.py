"""The ``ivig-cds fhir`` commands (map a Bundle to a patient file, export a patient file as a Bundle): I/O only."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ivig_cds.errors import InputError
from ivig_cds.inputs.fhir.integration import is_fhir_document, map_document, resolve_mapping
from ivig_cds.inputs.files import load_patient, parse_document
from ivig_cds.model.format import printable
from ivig_cds.outfile import write_atomic

if TYPE_CHECKING:  # the parser imports this module: the FHIR modules load only when a fhir command runs
    from ivig_cds.inputs.fhir.report import MappingReport

__all__ = ["add_fhir_parser", "add_mapping_options", "run_fhir"]

EXIT_OK, EXIT_INVALID = 0, 2


def add_mapping_options(p: argparse.ArgumentParser) -> None:
    """``--mapping``, ``--strict-fhir`` and ``--patient-id``: how FHIR input is read (evaluate, cohort,
    explain, fhir map)."""
    p.add_argument(
        "--mapping", metavar="FILE", help="FHIR input: a site mapping table (default rules/fhir/mapping.yaml)"
    )
    p.add_argument(
        "--strict-fhir",
        action="store_true",
        help="FHIR input: validate every resource with the fhir.resources R4B models first ([fhir] extra)",
    )
    p.add_argument(
        "--patient-id",
        metavar="ID",
        help="FHIR input: the Patient (its Patient.id) to read when a Bundle holds several; a patient file"
        " given with it is refused (it holds one patient)",
    )


def add_fhir_parser(sub: Any, iso_date: Callable[[str], date]) -> None:
    """Register ``fhir map`` and ``fhir export`` on the main parser's subcommands."""
    fh = sub.add_parser(
        "fhir", help="FHIR R4: map a Bundle to a patient file, or export a patient file as a Bundle"
    )
    fsub = fh.add_subparsers(dest="fhir_command", required=True, metavar="ACTION")
    fm = fsub.add_parser("map", help="print the patient file built from a FHIR Bundle (the report goes to stderr)")
    fm.add_argument("file", metavar="BUNDLE", help="a FHIR R4 Bundle (JSON), or - for stdin")
    fm.add_argument("--as-of", type=iso_date, metavar="DATE", help="read resources up to this date (YYYY-MM-DD)")
    fm.add_argument("--report", metavar="FILE", help="also write the mapping report as JSON to FILE")
    fm.add_argument("--output", "-o", metavar="FILE", help="write the patient file to FILE instead of stdout")
    add_mapping_options(fm)
    fe = fsub.add_parser("export", help="write a patient file as a FHIR R4 Bundle with the default codes")
    fe.add_argument("file", metavar="FILE", help="a patient file (JSON or YAML)")
    fe.add_argument("--output", "-o", metavar="FILE", help="write the Bundle to FILE instead of stdout")
    fe.add_argument("--mapping", metavar="FILE", help="a site mapping table (its first codes are written)")


def _write(path: str | None, text: str) -> None:
    if path is None:
        sys.stdout.write(text)
    else:
        write_atomic(path, text)


def _err(text: str) -> None:
    sys.stderr.write(printable(text) + "\n")


def _say_report(report: MappingReport) -> None:
    read = ", ".join(f"{n} {k}" for k, n in report.resources_read.items()) or "nothing"
    _err(f"mapping {report.mapping_version} ({report.mapping_source}): read {read}")
    ignored = sum(report.resources_ignored.values()) + sum(report.ignored_after_as_of.values())
    if ignored:
        _err(f"  {ignored} resource(s) not used (see the report)")
    for note in report.warnings:
        _err(f"  warning: {note.resource}: {note.field}: {note.message}")


def run_fhir(args: argparse.Namespace) -> int:
    """Run ``fhir map`` or ``fhir export``; returns the exit code (2: invalid input)."""
    if args.fhir_command == "export":
        try:
            patient = load_patient(args.file)
        except InputError as exc:
            if any(e.loc == "resourceType" for e in exc.errors):  # a FHIR document, not a patient file
                _err(
                    f"ivig-cds: error: {args.file}: already FHIR ({_fhir_kind(args.file)}): fhir export takes a"
                    " patient file (fhir map turns a Bundle into one)"
                )
                return EXIT_INVALID
            return _invalid(exc.source, exc)
        mapping = resolve_mapping(args.mapping)
        from ivig_cds.inputs.fhir.export import bundle_from_patient

        _write(args.output, json.dumps(bundle_from_patient(patient, mapping=mapping), indent=2) + "\n")
        return EXIT_OK
    label = "<stdin>" if args.file == "-" else args.file
    try:
        raw = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    except OSError as exc:
        _err(f"ivig-cds: error: {label}: {exc.strerror or type(exc).__name__}")
        return EXIT_INVALID
    try:
        doc = parse_document(raw, source=label, fmt="json")
    except InputError as exc:
        return _invalid(label, exc)
    if not is_fhir_document(doc):
        _err(f"ivig-cds: error: {label}: not a FHIR resource (no resourceType)")
        return EXIT_INVALID
    assert isinstance(doc, dict)
    result = map_document(
        doc,
        as_of=args.as_of,
        mapping=resolve_mapping(args.mapping),
        strict=args.strict_fhir,
        patient_id=args.patient_id,
    )
    if args.report:
        write_atomic(args.report, json.dumps(result.report.to_dict(), indent=2) + "\n")
    _say_report(result.report)
    if result.patient is None:
        _err(f"invalid FHIR input {label}: no patient file can be built")
        for fe in result.errors:
            _err(f"  {fe.loc or '(document)'}: {fe.msg}")
        return EXIT_INVALID
    text = result.patient.model_dump_json(indent=2, exclude_unset=True)
    _write(args.output, text + "\n")
    return EXIT_OK


def _fhir_kind(path: str) -> str:
    """``a Bundle`` or ``a <type> resource``: what a FHIR file given to ``fhir export`` holds."""
    try:
        doc = parse_document(Path(path).read_bytes(), source=path)
    except (OSError, InputError):
        return "a FHIR resource"
    kind = doc.get("resourceType") if isinstance(doc, dict) else None
    if kind == "Bundle":
        return "a Bundle"
    return f"a {kind[:40]} resource" if isinstance(kind, str) and kind else "a FHIR resource"


def _invalid(label: str, exc: InputError) -> int:
    _err(f"invalid input {label}")
    for fe in exc.errors:
        _err(f"  {fe.loc or '(document)'}: {fe.msg}")
    return EXIT_INVALID
