"""``seqkit bleu`` and ``seqkit.metrics``: the same numbers and signatures as the sacrebleu CLI, line for line."""

from __future__ import annotations

import gzip
import io
import itertools
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import sacrebleu
from sacrebleu.metrics import BLEU
from sacrebleu.significance import PairedTest

from seqkit import metrics
from seqkit.cli import main
from seqkit.errors import UserError
from seqkit.plugins import get_plugin_manager

CORPORA = Path(__file__).parents[1] / ".." / "shared" / "corpora"
MULTI30K = CORPORA / "multi30k"
needs_multi30k = pytest.mark.skipif(
    not (MULTI30K / "val.en.gz").exists(), reason=f"Multi30k is not at {MULTI30K} (../shared/corpora)"
)

SENTENCES = [
    "The committee will meet again on Thursday to discuss the budget.",
    "She said it wasn't her fault, but nobody believed her.",
    "Two children are playing football in the park near the river.",
    "The price of bread rose by 3.5% last year, according to official figures.",
    "\"We are not finished yet,\" the coach told reporters after the game.",
    "A man in a red jacket is climbing a steep rock face.",
    "Heavy rain caused flooding in several villages overnight.",
    "The museum's new wing opens to the public in May.",
    "Researchers found no evidence that the drug works better than a placebo.",
    "Please send the documents to our office in Berlin by Friday.",
    "Über 200 Menschen nahmen an der Demonstration in München teil.",
    "The train to Edinburgh was delayed by forty-five minutes.",
]


def perturb(lines: list[str], seed: int, drop: float = 0.2) -> list[str]:
    """A deterministic imperfect 'translation' of each line: words dropped, swapped and recased."""
    rng = random.Random(seed)
    out = []
    for line in lines:
        words = [w for w in line.split() if rng.random() > drop] or line.split()[:1]
        if len(words) > 3 and rng.random() < 0.4:
            i = rng.randrange(len(words) - 1)
            words[i], words[i + 1] = words[i + 1], words[i]
        if rng.random() < 0.3:
            words[0] = words[0].lower()
        out.append(" ".join(words))
    return out


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def run_sacrebleu(cwd: Path, *args: str, stdin: str | bytes | None = None) -> str:
    """What sacrebleu's CLI prints; ``stdin`` text goes in as UTF-8, bytes as they are."""
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("SACREBLEU_FORMAT", None)
    data = stdin.encode("utf-8") if isinstance(stdin, str) else stdin
    command = [sys.executable, "-m", "sacrebleu", *args]
    result = subprocess.run(command, cwd=cwd, input=data, capture_output=True, env=env)
    assert result.returncode == 0, result.stderr.decode("utf-8", "replace")
    return result.stdout.decode("utf-8")


