"""Greedy and beam search: exactness under length penalties, beam 1 = greedy, batch invariance, ensembles."""

import itertools

import numpy as np
import pytest

import seqkit
from seqkit.decoding import DecoderState, Ensemble, beam_search, greedy_search, length_penalty
from seqkit.models import Seq2Seq, Seq2SeqOptions

BOS, EOS = 0, 1


class BigramModel:
    """A toy decoding model: the next token's log-probabilities depend only on the previous token and on
    the sentence (a per-sentence offset), so exhaustive search is easy to write."""

    bos_id, eos_id = BOS, EOS
    xp = np

    def __init__(self, table: np.ndarray) -> None:
        self.table = table  # (V, V) log-probabilities of next given previous

    def for_decoding(self):
        return self

    def encode(self, src):
        return {"sentence": np.array([int(s[0]) for s in src])}

    def initial_state(self, encoded):
        return DecoderState({"sentence": encoded["sentence"]})

    def step(self, state, prev):
        logits = self.table[np.asarray(prev)] + 0.1 * state.rows["sentence"][:, None]
        logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        return seqkit.Variable(logp), state


def _log_softmax(a):
    return a - np.log(np.exp(a).sum(axis=1, keepdims=True))


def _exhaustive_best(model, sentence, max_len, kind, alpha):
    """The best length-penalised hypothesis over every token sequence up to ``max_len`` steps."""
    V = model.table.shape[0]
    words = [t for t in range(V) if t != EOS]
    best = (-np.inf, None)
    state = DecoderState({"sentence": np.array([sentence])})
    for n in range(max_len):
        for seq in itertools.product(words, repeat=n):
            for final in ([EOS] if n + 1 < max_len else [EOS, *words]):
                prev, raw = BOS, 0.0
                for tok in (*seq, final):
                    logp, _ = model.step(state, [prev])
                    raw += logp.data[0, tok]
                    prev = tok
                score = raw / float(length_penalty(kind, alpha, n + 1))
                toks = list(seq) + ([] if final == EOS else [final])
                if score > best[0] + 1e-12:
                    best = (score, toks)
    return best


