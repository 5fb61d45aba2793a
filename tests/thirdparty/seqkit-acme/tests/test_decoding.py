"""The acme_best_of_n strategy against seqkit's strategy kit, and its ranking."""

from typing import ClassVar

import numpy as np
from seqkit_acme.decoding import BestOfN

from seqkit.decoding import Hypothesis
from seqkit.testing.decoding import StrategyTests


class TestBestOfN(StrategyTests):
    name = "acme_best_of_n"
    options: ClassVar = {"n": 6, "top_k": 3, "temperature": 1.0}
    nbest = 3


class TestBestOfOne(StrategyTests):
    name = "acme_best_of_n"
    options: ClassVar = {"n": 1, "top_k": 0}
    nbest = 1


def test_ranking_per_token_different_ones_first():
    def hyp(tokens, log_prob):
        return Hypothesis(tokens=np.array(tokens), score=log_prob, log_prob=log_prob, attention=None)

    short, long, same = hyp([4], -1.0), hyp([4, 5, 6], -1.6), hyp([4, 5, 6], -1.6)
    best = BestOfN._best([short, long, same], 2)
    assert [len(h.tokens) for h in best] == [3, 1]  # -1.6 / 4 beats -1.0 / 2; the repeat is left out
    assert [h.score for h in best] == [-0.4, -0.5]
    assert len(BestOfN._best([long, same], 2)) == 2  # a repeat makes up the count


def test_top_k_truncation():
    logp = np.log(np.array([[0.1, 0.4, 0.3, 0.2], [0.25, 0.25, 0.25, 0.25]]))
    kept = np.isfinite(BestOfN(top_k=2).truncate(logp))
    assert kept[0].tolist() == [False, True, True, False] and kept[1].sum() >= 2
    assert np.isfinite(BestOfN(top_k=0).truncate(logp)).all()
