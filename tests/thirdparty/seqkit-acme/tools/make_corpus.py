"""Writes the acme-shift corpus into src/seqkit_acme/corpus/: random letter sequences and the same letters each
moved one place along the alphabet a..l (l wraps round to a); then the manifest with every file's size and sha256.

Deterministic (seed 0); run from the package folder to rebuild the committed files: ``python tools/make_corpus.py``.
"""

import hashlib
import random
from pathlib import Path

ALPHABET = "abcdefghijkl"
SPLITS = {"train": 1500, "dev": 60, "test": 60}
LANGUAGES = ("src", "tgt")
HERE = Path(__file__).resolve().parent.parent / "src" / "seqkit_acme" / "corpus"

HEADER = """\
format = 1
name = "acme-shift"
description = "Synthetic: shift each letter of a..l one place along the alphabet (l wraps round to a)"
languages = ["src", "tgt"]
license = "CC0 1.0"
attribution = "seqkit-acme, tools/make_corpus.py"
sources = []
redistributable = true
bundled = true  # the files are in acme-shift/ beside this manifest
"""


def shift(word: str) -> str:
    return " ".join(ALPHABET[(ALPHABET.index(c) + 1) % len(ALPHABET)] for c in word.split())


def main() -> None:
    rng = random.Random(0)
    folder = HERE / "acme-shift"
    folder.mkdir(parents=True, exist_ok=True)
    manifest = [HEADER]
    for split, pairs in SPLITS.items():
        sources = [" ".join(rng.choice(ALPHABET) for _ in range(rng.randint(3, 8))) for _ in range(pairs)]
        manifest.append(f"\n[splits.{split}]\npairs = {pairs}\n")
        for lang, lines in zip(LANGUAGES, (sources, [shift(s) for s in sources]), strict=True):
            data = "".join(line + "\n" for line in lines).encode()
            (folder / f"{split}.{lang}").write_bytes(data)
            digest = hashlib.sha256(data).hexdigest()
            manifest.append(f'{lang} = {{ path = "{split}.{lang}", bytes = {len(data)}, sha256 = "{digest}" }}\n')
    (HERE / "acme-shift.toml").write_text("".join(manifest), encoding="utf-8")


if __name__ == "__main__":
    main()
