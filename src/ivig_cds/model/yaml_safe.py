"""One strict YAML reader for every data file ivig-cds reads: patient files, rule files and tables.

YAML is data here, never code, and never a way to make a small file large:

- only the safe (JSON-like) types: no ``!!python`` tags, no binary, sets or ordered pairs;
- no anchors and aliases: an alias is what makes a "billion laughs" file of 1 KiB expand to
  gigabytes, and no ivig-cds file needs one;
- mapping keys must be plain strings and unique (YAML would keep the last of two silently);
- libyaml (``CSafeLoader``) when installed: the pure-Python parser is ~50x slower, which makes a
  large file a denial of service; the pure-Python loader is the fallback with the same checks.

Errors are :class:`YamlRejected` with a line and column and never quote the document (a patient
file holds patient data).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Hashable
from pathlib import Path
from typing import Any, ClassVar

import yaml

__all__ = ["CACHE_ENV", "LIBYAML", "YamlRejected", "cache_dir", "load_rule_yaml", "load_yaml"]

CACHE_ENV = "IVIG_CDS_CACHE_DIR"
"""Where parsed rule files are kept between runs (default ``$XDG_CACHE_HOME/ivig-cds`` or
``~/.cache/ivig-cds``); ``off`` (or empty) keeps them in memory only."""
_CACHE_VERSION = "yaml-json-1"  # bump when the reader's output for the same text could change
_MEMORY: dict[str, str] = {}

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
LIBYAML: bool = _Base is not yaml.SafeLoader
"""Whether libyaml is used (it is bundled in PyYAML's wheels)."""

_STR = "tag:yaml.org,2002:str"
_REFUSED_TAGS = {
    "tag:yaml.org,2002:binary",
    "tag:yaml.org,2002:set",
    "tag:yaml.org,2002:omap",
    "tag:yaml.org,2002:pairs",
}


class YamlRejected(ValueError):
    """A YAML document refused: ``problem`` says why, ``line``/``column`` (1-based) where, if known."""

    def __init__(self, problem: str, line: int | None = None, column: int | None = None) -> None:
        self.problem, self.line, self.column = problem, line, column
        where = f" at line {line}, column {column}" if line is not None else ""
        super().__init__(f"invalid YAML{where}: {problem}")


class _StrictLoader(_Base):  # type: ignore[misc]  # the base is chosen at import time
    yaml_constructors: ClassVar[dict[str | None, Any]] = {
        tag: constructor
        for tag, constructor in yaml.SafeLoader.yaml_constructors.items()
        if tag not in _REFUSED_TAGS
    }

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        # A node met a second time is an alias (both composers hand out the anchored node again).
        if node in self.constructed_objects or node in self.recursive_objects:
            raise yaml.constructor.ConstructorError(
                None, None, "anchors and aliases are not allowed", node.start_mark
            )
        return super().construct_object(node, deep=deep)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        self.flatten_mapping(node)  # merge keys (<<) first, as SafeConstructor does
        seen: set[str] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != _STR:
                raise yaml.constructor.ConstructorError(
                    None, None, "mapping keys must be strings", key_node.start_mark
                )
            if key_node.value in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key_node.value[:64]!r}", key_node.start_mark
                )
            seen.add(key_node.value)
        return dict(yaml.constructor.BaseConstructor.construct_mapping(self, node, deep=deep))


def load_yaml(text: str) -> Any:
    """Parse one YAML document strictly (see the module docstring).

    Raises:
        YamlRejected: Malformed, more than one document, an alias, a refused tag, a duplicate or
            non-string key, a control character, or a date or number out of range.
        RecursionError: Nesting too deep for the constructor (callers report their own limit).
    """
    loader = _StrictLoader(text)
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        # only context and problem: str(exc) quotes a snippet of the document
        what = "; ".join(part for part in (exc.context, exc.problem) if part) or "syntax error"
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        problem: YamlRejected = YamlRejected(what, line, column)
    except yaml.reader.ReaderError as exc:  # libyaml's reader: a control or non-Unicode character
        problem = YamlRejected(f"{exc.reason} (character {exc.position + 1})")
    except yaml.YAMLError:
        problem = YamlRejected("syntax error")
    except ValueError:
        # YAML's own scalars: an unquoted impossible date (2024-02-30), an integer over 4300 digits
        problem = YamlRejected("a date or number is out of range")
    finally:
        loader.dispose()
    raise problem  # outside the handler: the parser's exception is not chained


def cache_dir() -> Path | None:
    """The on-disk cache of parsed rule files, or ``None`` when switched off (see :data:`CACHE_ENV`)."""
    value = os.environ.get(CACHE_ENV)
    if value is not None:
        return None if value.strip().lower() in ("", "off", "0", "none") else Path(value)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "ivig-cds"


def _json_exact(value: Any, depth: int = 0) -> bool:
    """Whether JSON gives this value back unchanged (YAML can also give dates, inf and nan)."""
    if depth > 64:
        return False
    if value is None or isinstance(value, (str, bool, int)):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_json_exact(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_exact(v, depth + 1) for k, v in value.items())
    return False


def load_rule_yaml(text: str) -> Any:
    """:func:`load_yaml` for the rulebook's own files (rules, tables, terminology), cached by content.

    The parsed document is kept as JSON under the SHA-256 of its text: in memory for the process
    and, unless switched off, in :func:`cache_dir` for the next one (a cold ``ivig-cds evaluate``
    skips YAML construction, the largest part of building an engine). A cache entry is only ever
    the same document in another syntax: a changed file has another hash, an unreadable or
    corrupt entry is ignored and rewritten. Never used for patient files: patient data is not
    written anywhere by a read.
    """
    key = hashlib.sha256(f"{_CACHE_VERSION}\0{text}".encode()).hexdigest()
    cached = _MEMORY.get(key)
    folder = cache_dir() if cached is None else None
    if cached is None and folder is not None:
        try:
            cached = (folder / f"{key}.json").read_text(encoding="utf-8")
            json.loads(cached)  # a torn or edited entry is not trusted
        except (OSError, ValueError):
            cached = None
    if cached is not None:
        _MEMORY[key] = cached
        return json.loads(cached)
    data = load_yaml(text)
    if _json_exact(data):
        encoded = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        _MEMORY[key] = encoded
        if folder is not None:
            _write_entry(folder, key, encoded)
    return data


def _write_entry(folder: Path, key: str, encoded: str) -> None:
    """Write one cache entry atomically; a cache that cannot be written is simply not used."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = folder / f".{key}.{os.getpid()}.tmp"
        tmp.write_text(encoded, encoding="utf-8")
        os.replace(tmp, folder / f"{key}.json")
    except OSError:
        pass
