"""The ``seqkit`` command line: one verb per job.

Bad input prints one line and exits with 2; any other failure prints one line and exits with 1; ``--debug``
shows the traceback instead.
"""

from __future__ import annotations

import argparse
import sys

from seqkit import __version__
from seqkit.errors import UserError


def build_parser() -> argparse.ArgumentParser:
    from seqkit.cli import demo

    parser = argparse.ArgumentParser(prog="seqkit", description="A define-by-run toolkit for sequence models.")
    parser.add_argument("--version", action="version", version=f"seqkit {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and check every op for NaN/inf")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    demo.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.debug:
            from seqkit.config import global_config

            global_config.debug = True
        return args.run(args) or 0
    except UserError as e:
        if args.debug:
            raise
        print(f"seqkit {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"seqkit {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        if args.debug:
            raise
        print(f"seqkit {args.command}: {type(e).__name__}: {e} (rerun with --debug for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
