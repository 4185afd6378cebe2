"""Make the example plugins importable from their source trees when they are not installed."""

from __future__ import annotations

import os
import sys
from pathlib import Path

for src in sorted(Path(__file__).parent.glob("*/src")):
    if str(src) not in sys.path:
        sys.path.insert(0, str(src))

# Like the core tests: no entry-point plugins unless a test asks for them.
os.environ["IVIG_CDS_LOAD_PLUGINS"] = ""
