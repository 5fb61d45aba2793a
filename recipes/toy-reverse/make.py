"""Writes the toy-reverse data: random words of a 12-letter alphabet, the target the reversed source.

Deterministic (seed 0); run from this folder to rebuild the committed files: ``python make.py``.
"""

import random

ALPHABET = list("abcdefghijkl")


def main() -> None:
    rng = random.Random(0)
    for split, n in (("train", 3000), ("dev", 200), ("test", 200)):
        src = [" ".join(rng.choice(ALPHABET) for _ in range(rng.randint(2, 8))) for _ in range(n)]
        with open(f"{split}.src", "w", encoding="utf-8") as f:
            f.writelines(s + "\n" for s in src)
        with open(f"{split}.tgt", "w", encoding="utf-8") as f:
            f.writelines(" ".join(reversed(s.split())) + "\n" for s in src)


if __name__ == "__main__":
    main()
