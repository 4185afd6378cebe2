"""The rulebook's data types: the schema of a rule file, a compiled rule, thresholds, the status table."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ivig_cds.rulebook.conditions import Pattern, fields_of

__all__ = [
    "CORE_CATEGORIES",
    "RULE_ID",
    "SEMVER",
    "SEVERITIES",
    "SPECIAL_FILES",
    "TEMPLATE_REF",
    "ErrorSink",
    "Rule",
    "RuleBook",
    "RuleFileInfo",
    "RuleFileSpec",
    "RuleSource",
    "RuleSpec",
    "StatusField",
    "Threshold",
]

SEVERITIES = ("stop", "warning", "advisory", "info")
CORE_CATEGORIES = (
    "diagnosis",
    "refractory",
    "eligibility",
    "safety",
    "dosing",
    "response",
    "steroid",
    "outcome",
    "relapse",
    "data",
)
RULE_ID = re.compile(r"^(?:[a-z][a-z0-9_]*:)?[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+$")
SEMVER = re.compile(r"^\d+\.\d+\.\d+$")
TEMPLATE_REF = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?)(?::([^{}]*))?\}")
SPECIAL_FILES = {"thresholds.yaml", "bibliography.yaml", "status.yaml", "terminology.yaml", "tis.yaml"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RuleSpec(_Strict):
    """The schema of one rule as written in a rule file."""

    id: str = Field(description="Stable rule id, e.g. SAFETY-001; plugins prefix theirs 'name:'.")
    version: str = Field(description="Semantic version of this rule.")
    title: str = Field(min_length=1, description="Short title.")
    category: str = Field(min_length=1, description="Finding category.")
    severity: Literal["stop", "warning", "advisory", "info"] = Field(description="Finding severity.")
    evidence: list[str] = Field(min_length=1, description="Bibliography keys, strongest first.")
    when: list[dict[str, Any]] = Field(min_length=1, description="Patterns that must all hold.")
    sets: dict[str, str | bool] = Field(default_factory=dict, description="Status values this rule concludes.")
    emit: bool = Field(default=True, description="False: a status-only rule that adds no finding.")
    once: bool = Field(default=False, description="One finding however many fact combinations match.")
    gaps: bool = Field(default=True, description="Report missing data that keeps this rule from deciding.")
    summary: str = Field(min_length=1, description="One-sentence summary; {alias.field} and {threshold}.")
    detail: str = Field(default="", description="What to do and why.")
    codes: list[str] = Field(default_factory=list, description="Interoperability codes (system|code).")


class RuleFileSpec(_Strict):
    family: str
    version: str
    description: str = ""
    thresholds: dict[str, dict[str, Any]] = Field(default_factory=dict)
    sources: dict[str, dict[str, Any]] = Field(default_factory=dict)
    rules: list[dict[str, Any]]


RuleSource = Path | Mapping[str, Any]
ErrorSink = Callable[[str, str, Exception], None]


@dataclass(frozen=True)
class Threshold:
    """A named, site-overridable number (or string) used by rules and derivations."""

    name: str
    value: Any
    unit: str
    description: str
    source: str = "default"


@dataclass(frozen=True)
class StatusField:
    """How one ``status`` field is assembled (``rules/status.yaml``).

    Attributes:
        name: The field (a field of the ``Status`` model, or an internal one such as ``weight_basis``).
        values: The values rules may conclude (empty for a field taken from a fact or the context).
        default: The value when no rule concluded one.
        mode: ``exclusive`` (one value at most), ``precedence`` (the first of ``values`` concluded
            wins), ``collect`` (every value concluded, sorted), ``fact`` (the patient fact's
            ``source`` field), ``reasons`` (the rule ids that concluded the value shown of the field
            ``source``) or ``context`` (a value of the evaluation itself, e.g. ``as_of_source``).
        source: The fact field, status field or context value read by ``fact``, ``reasons`` and ``context``.
        round: Decimal places a ``fact`` value is rounded to (display; rules compared it unrounded).
        when: ``{status field: value}`` that must hold for the field to have a value (else its default).
    """

    name: str
    values: tuple[Any, ...]
    default: Any
    mode: Literal["exclusive", "precedence", "collect", "fact", "reasons", "context"]
    source: str | None = None
    round: int | None = None
    when: tuple[tuple[str, Any], ...] = ()

    @property
    def concluded(self) -> bool:
        """Rules conclude this field (``sets:``)."""
        return self.mode in ("exclusive", "precedence", "collect")


@dataclass(frozen=True)
class RuleFileInfo:
    """A loaded rule file, reported in every result (``engine.rulesets``)."""

    name: str
    version: str
    sha256: str
    path: str
    origin: str = "core"


@dataclass(frozen=True)
class Rule:
    """A validated, compiled rule: the spec plus parsed patterns and what it reads."""

    spec: RuleSpec
    patterns: tuple[Pattern, ...]
    file: str
    origin: str = "core"
    thresholds: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return self.spec.id

    def fields_read(self) -> dict[str, list[str]]:
        """alias -> fields the conditions and messages read (for the finding's ``facts``)."""
        out: dict[str, list[str]] = {}
        for p in self.patterns:
            if p.kind == "match" and p.fact_type != "conclusion":
                out[p.alias] = fields_of(p.cond)
        for text in (self.spec.summary, self.spec.detail):
            for ref, _ in TEMPLATE_REF.findall(text):
                if "." in ref:
                    alias, fld = ref.split(".", 1)
                    if alias in out and fld not in out[alias]:
                        out[alias].append(fld)
        return out


@dataclass
class RuleBook:
    """Everything the engine needs: rules, thresholds, status table, bibliography and terminology."""

    rules: dict[str, Rule]
    thresholds: dict[str, Threshold]
    status: dict[str, StatusField]
    bibliography: dict[str, dict[str, Any]]
    terminology: dict[str, Any]
    tis_table: dict[str, Any]
    files: list[RuleFileInfo] = field(default_factory=list)

    def threshold_values(self) -> dict[str, Any]:
        return {name: t.value for name, t in self.thresholds.items()}

    def fingerprint(self) -> str:
        """A hash of every rule and threshold in force: the version of the compiled ruleset."""
        canon = {
            "rules": {rid: r.spec.model_dump(mode="json") for rid, r in sorted(self.rules.items())},
            "thresholds": {k: t.value for k, t in sorted(self.thresholds.items())},
            "status": sorted(self.status),
        }
        return hashlib.sha256(json.dumps(canon, sort_keys=True, default=str).encode()).hexdigest()
