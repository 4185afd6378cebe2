"""The engine: loads rules and plugins once, evaluates patients (derive, run rules, assemble the result)."""

from __future__ import annotations

from ivig_cds.engine.engine import Engine, PatientSource, evaluate

__all__ = ["Engine", "PatientSource", "evaluate"]
