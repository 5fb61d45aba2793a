"""``seqkit translate`` as a stream (line by line while stdin stays open, or in parts), ``seqkit score`` (forced
decoding), and what every command does with a BOM, a closed pipe and a non-UTF-8 locale."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from helpers import train_toy_run

from seqkit.cli import main
from seqkit.decoding import beam_search, force_decode, max_lengths
from seqkit.plugins import get_plugin_manager
from seqkit.runs import Run

ROOT = Path(__file__).resolve().parents[1]
LINES = "a b c d\n\nl k\ne f g\nq r s t u\n"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A toy-reverse run trained for one epoch: a model whose outputs differ from line to line."""
    directory = tmp_path_factory.mktemp("runs") / "toy"
    train_toy_run(directory)
    return directory


def _translate(run, capsys, tmp_path, *args, lines=LINES):
    source = tmp_path / "in.txt"
    source.write_bytes(lines.encode("utf-8") if isinstance(lines, str) else lines)
    code = main(["translate", "--run", str(run), "-i", str(source), *args])
    out, err = capsys.readouterr()
    return code, out, err


def assert_same_hypotheses(got: str, expected: str) -> None:
    """Output lines with the same texts and, to float32 rounding across batch shapes, the same scores."""
    assert len(got.splitlines()) == len(expected.splitlines())
    for a, b in zip(got.splitlines(), expected.splitlines()):
        *text_a, score_a = a.split(" ||| ") if " ||| " in a else (*a.split("\t")[1:], a.split("\t")[0])
        *text_b, score_b = b.split(" ||| ") if " ||| " in b else (*b.split("\t")[1:], b.split("\t")[0])
        assert text_a == text_b and float(score_a) == pytest.approx(float(score_b), rel=1e-5, abs=1e-5), (a, b)


def _seqkit(*args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "0", **kwargs.pop("env", {})}
    return subprocess.Popen([sys.executable, "-m", "seqkit", *args], env=env, **kwargs)


# ---- streaming ---------------------------------------------------------------------------------------------------
def test_each_line_is_translated_while_stdin_stays_open(run, capsys, tmp_path):
    """With --buffer-size 1 a line's translation comes out before the next line is sent (fairseq-interactive's
    behaviour), and equals what the whole file gives for that line; empty lines stay empty lines."""
    code, whole, _ = _translate(run, capsys, tmp_path)
    assert code == 0
    expected = whole.splitlines()
    p = _seqkit("translate", "--run", str(run), "--buffer-size", "1", stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    answers: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [answers.put(line) for line in p.stdout], daemon=True).start()
    try:
        for line, want in zip(LINES.splitlines(), expected):
            p.stdin.write(line.encode() + b"\n")
            p.stdin.flush()
            got = answers.get(timeout=60)  # the pipe is still open: only streaming can answer
            assert got.decode().rstrip("\n") == want, line
        p.stdin.close()
        assert p.wait(timeout=60) == 0, p.stderr.read().decode()
    finally:
        p.kill()
    assert answers.empty()


@pytest.mark.parametrize("size", ["1", "2", "3", "0"])
def test_every_buffer_size_gives_the_whole_files_output(run, capsys, tmp_path, size):
    """Output order and alignment match the input in every part size, n-best indices counting from the
    first line of the input, not of the part."""
    whole = _translate(run, capsys, tmp_path, "--nbest", "2")[1]
    code, parts, _ = _translate(run, capsys, tmp_path, "--nbest", "2", "--buffer-size", size)
    assert code == 0
    assert_same_hypotheses(parts, whole)
    assert [line.split(" ||| ")[0] for line in parts.splitlines()] == ["0", "0", "1", "2", "2", "3", "3", "4", "4"]


