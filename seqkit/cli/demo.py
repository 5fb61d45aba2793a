"""``seqkit demo``: train a character-level RNN language model with the core, in plain Python loops.

The batch holds windows of different lengths; each time step runs on the sequences still going (the batch
shrinks as short ones end), the way seqkit's recurrent layers handle variable-length input.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

import seqkit.functions as F
from seqkit.config import no_grad
from seqkit.core import Parameter
from seqkit.errors import UserError
from seqkit.layers import Layer
from seqkit.optim import Adam
from seqkit.random import seed as seed_all

TEXT = (
    "the cat sat on the mat. the dog sat on the log. a cat and a dog sat together on a mat by the door. "
    "the dog saw the cat and the cat saw the dog. then the cat ran to the door and the dog ran after it. "
    "at night the cat slept on the mat and the dog slept on the log by the fire. "
)


class CharRNN(Layer):
    """Embedding -> tanh RNN -> softmax over characters."""

    def __init__(self, vocab: int, embed: int, hidden: int, rng: np.random.Generator) -> None:
        super().__init__()

        def init(*shape):
            return Parameter((rng.standard_normal(shape) / math.sqrt(shape[-1])).astype(np.float32))

        self.E = init(vocab, embed)
        self.W_in = init(hidden, embed)
        self.W_rec = init(hidden, hidden)
        self.b = Parameter(np.zeros(hidden, np.float32))
        self.W_out = init(vocab, hidden)
        self.b_out = Parameter(np.zeros(vocab, np.float32))
        self.hidden = hidden

    def loss(self, batch: list[np.ndarray]) -> tuple:
        """Mean next-character cross-entropy over a list of id sequences sorted by length, longest first."""
        h = np.zeros((len(batch), self.hidden), np.float32)
        total, count = 0.0, 0
        for t in range(len(batch[0]) - 1):
            n = sum(len(s) - 1 > t for s in batch)  # sequences still running at step t
            x = np.array([s[t] for s in batch[:n]])
            y = np.array([s[t + 1] for s in batch[:n]])
            h = F.tanh(F.linear(F.embed_id(x, self.E), self.W_in) + F.linear(h[:n], self.W_rec, self.b))
            total = total + F.softmax_cross_entropy(F.linear(h, self.W_out, self.b_out), y, reduce="sum")
            count += n
        return total / count, count


def run(args: argparse.Namespace) -> int:
    if args.steps < 1:
        raise UserError(f"--steps must be a positive integer, got {args.steps}")
    seed_all(args.seed)
    rng = np.random.default_rng(args.seed)
    chars = sorted(set(TEXT))
    ids = np.array([chars.index(c) for c in TEXT])
    model = CharRNN(len(chars), 16, 64, rng)
    print(f"char-RNN LM: {len(chars)} characters, {model.count_params()} parameters, {args.steps} steps")
    optimizer = Adam(lr=3e-3).setup(model)
    start = time.perf_counter()
    for step in range(1, args.steps + 1):
        lengths = sorted(rng.integers(8, 33, size=16), reverse=True)
        starts = rng.integers(0, len(ids) - 33, size=16)
        batch = [ids[s : s + n] for s, n in zip(starts, lengths)]
        loss, _ = model.loss(batch)
        optimizer.zero_grads()
        loss.backward()
        optimizer.update()
        if step % 50 == 0 or step == 1:
            print(f"step {step:4d}  loss {loss.item():.3f}  perplexity {math.exp(loss.item()):6.2f}")
    with no_grad():
        loss, _ = model.loss([ids])
    print(f"trained in {time.perf_counter() - start:.1f} s; perplexity on the whole text: {math.exp(loss.item()):.2f}")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser(
        "demo",
        help="train a small character-level RNN language model with the core",
        epilog="example:\n  seqkit demo --steps 100",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--steps", type=int, default=300, help="training steps (default 300)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.set_defaults(run=run)
