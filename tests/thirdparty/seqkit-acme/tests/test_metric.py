"""The acme_char_accuracy metric against seqkit's metric kit, and a few values by hand."""

import pytest
from seqkit_acme.metric import CharAccuracy, edit_distance

from seqkit.testing.metrics import MetricTests


class TestCharAccuracy(MetricTests):
    name = "acme_char_accuracy"
    higher_is_better = True
    best = 100.0
    low, high = 0.0, 100.0


@pytest.mark.parametrize(("a", "b", "d"), [("", "", 0), ("abc", "", 3), ("kitten", "sitting", 3), ("ab", "ba", 2)])
def test_edit_distance(a, b, d):
    assert edit_distance(a, b) == d == edit_distance(b, a)


def test_values():
    metric = CharAccuracy()
    assert metric(["abcd", "xy"], [["abce", "xy"]]).value == pytest.approx(100 * (1 - 1 / 6))
    assert metric(["abcd"], [["zzzz"], ["abcd"]]).value == 100.0  # the closest reference counts
    assert metric(["a long wrong line"], [["ab"]]).value == 0.0
