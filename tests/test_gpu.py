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


# ---- fused kernels against their CPU twins --------------------------------------------------------------------
def _both(fn, *arrays, diff=None):
    """``fn`` on Variables on the CPU and on the GPU; each output's sum of squares backpropagated. Returns the
    CPU and GPU outputs and the gradients of the inputs listed in ``diff`` (all by default), on the host."""
    results = []
    for device in ("cpu", "cuda:0"):
        xs = [Variable(to_device(a, device)) for a in arrays]
        outs = fn(*xs)
        outs = outs if isinstance(outs, tuple) else (outs,)
        F.sum(F.concat([F.reshape(o * o, (-1,)) for o in outs], axis=0)).backward()
        grads = [to_device(xs[i].grad, "cpu") for i in (diff if diff is not None else range(len(xs)))]
        results.append(([to_device(o.data, "cpu") for o in outs], grads))
    return results


def _close(cpu, gpu):
    for a, b in zip(cpu[0] + cpu[1], gpu[0] + gpu[1]):
        np.testing.assert_allclose(b, a, rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("reverse", [False, True])
def test_lstm_recurrence_kernels_match_the_cpu(reverse):
    rng = np.random.default_rng(2)
    H, batch_sizes = 5, (4, 3, 3, 1)
    gx = rng.standard_normal((sum(batch_sizes), 4 * H)).astype(np.float32)
    W = (rng.standard_normal((4 * H, H)) * 0.3).astype(np.float32)
    h0, c0 = (rng.standard_normal((4, H)).astype(np.float32) for _ in range(2))
    _close(*_both(lambda *a: F.lstm_recurrence(*a, batch_sizes, reverse), gx, W, h0, c0))


@pytest.mark.parametrize("reverse", [False, True])
def test_gru_recurrence_kernels_match_the_cpu(reverse):
    rng = np.random.default_rng(3)
    H, batch_sizes = 5, (4, 4, 2, 1)
    gx = rng.standard_normal((sum(batch_sizes), 3 * H)).astype(np.float32)
    W = (rng.standard_normal((3 * H, H)) * 0.3).astype(np.float32)
    b = rng.standard_normal(3 * H).astype(np.float32)
    h0 = rng.standard_normal((4, H)).astype(np.float32)
    _close(*_both(lambda *a: F.gru_recurrence(*a, batch_sizes, reverse), gx, W, b, h0))


def test_lstm_cell_kernels_match_the_cpu():
    rng = np.random.default_rng(4)
    c_prev = rng.standard_normal((4, 3)).astype(np.float32)
    x = rng.standard_normal((2, 12)).astype(np.float32)  # a shrinking batch: 2 of 4 rows step
    _close(*_both(F.lstm, c_prev, x))


def test_dropout_kernel_matches_its_reference():
    from seqkit.functions import cuda_kernels

    rng = np.random.default_rng(5)
    x, u = rng.standard_normal((64, 33)).astype(np.float32), rng.random((64, 33)).astype(np.float32)
    mask, y = cuda_kernels.dropout_mask(to_device(x, "cuda:0"), to_device(u, "cuda:0"), 0.3)
    expected_mask = (u >= 0.3) * np.float32(1 / 0.7)
    np.testing.assert_allclose(to_device(mask, "cpu"), expected_mask, rtol=1e-6)
    np.testing.assert_allclose(to_device(y, "cpu"), x * expected_mask, rtol=1e-6)


def test_adam_kernel_matches_the_cpu_update():
    from seqkit.optim import Adam, AdamW

    rng = np.random.default_rng(6)
    for make in (lambda: Adam(lr=0.01), lambda: AdamW(lr=0.01, weight_decay=0.1)):
        finals = []
        for device in ("cpu", "cuda:0"):
            p = seqkit.Parameter(to_device(rng.standard_normal(1000).astype(np.float32), device), name="p")
            p.data[...] = to_device(np.linspace(-1, 1, 1000, dtype=np.float32), device)
            opt = make().setup([p])
            for step in range(3):
                opt.zero_grads()
                p.grad = to_device(np.cos(np.arange(1000, dtype=np.float32) * (step + 1)), device)
                opt.update()
            finals.append(to_device(p.data, "cpu"))
        np.testing.assert_allclose(finals[1], finals[0], rtol=1e-5, atol=1e-6)


def test_the_function_and_layer_suite_passes_on_the_gpu():
    """Every gradient check of the function and layer tests (float64, double backward included), on CUDA."""
    import subprocess
    import sys
    from pathlib import Path

    tests = Path(__file__).parent
    files = sorted(str(p) for p in tests.glob("test_functions_*.py")) + [
        str(tests / name) for name in ("test_rnn.py", "test_attention.py", "test_layers_basic.py")
    ]
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--device", "cuda:0",
                           *files], capture_output=True, text=True, timeout=1800)  # fmt: skip
    assert done.returncode == 0, done.stdout[-5000:]
