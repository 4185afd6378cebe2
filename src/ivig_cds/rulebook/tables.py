"""Reading the rulebook's tables: YAML files (safely), thresholds with site overrides, the status table."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ivig_cds.errors import RuleFileError
from ivig_cds.model.yaml_safe import YamlRejected, load_rule_yaml
from ivig_cds.rulebook.spec import StatusField, Threshold

__all__ = ["apply_threshold_overrides", "load_status", "load_thresholds", "sha256_of", "yaml_load"]


MAX_RULE_FILE_BYTES = 4 * 1024 * 1024
"""The largest rule or table file read (the built-in ones are < 100 KiB)."""


def yaml_load(path: Path) -> Any:
    """Read a rule file or table: strict YAML (no aliases, tags or duplicate keys), at most 4 MiB."""
    try:
        if path.stat().st_size > MAX_RULE_FILE_BYTES:
            raise RuleFileError(str(path), f"larger than {MAX_RULE_FILE_BYTES // 2**20} MiB")
        return load_rule_yaml(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RuleFileError(str(path), "file not found") from None
    except OSError as exc:
        raise RuleFileError(str(path), f"cannot read the file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise RuleFileError(str(path), f"not valid UTF-8 (byte offset {exc.start})") from None
    except YamlRejected as exc:
        raise RuleFileError(str(path), f"not valid YAML: {exc}") from None
    except RecursionError:
        raise RuleFileError(str(path), "not valid YAML: nested too deeply") from None


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_thresholds(path: Path) -> dict[str, Threshold]:
    data = yaml_load(path)
    table = data.get("thresholds") if isinstance(data, dict) else None
    if not isinstance(table, dict) or not table:
        raise RuleFileError(str(path), "expected a mapping 'thresholds: {name: {value, unit, description}}'")
    out: dict[str, Threshold] = {}
    for name, entry in table.items():
        if not isinstance(entry, dict) or "value" not in entry:
            raise RuleFileError(str(path), f"threshold {name!r} needs 'value', 'unit' and 'description'")
        value = entry["value"]
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise RuleFileError(str(path), f"threshold {name!r}: value must be a number or string")
        out[str(name)] = Threshold(str(name), value, str(entry.get("unit", "")), str(entry.get("description", "")))
    return out


def apply_threshold_overrides(
    thresholds: dict[str, Threshold], overrides: Mapping[str, Any], *, source: str
) -> dict[str, Threshold]:
    """Return a copy of ``thresholds`` with site overrides applied (same type required; unknown names fail)."""
    out = dict(thresholds)
    for name, value in overrides.items():
        if name not in out:
            raise RuleFileError(source, f"unknown threshold {name!r} (known: {', '.join(sorted(out))})")
        old = out[name]
        numeric = isinstance(old.value, (int, float))
        if (
            isinstance(value, bool)
            or (numeric and not isinstance(value, (int, float)))
            or (not numeric and not isinstance(value, str))
        ):
            raise RuleFileError(source, f"threshold {name!r} must be a {'number' if numeric else 'string'}")
        out[name] = Threshold(name, value, old.unit, old.description, source)
    return out


_MODES = ("exclusive", "precedence", "collect", "fact", "reasons", "context")
_STATUS_KEYS = {"values", "default", "mode", "from", "round", "when"}


def load_status(path: Path) -> dict[str, StatusField]:
    """Read ``status.yaml``: how each status field is assembled (see :class:`StatusField`)."""
    data = yaml_load(path)
    fields = data.get("fields") if isinstance(data, dict) else None
    if not isinstance(fields, dict):
        raise RuleFileError(str(path), "expected 'fields: {name: {values, default, mode}}'")
    out: dict[str, StatusField] = {}
    for name, spec in fields.items():

        def fail(msg: str, name: object = name) -> RuleFileError:
            return RuleFileError(str(path), f"status field {name!r}: {msg}")

        if not isinstance(spec, dict):
            raise fail("expected a mapping")
        if unknown := sorted(set(spec) - _STATUS_KEYS):
            raise fail(f"unknown key(s) {', '.join(unknown)}")
        mode = spec.get("mode", "exclusive")
        if mode not in _MODES:
            raise fail(f"mode must be one of {', '.join(_MODES)}")
        values = spec.get("values", [])
        default = spec.get("default")
        source = spec.get("from")
        if mode in ("exclusive", "precedence", "collect"):
            if not isinstance(values, list) or not values:
                raise fail("needs a 'values' list")
            if mode == "collect":
                if default not in (None, []):
                    raise fail("a collect field's default is the empty list")
                default = []
            elif default is not None and default not in values:
                raise fail(f"default {default!r} is not one of its values")
        elif not isinstance(source, str) or not source or values:
            raise fail(f"a {mode} field takes 'from' (and no values)")
        digits = spec.get("round")
        if digits is not None and (isinstance(digits, bool) or not isinstance(digits, int) or mode != "fact"):
            raise fail("'round' takes a number of decimals, on a fact field")
        when = spec.get("when", {})
        if not isinstance(when, dict):
            raise fail("'when' takes {status field: value}")
        out[str(name)] = StatusField(
            str(name), tuple(values), default, mode, source, digits, tuple(sorted(when.items()))
        )
    for field in out.values():
        for other, _ in field.when:
            if other not in out:
                raise RuleFileError(
                    str(path), f"status field {field.name!r}: 'when' names unknown field {other!r}"
                )
        if field.mode == "reasons" and field.source not in out:
            raise RuleFileError(
                str(path), f"status field {field.name!r}: reasons of unknown field {field.source!r}"
            )
    return out