def run_seqkit(capsys, monkeypatch, cwd: Path, *args: str, stdin: str | bytes | None = None) -> tuple[int, str, str]:
    monkeypatch.chdir(cwd)
    if stdin is not None:
        data = stdin.encode("utf-8") if isinstance(stdin, str) else stdin
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    capsys.readouterr()
    code = main(["bleu", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """ref.txt, ref2.txt (a second reference), hyp1.txt (the weaker system), hyp2.txt, in tmp_path."""
    write(tmp_path / "ref.txt", SENTENCES)
    write(tmp_path / "ref2.txt", perturb(SENTENCES, seed=7, drop=0.05))
    write(tmp_path / "hyp1.txt", perturb(SENTENCES, seed=1, drop=0.3))
    write(tmp_path / "hyp2.txt", perturb(SENTENCES, seed=2, drop=0.1))
    return tmp_path


ALL_METRICS = ("-m", "bleu", "chrf", "ter")


def assert_same(capsys, monkeypatch, cwd: Path, args: list[str], *, stdin=None, metric_args=ALL_METRICS) -> str:
    """seqkit bleu ARGS prints exactly what sacrebleu ARGS METRIC_ARGS prints."""
    expected = run_sacrebleu(cwd, *args, *metric_args, stdin=stdin)
    code, out, err = run_seqkit(capsys, monkeypatch, cwd, *args, stdin=stdin)
    assert (code, err) == (0, "")
    assert out == expected
    return out


# ---- the same output as sacrebleu ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_one_system_matches_sacrebleu(files, capsys, monkeypatch, fmt):
    out = assert_same(capsys, monkeypatch, files, ["ref.txt", "-i", "hyp1.txt", "-f", fmt])
    if fmt == "json":
        names = [record["name"] for record in json.loads(out)]
        assert names == ["BLEU", "chrF2", "TER"]
    else:
        assert out.count("\n") == 3 and "BLEU|nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:" in out


def test_text_is_the_default_format(files, capsys, monkeypatch):
    expected = run_sacrebleu(files, "ref.txt", "-i", "hyp2.txt", "-m", "bleu", "chrf", "ter", "-f", "text")
    assert run_seqkit(capsys, monkeypatch, files, "ref.txt", "-i", "hyp2.txt")[1] == expected


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_several_references_match_sacrebleu(files, capsys, monkeypatch, fmt):
    out = assert_same(capsys, monkeypatch, files, ["ref.txt", "ref2.txt", "-i", "hyp1.txt", "-f", fmt])
    assert "nrefs:2" in out


@pytest.mark.parametrize("i_dash", [False, True], ids=["no -i", "-i -"])
def test_stdin_matches_sacrebleu(files, capsys, monkeypatch, i_dash):
    hyps = (files / "hyp1.txt").read_text(encoding="utf-8")
    args = ["ref.txt", "-f", "text", *(["-i", "-"] if i_dash else [])]
    expected = run_sacrebleu(files, "ref.txt", "-f", "text", "-m", "bleu", "chrf", "ter", stdin=hyps)
    code, out, _ = run_seqkit(capsys, monkeypatch, files, *args, stdin=hyps)
    assert (code, out) == (0, expected)


@pytest.mark.parametrize(
    "options",
    [["-lc"], ["-tok", "intl"], ["-tok", "char"], ["-tok", "none"], ["-tok", "zh", "-lc"], ["--lowercase", "-w", "3"]],
    ids=lambda o: " ".join(o),
)
def test_bleu_options_match_sacrebleu(files, capsys, monkeypatch, options):
    out = assert_same(capsys, monkeypatch, files, ["ref.txt", "ref2.txt", "-i", "hyp2.txt", "-f", "text", *options])
    assert ("case:lc" in out.splitlines()[0]) == ("-lc" in options or "--lowercase" in options)


@pytest.mark.parametrize("chosen", [["bleu"], ["ter", "chrf"], ["chrf"]])
def test_metric_choice_matches_sacrebleu(files, capsys, monkeypatch, chosen):
    args = ["ref.txt", "-i", "hyp1.txt", "-f", "json", "-m", *chosen]
    assert_same(capsys, monkeypatch, files, args, metric_args=())


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_confidence_matches_sacrebleu(files, capsys, monkeypatch, fmt):
    args = ["ref.txt", "-i", "hyp1.txt", "-ci", "--confidence-n", "40", "-f", fmt]
    out = assert_same(capsys, monkeypatch, files, args)
    assert "bs:40|seed:12345" in out and "μ = " in out


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_several_systems_without_a_test_match_sacrebleu(files, capsys, monkeypatch, fmt):
    assert_same(capsys, monkeypatch, files, ["ref.txt", "-i", "hyp1.txt", "hyp2.txt", "-f", fmt])


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_paired_randomisation_matches_sacrebleu(files, capsys, monkeypatch, fmt):
    args = ["ref.txt", "-i", "hyp1.txt", "hyp2.txt", "--paired-ar", "--paired-ar-n", "60", "-f", fmt]
    out = assert_same(capsys, monkeypatch, files, args)
    if fmt == "json":
        assert [r["system"] for r in json.loads(out)] == ["Baseline: hyp1.txt", "hyp2.txt"]


def test_paired_bootstrap_matches_sacrebleu(files, capsys, monkeypatch):
    args = ["ref.txt", "ref2.txt", "-i", "hyp1.txt", "hyp2.txt", "--paired-bs", "--paired-bs-n", "40", "-f", "text"]
    out = assert_same(capsys, monkeypatch, files, args)
    assert "Paired bootstrap resampling test with 40 resampling trials" in out and "(p = " in out


def test_paired_bootstrap_json_has_sacrebleus_numbers(files, capsys, monkeypatch):
    """sacrebleu's own --paired-bs --format json fails (NumPy float32 in its results); seqkit's has the numbers
    of sacrebleu's PairedTest."""
    code, out, _ = run_seqkit(
        capsys, monkeypatch, files, "ref.txt", "-i", "hyp1.txt", "hyp2.txt", "--paired-bs", "--paired-bs-n", "30",
        "-f", "json",
    )
    refs = [SENTENCES]
    systems = [("Baseline: hyp1.txt", perturb(SENTENCES, 1, 0.3)), ("hyp2.txt", perturb(SENTENCES, 2, 0.1))]
    names = ("BLEU", "CHRF", "TER")
    expected = PairedTest(systems, {n: getattr(sacrebleu, n)(references=refs) for n in names}, None, "bs", 30)()[1]
    got = json.loads(out)
    assert code == 0 and [r["system"] for r in got] == expected["System"]
    for column in ("BLEU", "chrF2", "TER"):
        for record, result in zip(got, expected[column]):
            for key in ("score", "p_value", "mean", "ci"):
                assert record[column][key] == pytest.approx(getattr(result, key)), (column, key)


@needs_multi30k
@pytest.mark.parametrize("split", ["test_2017_mscoco.en", "val.de"])
def test_multi30k_matches_sacrebleu(tmp_path, capsys, monkeypatch, split):
    """Real references, read straight from the .gz (sacrebleu reads .gz too), with a second system."""
    ref = MULTI30K / f"{split}.gz"
    with gzip.open(ref, "rt", encoding="utf-8") as f:
        lines = f.read().splitlines()
    write(tmp_path / "a.txt", perturb(lines, seed=3))
    write(tmp_path / "b.txt", perturb(lines, seed=4, drop=0.1))
    assert_same(capsys, monkeypatch, tmp_path, [str(ref), "-i", "a.txt", "-f", "json"])
    args = [str(ref), "-i", "a.txt", "b.txt", "--paired-bs", "--paired-bs-n", "20", "-f", "text", "-m", "bleu", "chrf"]
    assert_same(capsys, monkeypatch, tmp_path, args, metric_args=())


# ---- sacrebleu's other options: the same output ------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [["-cw", "2"], ["-cc", "4", "--chrf-beta", "1"], ["--chrf-whitespace", "--chrf-lowercase"],
     ["--chrf-eps-smoothing"], ["-cc", "0", "-cw", "2"], ["--chrf-char-order", "3", "--chrf-word-order", "1"]],
    ids=" ".join,
)  # fmt: skip
def test_chrf_options_match_sacrebleu(files, capsys, monkeypatch, options):
    out = assert_same(capsys, monkeypatch, files, ["ref.txt", "ref2.txt", "-i", "hyp1.txt", "-f", "json", *options])
    chrf = json.loads(out)[1]
    given = dict(itertools.pairwise(options))
    word_order, beta = given.get("-cw", given.get("--chrf-word-order", "0")), given.get("--chrf-beta", "2")
    assert chrf["name"] == f"chrF{beta}" + "+" * int(word_order) and chrf["nw"] == word_order


def test_chrf_plus_plus_is_sacrebleus(files, capsys, monkeypatch):
    args = ["ref.txt", "-i", "hyp2.txt", "-m", "chrf", "-cw", "2", "-f", "text"]
    out = assert_same(capsys, monkeypatch, files, args, metric_args=())
    hyps = (files / "hyp2.txt").read_text(encoding="utf-8").splitlines()
    expected = sacrebleu.CHRF(word_order=2).corpus_score(hyps, [SENTENCES]).score
    assert out.startswith("chrF2++|nrefs:1|case:mixed|eff:yes|nc:6|nw:2|space:no|") and f" = {expected:.1f}\n" in out


@pytest.mark.parametrize(
    "options",
    [["--ter-case-sensitive"], ["--ter-no-punct", "--ter-asian-support"], ["--ter-normalized"]],
    ids=" ".join,
)
def test_ter_options_match_sacrebleu(files, capsys, monkeypatch, options):
    out = assert_same(capsys, monkeypatch, files, ["ref.txt", "-i", "hyp1.txt", "-f", "text", *options])
    assert ("case:mixed" in out.splitlines()[2]) == ("--ter-case-sensitive" in options)


