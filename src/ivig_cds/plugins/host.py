"""The plugin host: a fresh pluggy manager per Engine, discovery, load control and per-plugin isolation.

Sources of plugins, in this order: the built-in core plugin (rules and outputs, registered
through the same hooks as everyone else); installed packages with an entry point in the
``ivig_cds`` group, filtered by ``IVIG_CDS_LOAD_PLUGINS`` (unset: all; empty: none; else a comma
list of entry-point or distribution names); local plugin files or directories; plugin objects
passed in by the embedding program. pluggy stops a hook call at the first plugin that raises,
so every hook is called here one plugin at a time: a failure is recorded, the rest still run.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from ivig_cds.errors import PluginError
from ivig_cds.facts.catalog import CATALOG, FactField
from ivig_cds.plugins import spec as hookspecs
from ivig_cds.plugins.defaults import DEFAULT_PLUGINS, load_default
from ivig_cds.plugins.spec import PROJECT, EvaluationContext, FactDeriver, OutputFormatSpec

__all__ = [
    "INTERRUPTS",
    "LOAD_PLUGINS_ENV",
    "EvaluationContext",
    "FactDeriver",
    "OutputFormatSpec",
    "PluginHost",
    "PluginInfo",
    "Registrations",
    "boundary",
]

LOAD_PLUGINS_ENV = "IVIG_CDS_LOAD_PLUGINS"
CORE = "core"
BUILTIN = frozenset({CORE, *(name for name, _ in DEFAULT_PLUGINS)})
"""The built-in plugins: called first, never counted as third-party plugins."""


def _order(plugin_name: str) -> tuple[bool, str]:
    return plugin_name not in BUILTIN, plugin_name


@dataclass
class PluginInfo:
    """A loaded (or failed) plugin, as ``ivig-cds plugins`` lists it."""

    name: str
    version: str
    source: str
    hooks: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    formats: list[str] = field(default_factory=list)
    thresholds: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass
class Registrations:
    """Everything plugins registered when an Engine was built."""

    rule_sources: list[tuple[Path | Mapping[str, Any], str]] = field(default_factory=list)
    derivers: list[tuple[str, FactDeriver]] = field(default_factory=list)
    thresholds: list[tuple[str, Mapping[str, Any]]] = field(default_factory=list)
    formats: dict[str, tuple[str, Any]] = field(default_factory=dict)


class _Interrupts:
    """Tells a real Ctrl-C from a ``KeyboardInterrupt`` a plugin raised itself.

    The CLI runs inside :meth:`guard`: SIGINT then goes through a handler that counts it. Without it
    (an embedding program), a ``KeyboardInterrupt`` cannot be told apart and is taken as real.
    """

    def __init__(self) -> None:
        self.installed = False
        self.seen = 0

    def install(self) -> Any:
        """Count SIGINTs from now on (main thread only); returns the handler it replaced."""
        if threading.current_thread() is not threading.main_thread():
            return None

        def handler(signum: int, frame: object) -> None:
            self.seen += 1
            raise KeyboardInterrupt

        previous = signal.signal(signal.SIGINT, handler)
        self.installed = True
        return previous

    @contextlib.contextmanager
    def guard(self) -> Iterator[None]:
        """Count SIGINTs while the block runs, then restore the previous handler and state."""
        state = (self.installed, self.seen)
        previous = self.install()
        try:
            yield
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
            self.installed, self.seen = state

    def real(self) -> bool:
        return self.seen > 0 or not self.installed


INTERRUPTS = _Interrupts()


def boundary(exc: BaseException) -> BaseException:
    """What a plugin raised, to be recorded as its failure; a real Ctrl-C is raised again.

    ``SystemExit``, ``KeyboardInterrupt`` raised by the plugin itself and every other exception
    stop only that plugin: a plugin can never end the program or hide the core's result.
    """
    if isinstance(exc, KeyboardInterrupt) and INTERRUPTS.real():
        raise exc
    return exc


def _short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 300 else text[:297] + "..."


class PluginHost:
    """One pluggy manager and its plugins, for one Engine.

    Args:
        core: The built-in plugin object (registered first, named ``core``).
        entry_points: Load installed plugins (subject to ``IVIG_CDS_LOAD_PLUGINS``).
        paths: Local plugin files (``.py``) or directories of them.
        objects: Plugin objects (modules, classes, instances), as ``(name, object)`` or objects.
        strict: Raise :class:`PluginError` on the first plugin failure instead of isolating it.
    """

    def __init__(
        self,
        core: object,
        *,
        entry_points: bool = True,
        paths: Iterable[str | os.PathLike[str]] = (),
        objects: Iterable[object] = (),
        strict: bool = False,
    ) -> None:
        self.strict = strict
        self.pm = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}
        self.failures: list[tuple[str, str, str]] = []
        self._add(CORE, core, "builtin", _version(None))
        for name, module in DEFAULT_PLUGINS:
            self._add(name, load_default(module), "builtin", _version(None))
        if entry_points:
            self._load_entry_points()
        for path in paths:
            self._load_path(Path(path))
        for obj in objects:
            name, plugin = obj if isinstance(obj, tuple) else (_object_name(obj), obj)
            self._add(str(name), plugin, "object", str(getattr(plugin, "__version__", "0")))

    # -- loading -------------------------------------------------------------------------------
    def fail(
        self, plugin: str, hook: str, exc: BaseException, sink: list[tuple[str, str, str]] | None = None
    ) -> None:
        """Record a plugin failure (or raise it in strict mode).

        Load-time failures go to ``self.failures``; per-evaluation ones to the caller's ``sink``.
        """
        if self.strict:
            raise PluginError(plugin, hook, _short(exc)) from exc
        if sink is not None:
            sink.append((plugin, hook, _short(exc)))
            return
        self.failures.append((plugin, hook, _short(exc)))
        if plugin in self.infos and self.infos[plugin].error is None:
            self.infos[plugin].error = f"{hook}: {_short(exc)}"

    def disable(self, name: str) -> None:
        """Take a failed plugin out: none of its hooks is called again (it stays listed, with its error)."""
        plugin = self.pm.get_plugin(name)
        if plugin is not None and name not in BUILTIN:
            self.pm.unregister(plugin)

    def _add(self, name: str, plugin: object, source: str, version: str) -> None:
        if name in self.infos:
            self.fail(name, "load", ValueError(f"a plugin named {name!r} is already loaded"))
            return
        self.infos[name] = PluginInfo(name, version, source)
        try:
            self.pm.register(plugin, name=name)
            self.pm.check_pending()  # a misspelled hook name fails loudly, here
        except BaseException as exc:
            if self.pm.is_registered(plugin):
                self.pm.unregister(plugin)
            self.fail(name, "load", boundary(exc))
            return
        self.infos[name].hooks = sorted(h.name for h in self.pm.get_hookcallers(plugin) or [])

    def _load_entry_points(self) -> None:
        allow = os.environ.get(LOAD_PLUGINS_ENV)
        allowed = None if allow is None else {x.strip() for x in allow.split(",") if x.strip()}
        if allowed == set():  # entry-point plugins switched off: the package index is not read at all
            return
        from importlib import metadata  # ~25 ms to import: only when entry points are read

        for ep in sorted(metadata.entry_points(group=PROJECT), key=lambda e: e.name):
            dist = ep.dist.name if ep.dist is not None else ""
            if allowed is not None and ep.name not in allowed and dist not in allowed:
                continue
            version = ep.dist.version if ep.dist is not None else "unknown"
            try:
                plugin = ep.load()
            except BaseException as exc:
                self.infos[ep.name] = PluginInfo(ep.name, version, f"entry point {ep.value}")
                self.fail(ep.name, "load", boundary(exc))
                continue
            self._add(ep.name, plugin, f"entry point {ep.value}", version)

    def _load_path(self, path: Path) -> None:
        files = sorted(path.glob("*.py")) if path.is_dir() else [path]
        for file in files:
            name = file.stem
            try:
                if not file.is_file():
                    raise FileNotFoundError(f"no plugin file {file}")
                module = _import_file(file)
            except BaseException as exc:
                self.infos[name] = PluginInfo(name, "0", f"file {file}")
                self.fail(name, "load", boundary(exc))
                continue
            self._add(name, module, f"file {file}", str(getattr(module, "__version__", "0")))

    # -- calling -------------------------------------------------------------------------------
    def call(
        self, hook: str, sink: list[tuple[str, str, str]] | None = None, **kwargs: Any
    ) -> list[tuple[str, Any]]:
        """Call a hook plugin by plugin (in name order, core first), isolating failures into ``sink``."""
        caller = getattr(self.pm.hook, hook)
        impls = sorted(caller.get_hookimpls(), key=lambda i: _order(i.plugin_name))
        out: list[tuple[str, Any]] = []
        for impl in impls:
            try:
                result = impl.function(**{k: kwargs[k] for k in impl.argnames})
            except BaseException as exc:
                self.fail(impl.plugin_name, hook, boundary(exc), sink)
                continue
            out.append((impl.plugin_name, result))
        return out

    def call_one(self, impl: Any, sink: list[tuple[str, str, str]] | None, **kwargs: Any) -> Any:
        """Call one plugin's implementation of a hook, isolating a failure into ``sink``."""
        try:
            return impl.function(**{k: kwargs[k] for k in impl.argnames})
        except BaseException as exc:
            self.fail(impl.plugin_name, impl.function.__name__, boundary(exc), sink)
            return None

    def impls(self, hook: str) -> list[Any]:
        """The implementations of a hook by third-party plugins, in name order (built-ins excluded)."""
        found = getattr(self.pm.hook, hook).get_hookimpls()
        return sorted((i for i in found if i.plugin_name not in BUILTIN), key=lambda i: i.plugin_name)

    def collect(self) -> Registrations:
        """Run the registration hooks once and gather what plugins registered."""
        reg = Registrations()

        def registrar(plugin: str, kind: str) -> Callable[[Any], None]:
            def register(item: Any) -> None:
                if kind == "rules":
                    if not isinstance(item, (Path, Mapping)):
                        raise TypeError("register() takes a pathlib.Path or a rule-file mapping")
                    reg.rule_sources.append((item, plugin))
                elif kind == "facts":
                    _check_deriver(item, reg)
                    reg.derivers.append((plugin, item))
                else:
                    for attr in ("name", "description", "render"):
                        if not hasattr(item, attr):
                            raise TypeError(f"an output format needs {attr!r}")
                    if item.name in reg.formats:
                        raise ValueError(
                            f"output format {item.name!r} already registered by {reg.formats[item.name][0]}"
                        )
                    reg.formats[item.name] = (plugin, item)
                    self.infos[plugin].formats.append(item.name)

            return register

        hooks = (
            ("register_rules", "rules"),
            ("register_fact_derivers", "facts"),
            ("register_output_formats", "formats"),
        )
        for hook, kind in hooks:
            for impl in sorted(getattr(self.pm.hook, hook).get_hookimpls(), key=lambda i: _order(i.plugin_name)):
                before = (len(reg.rule_sources), len(reg.derivers), dict(reg.formats))
                try:
                    impl.function(register=registrar(impl.plugin_name, kind))
                except BaseException as exc:
                    exc = boundary(exc)
                    # registration is all or nothing per plugin and hook
                    reg.rule_sources = [s for i, s in enumerate(reg.rule_sources) if i < before[0]]
                    reg.derivers = reg.derivers[: before[1]]
                    reg.formats = before[2]
                    self.fail(impl.plugin_name, hook, exc)
        seen: dict[str, tuple[str, Any]] = {}
        for plugin, values in self.call("provide_thresholds"):
            if values is None:
                continue
            if not isinstance(values, Mapping):
                self.fail(plugin, "provide_thresholds", TypeError("must return a mapping or None"))
                continue
            clash = [k for k, v in values.items() if k in seen and seen[k][1] != v]
            if clash:
                owner, value = seen[clash[0]]
                error = ValueError(f"{clash[0]!r} already set to {value!r} by {owner}")
                self.fail(plugin, "provide_thresholds", error)
                continue
            seen.update((k, (plugin, v)) for k, v in values.items())
            reg.thresholds.append((plugin, dict(values)))
            self.infos[plugin].thresholds.update(values)
        return reg

    def catalog(self, reg: Registrations) -> dict[str, dict[str, FactField]]:
        """The fact catalog extended with plugin fields."""
        out = {t: dict(fields) for t, fields in CATALOG.items()}
        for _, deriver in reg.derivers:
            out.setdefault(deriver.fact_type, {}).update(deriver.fields)
        return out

    def versions(self) -> list[str]:
        """``name==version`` of every plugin in force (core excluded), sorted."""
        return sorted(
            f"{i.name}=={i.version}" for i in self.infos.values() if i.name not in BUILTIN and i.error is None
        )

    def has_impls(self, hook: str) -> bool:
        """True when any plugin implements the hook (skips per-evaluation work otherwise)."""
        return bool(getattr(self.pm.hook, hook).get_hookimpls())


def _check_deriver(item: Any, reg: Registrations) -> None:
    if not isinstance(item, FactDeriver):
        raise TypeError("register() takes an ivig_cds.plugins.FactDeriver")
    if item.fact_type == "conclusion":
        raise ValueError("a deriver cannot add conclusion facts")
    for name, spec in item.fields.items():
        if not isinstance(spec, FactField):
            raise TypeError(f"field {name!r} must be a FactField")
        if name in CATALOG.get(item.fact_type, {}):
            raise ValueError(f"{item.fact_type}.{name} is a core field")
        for _, other in reg.derivers:
            if other.fact_type == item.fact_type and name in other.fields:
                raise ValueError(f"{item.fact_type}.{name} is already filled by deriver {other.name!r}")


def _import_file(path: Path) -> ModuleType:
    name = f"ivig_cds_local_plugin_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _object_name(obj: object) -> str:
    return str(getattr(obj, "name", None) or getattr(obj, "__name__", None) or type(obj).__name__)


def _version(dist: str | None) -> str:
    from importlib import metadata

    from ivig_cds._version import __version__

    return __version__ if dist is None else metadata.version(dist)
