"""The acme-shift corpus (seqkit corpus verify) and the acme-stats command, through seqkit.cli.main."""

from seqkit.cli import main


def test_corpus_verifies(capsys):
    assert main(["--strict-plugins", "corpus", "verify", "acme-shift"]) == 0
    out = capsys.readouterr().out
    assert "acme-shift" in out


def test_corpus_shift_task():
    from seqkit_acme.command import CORPUS, CORPUS_DIR

    for split in ("train", "dev", "test"):
        src = (CORPUS_DIR / CORPUS / f"{split}.src").read_text().splitlines()
        tgt = (CORPUS_DIR / CORPUS / f"{split}.tgt").read_text().splitlines()
        assert len(src) == len(tgt) > 0
        for s, t in zip(src, tgt, strict=True):
            assert [(ord(b) - ord(a)) % 12 for a, b in zip(s.split(), t.split(), strict=True)] == [1] * len(s.split())


def test_stats_of_the_corpus(capsys):
    assert main(["acme-stats", "--split", "dev"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("corpus acme-shift")
    assert out[1].startswith("dev.src: 60 lines, ") and out[2].startswith("dev.tgt: 60 lines, ")
    assert "(12 types)" in out[1]


def test_stats_of_files(tmp_path, capsys):
    path = tmp_path / "a.txt"
    path.write_text("a b c\nd e\n", encoding="utf-8")
    assert main(["acme-stats", str(path)]) == 0
    expected = f"{path}: 2 lines, 5 tokens (5 types), 8 characters, tokens per line mean 2.50 max 3\n"
    assert capsys.readouterr().out == expected


def test_stats_bad_input(tmp_path, capsys):
    assert main(["acme-stats", "--split", "nope"]) == 2
    assert "acme-shift has no split 'nope'" in capsys.readouterr().err
    assert main(["acme-stats", str(tmp_path / "missing.txt")]) == 2
    assert "cannot read it" in capsys.readouterr().err
