"""``get_plugin_manager()``: specs, built-ins, entry points, a plugins folder, and isolation of broken plugins."""

from __future__ import annotations

import dataclasses
import difflib
import importlib.metadata
import importlib.util
import os
import re
import sys
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from seqkit._version import __version__
from seqkit.plugins import builtin, hookspecs
from seqkit.registry import Conflict, PluginError, Registry

ENTRY_POINT_GROUP = "seqkit"
BUILTIN = "seqkit"


def _is_layer(obj: Any) -> str | None:
    from seqkit.layers.layer import Layer

    if isinstance(obj, type):
        return None if issubclass(obj, Layer) else f"the class {obj.__name__}, which is not a Layer subclass"
    if isinstance(obj, Layer):
        return f"a {type(obj).__name__} instance; register the class (or a factory), not an instance"
    return None if callable(obj) else f"a {type(obj).__name__} object, neither a Layer subclass nor a factory"


def _subclass_of(base: Callable[[], type]) -> Callable[[Any], str | None]:
    """A check that an object is a concrete subclass of ``base()`` (imported when a plugin registers one, so the
    manager imports no kind's package): a subclass with an abstract method left unimplemented could not be built."""

    def check(obj: Any) -> str | None:
        expected = base()
        if not (isinstance(obj, type) and issubclass(obj, expected)):
            what = f"the class {obj.__name__}" if isinstance(obj, type) else f"a {type(obj).__name__} object"
            return f"{what}, not a subclass of {expected.__module__.split('.')[0]}'s {expected.__qualname__}"
        missing = sorted(getattr(obj, "__abstractmethods__", ()))
        return f"the class {obj.__name__}, which does not implement {', '.join(missing)}" if missing else None

    return check


def _is_manifest(obj: Any) -> str | None:
    from seqkit.corpora import Manifest

    if isinstance(obj, Manifest):
        return None
    return f"a {type(obj).__name__} object, not a seqkit.corpora.Manifest (read one with load_manifest(path))"


#: registry kind -> (hook that fills it, check of each object)
KINDS: dict[str, tuple[str, Callable[[Any], str | None]]] = {
    "layer": ("seqkit_register_layers", _is_layer),
    "model": ("seqkit_register_models", _subclass_of(lambda: importlib.import_module("seqkit.models").Translator)),
    "corpus": ("seqkit_register_corpora", _is_manifest),
    "tokenizer": ("seqkit_register_tokenizers",
                  _subclass_of(lambda: importlib.import_module("seqkit.tokenizers").Tokenizer)),
    "optimizer": ("seqkit_register_optimizers",
                  _subclass_of(lambda: importlib.import_module("seqkit.optim").Optimizer)),
    "updater": ("seqkit_register_updaters", _subclass_of(lambda: importlib.import_module("seqkit.training").Updater)),
    "schedule": ("seqkit_register_schedules", _subclass_of(lambda: importlib.import_module("seqkit.optim").Schedule)),
    "decoding_strategy": ("seqkit_register_decoding_strategies",
                          _subclass_of(lambda: importlib.import_module("seqkit.decoding").DecodingStrategy)),
    # seqkit.metrics (with sacrebleu) is imported when the metric registry is built, not with the manager
    "metric": ("seqkit_register_metrics", lambda obj: importlib.import_module("seqkit.metrics").check_metric(obj)),
}  # fmt: skip


class PluginWarning(UserWarning):
    """A plugin failed and was left out (``--strict-plugins`` makes this an error)."""


class PluginConflict(PluginWarning):
    """Plugins register one name with different objects: the name is refused, the plugins stay. It is an error
    (the command line prints it as one), carried as a warning so that the command goes on with every other
    name; ``--strict-plugins`` raises it as a ``PluginError``."""


@dataclasses.dataclass
class BrokenPlugin:
    """A plugin that was left out: its name, where it came from, and why (one line)."""

    name: str
    distribution: str | None
    reason: str
    version: str | None = None
    source: str | None = None
    via: str | None = None


