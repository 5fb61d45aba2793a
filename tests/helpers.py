"""Helpers shared by the function tests: gradient checks with random output gradients."""

import numpy

from seqkit import Variable, to_device
from seqkit.core.gradient_check import check_backward, check_double_backward

#: Where ``gradcheck`` runs (``pytest --device cuda:0`` sets it; tests/test_gpu.py runs the suite so).
DEVICE = "cpu"


def normal(rng, shape, dtype=numpy.float64):
    return numpy.asarray(rng.standard_normal(shape)).astype(dtype)


def as_tuple(ys):
    return ys if isinstance(ys, tuple) else (ys,)


def gradcheck(fn, xs, seed, *, double=True, no_grads=None):
    """``check_backward`` (and ``check_double_backward``) of ``fn`` at ``xs`` with random output gradients.

    ``eps=1e-4`` keeps the truncation error of central differences (``eps**2`` times a third derivative) far
    below the tolerances in float64, also where the directional derivative itself is close to zero.
    """
    xs = tuple(to_device(x, DEVICE) for x in xs)
    rng = numpy.random.default_rng(seed)
    ys = as_tuple(fn(*[Variable(x, requires_grad=False) for x in xs]))
    gys = tuple(to_device(normal(rng, y.shape), DEVICE) for y in ys)
    check_backward(fn, xs, gys, eps=1e-4, no_grads=no_grads, seed=seed)
    if double:
        differentiable = [x for i, x in enumerate(xs) if x.dtype.kind == "f" and not (no_grads and no_grads[i])]
        ggxs = tuple(to_device(normal(rng, x.shape), DEVICE) for x in differentiable)
        check_double_backward(fn, xs, gys, ggxs, eps=1e-4, no_grads=no_grads, seed=seed)


def train_toy_run(directory) -> None:
    """recipes/toy-reverse.toml trained for one epoch into ``directory`` (no dev BLEU): a model whose outputs
    differ from line to line, in seconds."""
    from pathlib import Path

    from seqkit.cli import main

    toy = Path(__file__).resolve().parents[1] / "recipes" / "toy-reverse.toml"
    quick = ["--set", "training.epochs=1", "--set", "evaluation.dev_bleu=false",
             "--set", "evaluation.monitor='val/loss'"]  # fmt: skip
    assert main(["train", str(toy), "--run-dir", str(directory), "--no-progress", *quick]) == 0
