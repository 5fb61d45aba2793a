"""seqkit acme-stats: line, token and character statistics of the acme-shift splits, or of any text files."""

import argparse
from collections import Counter
from pathlib import Path

CORPUS = "acme-shift"
CORPUS_DIR = Path(__file__).with_name("corpus")


def manifest_path() -> Path:
    return CORPUS_DIR / f"{CORPUS}.toml"


def corpus_files(splits: list[str]) -> list[tuple[str, Path]]:
    """(label, path) of each language file of the given splits of the bundled corpus (all splits: [])."""
    import tomllib

    from seqkit.errors import UserError

    manifest = tomllib.loads(manifest_path().read_text(encoding="utf-8"))
    known = list(manifest["splits"])
    for split in splits:
        if split not in known:
            raise UserError(f"{CORPUS} has no split {split!r}; it has {', '.join(known)}")
    return [
        (f"{split}.{lang}", CORPUS_DIR / CORPUS / manifest["splits"][split][lang]["path"])
        for split in splits or known
        for lang in manifest["languages"]
    ]


def describe(label: str, path: Path) -> str:
    from seqkit.errors import UserError

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: cannot read it as UTF-8 text ({e})") from None
    lengths = [len(line.split()) for line in lines]
    types = Counter(token for line in lines for token in line.split())
    mean = sum(lengths) / len(lengths) if lengths else 0.0
    return (
        f"{label}: {len(lines)} lines, {sum(lengths)} tokens ({len(types)} types), "
        f"{sum(map(len, lines))} characters, tokens per line mean {mean:.2f} max {max(lengths, default=0)}"
    )


def stats(args: argparse.Namespace) -> int:
    if args.files:
        if args.split:
            from seqkit.errors import UserError

            raise UserError("give FILEs or --split, not both")
        targets = [(str(path), Path(path)) for path in args.files]
    else:
        manifest = args.plugin_manager.registry("corpus").get(CORPUS)  # the plugin that bundles it is loaded
        print(f"corpus {manifest.name} ({manifest_path()})")
        targets = corpus_files(args.split)
    for label, path in targets:
        print(describe(label, path))
    return 0


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "acme-stats",
        help="statistics of the acme-shift corpus (plugin 'acme') or of text files",
        description="Lines, tokens (space-separated), types and characters of each file: the acme-shift "
        "corpus's splits by default, or the FILEs given.",
    )
    p.add_argument("files", nargs="*", metavar="FILE", help="text files, one sentence a line (default: the corpus)")
    p.add_argument("--split", action="append", default=[], metavar="SPLIT",
                   help="a split of acme-shift (repeatable; default: all)")
    p.set_defaults(run=stats)