@pytest.mark.parametrize(
    "options",
    [["-s", "floor"], ["-s", "floor", "-sv", "0.3"], ["--smooth-method", "add-k"], ["-s", "add-k", "-sv", "2.5"],
     ["-s", "none"], ["-s", "exp"]],
    ids=" ".join,
)  # fmt: skip
def test_smoothing_matches_sacrebleu(files, capsys, monkeypatch, options):
    args = ["ref.txt", "-i", "hyp1.txt", "-m", "bleu", "-f", "json", "-w", "4", *options]
    record = json.loads(assert_same(capsys, monkeypatch, files, args, metric_args=()))
    assert record["smooth"].startswith(options[1])


def test_add_k_smoothing_changes_the_score(files, capsys, monkeypatch):
    """The smoothing reaches the score, not only the signature (add-k adds to every n-gram count above 1)."""
    plain = run_seqkit(capsys, monkeypatch, files, "ref.txt", "-i", "hyp1.txt", "-m", "bleu", "-b", "-w", "4")[1]
    add_k = run_seqkit(capsys, monkeypatch, files, "ref.txt", "-i", "hyp1.txt", "-m", "bleu", "-b", "-w", "4", "-s",
                       "add-k")[1]  # fmt: skip
    assert float(add_k) > float(plain)


@pytest.mark.parametrize(
    "options",
    [[], ["-m", "chrf", "-cw", "2"], ["-m", "ter", "--ter-normalized", "-b", "-w", "3"],
     ["-m", "bleu", "-s", "floor", "-sv", "0.2", "--short"], ["-m", "bleu", "-tok", "char", "-lc"]],
    ids=lambda o: " ".join(o) or "default",
)  # fmt: skip
def test_sentence_level_matches_sacrebleu(files, capsys, monkeypatch, options):
    """One line a sentence, sacrebleu's; without -m, BLEU (sacrebleu's default) with effective order."""
    out = assert_same(capsys, monkeypatch, files, ["ref.txt", "ref2.txt", "-i", "hyp1.txt", "-sl", *options],
                      metric_args=())  # fmt: skip
    assert len(out.splitlines()) == len(SENTENCES)
    if not options:
        assert out.startswith("BLEU|nrefs:2|case:mixed|eff:yes|")


def test_sentence_level_from_stdin_matches_sacrebleu(files, capsys, monkeypatch):
    hyps = (files / "hyp2.txt").read_text(encoding="utf-8")
    assert_same(capsys, monkeypatch, files, ["ref.txt", "-sl", "-m", "chrf"], stdin=hyps, metric_args=())


@pytest.mark.parametrize("score_only", [False, True])
def test_sentence_level_json_is_a_record_a_line(files, capsys, monkeypatch, score_only):
    """sacrebleu prints text at sentence level whatever -f says; seqkit's -f json has the same values, a record
    (or with -b a number) a line."""
    b = ["-b"] if score_only else []
    text = run_sacrebleu(files, "ref.txt", "-i", "hyp1.txt", "-sl", "-m", "ter", "-w", "2", *b)
    code, out, _ = run_seqkit(capsys, monkeypatch, files, "ref.txt", "-i", "hyp1.txt", "-sl", "-m", "ter", "-w", "2",
                              "-f", "json", *b)  # fmt: skip
    assert code == 0 and len(out.splitlines()) == len(text.splitlines()) == len(SENTENCES)
    for line, expected in zip(out.splitlines(), text.splitlines()):
        if score_only:
            assert json.loads(line) == float(expected)
            continue
        record = json.loads(line)
        assert f"{record['name']}|{record['signature']} = {record['score']:.2f}" == expected
        assert record["case"] == "lc"


def test_sentence_level_tok_lc_and_a_registered_metric(files, plugins, capsys, monkeypatch):
    write(files / "ref.tok", tokenised_lowercased(SENTENCES))
    write(files / "hyp.tok", tokenised_lowercased(perturb(SENTENCES, 1, 0.3)))
    expected = run_sacrebleu(files, "ref.tok", "-i", "hyp.tok", "-sl", "-tok", "none", "-lc", "--force")
    code, out, _ = run_seqkit(capsys, monkeypatch, files, "ref.tok", "-i", "hyp1.txt", "-sl", "--tok-lc")
    note, *lines = out.splitlines()
    assert code == 0 and "not sacreBLEU" in note
    relabelled = [line.replace("BLEU-tok-lc|", "BLEU|").replace("|hyptok:13a", "") for line in lines]
    assert "".join(line + "\n" for line in relabelled) == expected
    code, out, _ = run_with_plugins(capsys, monkeypatch, files, plugins, "ref.txt", "-i", "hyp2.txt", "-sl", "-m",
                                    "exact")  # fmt: skip
    hyps = (files / "hyp2.txt").read_text(encoding="utf-8").splitlines()
    assert code == 0 and out.splitlines() == [
        f"Exact|nrefs:1 = {100.0 if h == r else 0.0:.1f}" for h, r in zip(hyps, SENTENCES)
    ]


@pytest.mark.parametrize(
    "args",
    [["-i", "hyp1.txt", "--short", "-f", "text"], ["-i", "hyp1.txt", "-b", "-f", "text"],
     ["-i", "hyp1.txt", "--score-only", "-f", "json"], ["-i", "hyp1.txt", "-b", "-ci", "-cin", "30", "-f", "text"],
     ["-i", "hyp1.txt", "-sh", "-ci", "-cin", "30", "-f", "text"], ["-i", "hyp1.txt", "hyp2.txt", "-sh", "-f", "text"],
     ["-i", "hyp1.txt", "hyp2.txt", "-f", "latex"], ["-i", "hyp1.txt", "hyp2.txt", "-f", "latex", "-w", "2", "-sh"],
     ["-i", "hyp1.txt", "hyp2.txt", "-par", "-parn", "50", "-f", "latex"],
     ["-i", "hyp1.txt", "hyp2.txt", "-pbs", "-pbsn", "30", "-sh", "-f", "text"]],
    ids=" ".join,
)  # fmt: skip
def test_output_options_match_sacrebleu(files, capsys, monkeypatch, args):
    out = assert_same(capsys, monkeypatch, files, ["ref.txt", *args])
    if "-sh" in args or "--short" in args:
        assert "#:1|" in out and "|c:mixed|e:no|tok:13a|s:exp|v:" in out and "nrefs" not in out
    if "latex" in args:
        assert out.startswith("\\begin{tabular}")


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_tab_separated_references_match_sacrebleu(files, capsys, monkeypatch, fmt):
    """-nr 2 with the two references in one file scores as the two files do."""
    refs2 = (files / "ref2.txt").read_text(encoding="utf-8").splitlines()
    write(files / "refs.tsv", [f"{a}\t{b}" for a, b in zip(SENTENCES, refs2)])
    out = assert_same(capsys, monkeypatch, files, ["refs.tsv", "-nr", "2", "-i", "hyp1.txt", "-f", fmt])
    assert out == run_seqkit(capsys, monkeypatch, files, "ref.txt", "ref2.txt", "-i", "hyp1.txt", "-f", fmt)[1]
    assert_same(capsys, monkeypatch, files, ["refs.tsv", "--num-refs", "2", "-i", "hyp2.txt", "-sl"], metric_args=())


