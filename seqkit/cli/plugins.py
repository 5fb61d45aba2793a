"""``seqkit plugins``: every plugin, where it comes from, what it registered (with aliases and options), names
it contests with another plugin, and broken plugins with the reason."""

from __future__ import annotations

import argparse
import json

from seqkit.plugins.manager import KINDS
from seqkit.plugins.options import describe_options


def describe(pm) -> list[dict]:
    """One record per plugin, loaded ones first (built-ins first among them), then broken ones: ``name``,
    ``distribution``, ``version``, ``source`` (entry point value or file), ``via`` (``built-in``, ``entry point``,
    ``file``), ``provides`` (kind -> usable names), ``components`` (kind -> one record per name: ``name``,
    ``aliases`` (the usable ones), ``options``, each option with ``name``, ``type``, ``default``, ``required``,
    ``help``), ``conflicts`` (names this plugin registers that another plugin registers too, which neither
    gets: ``kind``, ``name``, ``plugins``, ``error``) and ``error`` (one line, or None)."""
    components: dict[str, dict[str, list[dict]]] = {}
    conflicts: dict[str, list[dict]] = {}
    for kind in KINDS:
        registry = pm.registry(kind)
        for entry in registry.entries():
            # the aliases that resolve to this entry: a contested one is listed under conflicts instead
            aliases = [a for a in entry.aliases if a in registry and registry.entry(a) is entry]
            record = {"name": entry.name, "aliases": aliases, "options": describe_options(entry.options)}
            components.setdefault(entry.plugin, {}).setdefault(kind, []).append(record)
        for conflict in registry.conflicts():
            record = {"kind": kind, "name": conflict.name, "plugins": list(conflict.plugins),
                      "error": pm.describe_conflict(conflict)}  # fmt: skip
            for plugin in conflict.plugins:
                conflicts.setdefault(plugin, []).append(record)
    records = []
    for name in pm.plugin_names():
        origin = pm.origins.get(name, {})
        mine = components.get(name, {})
        provides = {kind: [c["name"] for c in entries] for kind, entries in mine.items()}
        if pm.commands.get(name):
            provides["command"] = pm.commands[name]
        records.append({"name": name, **_origin(origin), "provides": provides, "components": mine,
                        "conflicts": conflicts.get(name, []), "error": None})  # fmt: skip
    for broken in pm.broken:
        records.append({"name": broken.name, **_origin(vars(broken)), "provides": {}, "components": {},
                        "conflicts": [], "error": broken.reason})  # fmt: skip
    return records


def _origin(origin: dict) -> dict:
    return {key: origin.get(key) for key in ("distribution", "version", "source", "via")}


def _option(option: dict) -> str:
    default = "(required)" if option["required"] else json.dumps(option["default"])
    line = f"option {option['name']}: {option['type']} = {default}"
    return line + (f"  {option['help']}" if option["help"] else "")


def format_text(records: list[dict]) -> str:
    """The listing ``seqkit plugins`` prints: a line per plugin; under it its commands on one line, a line per
    component (``KIND: NAME``) followed by its aliases (``aliases: A, B``) and its options (``option NAME: TYPE =
    DEFAULT  MEANING``), and a ``CONFLICT:`` line per name it contests."""
    lines = []
    for r in records:
        if r["distribution"]:
            where = f" ({r['distribution']}{' ' + r['version'] if r['version'] else ''})"
        else:
            where = f" ({r['source']})" if r["source"] else ""
        lines.append(f"{r['name']}{where}" + (f"  BROKEN: {r['error']}" if r["error"] else ""))
        if r["provides"].get("command"):
            lines.append(f"  command: {', '.join(sorted(r['provides']['command']))}")
        for kind, entries in sorted(r["components"].items()):
            for c in sorted(entries, key=lambda c: c["name"]):
                lines.append(f"  {kind}: {c['name']}")
                if c["aliases"]:
                    lines.append(f"    aliases: {', '.join(c['aliases'])}")
                lines += [f"    {_option(o)}" for o in c["options"]]
        lines += [f"  CONFLICT: {c['error']}" for c in r["conflicts"]]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    records = describe(args.plugin_manager)
    print(json.dumps(records, indent=2) if args.json else format_text(records))
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("plugins", help="list installed plugins and what they provide",
                       epilog="examples:\n  seqkit plugins\n  seqkit plugins --json\n"
                       "  SEQKIT_DISABLE_PLUGINS=example seqkit plugins",
                       formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(run=run)
