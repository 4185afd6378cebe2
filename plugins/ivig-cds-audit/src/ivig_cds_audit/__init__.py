"""Audit observer: appends one NDJSON record per evaluation to the file named by ``IVIG_CDS_AUDIT_LOG``.

A record holds what an audit needs to replay and account for a decision, and nothing that
identifies the patient: the time of the evaluation (UTC), the SHA-256 of the validated input, the
ruleset hash and rule-file hashes, the plugin versions, the status block, and the ids of the rules
that produced findings. No patient id, no dates of care, no input values. With the variable unset
the observer does nothing. Lines are written with one ``write`` call under a lock (one process) and
in append mode, so concurrent processes do not interleave lines.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime
from typing import Any

from ivig_cds import Evaluation, hookimpl
from ivig_cds.plugins import EvaluationContext

__version__ = "0.1.0"
__all__ = ["AUDIT_ENV", "record_for"]

AUDIT_ENV = "IVIG_CDS_AUDIT_LOG"
_lock = threading.Lock()


def record_for(evaluation: Evaluation, context: EvaluationContext, now: datetime) -> dict[str, Any]:
    """The audit record (pure: the caller supplies the time)."""
    return {
        "time": now.astimezone(UTC).isoformat(timespec="milliseconds"),
        "input_sha256": context.input_sha256,
        "ruleset_hash": context.ruleset_hash,
        "rulesets": {f"{r.origin}/{r.name}": r.sha256 for r in evaluation.engine.rulesets},
        "plugins": list(context.plugins),
        "engine": {"version": evaluation.engine.version, "backend": evaluation.engine.backend},
        "status": evaluation.status.model_dump(mode="json"),
        "rules_fired": sorted({f.rule_id for f in evaluation.findings}),
        "plugin_failures": [f"{f.plugin}:{f.hook}" for f in evaluation.engine.plugin_failures],
    }


@hookimpl
def observe_evaluation(evaluation: Evaluation, context: EvaluationContext) -> None:
    path = os.environ.get(AUDIT_ENV)
    if not path:
        return
    # the audit time is metadata about the act of evaluating, not an input to any decision
    line = json.dumps(record_for(evaluation, context, datetime.now(UTC)), sort_keys=True) + "\n"
    with _lock, open(path, "a", encoding="utf-8") as handle:
        handle.write(line)