@pytest.mark.parametrize("encoding", ["latin-1", "utf-16", "cp1252"])
def test_encoding_matches_sacrebleu(files, capsys, monkeypatch, encoding):
    for name in ("ref.txt", "hyp1.txt", "hyp2.txt"):
        text = (files / name).read_text(encoding="utf-8")
        (files / f"enc-{name}").write_text(text, encoding=encoding)
    assert "Über" in (files / "enc-ref.txt").read_text(encoding=encoding)
    args = ["enc-ref.txt", "-i", "enc-hyp1.txt", "-e", encoding, "-f", "text"]
    assert assert_same(capsys, monkeypatch, files, args) == run_seqkit(capsys, monkeypatch, files, "ref.txt", "-i",
                                                                       "hyp1.txt")[1]  # fmt: skip
    hyps = (files / "enc-hyp2.txt").read_bytes()
    assert_same(capsys, monkeypatch, files, ["enc-ref.txt", "--encoding", encoding, "-f", "json"], stdin=hyps)


def test_bytes_not_in_the_encoding_name_file_and_line(files, capsys, monkeypatch):
    (files / "latin.txt").write_bytes("\n".join(SENTENCES).encode("latin-1") + b"\n")
    err = one_line_error(capsys, monkeypatch, files, "ref.txt", "-i", "latin.txt")
    assert "latin.txt line 11: invalid UTF-8 (byte 0xdc at byte 1 of the line)" in err
    (files / "odd.txt").write_bytes("a\nb\n".encode("utf-16") + b"c")
    err = one_line_error(capsys, monkeypatch, files, "ref.txt", "-i", "odd.txt", "-e", "utf-16")
    assert "odd.txt line 3: invalid utf-16 (byte 0x63 at byte 11 of the file)" in err


def test_force_silences_the_tokenised_output_warning(tmp_path, capsys, monkeypatch, caplog):
    """100 hypotheses ending in ' .' bring sacrebleu's warning (logged; stderr outside pytest); --force leaves it
    out, as sacrebleu's does."""
    lines = [f"Sentence number {i} ends here ." for i in range(100)]
    write(tmp_path / "ref.txt", [line.replace(" .", ".") for line in lines])
    write(tmp_path / "hyp.txt", lines)
    code, out, _ = run_seqkit(capsys, monkeypatch, tmp_path, "ref.txt", "-i", "hyp.txt", "-m", "bleu")
    assert code == 0 and "100 lines that end in a tokenized period" in caplog.text
    assert out == run_sacrebleu(tmp_path, "ref.txt", "-i", "hyp.txt", "-m", "bleu", "-f", "text")
    caplog.clear()
    code, forced, _ = run_seqkit(capsys, monkeypatch, tmp_path, "ref.txt", "-i", "hyp.txt", "-m", "bleu", "--force")
    assert (code, forced, caplog.text) == (0, out, "")


def test_flags_override_a_registered_variant_and_keep_its_own_options(files, capsys, monkeypatch):
    """A registered SacrebleuMetric keeps its fixed options; a flag given (0 included) overrides one."""
    monkeypatch.chdir(files)
    pm = get_plugin_manager(environ={"SEQKIT_LOAD_PLUGINS": ""})
    pm.registry("metric").add("chrfpp", metrics.SacrebleuMetric("chrf", higher_is_better=True, word_order=2))
    monkeypatch.setattr("seqkit.cli.get_plugin_manager", lambda **kwargs: pm)
    for flags, name in (([], "chrF2++"), (["-cw", "0"], "chrF2"), (["--chrf-beta", "1"], "chrF1++")):
        assert main(["bleu", "ref.txt", "-i", "hyp1.txt", "-m", "chrfpp", *flags]) == 0
        assert capsys.readouterr().out.startswith(f"{name}|"), flags


def test_help_and_docs_say_what_is_sacrebleus(capsys):
    """--help and docs/cli.md name sacrebleu's default format (JSON) beside seqkit's, and what differs."""
    from seqkit.cli.bleu import DESCRIPTION

    with pytest.raises(SystemExit):
        main(["bleu", "--help"])
    shown = capsys.readouterr().out
    docs = (Path(__file__).resolve().parents[1] / "docs" / "cli.md").read_text(encoding="utf-8")
    for text in (shown, docs):
        assert DESCRIPTION in text
    for claim in ("sacrebleu's are -m bleu -f json", "-f text and json of one system", "-sl -f json",
                  "--paired-bs -f json (sacrebleu's fails)"):  # fmt: skip
        assert claim in " ".join(DESCRIPTION.split()), claim


# ---- the process: any locale, a closed pipe ----------------------------------------------------------------------


def seqkit_process(cwd: Path, *args: str, env: dict | None = None) -> subprocess.Popen:
    command = [sys.executable, "-m", "seqkit", "bleu", *args]
    return subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            env={**os.environ, **(env or {})})  # fmt: skip


def test_output_is_utf8_whatever_the_locale(files):
    expected = run_sacrebleu(files, "ref.txt", "-i", "hyp1.txt", "-ci", "-cin", "20", "-f", "text", *ALL_METRICS)
    p = seqkit_process(files, "ref.txt", "-i", "hyp1.txt", "-ci", "-cin", "20",
                       env={"PYTHONIOENCODING": "ascii", "LC_ALL": "C", "LANG": "C"})  # fmt: skip
    out, err = p.communicate(timeout=300)
    assert (p.returncode, err) == (0, b"") and out.decode("utf-8") == expected and "μ = ".encode() in out