def _one_line(error: BaseException) -> str:
    """``Type: message`` on one line (pluggy's validation errors span several)."""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _normalize(name: str) -> str:
    """A distribution name as PEP 503 compares them: ``Seqkit_Example`` == ``seqkit-example``."""
    return re.sub(r"[-_.]+", "-", name).lower()


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
            if kind not in KINDS:
                raise ValueError(f"no registry of kind {kind!r}; kinds: {', '.join(KINDS)}")
            hook, check = KINDS[kind]
            registry = Registry(kind, check)
            self._registries[kind] = registry
            try:
                self._call_each(hook, registry=registry)
                for conflict in registry.conflicts():
                    self._conflict(conflict)
            except BaseException:
                del self._registries[kind]
                raise
        return self._registries[kind]

    def describe_conflict(self, conflict: Conflict) -> str:
        """One line naming the kind, the name and every plugin that registers it, with where each came from."""
        claimants = [self.describe_origin(p, self.origins.get(p) or {}) for p in conflict.plugins]
        listed = " and by ".join(claimants) if len(claimants) == 2 else ", ".join(claimants)
        return (
            f"{conflict.kind} name {conflict.name!r} is registered by {listed} with different objects, so "
            f"neither is used; {conflict.resolution()}"
        )

    def _conflict(self, conflict: Conflict) -> None:
        """Report a contested name: a ``PluginConflict`` (the registry already refuses the name), or, when
        strict, a ``PluginError``."""
        message = self.describe_conflict(conflict)
        if self.strict:
            raise PluginError(message, message)
        warnings.warn(message, PluginConflict, stacklevel=4)

    def add_commands(self, subparsers) -> None:
        """Let every plugin add its subcommands."""
        self._call_each("seqkit_register_commands", subparsers=subparsers)

    def _call_each(self, hook: str, **kwargs: Any) -> None:
        """Call ``hook`` plugin by plugin (through pluggy, so tracing sees each call): one that raises is left
        out and whatever it registered is removed; the others carry on."""
        registry: Registry | None = kwargs.get("registry")
        subparsers = kwargs.get("subparsers")
        for impl in getattr(self.hook, hook).get_hookimpls():
            name = self.get_name(impl.plugin)
            if name is None:  # left out by an earlier failure in this loop
                continue
            before = set(subparsers.choices) if subparsers is not None else set()
            if registry is not None:
                registry.plugin = name
            others = [plugin for plugin in self.get_plugins() if plugin is not impl.plugin]
            try:
                self.subset_hook_caller(hook, others)(**kwargs)
                if subparsers is not None:
                    _check_commands(subparsers, set(subparsers.choices) - before)
            except Exception as e:
                if subparsers is not None:
                    _drop_commands(subparsers, set(subparsers.choices) - before)
                if name == BUILTIN:
                    raise
                problem = e.problem if isinstance(e, PluginError) else f"its hook {hook} raised {_one_line(e)}"
                self._fail(name, problem, e)
                continue
            finally:
                if registry is not None:
                    registry.plugin = "?"
            if subparsers is not None:
                self.commands[name] = sorted(set(subparsers.choices) - before)

    def _fail(
        self,
        name: str,
        reason: str,
        error: BaseException | None = None,
        *,
        origin: Mapping[str, str | None] | None = None,
    ) -> None:
        """Leave plugin ``name`` out (unregister it, drop what it registered) with a ``PluginWarning``; raise
        ``PluginError`` instead when strict. ``origin`` names another plugin of the same name, which is left
        alone."""
        other = origin is not None
        origin = origin if other else self.origins.get(name) or {}
        where = self.describe_origin(name, origin)
        if self.strict:
            raise PluginError(f"{where} failed: {reason}", reason) from error
        if not other and self.has_plugin(name):
            self.unregister(name=name)
            for registry in self._registries.values():
                registry.remove_plugin(name)
            self.commands.pop(name, None)
        fields = {key: origin.get(key) for key in ("version", "source", "via")}
        self.broken.append(BrokenPlugin(name, origin.get("distribution"), reason, **fields))
        warnings.warn(f"{where} is left out: {reason}", PluginWarning, stacklevel=3)

    @staticmethod
    def describe_origin(name: str, origin: Mapping[str, str | None]) -> str:
        """``plugin 'x' (distribution seqkit-x 1.0, entry point x = seqkit_x.plugin)``, ``(file DIR/x.py)``, or
        ``(distribution seqkit 0.1.0, built-in)``."""
        where = []
        if origin.get("distribution"):
            version = f" {origin['version']}" if origin.get("version") else ""
            where.append(f"distribution {origin['distribution']}{version}")
        if origin.get("via") == "file":
            where.append(f"file {origin.get('source')}")
        elif origin.get("via") == "entry point":
            where.append(f"entry point {name} = {origin.get('source')}")
        elif origin.get("via") == "built-in":
            where.append("built-in")
        return f"plugin {name!r}" + (f" ({', '.join(where)})" if where else "")

    def load(self, name: str, loader: Callable[[], Any], origin: dict[str, str | None]) -> None:
        """Import a plugin with ``loader`` and register it as ``name``; a failure marks it broken."""
        if name in self.origins:
            self._fail(name, f"its name is taken by {self.describe_origin(name, self.origins[name])}", origin=origin)
            return
        self.origins[name] = origin
        try:
            module = loader()
        except Exception as e:
            self._fail(name, f"importing it raised {_one_line(e)}", e)
            return
        if self.is_registered(module):
            self._fail(name, f"it is the same module as plugin {self.get_name(module)!r}")
            return
        problem = self._unknown_hooks(module)
        if problem:
            self._fail(name, problem)
            return
        try:
            self.register(module, name=name)
            self.check_pending()
        except Exception as e:
            self._fail(name, f"registering it raised {_one_line(e)}", e)

    def _unknown_hooks(self, module: Any) -> str | None:
        """What pluggy's ``check_pending`` would reject in ``module``, as one line with the closest hook name."""
        specs = [name for name, caller in vars(self.hook).items() if not name.startswith("_") and caller.has_spec()]
        for attr in dir(module):
            opts = self.parse_hookimpl_opts(module, attr)
            if opts is None or opts.get("optionalhook"):
                continue
            hook = opts.get("specname") or attr
            if hook not in specs:
                close = difflib.get_close_matches(hook, specs, n=1)
                hint = f"; did you mean {close[0]}?" if close else ""
                return f"it implements {hook}, which is not a seqkit hook{hint}"
        return None

    def plugin_names(self) -> list[str]:
        """Registered plugins, built-ins first."""
        return [name for name, plugin in self.list_name_plugin() if plugin is not None]

    def trace_hooks(self, write: Callable[[str], Any]) -> Callable[[], None]:
        """Write one line per hook call (``seqkit: hook NAME(ARGS) -> PLUGINS``) and one per failure; returns
        a function that stops it."""

        def before(hook_name: str, impls, kwargs: Mapping[str, Any]) -> None:
            names = ", ".join(self.get_name(impl.plugin) or "?" for impl in impls) or "(no plugin)"
            write(f"seqkit: hook {hook_name}({', '.join(kwargs)}) -> {names}\n")

        def after(outcome, hook_name: str, impls, kwargs: Mapping[str, Any]) -> None:
            if outcome.exception is not None:
                write(f"seqkit: hook {hook_name} raised {_one_line(outcome.exception)}\n")

        return self.add_hookcall_monitoring(before, after)


