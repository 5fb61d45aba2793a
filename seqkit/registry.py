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
    """A plugin registered something wrong (a taken name, the wrong kind of object) or could not be loaded.

    ``problem`` is the message without the plugin's name, for callers that name the plugin themselves.
    """

    def __init__(self, message: str, problem: str | None = None) -> None:
        super().__init__(message)
        self.problem = problem or message


class UnknownNameError(UserError, KeyError):
    """A lookup by a name nobody registered (usually from a recipe or a flag: bad user input)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


@dataclasses.dataclass(frozen=True)
class Entry:
    """A registered component: its name, the object, the plugin that added it, and its options dataclass."""

    name: str
    obj: Any
    plugin: str
    options: type | None = None
    aliases: tuple[str, ...] = ()


class Registry:
    """Components of one ``kind`` by name. ``check(obj)`` returns why an object is not acceptable, or None.

    ``plugin`` is the name of the plugin whose hook is running; the manager sets it, so every entry knows
    where it came from.
    """

    def __init__(self, kind: str, check: Callable[[Any], str | None] | None = None) -> None:
        self.kind = kind
        self.check = check
        self.plugin = "?"
        self._entries: dict[str, Entry] = {}
        self._aliases: dict[str, str] = {}

    def add(self, name: str, obj: Any, *, options: type | None = None, aliases: tuple[str, ...] = ()) -> None:
        """Register ``obj`` under ``name`` (and ``aliases``). The same object twice is harmless; another object
        under a taken name raises ``PluginError`` naming both plugins."""
        if not isinstance(name, str) or not name:
            raise self._error(f"a {self.kind} name must be a non-empty string, got {name!r}")
        if isinstance(aliases, str):
            raise self._error(f"aliases of {self.kind} {name!r} must be a tuple of names, got the string {aliases!r}")
        if options is not None and not (isinstance(options, type) and dataclasses.is_dataclass(options)):
            raise self._error(f"options of {self.kind} {name!r} must be a dataclass class, got {options!r}")
        problem = self.check(obj) if self.check else None
        if problem:
            raise self._error(f"{self.kind} {name!r} is {problem}")
        for key in (name, *aliases):
            taken = self._lookup(key)
            if taken is not None and taken.obj is not obj:
                message = (
                    f"{self.kind} name {key!r} is registered by plugin {taken.plugin!r} and again, with a "
                    f"different object, by plugin {self.plugin!r}"
                )
                raise PluginError(message, message)
        if name in self._entries:
            return
        self._entries[name] = Entry(name, obj, self.plugin, options, tuple(aliases))
        for alias in aliases:
            self._aliases[alias] = name

    def _error(self, problem: str) -> PluginError:
        return PluginError(f"plugin {self.plugin!r}: {problem}", problem)

    def remove_plugin(self, plugin: str) -> None:
        """Drop everything ``plugin`` registered (used when its hook fails halfway)."""
        for name in [n for n, e in self._entries.items() if e.plugin == plugin]:
            for alias in self._entries.pop(name).aliases:
                self._aliases.pop(alias, None)

    def _lookup(self, name: str) -> Entry | None:
        return self._entries.get(self._aliases.get(name, name))

    def entry(self, name: str) -> Entry:
        """The entry for ``name`` or an alias; ``UnknownNameError`` suggesting the closest names otherwise."""
        found = self._lookup(name)
        if found is None:
            known = sorted(self._entries)
            close = difflib.get_close_matches(str(name), known + sorted(self._aliases), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ";"
            raise UnknownNameError(f"unknown {self.kind} {name!r}{hint} known: {', '.join(known) or '(none)'}")
        return found

    def get(self, name: str) -> Any:
        """The object registered as ``name`` (or an alias of it)."""
        return self.entry(name).obj

    def names(self) -> list[str]:
        """Registered names (not aliases), sorted."""
        return sorted(self._entries)

    def entries(self) -> Iterator[Entry]:
        """Every entry, in registration order."""
        return iter(self._entries.values())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._lookup(name) is not None

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"
