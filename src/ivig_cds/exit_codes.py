"""The ``ivig-cds`` exit codes (no imports: ``ivig-cds --version`` reads them before anything loads).

0 success; 1 a finding at or above ``--fail-on``; 2 invalid input or a usage error (wins over 1);
3 an internal error (a bug: "please report"; wins over everything); 130 interrupted.
"""

from __future__ import annotations

__all__ = ["EXIT_FINDINGS", "EXIT_INTERNAL", "EXIT_INTERRUPTED", "EXIT_INVALID", "EXIT_OK", "EXIT_USAGE"]

EXIT_OK, EXIT_FINDINGS, EXIT_INVALID, EXIT_INTERNAL = 0, 1, 2, 3
EXIT_USAGE = EXIT_INVALID
EXIT_INTERRUPTED = 130
