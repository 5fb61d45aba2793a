"""The ``numbers-de-en`` corpus: German and English number words for the integers 1 to 9999.

Standard modern spellings. German writes a number below a million as one word, units before tens
(``einundzwanzig``), ``eins`` alone or at the end (``einhunderteins``) but ``ein`` before ``und``, ``hundert``
and ``tausend``, and always ``einhundert``/``eintausend`` for 100 and 1000. English joins the tens and units
of 21-99 with a hyphen and writes no "and": ``one thousand two hundred thirty-four``.

``corpus_files()`` makes every byte of the corpus: the gzip files of the three splits and the manifest that
lists their checksums. The bundled copy (``corpora/numbers-de-en.toml`` and ``corpora/numbers-de-en/``) is
its output, written by ``seqkit numbers-corpus``, and the tests check that the two are the same.
"""

from __future__ import annotations

import gzip
import hashlib
import io

NAME = "numbers-de-en"
LARGEST = 9999
TEST_PAIRS = 500
DEV_PAIRS = 500
SEED = "numbers-de-en 1"  # the shuffle: numbers ordered by the sha256 of f"{SEED} {n}"

_DE_UNITS = ["", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun"]
_DE_TEENS = ["zehn", "elf", "zwölf", "dreizehn", "vierzehn", "fünfzehn", "sechzehn", "siebzehn", "achtzehn",
             "neunzehn"]  # fmt: skip
_DE_TENS = ["", "", "zwanzig", "dreißig", "vierzig", "fünfzig", "sechzig", "siebzig", "achtzig", "neunzig"]
_EN_UNITS = ["", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
_EN_TEENS = ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
             "nineteen"]  # fmt: skip
_EN_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def _check(n: int) -> None:
    if not (isinstance(n, int) and 1 <= n <= LARGEST):
        raise ValueError(f"number words are defined for the integers 1 to {LARGEST}, got {n!r}")


def _de_prefix(digit: int) -> str:
    """The German multiplier before hundert and tausend (and before und): ein, zwei, ..."""
    return "ein" if digit == 1 else _DE_UNITS[digit]


def german(n: int) -> str:
    """German number word for ``1 <= n <= 9999``: ``german(1234) == "eintausendzweihundertvierunddreißig"``."""
    _check(n)
    thousands, hundreds, rest = n // 1000, n // 100 % 10, n % 100
    word = ""
    if thousands:
        word += _de_prefix(thousands) + "tausend"
    if hundreds:
        word += _de_prefix(hundreds) + "hundert"
    tens, units = divmod(rest, 10)
    if tens == 1:
        word += _DE_TEENS[units]
    elif tens and units:
        word += _de_prefix(units) + "und" + _DE_TENS[tens]
    else:
        word += _DE_TENS[tens] + _DE_UNITS[units]
    return word


def english(n: int) -> str:
    """English number words for ``1 <= n <= 9999``: ``english(1234) == "one thousand two hundred thirty-four"``."""
    _check(n)
    thousands, hundreds, rest = n // 1000, n // 100 % 10, n % 100
    words = []
    if thousands:
        words += [_EN_UNITS[thousands], "thousand"]
    if hundreds:
        words += [_EN_UNITS[hundreds], "hundred"]
    tens, units = divmod(rest, 10)
    if tens == 1:
        words.append(_EN_TEENS[units])
    elif tens and units:
        words.append(f"{_EN_TENS[tens]}-{_EN_UNITS[units]}")
    elif rest:
        words.append(_EN_TENS[tens] or _EN_UNITS[units])
    return " ".join(words)


def splits() -> dict[str, list[int]]:
    """The numbers of each split, ascending: ``test`` and ``dev`` 500 each, ``train`` the other 8999.

    The shuffle orders the numbers by a sha256 of the seed and the number, which (unlike ``random.shuffle``)
    gives the same order under every Python version."""
    numbers = sorted(range(1, LARGEST + 1), key=lambda n: hashlib.sha256(f"{SEED} {n}".encode()).digest())
    test, dev = numbers[:TEST_PAIRS], numbers[TEST_PAIRS : TEST_PAIRS + DEV_PAIRS]
    train = numbers[TEST_PAIRS + DEV_PAIRS :]
    return {"train": sorted(train), "dev": sorted(dev), "test": sorted(test)}


def _gzip(text: str) -> bytes:
    """``text`` as UTF-8, gzip-compressed with no file name and mtime 0, so the same text gives the same bytes."""
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as f:
        f.write(text.encode("utf-8"))
    return buffer.getvalue()


MANIFEST_HEADER = f"""\
# {NAME}: a corpus manifest (format 1), written with the files in {NAME}/ beside it by
# `seqkit numbers-corpus DIR` (seqkit_example.numbers), which makes every byte of both.
format = 1
name = "{NAME}"
description = "German and English number words for the integers 1 to {LARGEST} (21: einundzwanzig, twenty-one)"
languages = ["de", "en"]
license = "CC0-1.0"
attribution = "the seqkit-example package (seqkit_example.numbers generates the text)"
sources = []
redistributable = true
bundled = true
"""


def corpus_files() -> dict[str, bytes]:
    """Every file of the corpus, by its path relative to a corpora folder: ``numbers-de-en/SPLIT.LANG.gz`` for
    each split and language, then the manifest ``numbers-de-en.toml`` with their sizes and sha256."""
    files: dict[str, bytes] = {}
    manifest = MANIFEST_HEADER
    for split, numbers in splits().items():
        manifest += f"\n[splits.{split}]\npairs = {len(numbers)}\n"
        for lang, words in (("de", german), ("en", english)):
            data = _gzip("".join(words(n) + "\n" for n in numbers))
            files[f"{NAME}/{split}.{lang}.gz"] = data
            sha256 = hashlib.sha256(data).hexdigest()
            manifest += f'{lang} = {{ path = "{split}.{lang}.gz", bytes = {len(data)}, sha256 = "{sha256}" }}\n'
    files[f"{NAME}.toml"] = manifest.encode("utf-8")
    return files


__all__ = ["NAME", "corpus_files", "english", "german", "splits"]
