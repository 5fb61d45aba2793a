"""One typed registry class for every kind of component: components by name, with where each came from.

A leaf (it imports only ``seqkit.errors``), so that any package can take a registry as an argument; the plugin
manager (``seqkit.plugins``) creates and fills them.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable, Iterator
from typing import Any

from seqkit.errors import UserError


class PluginError(Exception):
    """A plugin registered something wrong (a bad name, the wrong kind of object) or could not be loaded.

    ``problem`` is the message without the plugin's name, for callers that name the plugin themselves.
    """

    def __init__(self, message: str, problem: str | None = None) -> None:
        super().__init__(message)
        self.problem = problem or message


class UnknownNameError(UserError, KeyError):
    """A lookup by a name nobody registered (usually from a recipe or a flag: bad user input)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class ContestedNameError(UserError, KeyError):
    """A lookup by a name that several plugins register with different objects: none of them is used, so the
    user has to choose (bad input, as an unknown name is; a ``KeyError`` so that callers catch both alike)."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclasses.dataclass(frozen=True)
class Entry:
    """A registered component: its name, the object, the plugin that added it, and its options dataclass."""

    name: str
    obj: Any
    plugin: str
    options: type | None = None
    aliases: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Conflict:
    """A name (or alias) of one registry kind that ``plugins`` register with different objects, first
    registration first. Lookups of it fail; every other name of those plugins stays usable."""

    kind: str
    name: str
    plugins: tuple[str, ...]

    def claimants(self) -> str:
        """``plugin 'a' and plugin 'b'`` (``plugins 'a', 'b' and 'c'`` for more)."""
        quoted = [repr(p) for p in self.plugins]
        if len(quoted) == 2:
            return f"plugin {quoted[0]} and plugin {quoted[1]}"
        return f"plugins {', '.join(quoted[:-1])} and {quoted[-1]}"

    def resolution(self) -> str:
        """How to make the name usable: leave out a plugin that is not seqkit's own (whose names stay)."""
        others = [p for p in self.plugins if p != "seqkit"]
        return (
            f"uninstall one of them or leave one out with SEQKIT_DISABLE_PLUGINS={others[-1]} "
            '(docs/plugins.md, "Choosing what loads")'
        )

    def __str__(self) -> str:
        return (
            f"{self.kind} name {self.name!r} is registered by {self.claimants()} with different objects, "
            f"so neither is used; {self.resolution()}"
        )


class Registry:
    """Components of one ``kind`` by name. ``check(obj)`` returns why an object is not acceptable, or None.

    ``plugin`` is the name of the plugin whose hook is running; the manager sets it, so every entry knows
    where it came from.

    A name or alias that two plugins register with different objects is *contested*: it resolves to neither
    (a lookup raises ``ContestedNameError`` naming both), whatever order the plugins load in, and each plugin's
    other names stay usable. The registry is rebuilt from the log of registrations, so dropping a plugin
    (``remove_plugin``) also settles the contests it took part in.
    """

    def __init__(self, kind: str, check: Callable[[Any], str | None] | None = None) -> None:
        self.kind = kind
        self.check = check
        self.plugin = "?"
        self._log: list[Entry] = []  # every accepted registration, in order
        self._entries: dict[str, Entry] = {}  # usable names -> entry
        self._keys: dict[str, Entry] = {}  # usable names and aliases -> entry
        self._contested: dict[str, list[str]] = {}  # contested name or alias -> plugins registering it

    def add(self, name: str, obj: Any, *, options: type | None = None, aliases: tuple[str, ...] = ()) -> None:
        """Register ``obj`` under ``name`` (and ``aliases``). The same object twice is harmless; another object
        under a taken name or alias makes that name contested (see the class). ``PluginError`` for a bad
        name, aliases, options or object."""
        if not isinstance(name, str) or not name:
            raise self._error(f"a {self.kind} name must be a non-empty string, got {name!r}")
        if isinstance(aliases, str):
            raise self._error(f"aliases of {self.kind} {name!r} must be a tuple of names, got the string {aliases!r}")
        if options is not None and not (isinstance(options, type) and dataclasses.is_dataclass(options)):
            raise self._error(f"options of {self.kind} {name!r} must be a dataclass class, got {options!r}")
        problem = self.check(obj) if self.check else None
        if problem:
            raise self._error(f"{self.kind} {name!r} is {problem}")
        self._log.append(Entry(name, obj, self.plugin, options, tuple(aliases)))
        self._rebuild()

    def _rebuild(self) -> None:
        """Work out the usable names and the contests from the log. A key (name or alias) claimed by entries
        with different objects is contested by their plugins; a repeat of the same object adds nothing."""
        claims: dict[str, list[Entry]] = {}
        for entry in self._log:
            for key in dict.fromkeys((entry.name, *entry.aliases)):
                held = claims.setdefault(key, [])
                if all(e.obj is not entry.obj for e in held):
                    held.append(entry)
        self._keys = {key: held[0] for key, held in claims.items() if len(held) == 1}
        self._contested = {
            key: list(dict.fromkeys(e.plugin for e in held)) for key, held in claims.items() if len(held) > 1
        }
        self._entries = {key: e for key, e in self._keys.items() if e.name == key}

    def conflicts(self) -> list[Conflict]:
        """The contested names and aliases, by name."""
        return [Conflict(self.kind, key, tuple(plugins)) for key, plugins in sorted(self._contested.items())]

    def _error(self, problem: str) -> PluginError:
        return PluginError(f"plugin {self.plugin!r}: {problem}", problem)

    def remove_plugin(self, plugin: str) -> None:
        """Drop everything ``plugin`` registered (used when its hook fails halfway)."""
        self._log = [e for e in self._log if e.plugin != plugin]
        self._rebuild()

    def _lookup(self, name: str) -> Entry | None:
        return self._keys.get(name) if isinstance(name, str) else None

    def entry(self, name: str) -> Entry:
        """The entry for ``name`` or an alias; ``ContestedNameError`` naming the plugins when several register
        it, ``UnknownNameError`` suggesting the closest names when none does."""
        found = self._lookup(name)
        if found is None and name in self._contested:
            conflict = Conflict(self.kind, name, tuple(self._contested[name]))
            raise ContestedNameError(
                f"{self.kind} {name!r} is registered by {conflict.claimants()} with different objects, so "
                f"neither is used; {conflict.resolution()}"
            )
        if found is None:
            known = sorted(self._entries)
            close = difflib.get_close_matches(str(name), sorted(self._keys), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ";"
            raise UnknownNameError(f"unknown {self.kind} {name!r}{hint} known: {', '.join(known) or '(none)'}")
        return found

    def get(self, name: str) -> Any:
        """The object registered as ``name`` (or an alias of it)."""
        return self.entry(name).obj

    def names(self) -> list[str]:
        """Usable names (not aliases, not contested ones), sorted."""
        return sorted(self._entries)

    def entries(self) -> Iterator[Entry]:
        """Every entry whose name is usable (not contested), in registration order."""
        return iter(self._entries.values())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._lookup(name) is not None

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"
