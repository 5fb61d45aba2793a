"""Models: teacher-forced training and step-by-step decoding compute the same function; every part learns."""

from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

import seqkit
import seqkit.functions as F
from seqkit import initializers
from seqkit.core.autograd import Parameter
from seqkit.errors import UserError
from seqkit.functions.attention import masked_softmax
from seqkit.layers import AttentionLayer, Layer, Linear
from seqkit.models import RNNLM, RNNLMOptions, Seq2Seq, Seq2SeqOptions, Translator
from seqkit.models.base import default_layers
from seqkit.plugins import get_plugin_manager
from seqkit.plugins.manager import KINDS
from seqkit.registry import PluginError, Registry
from seqkit.testing.models import ModelCase, ModelTests


class ProjectedDotAttention(AttentionLayer):
    """A plugin's attention: dot products with the memory projected to the query's size, and a context of that
    size (not the memory's), nothing precomputed. Its constructor takes other names than ``from_sizes``'s."""

    def __init__(self, size: int, source_size: int) -> None:
        super().__init__()
        self.size = size
        self.W = Parameter(initializers.create(initializers.uniform(0.5), (size, source_size), None))

    @classmethod
    def from_sizes(cls, query_size, memory_size, heads):
        return cls(size=query_size, source_size=memory_size)

    def context_size(self, memory_size):
        return self.size

    def __call__(self, query, memory, mask=None, *, precomputed=None):
        keys = F.linear(memory, self.W)  # (B, Tk, size)
        one_step = query.ndim == 2
        q = F.reshape(query, (query.shape[0], 1, self.size)) if one_step else query
        weights = masked_softmax(F.matmul(q, keys, transb=True), None if mask is None else mask[:, None, :])
        context = F.matmul(weights, keys)
        if one_step:
            return F.reshape(context, (q.shape[0], self.size)), F.reshape(weights, (q.shape[0], -1))
        return context, weights


LAYERS = default_layers()
LAYERS.add("projected_dot", ProjectedDotAttention)

CONFIGS = [
    {},
    {"input_feeding": True},
    {"encoder": "gru", "decoder": "gru", "attention": "additive_attention", "bidirectional": False},
    {"attention": "dot_attention", "bidirectional": False, "bridge": "copy"},
    {"attention": "multi_head_attention", "attention_heads": 2, "bridge": "none", "encoder_layers": 1},
    {"tie_embeddings": True, "decoder": "gru", "encoder_layers": 3},
    {"attention": "projected_dot"},  # a plugin's attention, through the declared members only
]


def _model(**kw):
    seqkit.random.seed(0)
    kw = {"embed_size": 8, "hidden_size": 8, "encoder_layers": 2, "decoder_layers": 2, "dropout": 0.0, **kw}
    opts = Seq2SeqOptions(**kw)
    return Seq2Seq(10, 11, opts, pad_id=0, bos_id=2, eos_id=3, layers=LAYERS)


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


def test_a_plugin_attention_is_built_and_sized_by_its_declared_members():
    model = _model(attention="projected_dot", hidden_size=6, embed_size=4)  # memory: 2 * 6 features
    assert (model.attention.size, model.attention.W.shape) == (6, (6, 12))
    assert model.combine.W.shape == (6, 6 + 6)  # context_size(12) + hidden_size
    assert "keys" not in model.initial_state(model.encode([np.array([4, 5])])).sources  # nothing precomputed


def test_a_layer_of_the_wrong_kind_is_a_one_line_error_naming_option_layer_and_base():
    registry = default_layers()
    registry.add("a_factory", lambda *args, **kwargs: Linear(2, 2))
    cases = [
        ({"attention": "linear"}, "model.attention: layer 'linear' (seqkit.layers.basic.Linear) does not extend "
         "seqkit.layers.AttentionLayer"),
        ({"encoder": "lstm_cell"}, "model.encoder: layer 'lstm_cell' (seqkit.layers.rnn.LSTMCell) does not extend "
         "seqkit.layers.RNNLayer"),
        ({"decoder": "a_factory"}, "model.decoder: layer 'a_factory' (a function) does not extend "
         "seqkit.layers.RNNLayer"),
    ]  # fmt: skip
    for options, message in cases:
        with pytest.raises(UserError) as error:
            Seq2Seq(5, 5, Seq2SeqOptions(embed_size=4, hidden_size=4, **options), layers=registry)
        assert str(error.value) == message
    with pytest.raises(UserError, match=r"^model\.rnn: layer 'bahdanau' .* does not extend .*RNNLayer$"):
        RNNLM(5, RNNLMOptions(rnn="bahdanau"))


