"""``seqkit serve``: trained runs behind a JSON API and a web page (``seqkit.serve``; the ``[serve]`` extra)."""

from __future__ import annotations

import argparse
from pathlib import Path

from seqkit.cli.flags import number
from seqkit.errors import UserError


def run_serve(args: argparse.Namespace) -> int:
    try:
        from seqkit.serve import Limits, Service, serve
    except ImportError as e:
        raise UserError(f"seqkit serve needs Starlette and uvicorn ({e}): pip install 'seqkit[serve]'") from None
    from seqkit.runs import Run

    limits = Limits(max_lines=args.max_lines, max_line_chars=args.max_line_chars, batch_tokens=args.batch_tokens,
                    window_ms=args.window_ms, max_wait_ms=args.max_wait_ms)  # fmt: skip
    runs = {}
    for spec in args.runs:
        name, _, directory = spec.rpartition("=")
        name = name or Path(directory).resolve().name
        if name in runs:
            raise UserError(f"--run {spec}: a model named {name!r} is already served; name it: --run NAME=RUN_DIR")
        runs[name] = Run.open(directory, args.plugin_manager, args.checkpoint, args.device)
    serve(Service(runs, limits), args.host, args.port)
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("serve", help="serve trained runs: a JSON API (translate, score) and a web page",
                       epilog="example:\n  seqkit serve --run runs/quickstart --port 8080\n"
                       "  curl -s localhost:8080/translate -d '{\"text\": [\"Guten Morgen!\"], \"beam\": 5}'\n"
                       "see docs/serving.md for the API",
                       formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--run", dest="runs", action="append", required=True, metavar="[NAME=]RUN_DIR",
                   help="a run directory made by seqkit train, served as NAME (default: the directory's name); "
                   "repeat for several models, the first the default")  # fmt: skip
    p.add_argument("--checkpoint", default="best", help="best (default), last or averaged, for every run")
    p.add_argument("--device", help="cpu or cuda:N (default: each recipe's training.device)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=number(int, 0, 65535), default=8080, help="port (default 8080)")
    p.add_argument("--max-lines", type=number(int, 1), default=64, help="lines in one request at most (default 64)")
    p.add_argument("--max-line-chars", type=number(int, 1), default=2000,
                   help="characters in one line at most (default 2000)")  # fmt: skip
    p.add_argument("--batch-tokens", type=number(int, 1), default=4000,
                   help="source tokens decoded together at most (default 4000)")  # fmt: skip
    p.add_argument("--window-ms", type=number(float, 0, 10_000), default=10.0,
                   help="a batch closes when no request has joined it for this long (default 10 ms)")  # fmt: skip
    p.add_argument("--max-wait-ms", type=number(float, 0, 10_000), default=100.0,
                   help="... or this long after it opened (default 100 ms)")  # fmt: skip
    p.set_defaults(run=run_serve)