def test_a_bom_is_not_part_of_the_first_line(run, capsys, tmp_path):
    plain = _translate(run, capsys, tmp_path, "--scores")[1]
    code, with_bom, _ = _translate(run, capsys, tmp_path, "--scores", lines=b"\xef\xbb\xbf" + LINES.encode())
    assert code == 0 and with_bom == plain  # the same lines in the same batches: the same bits


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--nbest", "2", "--scores"], "--scores: the n-best format 'i ||| text ||| score' already gives every score"),
        (["--nbest", "0"], "argument --nbest: must be an integer in [1, 1000], got 0"),
        (["--beam", "3", "--nbest", "5"], "decoding strategy 'beam' gives at most 3 hypotheses per sentence"),
        (["--buffer-size", "-1"], "argument --buffer-size: must be an integer >= 0, got -1"),
        (["--batch-size", "0"], "argument --batch-size: must be an integer >= 1, got 0"),
        (["-o", "no/such/dir/out.txt"], "no/such/dir/out.txt: its directory no/such/dir does not exist"),
    ],
)
def test_bad_settings_are_refused_before_anything_is_translated(run, capsys, tmp_path, args, message):
    code, out, err = _translate(run, capsys, tmp_path, *args)
    assert code == 2 and out == "" and message in err and len(err.splitlines()) == 1, err


