"""The site configuration file (TOML): thresholds, plugins, backend and FHIR mapping, without Python.

``--config FILE`` (or ``IVIG_CDS_CONFIG``) names it; ``--threshold NAME=VALUE`` overrides one
threshold on the command line, and command-line options win over the file. Paths in the file are
relative to the file. Example::

    [thresholds]
    low_dose_gc_mg = 5

    [plugins]
    paths = ["site_plugins/"]   # files or directories of *.py plugins
    strict = true               # a failing plugin is fatal

    [engine]
    backend = "reference"       # or "durable"

    [fhir]
    mapping = "site-mapping.yaml"
    strict = false
"""

from __future__ import annotations

import difflib
import json
import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ivig_cds.errors import IvigCdsError

__all__ = ["CONFIG_ENV", "ConfigError", "SiteConfig", "load_site_config", "parse_threshold", "site_config"]

CONFIG_ENV = "IVIG_CDS_CONFIG"
_KEYS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "thresholds": {},
    "plugins": {"paths": list, "strict": bool},
    "engine": {"backend": str},
    "fhir": {"mapping": str, "strict": bool},
}
_BACKENDS = ("durable", "reference")


class ConfigError(IvigCdsError):
    """The site configuration (or a ``--threshold``) is invalid; the message names the file and key."""


@dataclass(frozen=True)
class SiteConfig:
    """A site's settings (every field optional; the command line wins over them).

    Attributes:
        source: The file read, or ``None``.
        thresholds: Site values of named thresholds (``--threshold`` entries included).
        plugin_paths: Plugin files or directories, resolved against the file's directory.
        strict_plugins: A plugin failure is fatal.
        backend: ``durable`` or ``reference``, or ``None`` (the default).
        fhir_mapping: A site FHIR mapping table, or ``None``.
        strict_fhir: Validate FHIR input with the R4B models first.
    """

    source: str | None = None
    thresholds: dict[str, Any] = field(default_factory=dict)
    plugin_paths: tuple[str, ...] = ()
    strict_plugins: bool = False
    backend: str | None = None
    fhir_mapping: str | None = None
    strict_fhir: bool = False


def _unknown(where: str, key: str, known: Sequence[str]) -> ConfigError:
    close = difflib.get_close_matches(key, list(known), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(known)})"
    return ConfigError(f"{where}: unknown key {key!r}{hint}")


def _check(data: Mapping[str, Any], label: str) -> None:
    for section, value in data.items():
        if section not in _KEYS:
            raise _unknown(label, section, list(_KEYS))
        if not isinstance(value, Mapping):
            raise ConfigError(f"{label}: [{section}] must be a table")
        for key, item in value.items():
            if section == "thresholds":
                if isinstance(item, bool) or not isinstance(item, int | float | str):
                    raise ConfigError(f"{label}: thresholds.{key} must be a number or a string")
                continue
            if key not in _KEYS[section]:
                raise _unknown(f"{label}: [{section}]", key, list(_KEYS[section]))
            if not isinstance(item, _KEYS[section][key]):
                kind = {list: "a list of paths", bool: "true or false", str: "a string"}[_KEYS[section][key]]  # type: ignore[index]
                raise ConfigError(f"{label}: {section}.{key} must be {kind}")
    paths = data.get("plugins", {}).get("paths", [])
    if not all(isinstance(p, str) for p in paths):
        raise ConfigError(f"{label}: plugins.paths must be a list of paths")
    backend = data.get("engine", {}).get("backend")
    if backend is not None and backend not in _BACKENDS:
        raise ConfigError(f"{label}: engine.backend must be one of {', '.join(_BACKENDS)}")


def load_site_config(path: str | os.PathLike[str]) -> SiteConfig:
    """Read and check a site configuration file.

    Raises:
        ConfigError: The file is missing, not TOML, or holds an unknown key or a wrong type.
    """
    label = os.fspath(path)
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"site configuration not found: {label}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read the site configuration {label}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{label}: not valid TOML ({exc})") from None
    _check(data, label)
    base = Path(path).resolve().parent

    def here(p: str) -> str:
        return str(base / p)

    plugins, engine, fhir = data.get("plugins", {}), data.get("engine", {}), data.get("fhir", {})
    mapping = fhir.get("mapping")
    return SiteConfig(
        source=label,
        thresholds=dict(data.get("thresholds", {})),
        plugin_paths=tuple(here(p) for p in plugins.get("paths", [])),
        strict_plugins=bool(plugins.get("strict", False)),
        backend=engine.get("backend"),
        fhir_mapping=here(mapping) if mapping else None,
        strict_fhir=bool(fhir.get("strict", False)),
    )


def parse_threshold(text: str) -> tuple[str, Any]:
    """``NAME=VALUE`` of ``--threshold``: a number when it reads as one, else the text.

    Raises:
        ConfigError: No ``=``, or an empty name.
    """
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise ConfigError(f"--threshold {text!r}: expected NAME=VALUE (e.g. low_dose_gc_mg=5)")
    raw = raw.strip()
    try:
        value = json.loads(raw)
    except ValueError:
        return name, raw
    if isinstance(value, bool) or not isinstance(value, int | float):
        return name, raw
    return name, value


def site_config(path: str | None, thresholds: Sequence[str] = ()) -> SiteConfig:
    """The configuration of this run: ``path``, else ``$IVIG_CDS_CONFIG``, else none; then ``--threshold``."""
    chosen = path or os.environ.get(CONFIG_ENV) or None
    cfg = load_site_config(chosen) if chosen else SiteConfig()
    if not thresholds:
        return cfg
    values = dict(cfg.thresholds)
    values.update(parse_threshold(t) for t in thresholds)
    return SiteConfig(
        cfg.source, values, cfg.plugin_paths, cfg.strict_plugins, cfg.backend, cfg.fhir_mapping, cfg.strict_fhir
    )
