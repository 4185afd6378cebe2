"""The reference backend works where durable-rules cannot be imported (the documented fallback)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "relapse.json"

SCRIPT = f"""
import sys
sys.modules["durable"] = None                 # any import of durable now raises ImportError
sys.modules["durable_rules_engine"] = None
import ivig_cds
ev = ivig_cds.Engine(backend="reference", entry_points=False).evaluate({str(EXAMPLE)!r})
print(ev.status.outcome)
try:
    ivig_cds.Engine(entry_points=False)
except Exception as exc:
    print(type(exc).__name__)
"""


def test_reference_backend_needs_no_durable() -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=True)
    lines = out.stdout.split()
    assert lines[0] == "relapse"
    assert lines[1] == "EngineError", "without durable the durable backend fails with the project's own error"
