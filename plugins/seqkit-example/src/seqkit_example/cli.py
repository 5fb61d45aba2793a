"""``seqkit numbers-corpus OUT_DIR``: write the ``numbers-de-en`` corpus (its gzip files and manifest).

OUT_DIR then holds what the package bundles in ``seqkit_example/corpora/``: ``numbers-de-en.toml`` and the
folder ``numbers-de-en/``, so ``seqkit corpus verify OUT_DIR/numbers-de-en.toml`` checks the copy. The files are
written into a temporary folder beside OUT_DIR and renamed into place at the end: OUT_DIR is either complete
or untouched.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import tempfile
from pathlib import Path


def numbers_corpus(args: argparse.Namespace) -> int:
    from seqkit.errors import UserError

    from seqkit_example.numbers import corpus_files

    out = Path(args.out_dir)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: exists and is not a directory")
    if out.is_dir() and any(out.iterdir()):
        raise UserError(f"{out}: exists and is not empty; give a new or empty directory")
    files = corpus_files()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    except OSError as e:
        raise UserError(f"{out}: cannot create the directory ({e.strerror or e})") from None
    try:
        for path, data in files.items():
            (tmp / path).parent.mkdir(parents=True, exist_ok=True)
            (tmp / path).write_bytes(data)
        tmp.chmod(0o755)  # mkdtemp makes it private to its owner; the corpus is for everyone to read
        os.replace(tmp, out)  # over an empty directory, or a new one
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise UserError(f"{out}: cannot write the corpus ({e.strerror or e})") from None
    for path, data in sorted(files.items()):
        print(f"{hashlib.sha256(data).hexdigest()}  {out / path}")
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "numbers-corpus",
        help="write the numbers-de-en corpus (German and English number words, 1-9999) and its manifest",
        description="Write numbers-de-en.toml and numbers-de-en/{train,dev,test}.{de,en}.gz into OUT_DIR (new or "
        "empty), printing each file's sha256 as sha256sum does.",
    )
    p.add_argument("out_dir", metavar="OUT_DIR", help="a new or empty directory")
    p.set_defaults(run=numbers_corpus)