def test_a_closed_pipe_ends_quietly(files):
    """``seqkit bleu -sl ... | head -1``: more lines than a pipe holds, the reader gone after the first."""
    write(files / "big.ref", SENTENCES * 400)
    write(files / "big.hyp", perturb(SENTENCES * 400, seed=9))
    p = seqkit_process(files, "big.ref", "-i", "big.hyp", "-sl", "-m", "chrf")
    assert p.stdout.readline().startswith(b"chrF2|nrefs:1|")
    p.stdout.close()
    err = p.stderr.read()
    assert p.wait(timeout=300) == 141 and err == b"", err.decode()


# ---- tokenised-lowercased BLEU ------------------------------------------------------------------------------


def tokenised_lowercased(lines: list[str], tokenizer: str = "13a") -> list[str]:
    tok = BLEU(tokenize=tokenizer).tokenizer
    return [" ".join(tok(line).split()).lower() for line in lines]


def check_tok_lc(capsys, monkeypatch, cwd: Path, ref: str, hyp: str, tokenizer: str) -> None:
    """seqkit bleu --tok-lc equals sacrebleu on hypotheses tokenised beforehand, scored with -tok none -lc,
    and is labelled BLEU-tok-lc with hyptok in its signature."""
    hyps = (cwd / hyp).read_text(encoding="utf-8").splitlines()
    write(cwd / "hyp.tok", tokenised_lowercased(hyps, tokenizer))
    expected = run_sacrebleu(cwd, ref, "-i", "hyp.tok", "-tok", "none", "-lc", "--force", "-f", "text")
    args = [ref, "-i", hyp, "--tok-lc", *(["-tok", tokenizer] if tokenizer != "13a" else [])]
    code, out, err = run_seqkit(capsys, monkeypatch, cwd, *args)
    note, line = out.splitlines()
    assert (code, err) == (0, "")
    assert "not sacreBLEU" in note and f"{tokenizer} tokenizer" in note
    assert line.startswith("BLEU-tok-lc|") and f"|hyptok:{tokenizer}|" in line
    assert line.replace("BLEU-tok-lc|", "BLEU|").replace(f"|hyptok:{tokenizer}", "") + "\n" == expected

    code, out, _ = run_seqkit(capsys, monkeypatch, cwd, *args, "-f", "json")
    record = json.loads(out)
    assert record["name"] == "BLEU-tok-lc" and "not sacreBLEU" in record["note"] and record["hyptok"] == tokenizer
    library = metrics.tok_lc_bleu(hyps, (cwd / ref).read_text(encoding="utf-8").splitlines(), tokenize=tokenizer)
    assert record["score"] == round(library.value, 1) and record["signature"] == library.signature


@pytest.mark.parametrize("tokenizer", ["13a", "intl"])
def test_tok_lc_equals_sacrebleu_on_pretokenised_text(files, capsys, monkeypatch, tokenizer):
    write(files / "ref.tok", [line.upper() for line in tokenised_lowercased(SENTENCES)])  # lowercased by seqkit
    check_tok_lc(capsys, monkeypatch, files, "ref.tok", "hyp1.txt", tokenizer)


@needs_multi30k
def test_tok_lc_against_the_official_tokenised_multi30k_references(tmp_path, capsys, monkeypatch):
    with gzip.open(MULTI30K / "test_2016_flickr.en.gz", "rt", encoding="utf-8") as f:
        raw = f.read().splitlines()[:200]
    tok = (MULTI30K / "tok" / "test_2016_flickr.lc.norm.tok.en").read_text(encoding="utf-8").splitlines()[:200]
    write(tmp_path / "ref.tok", tok)
    write(tmp_path / "hyp.txt", perturb(raw, seed=5))
    check_tok_lc(capsys, monkeypatch, tmp_path, "ref.tok", "hyp.txt", "13a")
    # The raw references themselves score close to 100: 13a is near the Moses tokenisation of these files.
    assert metrics.tok_lc_bleu(raw, tok).value > 98


def test_tok_lc_paired_test_is_labelled(files, capsys, monkeypatch):
    write(files / "ref.tok", tokenised_lowercased(SENTENCES))
    code, out, _ = run_seqkit(
        capsys, monkeypatch, files, "ref.tok", "-i", "hyp1.txt", "hyp2.txt", "--tok-lc", "--paired-bs",
        "--paired-bs-n", "20",
    )
    assert code == 0 and "not sacreBLEU" in out.splitlines()[0]
    assert "BLEU-tok-lc (μ ± 95% CI)" in out and " - BLEU-tok-lc " in out and "hyptok:13a" in out


# ---- the library ------------------------------------------------------------------------------------------


def test_library_functions_match_sacrebleu():
    hyps, refs2 = perturb(SENTENCES, 1, 0.3), perturb(SENTENCES, 7, 0.05)
    for ours, theirs in [
        (metrics.bleu(hyps, [SENTENCES, refs2]), sacrebleu.BLEU().corpus_score(hyps, [SENTENCES, refs2])),
        (metrics.bleu(hyps, SENTENCES, lowercase=True, tokenize="intl"),
         sacrebleu.BLEU(lowercase=True, tokenize="intl").corpus_score(hyps, [SENTENCES])),
        (metrics.chrf(hyps, SENTENCES, word_order=2), sacrebleu.CHRF(word_order=2).corpus_score(hyps, [SENTENCES])),
        (metrics.ter(hyps, [SENTENCES]), sacrebleu.TER().corpus_score(hyps, [SENTENCES])),
    ]:
        assert ours.value == theirs.score and ours.score.name == theirs.name
    result = metrics.bleu(hyps, SENTENCES)
    assert result.signature == "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:" + sacrebleu.__version__
    assert str(result).startswith("BLEU|nrefs:1|") and result.score.precisions
    with_ci = metrics.chrf(hyps, SENTENCES, n_bootstrap=20)
    assert "bs:20" in with_ci.signature and with_ci.score._ci > 0


def test_library_rejects_bad_input():
    with pytest.raises(ValueError, match="12 hypotheses but reference stream 2 has 11 lines"):
        metrics.bleu(SENTENCES, [SENTENCES, SENTENCES[:-1]])
    with pytest.raises(ValueError, match="no hypotheses"):
        metrics.ter([], [[]])
    with pytest.raises(TypeError, match="references must be"):
        metrics.chrf(SENTENCES, "one string")


