"""``get_plugin_manager()``: specs, built-ins, entry points, a plugins folder, and isolation of broken plugins."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import importlib.util
import os
import sys
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pluggy

from seqkit.plugins.registry import PluginError, Registry

ENTRY_POINT_GROUP = "seqkit"
BUILTIN = "seqkit"


def _is_layer(obj: Any) -> str | None:
    from seqkit.layers.layer import Layer

    if isinstance(obj, type):
        return None if issubclass(obj, Layer) else f"the class {obj.__name__}, which is not a Layer subclass"
    return None if callable(obj) else f"{type(obj).__name__} object, neither a Layer subclass nor a factory"


def _is_callable(obj: Any) -> str | None:
    return None if callable(obj) else f"a {type(obj).__name__} object, not a class or callable"


#: registry kind -> (hook that fills it, check of each object)
KINDS: dict[str, tuple[str, Callable[[Any], str | None]]] = {
    "layer": ("seqkit_register_layers", _is_layer),
    "model": ("seqkit_register_models", _is_layer),
    "corpus": ("seqkit_register_corpora", lambda obj: None),
    "tokenizer": ("seqkit_register_tokenizers", _is_callable),
    "optimizer": ("seqkit_register_optimizers", _is_callable),
    "updater": ("seqkit_register_updaters", _is_callable),
    "metric": ("seqkit_register_metrics", _is_callable),
}


class PluginWarning(UserWarning):
    """A plugin failed and was left out (``--strict-plugins`` makes this an error)."""


@dataclasses.dataclass
class BrokenPlugin:
    name: str
    distribution: str | None
    reason: str


class PluginManager(pluggy.PluginManager):
    """pluggy's manager plus seqkit's registries, filled lazily by calling each plugin's hook in isolation."""

    def __init__(self, *, strict: bool = False) -> None:
        super().__init__("seqkit")
        self.strict = strict
        self.broken: list[BrokenPlugin] = []
        self.origins: dict[str, dict[str, str | None]] = {}  # plugin name -> distribution, version, source
        self.commands: dict[str, list[str]] = {}  # plugin name -> subcommands it added
        self._registries: dict[str, Registry] = {}

    def registry(self, kind: str) -> Registry:
        """The registry of ``kind`` (see ``KINDS``), filled by every plugin's hook on first use."""
        if kind not in self._registries:
            hook, check = KINDS[kind]
            registry = Registry(kind, check)
            self._call_each(hook, registry=registry)
            self._registries[kind] = registry
        return self._registries[kind]

    def add_commands(self, subparsers) -> None:
        """Let every plugin add its subcommands."""
        self._call_each("seqkit_register_commands", subparsers=subparsers)

    def _call_each(self, hook: str, **kwargs: Any) -> None:
        for impl in getattr(self.hook, hook).get_hookimpls():
            name = self.get_name(impl.plugin)
            registry = kwargs.get("registry")
            before = set(kwargs["subparsers"].choices) if "subparsers" in kwargs else set()
            if registry is not None:
                registry.plugin = name
            try:
                impl.function(**{arg: kwargs[arg] for arg in impl.argnames})
            except Exception as e:
                if name == BUILTIN:
                    raise
                if registry is not None:
                    registry.remove_plugin(name)
                self._fail(name, f"its hook {hook} raised {type(e).__name__}: {e}", e)
                continue
            if "subparsers" in kwargs:
                self.commands[name] = sorted(set(kwargs["subparsers"].choices) - before)

    def _fail(self, name: str, reason: str, error: BaseException) -> None:
        distribution = (self.origins.get(name) or {}).get("distribution")
        where = f"plugin {name!r}" + (f" (distribution {distribution})" if distribution else "")
        if self.strict:
            raise PluginError(f"{where}: {reason}") from error
        if self.has_plugin(name):
            self.unregister(name=name)
        self.broken.append(BrokenPlugin(name, distribution, reason))
        warnings.warn(f"{where} is left out: {reason}", PluginWarning, stacklevel=2)

    def load(self, name: str, loader: Callable[[], Any], origin: dict[str, str | None]) -> None:
        """Import a plugin with ``loader`` and register it as ``name``; a failure marks it broken."""
        self.origins[name] = origin
        try:
            module = loader()
            self.register(module, name=name)
            self.check_pending()  # a misspelled hook name fails here, attributed to this plugin
        except Exception as e:
            self._fail(name, f"could not be loaded from {origin.get('source')}: {type(e).__name__}: {e}", e)

    def plugin_names(self) -> list[str]:
        """Registered plugins, built-ins first."""
        return [name for name, plugin in self.list_name_plugin() if plugin is not None]


def _split(value: str | None) -> set[str] | None:
    return None if value is None else {part.strip() for part in value.split(",") if part.strip()}


def get_plugin_manager(
    *, plugins_dir: str | os.PathLike | None = None, strict: bool = False, environ: Mapping[str, str] | None = None
) -> PluginManager:
    """A new manager with the hook specs, the built-ins, entry points of group ``seqkit`` and, from
    ``plugins_dir`` (or ``SEQKIT_PLUGINS_DIR``), every ``*.py`` file.

    ``SEQKIT_LOAD_PLUGINS=a,b`` loads only those plugins (entry-point or distribution names; empty: none),
    ``SEQKIT_DISABLE_PLUGINS=a,b`` skips those, ``SEQKIT_TRACE_PLUGINS=1`` prints every hook call to stderr.
    A plugin that fails is left out with a ``PluginWarning``; with ``strict`` it raises ``PluginError``.
    """
    from seqkit import __version__
    from seqkit.plugins import builtin, hookspecs

    environ = os.environ if environ is None else environ
    pm = PluginManager(strict=strict)
    pm.add_hookspecs(hookspecs)
    pm.origins[BUILTIN] = {"distribution": "seqkit", "version": __version__, "source": "seqkit.plugins.builtin"}
    pm.register(builtin, name=BUILTIN)
    only, disabled = _split(environ.get("SEQKIT_LOAD_PLUGINS")), _split(environ.get("SEQKIT_DISABLE_PLUGINS")) or set()

    def wanted(*names: str | None) -> bool:
        names_set = {n for n in names if n}
        return (only is None or bool(names_set & only)) and not names_set & disabled

    for ep in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        dist = ep.dist.name if ep.dist else None
        if wanted(ep.name, dist):
            origin = {"distribution": dist, "version": ep.dist.version if ep.dist else None, "source": ep.value}
            pm.load(ep.name, ep.load, origin)
    folder = plugins_dir or environ.get("SEQKIT_PLUGINS_DIR")
    if folder:
        for path in sorted(Path(folder).glob("*.py")):
            if wanted(path.stem):
                origin = {"distribution": None, "version": None, "source": str(path)}
                pm.load(path.stem, lambda p=path: _import_file(p), origin)
    if environ.get("SEQKIT_TRACE_PLUGINS", "") not in ("", "0"):
        pm.trace.root.setwriter(sys.stderr.write)
        pm.enable_tracing()
    return pm


def _import_file(path: Path):
    """Import a plugin file as its own module (no ``sys.path`` changes)."""
    spec = importlib.util.spec_from_file_location(f"seqkit_plugins_dir.{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
