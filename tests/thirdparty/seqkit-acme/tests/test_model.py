"""The acme_compact model against seqkit's model kit, and its loss against its own decoding steps."""

from typing import ClassVar

import numpy as np
from seqkit_acme.model import CompactOptions

import seqkit
from seqkit.testing.models import ModelTests


class TestCompact(ModelTests):
    name = "acme_compact"
    options: ClassVar = {"embed_size": 8, "hidden_size": 8}


class TestCompactWithBuiltinLayers(ModelTests):
    name = "acme_compact"
    options: ClassVar = {"embed_size": 8, "hidden_size": 8, "encoder": "lstm", "decoder": "gru", "layers": 2,
               "attention": "dot_attention", "dropout": 0.1}


def test_loss_equals_teacher_forced_steps(seqkit_plugin_manager):
    """The mean loss is what the decoding steps give the reference, token by token."""
    pm = seqkit_plugin_manager
    cls = pm.registry("model").get("acme_compact")
    options = CompactOptions(embed_size=6, hidden_size=5)
    model = cls.build(options, source_vocab=11, target_vocab=9, pad_id=0, bos_id=2, eos_id=3,
                      layers=pm.registry("layer"))
    rng = np.random.default_rng(0)
    src = [rng.integers(4, 11, n) for n in (4, 2, 6)]
    tgt = [rng.integers(4, 9, n) for n in (3, 5, 1)]
    with seqkit.no_grad(), seqkit.using_config("train", False):
        loss, tokens = model.loss(src, tgt)
        state = model.initial_state(model.encode(src))
        total = 0.0
        steps = max(len(t) for t in tgt) + 1
        prev = np.full(len(tgt), 2)
        for t in range(steps):
            logp, state = model.step(state, prev)
            gold = [np.append(s, 3)[t] if t <= len(s) else 0 for s in tgt]
            total -= sum(float(logp.data[i, g]) for i, g in enumerate(gold) if t <= len(tgt[i]))
            prev = np.array([g if g else 0 for g in gold])
    assert tokens == sum(len(t) + 1 for t in tgt)
    assert abs(float(loss.data) - total / tokens) < 1e-5