def test_the_command_offers_every_metric_of_the_module():
    from seqkit.cli import bleu as command

    assert list(command.METRICS) == list(metrics.METRIC_CLASSES)


def test_metrics_are_registered_through_the_hook():
    registry = get_plugin_manager(environ={}).registry("metric")
    assert {name: registry.get(name) for name in ("bleu", "chrf", "ter")} == {
        "bleu": metrics.bleu, "chrf": metrics.chrf, "ter": metrics.ter
    }
    assert registry.entry("bleu").plugin == "seqkit"


# ---- bad input: one line, exit code 2, nothing scored -----------------------------------------------------


def one_line_error(capsys, monkeypatch, cwd: Path, *args: str, stdin: str | None = None) -> str:
    code, out, err = run_seqkit(capsys, monkeypatch, cwd, *args, stdin=stdin)
    assert (code, out) == (2, "") and err.count("\n") == 1 and err.startswith("seqkit bleu: error: "), err
    return err


def test_different_line_counts_name_both_files_and_counts(files, capsys, monkeypatch):
    write(files / "short.txt", SENTENCES[:5])
    err = one_line_error(capsys, monkeypatch, files, "ref.txt", "-i", "short.txt")
    assert "short.txt has 5 lines but ref.txt has 12" in err and "nothing scored" in err
    err = one_line_error(capsys, monkeypatch, files, "ref.txt", "short.txt", "-i", "hyp1.txt")
    assert "hyp1.txt has 12 lines but short.txt has 5" in err
    err = one_line_error(capsys, monkeypatch, files, "ref.txt", "-i", "hyp1.txt", "short.txt", "--paired-bs")
    assert "short.txt has 5 lines but ref.txt has 12" in err


def test_empty_hypotheses_are_an_error(files, capsys, monkeypatch):
    (files / "empty.txt").write_bytes(b"")
    assert "empty.txt is empty" in one_line_error(capsys, monkeypatch, files, "ref.txt", "-i", "empty.txt")
    assert "<stdin> is empty" in one_line_error(capsys, monkeypatch, files, "ref.txt", stdin="")


def test_a_bom_is_not_text(files, capsys, monkeypatch):
    """A UTF-8 BOM before the first line (of a reference, a system, or stdin) scores as the file without it."""
    plain = run_seqkit(capsys, monkeypatch, files, "ref.txt", "-i", "hyp1.txt")[1]
    for name in ("ref.txt", "hyp1.txt"):
        (files / f"bom-{name}").write_bytes(b"\xef\xbb\xbf" + (files / name).read_bytes())
    code, out, _ = run_seqkit(capsys, monkeypatch, files, "bom-ref.txt", "-i", "bom-hyp1.txt")
    assert code == 0 and out == plain
    stdin = "\ufeff" + (files / "hyp1.txt").read_text(encoding="utf-8")
    assert run_seqkit(capsys, monkeypatch, files, "ref.txt", stdin=stdin)[1] == plain


def test_a_missing_file_is_named(files, capsys, monkeypatch):
    err = one_line_error(capsys, monkeypatch, files, "ref.txt", "-i", "nope.txt")
    assert "cannot read nope.txt: No such file or directory" in err
    assert "cannot read nope.ref" in one_line_error(capsys, monkeypatch, files, "nope.ref", "-i", "hyp1.txt")


def test_invalid_utf8_names_file_and_line(files, capsys, monkeypatch):
    (files / "bad.txt").write_bytes("\n".join(SENTENCES[:3]).encode() + b"\nbad \xff byte\n" + b"x\n" * 8)
    err = one_line_error(capsys, monkeypatch, files, "ref.txt", "-i", "bad.txt")
    assert "bad.txt line 4: invalid UTF-8 (byte 0xff" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-i", "hyp1.txt", "ref.txt"], "no reference files: give them before -i"),
        (["ref.txt", "-i", "hyp1.txt", "--paired-bs"], "need a baseline and at least one more system"),
        (["ref.txt", "-i", "hyp1.txt", "hyp2.txt", "--confidence"], "--confidence is for one system"),
        (["ref.txt", "-i", "hyp1.txt", "hyp1.txt"], "hyp1.txt is given twice"),
        (["ref.txt", "-i", "hyp1.txt", "--tok-lc", "-m", "chrf"], "--tok-lc computes BLEU only"),
        (["ref.txt", "-i", "hyp1.txt", "-tok", "ja-mecab"], "--tokenize ja-mecab: "),
        (["ref.txt", "-i", "hyp1.txt", "-tok", "moses"], "unknown --tokenize 'moses'; sacrebleu's are: none, zh, 13a"),
        (["ref.txt", "-i", "hyp1.txt", "-s", "add-one"], "unknown --smooth-method 'add-one'; sacrebleu's are: none, "
         "floor, add-k, exp"),
        (["ref.txt", "-i", "hyp1.txt", "-s", "floor", "-sv", "-0.1"], "-sv/--smooth-value must be a number of at "
         "least 0, got -0.1"),
        (["ref.txt", "-i", "hyp1.txt", "-s", "add-k", "-sv", "inf"], "must be a number of at least 0, got inf"),
        (["ref.txt", "-i", "hyp1.txt", "-sv", "0.2"], "-sv/--smooth-value is for --smooth-method floor or add-k, not "
         "exp"),
        (["ref.txt", "-i", "hyp1.txt", "-s", "none", "-sv", "0.2"], "is for --smooth-method floor or add-k, not none"),
        (["ref.txt", "-i", "hyp1.txt", "-cc", "-1"], "--chrf-char-order must be at least 0, got -1"),
        (["ref.txt", "-i", "hyp1.txt", "-cw", "-2"], "--chrf-word-order must be at least 0, got -2"),
        (["ref.txt", "-i", "hyp1.txt", "--chrf-beta", "-1"], "--chrf-beta must be at least 0, got -1"),
        (["ref.txt", "-i", "hyp1.txt", "-cc", "0"], "chrF needs character or word n-grams"),
        (["ref.txt", "-i", "hyp1.txt", "-m", "bleu", "-cw", "2"], "--chrf-word-order is an option of chrf, which is "
         "not scored (-m bleu)"),
        (["ref.txt", "-i", "hyp1.txt", "-m", "chrf", "ter", "-s", "floor"], "--smooth-method is an option of bleu"),
        (["ref.txt", "-i", "hyp1.txt", "-m", "bleu", "--ter-normalized"], "--ter-normalized is an option of ter"),
        (["ref.txt", "-i", "hyp1.txt", "--tok-lc", "-cw", "2"], "--chrf-word-order is an option of chrf"),
        (["ref.txt", "-i", "hyp1.txt", "hyp2.txt", "-sl"], "-sl/--sentence-level scores one system"),
        (["ref.txt", "-i", "hyp1.txt", "hyp2.txt", "-sl", "--paired-bs"], "-sl/--sentence-level scores one system"),
        (["ref.txt", "-i", "hyp1.txt", "-sl", "-ci"], "-sl/--sentence-level has no statistical tests: leave out "
         "--confidence"),
        (["ref.txt", "-i", "hyp1.txt", "-sl", "-m", "bleu", "chrf"], "-sl/--sentence-level scores one metric"),
        (["ref.txt", "-i", "hyp1.txt", "-f", "latex"], "-f latex is a table of several systems"),
        (["ref.txt", "-i", "hyp1.txt", "-sl", "-f", "latex"], "-f latex is a table of several systems"),
        (["ref.txt", "-i", "hyp1.txt", "hyp2.txt", "-b"], "-b/--score-only is for one system"),
        (["ref.txt", "-i", "hyp1.txt", "--short", "-f", "json"], "--short shortens the signatures of text and latex"),
        (["ref.txt", "ref2.txt", "-nr", "2", "-i", "hyp1.txt"], "-nr/--num-refs splits the lines of one REF file"),
        (["ref.txt", "-nr", "2", "-i", "hyp1.txt"], "ref.txt line 1: 1 tab-separated references, -nr says 2"),
        (["ref.txt", "-nr", "0", "-i", "hyp1.txt"], "--num-refs must be at least 1, got 0"),
        (["ref.txt", "-i", "hyp1.txt", "-e", "klingon"], "unknown --encoding 'klingon'"),
        (["ref.txt", "-i", "hyp1.txt", "-e", "base64"], "unknown --encoding 'base64': not a text encoding"),
    ],
)  # fmt: skip
def test_bad_arguments_are_one_line(files, capsys, monkeypatch, args, message):
    if "ja-mecab" in args and _has_mecab():
        pytest.skip("MeCab is installed, so ja-mecab works")
    assert message in one_line_error(capsys, monkeypatch, files, *args)


