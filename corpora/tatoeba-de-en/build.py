"""Rebuild this bundle from the upstream release: ``python corpora/tatoeba-de-en/build.py PATH/deu.txt.gz``.

Reads manythings.org's ``deu.txt`` (``English<TAB>German``, one pair a line, sorted short to long), keeps the
distinct pairs whose two sides have at most ``MAX_WORDS`` whitespace-separated words, and splits them into
dev, test and train so that no sentence (German or English) of one split occurs in another: pairs that share
a sentence form one group (a connected component), and whole groups go to one split, taken in the order of
the SHA-256 of their smallest sentence. Text is left as upstream wrote it; the output is byte-for-byte
reproducible (gzip -9 without a name or a time stamp). Prints the sizes and checksums for the manifest.
"""

from __future__ import annotations

import gzip
import hashlib
import sys
from pathlib import Path

MAX_WORDS = 8
DEV_PAIRS = TEST_PAIRS = 2000


def groups(pairs: list[tuple[str, str]]) -> dict[int, int]:
    """Pair index -> group id, where pairs sharing an English or a German sentence are in one group."""
    parent: dict[tuple[str, str], tuple[str, str]] = {}

    def find(x: tuple[str, str]) -> tuple[str, str]:
        root = x
        while parent.setdefault(root, root) != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    for en, de in pairs:
        a, b = find(("en", en)), find(("de", de))
        if a != b:
            parent[a] = b
    roots: dict[tuple[str, str], int] = {}
    return {i: roots.setdefault(find(("en", en)), len(roots)) for i, (en, _) in enumerate(pairs)}


def main(source: str) -> None:
    with gzip.open(source, "rt", encoding="utf-8", newline="\n") as f:
        rows = [line.rstrip("\n").split("\t") for line in f]
    short = [(en, de) for en, de in rows if len(en.split()) <= MAX_WORDS and len(de.split()) <= MAX_WORDS]
    pairs = list(dict.fromkeys(short))
    group_of = groups(pairs)
    members: dict[int, list[int]] = {}
    for i, g in group_of.items():
        members.setdefault(g, []).append(i)

    def key(g: int) -> str:
        smallest = min(s for i in members[g] for s in pairs[i])
        return hashlib.sha256(smallest.encode()).hexdigest()

    split_of: dict[int, str] = {}
    counts = {"dev": 0, "test": 0}
    for g in sorted(members, key=key):
        name = "dev" if counts["dev"] < DEV_PAIRS else "test" if counts["test"] < TEST_PAIRS else "train"
        for i in members[g]:
            split_of[i] = name
        if name != "train":
            counts[name] += len(members[g])
    out = Path(__file__).resolve().parent
    print(f"{len(rows)} pairs read, {len(short)} with <= {MAX_WORDS} words a side, {len(pairs)} distinct")
    for name in ("train", "dev", "test"):
        chosen = [pairs[i] for i in range(len(pairs)) if split_of[i] == name]
        for lang, side in (("de", 1), ("en", 0)):
            path = out / f"{name}.{lang}.gz"
            data = "".join(p[side] + "\n" for p in chosen).encode()
            with open(path, "wb") as raw, gzip.GzipFile("", "wb", 9, raw, mtime=0) as f:
                f.write(data)
            blob = path.read_bytes()
            print(f"{name} {lang}: {len(chosen)} pairs, {len(blob)} bytes, sha256 {hashlib.sha256(blob).hexdigest()}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python corpora/tatoeba-de-en/build.py PATH/deu.txt.gz")
    main(sys.argv[1])