def test_a_broken_gzip_input_is_named_with_what_is_wrong(run, capsys, tmp_path):
    """gzip is recognised by content (the file is in.txt): a truncated stream and a bad CRC are one line each,
    naming the file and how far it could be read, and nothing is written to the output."""
    import gzip

    packed = gzip.compress((LINES * 200).encode())
    flipped = bytearray(packed)
    flipped[-6] ^= 0xFF  # the CRC
    for data, problem in [(packed[: len(packed) // 2], "Compressed file ended"), (bytes(flipped), "CRC check failed")]:
        code, out, err = _translate(run, capsys, tmp_path, "-o", str(tmp_path / "out.txt"), lines=data)
        assert code == 2 and out == "" and err.count("\n") == 1, err
        assert "in.txt: unreadable after line" in err and problem in err, err
        assert not (tmp_path / "out.txt").exists()


def test_invalid_utf8_names_the_input_and_line(run, capsys, tmp_path):
    code, out, err = _translate(run, capsys, tmp_path, lines=b"a b\nc \xff d\n")
    assert code == 2 and out == "" and "in.txt:2: invalid UTF-8 (byte 0xff" in err


# ---- every command ------------------------------------------------------------------------------------------------
def test_a_closed_pipe_ends_the_command_quietly():
    """``seqkit plugins | head -0``: the reader is gone before the first write; no BrokenPipeError, no
    traceback, the status of a program that SIGPIPE ended."""
    p = _seqkit("plugins", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.close()
    err = p.stderr.read()
    assert p.wait(timeout=120) == 141 and err == b"", err.decode()


def test_output_is_utf8_whatever_the_locale(tmp_path):
    manifest = (ROOT / "corpora" / "tatoeba-de-en.toml").read_text(encoding="utf-8")
    manifest = re.sub(r'description = """.*?"""', 'description = "Übersetzungen, μ"', manifest, flags=re.S)
    path = tmp_path / "tatoeba-de-en.toml"
    path.write_text(manifest, encoding="utf-8")
    env = {"PYTHONIOENCODING": "ascii", "LC_ALL": "C", "LANG": "C"}
    p = _seqkit("corpus", "show", str(path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0 and "Übersetzungen, μ".encode() in out, err.decode()
    p = _seqkit("translate", "--run", str(tmp_path / "kein-Lauf-ü"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL, env=env)  # fmt: skip
    _, err = p.communicate(timeout=120)
    assert p.returncode == 2 and "kein-Lauf-ü".encode() in err and len(err.splitlines()) == 1, err.decode()


# ---- scoring -----------------------------------------------------------------------------------------------------
def test_forced_decoding_gives_beam_searchs_log_probabilities(run):
    """Every hypothesis of a beam's n-best list, forced token by token, has the log-probability the beam
    reported for it (a sum in the model's dtype, step by step), to float32 rounding across batch shapes."""
    r = Run.open(run, get_plugin_manager())
    src = [np.asarray(r.tokenizers.source.encode(s)) for s in ("a b c", "d e f g h", "x y", "l m n o p q")]
    found = beam_search(r.model, src, beam=4, nbest=4, max_len_ratio=2.0, max_len_offset=3)
    for s, hyps, limit in zip(src, found, max_lengths(src, 2.0, 3)):
        assert len(hyps) == 4
        forced = force_decode(r.model, [s] * len(hyps), [h.tokens for h in hyps])
        for h, lp in zip(hyps, forced):
            steps = len(lp) if len(h.tokens) < limit else len(lp) - 1  # at the length limit: no EOS
            assert lp.dtype == np.float32
            assert float(np.cumsum(lp[:steps])[-1]) == pytest.approx(h.log_prob, rel=1e-5), h.tokens


def test_score_prints_one_log_probability_per_pair(run, capsys, tmp_path):
    (tmp_path / "src.txt").write_text("a b c d\nl k\ne f g\n")
    code, out, _ = _translate(run, capsys, tmp_path, "--nbest", "1", lines="a b c d\nl k\ne f g\n")
    assert code == 0
    (tmp_path / "tgt.txt").write_text("\ufeff" + out)  # a BOM is stripped here too
    assert main(["score", "--run", str(run), "-s", str(tmp_path / "src.txt"), "-t", str(tmp_path / "tgt.txt"),
                 "--tokens"]) == 0  # fmt: skip
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    r = Run.open(run, get_plugin_manager())
    for line, target in zip(lines, out.splitlines()):
        total, tokens = line.split("\t")
        per_token = [float(x) for x in tokens.split()]
        assert len(per_token) == len(r.tokenizers.target.encode(target)) + 1  # every token and EOS
        assert float(total) == pytest.approx(sum(per_token), abs=1e-5) and float(total) <= 0
    code = main(["score", "--run", str(run), "-s", str(tmp_path / "src.txt"), "-t", str(tmp_path / "tgt.txt"),
                 "-o", str(tmp_path / "scores.txt")])  # fmt: skip
    assert code == 0 and (tmp_path / "scores.txt").read_text().splitlines() == [x.split("\t")[0] for x in lines]


def test_score_refuses_misaligned_or_empty_input_in_one_line(run, capsys, tmp_path):
    (tmp_path / "src.txt").write_text("a b\n\nc d\n")
    (tmp_path / "tgt.txt").write_text("b a\n")
    args = ["score", "--run", str(run), "-s", str(tmp_path / "src.txt"), "-t", str(tmp_path / "tgt.txt")]
    assert main(args) == 2
    assert "src.txt has 3 lines but" in capsys.readouterr().err
    (tmp_path / "tgt.txt").write_text("b a\nx\nd c\n")
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "src.txt:2: empty source line" in err and len(err.splitlines()) == 1


# ---- forced prefixes ---------------------------------------------------------------------------------------------
def test_translations_continue_their_prefix(run, capsys, tmp_path):
    """Each translation begins with its line of --prefix-file (an empty line: no prefix); forcing greedy
    search's own first tokens gives its own output; any search follows the prefix."""
    code, greedy, _ = _translate(run, capsys, tmp_path, "--strategy", "greedy")
    assert code == 0
    own = [" ".join(line.split()[:2]) for line in greedy.splitlines()]
    (tmp_path / "own.txt").write_text("".join(p + "\n" for p in own))
    code, out, _ = _translate(run, capsys, tmp_path, "--strategy", "greedy", "--prefix-file", str(tmp_path / "own.txt"))
    assert code == 0 and out == greedy
    prefixes = ["c b", "", "a", "d d d", "e"]  # tokens of the toy vocabulary
    (tmp_path / "prefix.txt").write_text("".join(p + "\n" for p in prefixes))
    for args in ([], ["--strategy", "sampling", "--set", "decoding.seed=1"], ["--buffer-size", "2"]):
        code, out, _ = _translate(run, capsys, tmp_path, "--prefix-file", str(tmp_path / "prefix.txt"), *args)
        lines = out.splitlines()
        assert code == 0 and len(lines) == 5 and lines[1] == "", (args, out)
        for line, prefix in zip(lines, prefixes):
            assert line.startswith(prefix), (args, line, prefix)


@pytest.mark.parametrize("size", ["0", "2"])
def test_a_prefix_file_of_another_length_is_refused(run, capsys, tmp_path, size):
    (tmp_path / "prefix.txt").write_text("x\ny\n")
    code, _, err = _translate(run, capsys, tmp_path, "--prefix-file", str(tmp_path / "prefix.txt"),
                              "--buffer-size", size, "-o", str(tmp_path / "out.txt"))  # fmt: skip
    assert code == 2 and "prefix.txt has 2 lines, the input" in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "out.txt").exists()
