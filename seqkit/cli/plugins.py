"""``seqkit plugins``: every plugin, where it comes from, and what it registered; broken ones with the reason."""

from __future__ import annotations

import argparse
import json

from seqkit.plugins.manager import KINDS


def describe(pm) -> list[dict]:
    """One record per plugin (loaded or broken): name, distribution, version, source, components, error."""
    contributions: dict[str, dict[str, list[str]]] = {}
    for kind in KINDS:
        for entry in pm.registry(kind).entries():
            contributions.setdefault(entry.plugin, {}).setdefault(kind, []).append(entry.name)
    records = []
    for name in pm.plugin_names():
        origin = pm.origins.get(name, {})
        provides = dict(contributions.get(name, {}))
        if pm.commands.get(name):
            provides["command"] = pm.commands[name]
        records.append({"name": name, **origin, "provides": provides, "error": None})
    for broken in pm.broken:
        origin = pm.origins.get(broken.name, {})
        records.append({"name": broken.name, **origin, "provides": {}, "error": broken.reason})
    return records


def run(args: argparse.Namespace) -> int:
    records = describe(args.plugin_manager)
    if args.json:
        print(json.dumps(records, indent=2))
        return 0
    for r in records:
        version = f" {r['version']}" if r.get("version") else ""
        dist = f" ({r['distribution']}{version})" if r.get("distribution") else ""
        print(f"{r['name']}{dist}{'  BROKEN: ' + r['error'] if r['error'] else ''}")
        for kind, names in sorted(r["provides"].items()):
            print(f"  {kind}: {', '.join(sorted(names))}")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("plugins", help="list installed plugins and what they provide")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(run=run)
