"""Plugins: pluggy hooks, typed registries, discovery by entry points.

A plugin is a module (usually an installed distribution with an entry point in group ``seqkit``) whose
functions, marked ``@hookimpl``, register components into typed registries::

    from seqkit.plugins import hookimpl

    @hookimpl
    def seqkit_register_layers(registry):
        registry.add("peephole_lstm", PeepholeLSTM)

seqkit's own components are registered the same way, by ``seqkit.plugins.builtin``; its command-line verbs
are the command line's own (``seqkit.cli``), and plugins add theirs through ``seqkit_register_commands``.
The markers live with the hook specs (``seqkit.plugins.hookspecs``); ``Registry`` is ``seqkit.registry``'s.
"""

from seqkit.plugins.hookspecs import hookimpl, hookspec
from seqkit.plugins.manager import BrokenPlugin, PluginConflict, PluginManager, PluginWarning, get_plugin_manager
from seqkit.registry import Conflict, ContestedNameError, Entry, PluginError, Registry, UnknownNameError

__all__ = [
    "BrokenPlugin", "Conflict", "ContestedNameError", "Entry", "PluginConflict", "PluginError", "PluginManager",
    "PluginWarning", "Registry", "UnknownNameError", "get_plugin_manager", "hookimpl", "hookspec",
]  # fmt: skip
