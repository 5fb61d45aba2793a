"""Plugins: pluggy hooks, typed registries, discovery by entry points.

A plugin is a module (usually an installed distribution with an entry point in group ``seqkit``) whose
functions, marked ``@hookimpl``, register components into typed registries::

    from seqkit.plugins import hookimpl

    @hookimpl
    def seqkit_register_layers(registry):
        registry.add("peephole_lstm", PeepholeLSTM)

seqkit's own components are registered the same way, by ``seqkit.plugins.builtin``.
"""

import pluggy

hookimpl = pluggy.HookimplMarker("seqkit")
hookspec = pluggy.HookspecMarker("seqkit")

from seqkit.plugins.manager import BrokenPlugin, PluginManager, get_plugin_manager  # noqa: E402
from seqkit.plugins.registry import Entry, PluginError, Registry, UnknownNameError  # noqa: E402

__all__ = [
    "BrokenPlugin", "Entry", "PluginError", "PluginManager", "Registry", "UnknownNameError", "get_plugin_manager",
    "hookimpl", "hookspec",
]  # fmt: skip
