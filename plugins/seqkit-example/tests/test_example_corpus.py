"""The numbers-de-en corpus and the numbers-corpus command: the number words, the bundle being exactly what the
command writes, `seqkit corpus verify`, bad input, and (slow) the numbers-mgu recipe learning the task."""

import gzip
import hashlib
import json
from pathlib import Path

import pytest
from seqkit.cli import main
from seqkit.corpora import split_paths

from seqkit_example import numbers
from seqkit_example.numbers import english, german

PLUGIN = Path(__file__).resolve().parents[1]
SOURCE_BUNDLE = PLUGIN / "src" / "seqkit_example" / "corpora"  # what is committed
RECIPE = PLUGIN / "recipes" / "numbers-mgu.toml"

KNOWN = [
    (1, "eins", "one"),
    (7, "sieben", "seven"),
    (10, "zehn", "ten"),
    (11, "elf", "eleven"),
    (12, "zwölf", "twelve"),
    (16, "sechzehn", "sixteen"),
    (17, "siebzehn", "seventeen"),
    (20, "zwanzig", "twenty"),
    (21, "einundzwanzig", "twenty-one"),
    (30, "dreißig", "thirty"),
    (36, "sechsunddreißig", "thirty-six"),
    (77, "siebenundsiebzig", "seventy-seven"),
    (99, "neunundneunzig", "ninety-nine"),
    (100, "einhundert", "one hundred"),
    (101, "einhunderteins", "one hundred one"),
    (111, "einhundertelf", "one hundred eleven"),
    (121, "einhunderteinundzwanzig", "one hundred twenty-one"),
    (300, "dreihundert", "three hundred"),
    (999, "neunhundertneunundneunzig", "nine hundred ninety-nine"),
    (1000, "eintausend", "one thousand"),
    (1001, "eintausendeins", "one thousand one"),
    (1010, "eintausendzehn", "one thousand ten"),
    (1100, "eintausendeinhundert", "one thousand one hundred"),
    (1234, "eintausendzweihundertvierunddreißig", "one thousand two hundred thirty-four"),
    (2001, "zweitausendeins", "two thousand one"),
    (6070, "sechstausendsiebzig", "six thousand seventy"),
    (7777, "siebentausendsiebenhundertsiebenundsiebzig", "seven thousand seven hundred seventy-seven"),
    (9999, "neuntausendneunhundertneunundneunzig", "nine thousand nine hundred ninety-nine"),
]


@pytest.mark.parametrize(("n", "de", "en"), KNOWN)
def test_number_words(n, de, en):
    assert (german(n), english(n)) == (de, en)


@pytest.mark.parametrize("n", [0, 10000, -3, 2.0])
def test_numbers_outside_the_range_are_refused(n):
    for words in (german, english):
        with pytest.raises(ValueError, match=r"^number words are defined for the integers 1 to 9999, got "):
            words(n)


def test_the_splits_partition_1_to_9999():
    splits = numbers.splits()
    assert {k: len(v) for k, v in splits.items()} == {"train": 8999, "dev": 500, "test": 500}
    assert sorted(n for part in splits.values() for n in part) == list(range(1, 10000))
    assert all(part == sorted(part) for part in splits.values())
    assert splits == numbers.splits()  # deterministic


def test_the_command_writes_the_bundle_byte_for_byte(seqkit_plugin_manager, tmp_path: Path, capsys):
    out = tmp_path / "out"
    assert main(["numbers-corpus", str(out)]) == 0
    written = dict(sorted((p.relative_to(out).as_posix(), p.read_bytes()) for p in out.rglob("*") if p.is_file()))
    assert sorted(written) == ["numbers-de-en.toml"] + [
        f"numbers-de-en/{split}.{lang}.gz" for split in ("dev", "test", "train") for lang in ("de", "en")
    ]
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"{hashlib.sha256(data).hexdigest()}  {out / path}" for path, data in written.items()]
    installed = seqkit_plugin_manager.registry("corpus").get("numbers-de-en").path.parent  # what seqkit reads
    for bundle in (SOURCE_BUNDLE, installed):
        for path, data in written.items():
            assert (bundle / path).read_bytes() == data, f"{bundle / path} differs from `seqkit numbers-corpus`"
        assert sorted(p.name for p in (bundle / "numbers-de-en").iterdir()) == sorted(
            Path(p).name for p in written if p.endswith(".gz")
        )
    assert main(["corpus", "verify", str(out / "numbers-de-en.toml")]) == 0  # the written copy verifies too


def test_corpus_verify_passes(seqkit_plugin_manager, capsys):
    assert main(["corpus", "verify", "numbers-de-en"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "corpus numbers-de-en: all 6 files verified"
    manifest = seqkit_plugin_manager.registry("corpus").get("numbers-de-en")
    assert (manifest.license, manifest.redistributable, manifest.bundled) == ("CC0-1.0", True, True)
    assert manifest.languages == ("de", "en") and "seqkit-example" in manifest.attribution


def test_the_registered_corpus_reads_as_number_words(seqkit_plugin_manager):
    manifest = seqkit_plugin_manager.registry("corpus").get("numbers-de-en")
    en_path, de_path = split_paths(manifest, "test", "en", "de", download=False)
    with gzip.open(de_path, "rt", encoding="utf-8") as de, gzip.open(en_path, "rt", encoding="utf-8") as en:
        pairs = list(zip(de.read().splitlines(), en.read().splitlines(), strict=True))
    assert pairs == [(german(n), english(n)) for n in numbers.splits()["test"]]
    assert len(pairs) == manifest.split("test").pairs == 500


def test_a_directory_that_is_not_empty_is_refused(tmp_path: Path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("keep me\n")
    assert main(["numbers-corpus", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == f"seqkit numbers-corpus: error: {out}: exists and is not empty; give a new or empty directory\n"
    assert [p.name for p in out.iterdir()] == ["notes.txt"] and (out / "notes.txt").read_text() == "keep me\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporary folder left beside it


def test_a_file_is_refused_and_an_empty_directory_filled(tmp_path: Path, capsys):
    (tmp_path / "file").write_text("x")
    assert main(["numbers-corpus", str(tmp_path / "file")]) == 2
    err = capsys.readouterr().err
    assert err == f"seqkit numbers-corpus: error: {tmp_path / 'file'}: exists and is not a directory\n"
    (tmp_path / "empty").mkdir()
    assert main(["numbers-corpus", str(tmp_path / "empty")]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 7
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "file"]


# The numbers-mgu recipe (2 epochs, 388 updates) reaches test BLEU 83.1, in 24 s on 2 idle CPU cores (90-180 s
# when they are shared with other work); the threshold leaves room for other BLAS libraries and machines,
# and still fails a model that did not learn the task (the same recipe with lr = 3e-5 ends at BLEU 0).
BLEU_THRESHOLD = 60.0


@pytest.mark.slow
def test_the_numbers_recipe_learns_the_task(tmp_path: Path, capsys):
    run = tmp_path / "run"
    assert main(["train", str(RECIPE), "--run-dir", str(run), "--no-progress"]) == 0
    results = json.loads((run / "results.json").read_text())
    assert results["split"] == "test" and results["sentences"] == 500
    assert results["bleu"] > BLEU_THRESHOLD, f"test BLEU {results['bleu']} <= {BLEU_THRESHOLD}"
    recipe = (run / "recipe.toml").read_text()
    assert 'name = "cosine_restarts"' in recipe and 'encoder = "mgu"' in recipe and 'name = "utf8_bytes"' in recipe
