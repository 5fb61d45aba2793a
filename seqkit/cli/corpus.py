"""``seqkit corpus list | show NAME | verify NAME``: the registered corpora, their files and checksums.

Corpora come from the corpus registry (``args.plugin_manager``); NAME may also be a path to a ``.toml``
manifest. Local copies are looked for in the bundle folder, in ``--data-dir``/``$SEQKIT_DATA`` and in the
download cache (see ``seqkit.corpora``). ``add_data_arguments`` and ``input_files`` give other commands the
same ``--corpus NAME --split S`` or ``--src FILE --tgt FILE`` choice.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seqkit import corpora
from seqkit.errors import UserError


def _registry(args: argparse.Namespace):
    return args.plugin_manager.registry("corpus")


def _progress(name: str):
    """A download progress bar on stderr when it is a terminal, else None."""
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    bar = tqdm(desc=name, unit="B", unit_scale=True, leave=False)

    def update(done: int, total: int | None) -> None:
        bar.total = total
        bar.update(done - bar.n)

    return update


def _where(manifest: corpora.Manifest, data: Path | None) -> str:
    """Where the corpus's first file is found (without checking it): bundled, data dir, cache, or nowhere."""
    first = manifest.files()[0]
    for path in corpora.candidate_paths(manifest, first, data):
        if path.is_file():
            return str(path.parent)
    return "not local (fetched on first use)" if first.urls else "missing"


def run_list(args: argparse.Namespace) -> int:
    data = corpora.data_dir(args.data_dir)
    registry = _registry(args)
    rows = []
    for name in registry.names():
        m = registry.get(name)
        splits = ", ".join(f"{s.name} {s.pairs}" for s in m.splits.values())
        rows.append((name, "-".join(m.languages), splits, _where(m, data)))
    if not rows:
        print("no corpora registered")
        return 0
    widths = [max(len(r[i]) for r in rows) for i in range(2)]
    for name, langs, splits, where in rows:
        print(f"{name:{widths[0]}}  {langs:{widths[1]}}  {splits}")
        print(f"{'':{widths[0]}}  {'':{widths[1]}}  {where}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    m = corpora.get_corpus(args.name, _registry(args))
    data = corpora.data_dir(args.data_dir)
    print(f"{m.name}: {m.description}")
    print(f"languages:   {' -> '.join(m.languages)} (either direction)")
    print(f"license:     {m.license}")
    print(f"attribution: {m.attribution}")
    if m.homepage:
        print(f"homepage:    {m.homepage}")
    for source in m.sources:
        print(f"source:      {source}")
    print(f"manifest:    {m.path}")
    print(f"bundled:     {'yes' if m.bundled else 'no'}; redistributable: {'yes' if m.redistributable else 'no'}")
    for split in m.splits.values():
        print(f"split {split.name}: {split.pairs} pairs")
        for lang, f in split.files.items():
            found = next((p for p in corpora.candidate_paths(m, f, data) if p.is_file()), None)
            size = f"{f.bytes} bytes, " if f.bytes is not None else ""
            print(f"  {lang}  {f.path}  ({size}sha256 {f.sha256})")
            print(f"      local: {found if found else 'missing'}")
            for url in f.urls:
                print(f"      url:   {url}")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    m = corpora.get_corpus(args.name, _registry(args))
    data = corpora.data_dir(args.data_dir)
    failed = []
    for file in m.files():
        try:
            path = corpora.locate(m, file, data=data, download=args.download, progress=_progress(file.path))
            print(f"ok      {path}")
        except UserError as e:
            print(f"FAILED  {e}")
            failed.append(str(e))
    if failed:
        raise UserError(f"{len(failed)} of {len(m.files())} files failed; the first: {failed[0]}")
    print(f"corpus {m.name}: all {len(m.files())} files verified")
    return 0


def add_data_arguments(p: argparse.ArgumentParser, *, split: str = "train") -> None:
    """``--corpus NAME [--split S] [--src-lang L --tgt-lang L] | --src FILE --tgt FILE``, and ``--data-dir``."""
    g = p.add_argument_group("data (a registered corpus, or any two line-aligned files, plain or .gz)")
    g.add_argument("--corpus", metavar="NAME", help="a registered corpus or a .toml manifest")
    g.add_argument("--split", default=split, help=f"the corpus split (default {split})")
    g.add_argument("--src-lang", metavar="L", help="source language (default: the manifest's first)")
    g.add_argument("--tgt-lang", metavar="L", help="target language (default: the other one)")
    g.add_argument("--src", metavar="FILE", help="source sentences, one a line")
    g.add_argument("--tgt", metavar="FILE", help="target sentences, line-aligned with --src")
    _add_data_dir(g)


def _add_data_dir(p) -> None:
    p.add_argument("--data-dir", metavar="DIR", help="where local corpus copies live, DIR/NAME/FILE ($SEQKIT_DATA)")


def input_files(args: argparse.Namespace) -> tuple[Path, Path]:
    """The ``(source, target)`` files chosen by ``add_data_arguments``'s flags, verified when from a corpus.

    Raises ``UserError`` unless exactly one of ``--corpus`` and ``--src``/``--tgt`` is given.
    """
    if args.corpus and (args.src or args.tgt):
        raise UserError("give either --corpus or --src/--tgt, not both")
    if args.corpus:
        m = corpora.get_corpus(args.corpus, _registry(args))
        return corpora.split_paths(m, args.split, args.src_lang, args.tgt_lang, data=corpora.data_dir(args.data_dir),
                                   progress=_progress(m.name))  # fmt: skip
    if not (args.src and args.tgt):
        raise UserError("give --corpus NAME, or both --src FILE and --tgt FILE")
    return Path(args.src), Path(args.tgt)


def add_parser(sub) -> None:
    p = sub.add_parser("corpus", help="list, show and verify corpora",
                       epilog="examples:\n  seqkit corpus list\n  seqkit corpus show tatoeba-de-en\n"
                       "  seqkit corpus verify multi30k --data-dir ~/corpora",
                       formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    cs = p.add_subparsers(dest="corpus_command", metavar="ACTION", required=True)
    q = cs.add_parser("list", help="the registered corpora, their splits and where local copies are")
    _add_data_dir(q)
    q.set_defaults(run=run_list)
    q = cs.add_parser("show", help="a corpus's manifest: license, attribution, files, checksums, URLs")
    q.add_argument("name", metavar="NAME", help="a registered corpus or a .toml manifest")
    _add_data_dir(q)
    q.set_defaults(run=run_show)
    q = cs.add_parser("verify", help="check every file of a corpus against its sha256")
    q.add_argument("name", metavar="NAME", help="a registered corpus or a .toml manifest")
    q.add_argument("--download", action="store_true", help="download missing files into the cache first")
    _add_data_dir(q)
    q.set_defaults(run=run_verify)
