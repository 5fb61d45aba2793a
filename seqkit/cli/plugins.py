"""``seqkit plugins``: every plugin, where it comes from, and what it registered; broken ones with the reason."""

from __future__ import annotations

import argparse
import json

from seqkit.plugins.manager import KINDS


def describe(pm) -> list[dict]:
    """One record per plugin, loaded ones first (built-ins first among them), then broken ones: ``name``,
    ``distribution``, ``version``, ``source`` (entry point value or file), ``via`` (``built-in``, ``entry point``,
    ``file``), ``provides`` (kind -> names) and ``error`` (one line, or None)."""
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
        records.append({"name": name, **_origin(origin), "provides": provides, "error": None})
    for broken in pm.broken:
        records.append({"name": broken.name, **_origin(vars(broken)), "provides": {}, "error": broken.reason})
    return records


def _origin(origin: dict) -> dict:
    return {key: origin.get(key) for key in ("distribution", "version", "source", "via")}


def format_text(records: list[dict]) -> str:
    """The listing ``seqkit plugins`` prints: a line per plugin, then a line per kind it provides."""
    lines = []
    for r in records:
        if r["distribution"]:
            where = f" ({r['distribution']}{' ' + r['version'] if r['version'] else ''})"
        else:
            where = f" ({r['source']})" if r["source"] else ""
        lines.append(f"{r['name']}{where}" + (f"  BROKEN: {r['error']}" if r["error"] else ""))
        for kind, names in sorted(r["provides"].items()):
            lines.append(f"  {kind}: {', '.join(sorted(names))}")
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