def _has_mecab() -> bool:
    try:
        BLEU(tokenize="ja-mecab")
    except Exception:
        return False
    return True


def test_debug_shows_the_traceback(files, monkeypatch):
    monkeypatch.chdir(files)
    with pytest.raises(UserError, match=r"nope\.txt"):
        main(["--debug", "bleu", "ref.txt", "-i", "nope.txt"])


# ---- any registered metric: the contract, -m NAME ---------------------------------------------------------

DOCS_PLUGINS = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"


def metric_example() -> str:
    """The metric plugin of docs/plugins.md (the python block after ``<!-- example: metric plugin -->``)."""
    text = DOCS_PLUGINS.read_text(encoding="utf-8")
    return text.split("<!-- example: metric plugin -->\n```python\n", 1)[1].split("\n```\n", 1)[0] + "\n"


@pytest.fixture
def plugins(tmp_path: Path) -> Path:
    """A plugins folder: exact.py, docs/plugins.md's example; broken.py, whose metric keeps the contract as
    registered but returns a float; and nodirection.py, whose metric has no higher_is_better."""
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "exact.py").write_text(metric_example(), encoding="utf-8")
    (folder / "broken.py").write_text(
        "from seqkit.plugins import hookimpl\n\n"
        "class Bare:\n    higher_is_better = True\n\n    def __call__(self, hypotheses, references):\n"
        "        return float(len(hypotheses))\n\n"
        "@hookimpl\ndef seqkit_register_metrics(registry):\n"
        "    registry.add('bare', Bare())\n",
        encoding="utf-8",
    )
    (folder / "nodirection.py").write_text(
        "from seqkit.plugins import hookimpl\n\n"
        "class NoDirection:\n    def __call__(self, hypotheses, references):\n        return 1.0\n\n"
        "@hookimpl\ndef seqkit_register_metrics(registry):\n    registry.add('no_direction', NoDirection())\n",
        encoding="utf-8",
    )
    return folder