class _NoStep(Translator):
    def loss(self, src, tgt):
        raise NotImplementedError

    def encode(self, src):
        return src

    def initial_state(self, encoded):
        return encoded


def test_a_model_must_implement_the_declared_methods_to_be_registered_or_built():
    with pytest.raises(TypeError, match="abstract method"):
        _NoStep()
    registry = Registry("model", KINDS["model"][1])  # the check the plugin manager's model registry runs
    with pytest.raises(PluginError, match=r"model 'no_step' is the class _NoStep, which does not implement step$"):
        registry.add("no_step", _NoStep)
    with pytest.raises(PluginError, match=r"model .layer. is the class Linear, not a subclass of seqkit's Translator$"):
        registry.add("layer", Linear)
    with pytest.raises(PluginError, match=r"is a function object, not a subclass of seqkit's Translator$"):
        registry.add("factory", lambda *args: Seq2Seq(*args))
    registry.add("seq2seq", Seq2Seq)
    assert registry.get("seq2seq") is Seq2Seq and issubclass(Seq2Seq, Layer)


def test_build_makes_every_seqkit_model_as_its_constructor_does():
    ids = {"pad_id": 0, "bos_id": 1, "eos_id": 5}
    vocab = {"source_vocab": 7, "target_vocab": 9}
    s2s_options = Seq2SeqOptions(embed_size=4, hidden_size=4, decoder="gru")
    lm_options = RNNLMOptions(embed_size=4, hidden_size=4)
    models = get_plugin_manager(environ={"SEQKIT_LOAD_PLUGINS": ""}).registry("model")
    for name, options, direct in (
        ("seq2seq", s2s_options, lambda: Seq2Seq(7, 9, s2s_options, **ids)),
        ("rnnlm", lm_options, lambda: RNNLM(9, lm_options, **ids)),  # a language model of the target side
    ):
        seqkit.random.seed(3)
        built = models.get(name).build(options, **vocab, **ids, layers=default_layers())
        seqkit.random.seed(3)
        expected = direct()
        assert type(built) is type(expected) and (built.pad_id, built.bos_id, built.eos_id) == (0, 1, 5)
        a, b = built.state_dict(), expected.state_dict()
        assert list(a) == list(b) and all(np.array_equal(a[k], b[k]) for k in a)
    assert built.out.W.shape[0] == 9


class TestSeq2SeqKit(ModelTests):
    """The author kit on seqkit's models: what a plugin's model is held to."""

    name = "seq2seq"
    options: ClassVar = {"embed_size": 6, "hidden_size": 6, "attention": "multi_head_attention", "attention_heads": 2}


class TestRNNLMKit(ModelTests):
    name = "rnnlm"
    options: ClassVar = {"embed_size": 6, "hidden_size": 6, "rnn": "gru"}


def test_the_model_kit_catches_a_model_that_leaves_a_parameter_out():
    class Unused(Seq2Seq):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.extra = Linear(2, 2)

    pm = get_plugin_manager(environ={"SEQKIT_LOAD_PLUGINS": ""})
    pm.registry("model").add("unused", Unused, options=Seq2SeqOptions)
    with pytest.raises(AssertionError, match=r"model 'unused': parameters \['extra.W', 'extra.b'\] got no gradient"):
        ModelCase("unused", {"embed_size": 4, "hidden_size": 4}, pm).check_training()


def test_the_documented_model_plugin_is_built_trained_and_decoded_by_the_kit(tmp_path):
    text = (Path(__file__).resolve().parents[1] / "docs" / "plugins.md").read_text(encoding="utf-8")
    example = text.split("<!-- example: model plugin -->\n```python\n", 1)[1].split("\n```\n", 1)[0] + "\n"
    (tmp_path / "bow.py").write_text(example, encoding="utf-8")
    pm = get_plugin_manager(plugins_dir=tmp_path, strict=True, environ={"SEQKIT_LOAD_PLUGINS": "bow"})
    case = ModelCase("bag_of_words", {"size": 8}, pm)
    case.check_training()
    case.check_decoding()
    model = case.build()  # its loss is its steps' mean negative log-likelihood
    src, tgt = case.batch()
    with seqkit.using_config("train", False):
        loss, n = model.loss(src, tgt)
        state, total = model.initial_state(model.encode(src)), 0.0
        for t in range(max(len(y) for y in tgt) + 1):
            prev = [([model.bos_id, *y, model.eos_id] + [model.pad_id] * 9)[t] for y in tgt]
            logp, state = model.step(state, np.array(prev))
            total -= sum(logp.data[b, [*y, model.eos_id][t]] for b, y in enumerate(tgt) if t <= len(y))
    assert n == sum(len(y) + 1 for y in tgt) and loss.item() == pytest.approx(total / n, rel=1e-5)
