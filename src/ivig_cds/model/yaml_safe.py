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

import contextlib
import hashlib
import json
import math
import os
import stat
from collections.abc import Hashable
from pathlib import Path
from typing import Any, ClassVar

import yaml

__all__ = ["CACHE_ENV", "LIBYAML", "YamlRejected", "cache_dir", "load_rule_yaml", "load_yaml"]

CACHE_ENV = "IVIG_CDS_CACHE_DIR"
"""A private folder where parsed rule files are kept between runs (opt-in; unset, empty or ``off``: the
cache is in memory only). The folder must be as trusted as the rule files themselves."""
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
    """The on-disk cache of parsed rule files, or ``None`` when not asked for (see :data:`CACHE_ENV`)."""
    value = os.environ.get(CACHE_ENV, "").strip()
    if value.lower() in ("", "off", "0", "none"):
        return None
    return Path(value)


def _private(folder: Path) -> bool:
    """Whether the folder is this user's own and writable by no one else (else the cache is not used)."""
    try:
        st = folder.stat()
    except OSError:
        return False
    owner_ok = not hasattr(os, "getuid") or st.st_uid == os.getuid()
    return owner_ok and stat.S_ISDIR(st.st_mode) and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


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
    and, when :data:`CACHE_ENV` names a folder, on disk for the next one (a cold ``ivig-cds
    evaluate`` then skips YAML construction). A changed file has another hash; an entry that is
    not valid JSON is ignored and rewritten; but an entry edited into other valid JSON would be
    used as it is - so the folder is used only when it is this user's own and writable by no one
    else (created ``0700``, entries ``0600``), and must be as trusted as the rule files. Never used
    for patient files: patient data is not written anywhere by a read.
    """
    key = _key(text)
    cached = _MEMORY.get(key)
    folder = cache_dir() if cached is None else None
    if folder is not None:
        with contextlib.suppress(OSError):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _private(folder):
            folder = None
    if cached is None and folder is not None:
        try:
            cached = (folder / f"{key}.json").read_text(encoding="utf-8")
            json.loads(cached)  # a torn entry is not used
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


def _key(text: str) -> str:
    return hashlib.sha256(f"{_CACHE_VERSION}\0{text}".encode()).hexdigest()


def _write_entry(folder: Path, key: str, encoded: str) -> None:
    """Write one cache entry atomically, readable by this user only; a cache that cannot be written is not used."""
    tmp = folder / f".{key}.{os.getpid()}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(encoded)
        os.replace(tmp, folder / f"{key}.json")
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