def run_with_plugins(
    capsys, monkeypatch, cwd: Path, folder: Path, *args: str, load: str = "exact,broken"
) -> tuple[int, str, str]:
    """``seqkit --plugins-dir folder bleu ARGS`` with the plugins ``load`` only (installed ones left out)."""
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("SEQKIT_LOAD_PLUGINS", load)
    capsys.readouterr()
    code = main(["--plugins-dir", str(folder), "bleu", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_builtin_metrics_keep_the_contract():
    for metric, higher in ((metrics.bleu, True), (metrics.chrf, True), (metrics.ter, False)):
        assert isinstance(metric, metrics.Metric) and metrics.check_metric(metric) is None
        assert metric.higher_is_better is higher and isinstance(metric, metrics.SacrebleuMetric)
    hyps = perturb(SENTENCES, 1, 0.3)
    result = metrics.compute("ter", metrics.ter, hyps, SENTENCES)  # one stream: made a list of streams
    assert result.value == sacrebleu.TER().corpus_score(hyps, [SENTENCES]).score and result.name == "TER"
    assert str(result) == result.score.format(1, False, result.signature)
    chrf_pp = metrics.SacrebleuMetric("chrf", higher_is_better=True, word_order=2)
    assert chrf_pp(hyps, SENTENCES).value == sacrebleu.CHRF(word_order=2).corpus_score(hyps, [SENTENCES]).score


def test_check_metric_and_compute_name_what_is_wrong():
    class Exact:
        higher_is_better = True

        def __call__(self, hypotheses, references):
            return 2.0

    assert "register an instance" in metrics.check_metric(Exact)
    assert "missing higher_is_better" in metrics.check_metric(len)
    assert "not callable" in metrics.check_metric(3)
    assert metrics.check_metric(Exact()) is None
    from seqkit.plugins import PluginError

    with pytest.raises(PluginError, match=r"metric 'exact' returned a float, not a seqkit\.metrics\.MetricResult"):
        metrics.compute("exact", Exact(), ["a"], [["a"]])
    nan = type("NaN", (), {"higher_is_better": False, "__call__": lambda self, h, r: metrics.MetricResult(
        float("nan"), "NaN")})()  # fmt: skip
    with pytest.raises(PluginError, match="metric 'nan' returned the value nan, not a finite number"):
        metrics.compute("nan", nan, ["a"], [["a"]])
    with pytest.raises(ValueError, match="1 hypotheses but reference stream 1 has 2 lines"):
        metrics.compute("nan", nan, ["a"], [["a", "b"]])


def test_metric_result_prints_as_sacrebleu_does():
    result = metrics.MetricResult(41.66666, "Exact", "nrefs:1|case:mixed")
    assert str(result) == "Exact|nrefs:1|case:mixed = 41.7" and result.format(2, score_only=True) == "41.67"
    assert json.loads(result.format(1, is_json=True)) == {
        "name": "Exact", "score": 41.7, "signature": "nrefs:1|case:mixed", "nrefs": "1", "case": "mixed"
    }
    assert str(metrics.MetricResult(3, "Count")) == "Count = 3.0"


def test_the_documented_example_is_a_metric(plugins):
    pm = get_plugin_manager(plugins_dir=plugins, environ={"SEQKIT_LOAD_PLUGINS": "exact"}, strict=True)
    exact = metrics.get_metric(pm.registry("metric"), "exact")
    assert exact.higher_is_better is True and pm.registry("metric").entry("exact").plugin == "exact"
    result = metrics.compute("exact", exact, ["a b", "c", "d"], [["a b", "x", "y"], ["z", "c", "y"]])
    assert (result.value, result.name, result.signature) == (pytest.approx(200 / 3), "Exact", "nrefs:2")


def test_m_takes_a_registered_metric(files, plugins, capsys, monkeypatch):
    hyps = (files / "hyp2.txt").read_text(encoding="utf-8").splitlines()
    exact = 100 * sum(h == r for h, r in zip(hyps, SENTENCES)) / len(SENTENCES)
    assert 0 < exact < 100  # some lines are unchanged, some are not
    code, out, err = run_with_plugins(capsys, monkeypatch, files, plugins, "ref.txt", "-i", "hyp2.txt", "-m", "exact")
    assert (code, err) == (0, "") and out == f"Exact|nrefs:1 = {exact:.1f}\n"
    # beside sacrebleu's metrics: their lines are sacrebleu's, in sacrebleu's order and alignment
    expected = run_sacrebleu(files, "ref.txt", "-i", "hyp2.txt", "-m", "bleu", "ter", "-w", "2", "-f", "text")
    code, out, _ = run_with_plugins(capsys, monkeypatch, files, plugins, "ref.txt", "-i", "hyp2.txt", "-m", "ter",
                                    "exact", "bleu", "-w", "2")  # fmt: skip
    bleu_line, exact_line, ter_line = out.splitlines()
    assert code == 0 and f"{bleu_line}\n{ter_line}\n" == expected
    assert exact_line.endswith(f"Exact|nrefs:1 = {exact:.2f}") and exact_line.index("=") == bleu_line.index("=")
    code, out, _ = run_with_plugins(capsys, monkeypatch, files, plugins, "ref.txt", "-i", "hyp2.txt", "-m", "exact",
                                    "bleu", "-f", "json")  # fmt: skip
    records = json.loads(out)
    assert [r["name"] for r in records] == ["BLEU", "Exact"] and records[1]["score"] == round(exact, 1)
    assert records[0] == json.loads(run_sacrebleu(files, "ref.txt", "-i", "hyp2.txt", "-m", "bleu", "-f", "json"))


def test_m_takes_a_registered_metric_for_several_systems(files, plugins, capsys, monkeypatch):
    code, out, _ = run_with_plugins(capsys, monkeypatch, files, plugins, "ref.txt", "-i", "hyp1.txt", "hyp2.txt",
                                    "-m", "bleu", "exact", "-f", "json")  # fmt: skip
    rows = json.loads(out)
    assert code == 0 and [row["system"] for row in rows] == ["hyp1.txt", "hyp2.txt"]
    for row, hyp in zip(rows, ("hyp1.txt", "hyp2.txt")):
        hyps = (files / hyp).read_text(encoding="utf-8").splitlines()
        assert row["Exact"] == f"{100 * sum(h == r for h, r in zip(hyps, SENTENCES)) / len(SENTENCES):.1f}"
        assert row["BLEU"] == f"{sacrebleu.BLEU().corpus_score(hyps, [SENTENCES]).score:.1f}"
    code, out, _ = run_with_plugins(capsys, monkeypatch, files, plugins, "ref.txt", "-i", "hyp1.txt", "hyp2.txt",
                                    "-m", "exact")  # fmt: skip
    assert code == 0 and "Exact" in out and "nrefs:1" in out


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["-m", "exat"], 2, "seqkit bleu: error: -m exat: unknown metric 'exat'; did you mean 'exact'? known: bare, "
         "bleu, chrf, exact, ter"),
        (["-m", "bleu", "exact", "-ci"], 2, "--confidence needs sacrebleu's metrics (bleu, chrf, ter); -m exact is "
         "not one of them"),
        (["hyp2.txt", "-m", "exact", "--paired-ar"], 2, "--paired-ar needs sacrebleu's metrics"),
        (["-m", "bare"], 1, "metric 'bare' returned a float, not a seqkit.metrics.MetricResult"),
    ],
)  # fmt: skip
def test_a_bad_metric_is_one_line(files, plugins, capsys, monkeypatch, args, code, message):
    got, out, err = run_with_plugins(capsys, monkeypatch, files, plugins, "ref.txt", "-i", "hyp1.txt", *args)
    assert (got, out) == (code, "") and err.count("\n") == 1 and message in err, err


def test_a_metric_without_higher_is_better_leaves_its_plugin_out(files, plugins, capsys, monkeypatch):
    got, out, err = run_with_plugins(capsys, monkeypatch, files, plugins, "ref.txt", "-i", "hyp1.txt", "-m",
                                     "no_direction", load="nodirection")  # fmt: skip
    warning, error = err.splitlines()
    assert (got, out) == (2, "") and warning.startswith("seqkit: warning: plugin 'nodirection' (file ")
    assert warning.endswith(" is left out: metric 'no_direction' is missing higher_is_better = True or False (which "
                            "way a better score goes)")  # fmt: skip
    assert error == "seqkit bleu: error: -m no_direction: unknown metric 'no_direction'; known: bleu, chrf, ter"