def _check_commands(subparsers, names: set[str]) -> None:
    """``PluginError`` for a command whose parser sets no ``run`` function (``p.set_defaults(run=function)``)."""
    for name in sorted(names):
        if not callable(subparsers.choices[name].get_default("run")):
            problem = f"command {name!r} sets no run function (p.set_defaults(run=function))"
            raise PluginError(problem, problem)


def _drop_commands(subparsers, names: set[str]) -> None:
    """Take the commands ``names`` out of ``subparsers`` (a plugin that failed leaves none of its verbs)."""
    for name in names:
        del subparsers.choices[name]
    subparsers._choices_actions[:] = [a for a in subparsers._choices_actions if a.dest not in names]


def _split(value: str | None) -> set[str] | None:
    return None if value is None else {_normalize(part.strip()) for part in value.split(",") if part.strip()}


def get_plugin_manager(
    *, plugins_dir: str | os.PathLike | None = None, strict: bool = False, environ: Mapping[str, str] | None = None
) -> PluginManager:
    """A new manager with the hook specs, the built-ins, entry points of group ``seqkit`` and, from
    ``plugins_dir`` (or ``SEQKIT_PLUGINS_DIR``), every ``*.py`` file.

    ``SEQKIT_LOAD_PLUGINS=a,b`` loads only those plugins (entry-point, file or distribution names; empty:
    none), ``SEQKIT_DISABLE_PLUGINS=a,b`` skips those; neither applies to the built-ins.
    ``SEQKIT_TRACE_PLUGINS=1`` prints every hook call to stderr. A plugin that fails is left out with a
    ``PluginWarning``; a name that plugins register with different objects is refused (the plugins stay) with a
    ``PluginConflict`` when its registry is filled; with ``strict`` either raises ``PluginError``.
    """
    environ = os.environ if environ is None else environ
    pm = PluginManager(strict=strict)
    pm.add_hookspecs(hookspecs)
    if environ.get("SEQKIT_TRACE_PLUGINS", "") not in ("", "0"):
        pm.trace_hooks(lambda line: sys.stderr.write(line))
    pm.origins[BUILTIN] = {
        "distribution": "seqkit", "version": __version__, "source": "seqkit.plugins.builtin", "via": "built-in"
    }  # fmt: skip
    pm.register(builtin, name=BUILTIN)
    only, disabled = _split(environ.get("SEQKIT_LOAD_PLUGINS")), _split(environ.get("SEQKIT_DISABLE_PLUGINS")) or set()

    def wanted(*names: str | None) -> bool:
        names_set = {_normalize(n) for n in names if n}
        return (only is None or bool(names_set & only)) and not names_set & disabled

    for ep in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        dist = ep.dist.name if ep.dist else None
        if wanted(ep.name, dist):
            version = ep.dist.version if ep.dist else None
            origin = {"distribution": dist, "version": version, "source": ep.value, "via": "entry point"}
            pm.load(ep.name, ep.load, origin)
    folder = plugins_dir or environ.get("SEQKIT_PLUGINS_DIR")
    if folder:
        if not Path(folder).is_dir():
            message = f"plugins directory {os.fspath(folder)} does not exist or is not a directory"
            if strict:
                raise PluginError(message)
            warnings.warn(message, PluginWarning, stacklevel=2)
        for path in sorted(Path(folder).glob("*.py")):
            if wanted(path.stem):
                origin = {"distribution": None, "version": None, "source": str(path), "via": "file"}
                pm.load(path.stem, lambda p=path: _import_file(p), origin)
    return pm


def _import_file(path: Path) -> ModuleType:
    """Import a plugin file as its own module, ``seqkit_plugins_dir.NAME``, without changing ``sys.path``.

    The module goes into ``sys.modules`` (as any import does), which dataclasses and pickling rely on.
    """
    name = f"seqkit_plugins_dir.{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module
