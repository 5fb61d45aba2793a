"""The token F1 metric: seqkit's metric kit, worked values, the kit catching planted bugs (so a pass means
something), and the metric in `seqkit bleu -m token_f1`."""

import pytest
from seqkit.cli import main
from seqkit.metrics import MetricResult
from seqkit.registry import Registry
from seqkit.testing.metrics import MetricCase, MetricTests

from seqkit_example.metric import TokenF1, f1


class TestTokenF1(MetricTests):
    name = "token_f1"
    higher_is_better = True
    best = 100.0
    low, high = 0.0, 100.0


def test_worked_values():
    assert f1("the cat sat", "the cat sat") == 1.0 and f1("sat the cat", "the cat sat") == 1.0
    assert f1("the cat", "the cat sat on") == 2 * 2 / (2 + 4)  # precision 1, recall 1/2
    assert f1("the the the", "the cat") == 2 * 1 / (3 + 2)  # each reference word is matched once
    assert (f1("", ""), f1("", "a"), f1("a", ""), f1("a b", "c d")) == (1.0, 0.0, 0.0, 0.0)
    result = TokenF1()(["The cat", "a dog"], [["the cat", "x"], ["y", "a dog"]])
    assert result == MetricResult(100.0 * (0.5 + 1.0) / 2, "TokenF1", "nrefs:2|case:mixed")
    assert TokenF1(lowercase=True)(["The cat"], [["the cat"]]) == MetricResult(100.0, "TokenF1", "nrefs:1|case:lc")


def test_seqkit_bleu_prints_it(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ref.txt").write_text("the cat sat\na dog ran\n", encoding="utf-8")
    (tmp_path / "hyp.txt").write_text("the cat sat\na cat\n", encoding="utf-8")
    assert main(["bleu", "ref.txt", "-i", "hyp.txt", "-m", "token_f1"]) == 0
    assert capsys.readouterr().out == "TokenF1|nrefs:1|case:mixed = 70.0\n"  # (1 + 2 * 1 / 5) / 2


# ---- planted bugs: each is token F1 with one mistake, and the kit must say so ------------------------------------
def planted(metric) -> MetricCase:
    """A case for ``metric`` registered as "token_f1" in a registry of its own."""
    registry = Registry("metric")
    registry.add("token_f1", metric)
    return MetricCase("token_f1", True, 100.0, 0.0, 100.0, registry)


class LowerIsBetter(TokenF1):
    """Declares the wrong direction: checkpoint selection would keep the worst model."""

    higher_is_better = False


class SumNotMean(TokenF1):
    """Forgets to divide by the number of segments: values grow with the corpus, past 100."""

    def __call__(self, hypotheses, references):
        result = super().__call__(hypotheses, references)
        return MetricResult(result.value * len(hypotheses), result.name, result.signature)


class Accumulating(TokenF1):
    """Adds every call's segments to running totals it never resets: a call's value depends on earlier calls."""

    def __init__(self) -> None:
        super().__init__()
        self.total, self.segments = 0.0, 0

    def __call__(self, hypotheses, references):
        result = super().__call__(hypotheses, references)
        self.total += result.value * len(hypotheses)
        self.segments += len(hypotheses)
        return MetricResult(self.total / self.segments, result.name, result.signature)


class BareFloat(TokenF1):
    """Returns the number alone instead of a MetricResult."""

    def __call__(self, hypotheses, references):
        return super().__call__(hypotheses, references).value


class Sorted(TokenF1):
    """Sorts the hypotheses before scoring: line i is no longer scored against line i of the references."""

    def __call__(self, hypotheses, references):
        return super().__call__(sorted(hypotheses), references)


def test_the_kit_passes_the_real_metric():
    planted(TokenF1()).check_all()  # the planted cases below differ from this only by their bug


def test_the_kit_catches_a_wrong_higher_is_better():
    with pytest.raises(AssertionError, match=r"^metric 'token_f1': higher_is_better is False, the case says True$"):
        planted(LowerIsBetter()).check_registered()


def test_the_kit_catches_a_value_out_of_range():
    with pytest.raises(AssertionError, match=r"^metric 'token_f1': value .* is outside \[0.0, 100.0\]"):
        planted(SumNotMean()).check_range()


def test_the_kit_catches_state_kept_between_calls():
    with pytest.raises(AssertionError, match=r"^metric 'token_f1': two calls on the same input give different values$"):
        planted(Accumulating()).check_identical()


def test_the_kit_catches_a_bare_float():
    with pytest.raises(AssertionError, match=r"^metric 'token_f1': returned a float, not a seqkit\.metrics\.MetricRes"):
        planted(BareFloat()).check_signature()


def test_the_kit_catches_lines_scored_against_the_wrong_references():
    with pytest.raises(AssertionError, match=r"^metric 'token_f1': permuting the lines of hypotheses and 1 reference"):
        planted(Sorted()).check_line_counts()
