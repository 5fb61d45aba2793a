"""The same layers on CuPy: results and gradients match the CPU in float32. Skipped without CUDA."""

import numpy as np
import pytest

import seqkit
import seqkit.functions as F
import seqkit.layers as L
from seqkit import Variable, to_device

pytestmark = pytest.mark.gpu


def _run(layer, make_inputs, device):
    layer = layer.to_device(device)
    layer.zero_grads()
    inputs = make_inputs(device)
    out = layer(*inputs)
    out = out[0] if isinstance(out, tuple) else out
    outs = out if isinstance(out, list) else [out]
    F.sum(F.concat([F.reshape(o, (-1,)) for o in outs], axis=0) ** 2).backward()
    values = [to_device(o.data, "cpu") for o in outs]
    grads = {n: to_device(p.grad, "cpu") for n, p in layer.named_params()}
    return values, grads


CASES = {
    "lstm": (lambda: L.LSTM(5, 6, 2, bidirectional=True), lambda d, xs: ([to_device(x, d) for x in xs],)),
    "gru": (lambda: L.GRU(5, 6, 2, bidirectional=True), lambda d, xs: ([to_device(x, d) for x in xs],)),
    "linear": (lambda: L.Linear(5, 3), lambda d, xs: (to_device(xs[0], d),)),
    "additive": (
        lambda: L.AdditiveAttention(5, 5),
        lambda d, xs: (to_device(xs[0][:2], d), to_device(np.stack([xs[0][:3]] * 2), d)),
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_on_gpu_matches_cpu(name):
    make_layer, make_inputs = CASES[name]
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((n, 5)).astype(np.float32) for n in (4, 1, 3)]
    seqkit.random.seed(0)
    cpu_values, cpu_grads = _run(make_layer(), lambda d: make_inputs(d, xs), "cpu")
    seqkit.random.seed(0)
    gpu_values, gpu_grads = _run(make_layer(), lambda d: make_inputs(d, xs), "cuda:0")
    for a, b in zip(cpu_values, gpu_values):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)
    for key in cpu_grads:
        np.testing.assert_allclose(gpu_grads[key], cpu_grads[key], rtol=1e-4, atol=1e-5)


def test_embedding_gradient_scatter_on_gpu():
    emb = L.Embedding(7, 3, padding_idx=0).to_device("cuda:0")
    ids = to_device(np.array([[1, 2, 1], [0, 3, 1]]), "cuda:0")
    F.sum(emb(ids)).backward()
    grad = to_device(emb.W.grad, "cpu")
    np.testing.assert_allclose(grad[1], 3.0)
    np.testing.assert_allclose(grad[0], 0.0)


def test_softmax_cross_entropy_on_gpu_matches_cpu():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 5)).astype(np.float32)
    t = np.array([0, 4, -1, 2, 2, 1])
    xc, xg = Variable(x), Variable(to_device(x, "cuda:0"))
    F.softmax_cross_entropy(xc, t, label_smoothing=0.1).backward()
    F.softmax_cross_entropy(xg, to_device(t, "cuda:0"), label_smoothing=0.1).backward()
    np.testing.assert_allclose(to_device(xg.grad, "cpu"), xc.grad, rtol=1e-5, atol=1e-6)
