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
