"""The metric kit (seqkit.testing.metrics) on seqkit's own metrics and on the metric plugin of docs/plugins.md."""

import math
from pathlib import Path

import pytest

from seqkit.plugins import get_plugin_manager
from seqkit.testing.metrics import MetricCase, MetricTests


class TestBLEUKit(MetricTests):
    name = "bleu"
    higher_is_better = True
    best = 100.0
    low, high = 0.0, 100.0


class TestChrFKit(MetricTests):
    name = "chrf"
    higher_is_better = True
    best = 100.0
    low, high = 0.0, 100.0


class TestTERKit(MetricTests):
    name = "ter"
    higher_is_better = False
    best = 0.0
    low, high = 0.0, math.inf  # edits per reference word: a long wrong hypothesis passes 100


def metric_example() -> str:
    """The metric plugin of docs/plugins.md (the python block after ``<!-- example: metric plugin -->``)."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "plugins.md").read_text(encoding="utf-8")
    return text.split("<!-- example: metric plugin -->\n```python\n", 1)[1].split("\n```\n", 1)[0] + "\n"


def test_the_documented_metric_passes_the_kit(tmp_path):
    (tmp_path / "exact.py").write_text(metric_example(), encoding="utf-8")
    pm = get_plugin_manager(plugins_dir=tmp_path, environ={"SEQKIT_LOAD_PLUGINS": "exact"}, strict=True)
    MetricCase("exact", True, 100.0, 0.0, 100.0, pm.registry("metric")).check_all()


def test_a_case_that_promises_the_wrong_thing_fails():
    with pytest.raises(AssertionError, match=r"^metric 'ter': higher_is_better is False, the case says True$"):
        MetricCase("ter", True, 100.0, 0.0, 100.0).check_registered()
    with pytest.raises(AssertionError, match=r"^metric 'ter': value .* is outside \[0.0, 100.0\]"):
        MetricCase("ter", False, 0.0, 0.0, 100.0).check_range()
    with pytest.raises(AssertionError, match=r"^metric 'chrf': value 100.0 is better than best=50.0 \(higher_is_b"):
        MetricCase("chrf", True, 50.0).check_identical()
    with pytest.raises(AssertionError, match=r"^metric 'chrf': hypotheses equal to the references score 100.0, not "):
        MetricCase("chrf", True, 110.0).check_identical()
