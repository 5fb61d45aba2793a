"""``seqkit tokenizer train``: train a tokenizer (pair) on a corpus split or two files and save it.

``--type`` names a registered tokenizer (``sentencepiece``, ``whitespace``, ``char``, or a plugin's); each
``--option KEY=VALUE`` sets one of its options (values read as TOML literals, ``none`` for None, anything
else as a string). One joint tokenizer is trained on both sides unless ``--separate``. The result is written
as ``OUT/joint/`` or ``OUT/source/`` + ``OUT/target/`` (``seqkit.tokenizers.TokenizerPair``), usually the
``tokenizer/`` folder of a run directory.
"""

from __future__ import annotations

import argparse
import time
import tomllib
from pathlib import Path
from typing import Any

from seqkit.cli.corpus import add_data_arguments, input_files
from seqkit.data import ReadStats, read_parallel
from seqkit.errors import UserError
from seqkit.tokenizers import TokenizerPair


def parse_options(items: list[str]) -> dict[str, Any]:
    """``["vocab_size=8000", "model_type=bpe"]`` -> ``{"vocab_size": 8000, "model_type": "bpe"}``."""
    options = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--option expects KEY=VALUE, got {item!r}")
        if text.strip().lower() in ("none", "null"):
            value = None
        else:
            try:
                value = tomllib.loads(f"v = {text}")["v"]
            except tomllib.TOMLDecodeError:
                value = text
        options[key.strip()] = value
    return options


def run_train(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"--out {out} exists and is not an empty folder; choose another or remove it")
    cls = args.plugin_manager.registry("tokenizer").get(args.type)
    options = parse_options(args.option)
    cls(**options)  # checks the options before the data is read
    src, tgt = input_files(args)
    start = time.perf_counter()
    stats = ReadStats()
    pairs = list(read_parallel(src, tgt, stats=stats))
    if not pairs:
        raise UserError(f"{src} and {tgt} hold no sentence pair with two non-empty sides")
    sources, targets = zip(*pairs)
    pair = TokenizerPair.train(cls, options, sources, targets, joint=not args.separate)
    pair.save(out)
    kind = "joint" if pair.joint else "separate"
    sizes = str(pair.source.vocab_size) if pair.joint else f"{pair.source.vocab_size}/{pair.target.vocab_size}"
    print(
        f"trained a {kind} {args.type} tokenizer (vocabulary {sizes}) on {len(pairs)} pairs "
        f"({stats.empty} with an empty side skipped) in {time.perf_counter() - start:.1f} s -> {out}"
    )
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("tokenizer", help="train tokenizers",
                       epilog="example:\n  seqkit tokenizer train --corpus tatoeba-de-en --out runs/tok "
                       "--option vocab_size=4000",
                       formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    ts = p.add_subparsers(dest="tokenizer_command", metavar="ACTION", required=True)
    q = ts.add_parser("train", help="train a tokenizer on a corpus split or two files and save it")
    q.add_argument("--out", required=True, metavar="DIR", help="where to save it (e.g. runs/NAME/tokenizer)")
    q.add_argument("--type", default="sentencepiece", help="a registered tokenizer (default sentencepiece)")
    q.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="a tokenizer option, e.g. vocab_size=8000 or model_type=bpe (repeatable)")  # fmt: skip
    q.add_argument("--separate", action="store_true", help="one tokenizer per side instead of a joint one")
    add_data_arguments(q)
    q.set_defaults(run=run_train)
