"""Models: teacher-forced training and step-by-step decoding compute the same function; every part learns."""

import numpy as np
import pytest

import seqkit
from seqkit.errors import UserError
from seqkit.models import RNNLM, RNNLMOptions, Seq2Seq, Seq2SeqOptions

CONFIGS = [
    {},
    {"input_feeding": True},
    {"encoder": "gru", "decoder": "gru", "attention": "additive_attention", "bidirectional": False},
    {"attention": "dot_attention", "bidirectional": False, "bridge": "copy"},
    {"attention": "multi_head_attention", "attention_heads": 2, "bridge": "none", "encoder_layers": 1},
    {"tie_embeddings": True, "decoder": "gru", "encoder_layers": 3},
]


def _model(**kw):
    seqkit.random.seed(0)
    kw = {"embed_size": 8, "hidden_size": 8, "encoder_layers": 2, "decoder_layers": 2, "dropout": 0.0, **kw}
    opts = Seq2SeqOptions(**kw)
    return Seq2Seq(10, 11, opts, pad_id=0, bos_id=2, eos_id=3)


def _batch(rng, n=4):
    src = [rng.integers(4, 10, size=int(k)) for k in rng.integers(1, 7, size=n)]
    tgt = [rng.integers(4, 11, size=int(k)) for k in rng.integers(1, 7, size=n)]
    return src, tgt


@pytest.mark.parametrize("options", CONFIGS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "default")
def test_teacher_forced_loss_equals_the_step_by_step_decoder(options):
    model = _model(**options)
    rng = np.random.default_rng(0)
    src, tgt = _batch(rng)
    with seqkit.using_config("train", False):
        loss, n = model.loss(src, tgt)
        state = model.initial_state(model.encode(src))
        total = 0.0
        T = max(len(t) for t in tgt) + 1
        prev = np.full(len(src), model.bos_id)
        for t in range(T):
            logp, state = model.step(state, prev)
            for b, y in enumerate(tgt):
                target = [*list(y), model.eos_id]
                if t < len(target):
                    total -= logp.data[b, target[t]]
            prev = np.array([(list(y) + [model.eos_id] * (T + 1))[t] for y in tgt])
    assert n == sum(len(t) + 1 for t in tgt)
    assert loss.item() == pytest.approx(total / n, rel=1e-5)


@pytest.mark.parametrize("options", CONFIGS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "default")
def test_every_parameter_gets_a_gradient(options):
    model = _model(**options)
    loss, _ = model.loss(*_batch(np.random.default_rng(1)))
    loss.backward()
    missing = [name for name, p in model.named_params() if p.grad is None or not np.any(p.grad)]
    assert missing == []


def test_rnnlm_loss_equals_its_steps():
    seqkit.random.seed(0)
    lm = RNNLM(9, RNNLMOptions(embed_size=6, hidden_size=6, dropout=0.0))
    rng = np.random.default_rng(2)
    sents = [rng.integers(4, 9, size=int(k)) for k in (3, 1, 5)]
    with seqkit.using_config("train", False):
        loss, n = lm.loss(sents)
        state = lm.initial_state(lm.encode(sents))
        prev, total = np.full(3, lm.bos_id), 0.0
        for t in range(6):
            logp, state = lm.step(state, prev)
            for b, s in enumerate(sents):
                target = [*list(s), lm.eos_id]
                if t < len(target):
                    total -= logp.data[b, target[t]]
            prev = np.array([(list(s) + [lm.eos_id] * 6)[t] for s in sents])
    assert loss.item() == pytest.approx(total / n, rel=1e-5)


def test_bad_options_are_user_errors():
    with pytest.raises(UserError, match="tie_embeddings needs embed_size == hidden_size"):
        Seq2Seq(5, 5, Seq2SeqOptions(embed_size=4, hidden_size=8, tie_embeddings=True))
    with pytest.raises(UserError, match="bridge 'copy' needs encoder state size 16 == hidden_size 8"):
        Seq2Seq(5, 5, Seq2SeqOptions(embed_size=4, hidden_size=8, bridge="copy"))
    with pytest.raises(UserError, match="unknown layer 'lstn'; did you mean 'lstm'"):
        Seq2Seq(5, 5, Seq2SeqOptions(encoder="lstn"))


@pytest.mark.parametrize("options", CONFIGS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "default")
def test_beams_share_their_sentence_memory_and_step_like_per_row_copies(options):
    """Reordering into equal blocks of one source each (beam search) keeps one memory per sentence and steps
    exactly as one copy per row would; a sentence leaving drops its memory."""
    model = _model(**options)
    rng = np.random.default_rng(1)
    src, _ = _batch(rng, n=3)
    K = 4
    with seqkit.no_grad():
        start = model.initial_state(model.encode(src))
        grouped = start.select(np.repeat(np.arange(3), K))
        perm = rng.permutation(3 * K)
        copies = start.select(np.repeat(np.arange(3), K)[perm])  # not in blocks: one memory per row
        assert (grouped.group, grouped.sources["memory"].shape[0]) == (K, 3)
        assert (copies.group, copies.sources["memory"].shape[0]) == (1, 3 * K)
        for _ in range(2):
            prev = rng.integers(4, 11, size=3 * K)
            logp, grouped = model.step(grouped, prev)
            logp_copies, copies = model.step(copies, prev[perm])
            np.testing.assert_allclose(logp_copies.data, logp.data[perm], rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(copies.attention.data, grouped.attention.data[perm], rtol=1e-5, atol=1e-7)
            # beams re-ranked within their sentence, and the copies follow the same rows
            parents = np.concatenate([s * K + rng.integers(0, K, size=K) for s in range(3)])
            grouped = grouped.select(parents)
            copies = copies.select(np.argsort(perm)[parents][perm])
        dropped = grouped.select(np.concatenate([np.arange(K), 2 * K + np.arange(K)]))  # sentence 1 ends
        assert (dropped.group, dropped.sources["memory"].shape[0]) == (K, 2)
        np.testing.assert_array_equal(dropped.sources["memory"].data, grouped.sources["memory"].data[[0, 2]])


def test_a_model_built_without_a_registry_finds_the_builtin_layers_and_makes_no_plugin_manager(monkeypatch):
    """``Seq2Seq(...)``/``RNNLM(...)`` without ``layers=`` look names up in seqkit's own layers (the table the
    built-in plugin registers); plugins' layers come only through a registry the caller passes."""
    from seqkit.models.base import default_layers
    from seqkit.plugins import PluginManager, get_plugin_manager

    builtin = get_plugin_manager(environ={"SEQKIT_LOAD_PLUGINS": ""}).registry("layer")
    assert default_layers().names() == builtin.names()
    assert all(default_layers().get(e.name) is e.obj for e in builtin.entries())
    assert default_layers().get("bahdanau") is builtin.get("bahdanau")

    def refuse(*args, **kwargs):
        raise AssertionError("a model created a plugin manager")

    monkeypatch.setattr(PluginManager, "__init__", refuse)
    Seq2Seq(5, 5, Seq2SeqOptions(embed_size=4, hidden_size=4, attention="luong_general", decoder="gru"))
    RNNLM(5, RNNLMOptions(embed_size=4, hidden_size=4, rnn="gru"))
    with pytest.raises(UserError, match="unknown layer 'mgu'"):  # a plugin's layer needs the plugin's registry
        Seq2Seq(5, 5, Seq2SeqOptions(encoder="mgu"))
