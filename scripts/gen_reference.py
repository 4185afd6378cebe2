"""Write ``docs/reference.md`` (the fact catalog and the IVIG product table) from the code's own tables.

Usage: ``python scripts/gen_reference.py [--check]``; ``--check`` exits 1 when the file is out of date
(``tests/test_reference_doc.py`` runs the same comparison).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ivig_cds.glossary import reference_markdown

DOC = Path(__file__).resolve().parents[1] / "docs" / "reference.md"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/reference.md is out of date")
    args = parser.parse_args()
    text = reference_markdown()
    if args.check:
        current = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
        if current != text:
            print(f"{DOC} is out of date: run python scripts/gen_reference.py", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(text, encoding="utf-8")
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