@pytest.mark.parametrize(("kind", "alpha"), [("none", 0.0), ("gnmt", 1.0), ("gnmt", 2.5), ("normalize", 1.0)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_beam_search_finds_the_exact_best_under_length_penalty(kind, alpha, seed):
    rng = np.random.default_rng(seed)
    V, max_len = 4, 4
    table = rng.standard_normal((V, V)) * 1.5
    model = BigramModel(table)
    src = [np.array([s] * 2) for s in range(3)]  # max length = 2 * 1 + 2 = 4
    results = beam_search(
        model, src, beam=64, length_penalty_kind=kind, alpha=alpha, max_len_ratio=1.0, max_len_offset=2
    )
    for s, hyps in enumerate(results):
        score, tokens = _exhaustive_best(model, s, max_len, kind, alpha)
        assert hyps[0].tokens == tokens
        assert hyps[0].score == pytest.approx(score)


def test_a_beam_of_one_is_exactly_greedy_search_under_any_length_penalty():
    """From BOS, EOS (0.5) narrowly beats a word (0.49) that EOS follows almost surely: greedy search stops at
    once. A one-hypothesis beam under the gnmt penalty would keep the word open (its penalised bound beats the
    finished score) and end with it; a beam of 1 is greedy search instead, whatever the penalty."""
    p = np.full((5, 5), 0.001)
    p[:, EOS] = 1.0
    p[BOS] = [0.002, 0.5, 0.49, 0.004, 0.004]
    model = BigramModel(np.log(p / p.sum(axis=1, keepdims=True)))
    src = [np.array([0, 0]), np.array([1, 1, 1])]
    greedy = greedy_search(model, src, max_len_ratio=2.0, max_len_offset=3)
    assert greedy[0].tokens == []
    for kind, alpha in (("gnmt", 0.6), ("gnmt", 2.0), ("normalize", 1.0), ("none", 0.0)):
        beam1 = beam_search(model, src, beam=1, length_penalty_kind=kind, alpha=alpha, max_len_ratio=2.0,
                            max_len_offset=3)  # fmt: skip
        assert [b[0].tokens for b in beam1] == [h.tokens for h in greedy]
        assert [b[0].log_prob for b in beam1] == [h.log_prob for h in greedy]
        steps = [len(h.tokens) + 1 for h in greedy]  # both ended at EOS
        assert [b[0].score for b in beam1] == pytest.approx(
            [h.log_prob / length_penalty(kind, alpha, n) for h, n in zip(greedy, steps)]
        )


def test_beam_one_equals_greedy_and_nbest_is_sorted():
    rng = np.random.default_rng(3)
    model = BigramModel(rng.standard_normal((6, 6)))
    src = [np.array([s] * 5) for s in range(8)]
    greedy = greedy_search(model, src)
    beam1 = beam_search(model, src, beam=1, length_penalty_kind="none")
    assert [h.tokens for h in greedy] == [b[0].tokens for b in beam1]
    np.testing.assert_allclose([h.log_prob for h in greedy], [b[0].log_prob for b in beam1])
    nbest = beam_search(model, src, beam=4, nbest=3)
    for hyps in nbest:
        assert len(hyps) == 3
        assert [h.score for h in hyps] == sorted((h.score for h in hyps), reverse=True)


def _small_translator(seed=0, **kw):
    seqkit.random.seed(seed)
    opts = Seq2SeqOptions(embed_size=8, hidden_size=8, encoder_layers=1, decoder_layers=2, dropout=0.0, **kw)
    return Seq2Seq(12, 13, opts, pad_id=0, bos_id=2, eos_id=3)


@pytest.mark.parametrize("feeding", [False, True])
def test_beam_search_is_batch_invariant(feeding):
    model = _small_translator(input_feeding=feeding)
    rng = np.random.default_rng(4)
    src = [rng.integers(4, 12, size=int(n)) for n in rng.integers(1, 9, size=64)]
    batched = beam_search(model, src, beam=5, nbest=2, keep_attention=True)
    for i in (0, 7, 33, 63):
        alone = beam_search(model, [src[i]], beam=5, nbest=2, keep_attention=True)[0]
        for a, b in zip(alone, batched[i]):
            assert a.tokens == b.tokens
            assert a.score == pytest.approx(b.score, rel=1e-5)
            np.testing.assert_allclose(a.attention, b.attention, rtol=1e-4, atol=1e-6)


def test_attention_weights_are_kept_for_every_output():
    model = _small_translator()
    src = [np.array([4, 5, 6]), np.array([7])]
    for hyp in [h[0] for h in beam_search(model, src, beam=3, keep_attention=True)] + greedy_search(
        model, src, keep_attention=True
    ):
        assert hyp.attention.shape[0] in (len(hyp.tokens), len(hyp.tokens) + 1)  # + EOS unless cut at the limit
        np.testing.assert_allclose(hyp.attention.sum(axis=1), 1.0, rtol=1e-5)
    assert [h[0].attention.shape[1] for h in beam_search(model, src, keep_attention=True)] == [3, 1]


def test_an_ensemble_averages_probabilities():
    """Two bigram models that disagree: the ensemble's next-token distribution is the mean of theirs (so it sums
    to 1), and a token one member rules out keeps the other's probability, halved."""
    rng = np.random.default_rng(6)
    a, b = (BigramModel(_log_softmax(rng.standard_normal((5, 5)))) for _ in range(2))
    b.table[:, 4] = -np.inf
    ensemble = Ensemble([a, b])
    src = [np.array([0]), np.array([2])]
    state = ensemble.initial_state(ensemble.encode(src))
    prev = np.array([BOS, 3])
    logp, _ = ensemble.step(state, prev)
    pa, pb = (np.exp(m.step(s, prev)[0].data) for m, s in zip((a, b), state.members))
    expected = np.log((pa + pb) / 2)
    np.testing.assert_allclose(logp.data, expected, rtol=1e-12)
    np.testing.assert_allclose(np.exp(logp.data).sum(axis=1), 1.0, rtol=1e-12)
    assert np.isfinite(logp.data[:, 4]).all()
    a.table[:, 4] = -np.inf  # a token both rule out stays out, without nan
    logp = ensemble.step(state, prev)[0].data
    assert (logp[:, 4] == -np.inf).all() and np.isfinite(logp[:, :4]).all()


def test_ensemble_of_one_model_twice_equals_the_model():
    model = _small_translator()
    src = [np.array([4, 5, 6, 7]), np.array([8, 9])]
    alone = beam_search(model, src, beam=3)
    twice = beam_search(Ensemble([model, model]), src, beam=3)
    for a, b in zip(alone, twice):
        assert a[0].tokens == b[0].tokens
        assert a[0].score == pytest.approx(b[0].score, rel=1e-6)


def test_max_length_is_a_ratio_of_the_source():
    model = BigramModel(np.where(np.eye(5, k=0) > 0, -50.0, 0.0) + np.array([0, -50, 0, 0, 0.0]))  # EOS unlikely
    src = [np.array([0, 0, 0]), np.array([1])]
    out = beam_search(model, src, beam=2, max_len_ratio=2.0, max_len_offset=1)
    assert [len(h[0].tokens) for h in out] == [7, 3]
    out = greedy_search(model, src, max_len_ratio=2.0, max_len_offset=1)
    assert [len(h.tokens) for h in out] == [7, 3]


def test_bad_arguments():
    model = BigramModel(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="nbest <= beam"):
        beam_search(model, [np.array([0])], beam=2, nbest=3)
    with pytest.raises(ValueError, match="length_penalty must be one of"):
        beam_search(model, [np.array([0])], length_penalty_kind="wu")


def test_a_beam_wider_than_the_vocabulary_returns_only_real_hypotheses():
    model = BigramModel(np.random.default_rng(5).standard_normal((4, 4)))
    for hyps in beam_search(model, [np.array([0, 0])], beam=5, nbest=5):
        assert all(np.isfinite(h.score) for h in hyps)


@pytest.mark.parametrize(("K", "V", "width"), [(5, 50, 10), (4, 3, 8), (3, 1, 3), (1, 7, 2), (1, 50, 10), (2, 9, 10)])
def test_top_candidates_equal_a_full_sort(K, V, width):
    """``_top``'s thresholded selection = a stable full sort, with dead (-inf) beams, ties and tiny vocabularies."""
    from seqkit.decoding.search import _top

    rng = np.random.default_rng(K * 100 + V)
    total = np.round(rng.standard_normal((6, K, V)), 1).astype(np.float32)  # rounding makes ties
    total[0, 1:] = -np.inf  # the first step: one live beam
    total[1, K // 2 :] = -np.inf
    index, values = _top(total, width, np)
    flat = total.reshape(6, K * V)
    expected = np.argsort(-flat, axis=1, kind="stable")[:, :width]
    np.testing.assert_array_equal(index, expected)
    np.testing.assert_array_equal(values, np.take_along_axis(flat, expected, axis=1))
