"""The same layers on CuPy: results and gradients match the CPU in float32 (skipped without CUDA). The fused
kernels are also checked without a GPU: their bodies compiled as C++ and run on NumPy arrays
(``seqkit.testing.kernel_emulator``) against the NumPy code they replace, which is defined beside each, and
compiled for CUDA by ``nvcc``."""

import contextlib
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import seqkit
import seqkit.functions as F
import seqkit.layers as L
from seqkit import Variable, to_device
from seqkit.backend import ElementwiseKernel, use_kernels
from seqkit.functions import rnn as R
from seqkit.testing import kernel_emulator

gpu = pytest.mark.gpu
needs_gxx = pytest.mark.skipif(not kernel_emulator.available(), reason="needs g++ to emulate the CUDA kernels")
#: Where the fused kernels run: on a GPU, or emulated on the CPU.
KERNELS = [pytest.param("cuda:0", marks=gpu), pytest.param("emulated", marks=needs_gxx)]


@contextlib.contextmanager
def kernels_on(where):
    """The device the kernels' inputs go to (``"cpu"``: the NumPy code, no kernels); with ``where="emulated"``,
    the CPU with the kernels emulated."""
    if where != "emulated":
        yield where
        return
    with pytest.MonkeyPatch.context() as mp:
        kernel_emulator.activate(mp)
        yield "cpu"


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


@gpu
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


@gpu
def test_embedding_gradient_scatter_on_gpu():
    emb = L.Embedding(7, 3, padding_idx=0).to_device("cuda:0")
    ids = to_device(np.array([[1, 2, 1], [0, 3, 1]]), "cuda:0")
    F.sum(emb(ids)).backward()
    grad = to_device(emb.W.grad, "cpu")
    np.testing.assert_allclose(grad[1], 3.0)
    np.testing.assert_allclose(grad[0], 0.0)


@gpu
def test_softmax_cross_entropy_on_gpu_matches_cpu():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 5)).astype(np.float32)
    t = np.array([0, 4, -1, 2, 2, 1])
    xc, xg = Variable(x), Variable(to_device(x, "cuda:0"))
    F.softmax_cross_entropy(xc, t, label_smoothing=0.1).backward()
    F.softmax_cross_entropy(xg, to_device(t, "cuda:0"), label_smoothing=0.1).backward()
    np.testing.assert_allclose(to_device(xg.grad, "cpu"), xc.grad, rtol=1e-5, atol=1e-6)


# ---- fused kernels against the NumPy code they replace ----------------------------------------------------------
def _both(where, fn, *arrays):
    """``fn`` on Variables on the CPU, then with the kernels (on a GPU or emulated); each output's sum of
    squares backpropagated. Returns both runs' outputs and input gradients, on the host."""
    results = []
    for run_on in ("cpu", where):
        with kernels_on(run_on) as device:
            xs = [Variable(to_device(a, device)) for a in arrays]
            outs = fn(*xs)
            outs = outs if isinstance(outs, tuple) else (outs,)
            F.sum(F.concat([F.reshape(o * o, (-1,)) for o in outs], axis=0)).backward()
            results.append([to_device(v, "cpu") for v in [o.data for o in outs] + [x.grad for x in xs]])
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(b, a, rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("where", KERNELS)
@pytest.mark.parametrize("reverse", [False, True])
def test_lstm_recurrence_kernels_match_the_cpu(where, reverse):
    rng = np.random.default_rng(2)
    H, batch_sizes = 5, (4, 3, 3, 1)
    gx = rng.standard_normal((sum(batch_sizes), 4 * H)).astype(np.float32)
    W = (rng.standard_normal((4 * H, H)) * 0.3).astype(np.float32)
    h0, c0 = (rng.standard_normal((4, H)).astype(np.float32) for _ in range(2))
    _both(where, lambda *a: F.lstm_recurrence(*a, batch_sizes, reverse), gx, W, h0, c0)


@pytest.mark.parametrize("where", KERNELS)
@pytest.mark.parametrize("reverse", [False, True])
def test_gru_recurrence_kernels_match_the_cpu(where, reverse):
    rng = np.random.default_rng(3)
    H, batch_sizes = 5, (4, 4, 2, 1)
    gx = rng.standard_normal((sum(batch_sizes), 3 * H)).astype(np.float32)
    W = (rng.standard_normal((3 * H, H)) * 0.3).astype(np.float32)
    b = rng.standard_normal(3 * H).astype(np.float32)
    h0 = rng.standard_normal((4, H)).astype(np.float32)
    _both(where, lambda *a: F.gru_recurrence(*a, batch_sizes, reverse), gx, W, b, h0)


@pytest.mark.parametrize("where", KERNELS)
def test_bidirectional_layer_kernels_match_the_cpu(where):
    """Each direction reads a column slice of the shared input projections: strided raw arrays."""
    rng = np.random.default_rng(7)
    xs = [rng.standard_normal((n, 5)).astype(np.float32) for n in (4, 1, 3)]
    for make in (lambda: L.LSTM(5, 6, 2, bidirectional=True), lambda: L.GRU(5, 6, 2, bidirectional=True)):
        seqkit.random.seed(0)
        layer = make()
        _both(where, lambda *x, layer=layer: tuple(layer(list(x))[0]), *xs)


def _lstm_step_arrays(rng, b=3, H=4):
    a = rng.standard_normal((b, 4 * H))
    forward = {"a": a, "gx": rng.standard_normal((b, 4 * H)), "c": rng.standard_normal((b, H)),
               "tanh_c": np.empty((b, H)), "h": np.empty((b, H))}  # fmt: skip
    gates = np.concatenate([1 / (1 + np.exp(-a[:, : 3 * H])), np.tanh(a[:, 3 * H :])], axis=1)
    backward = {"a": gates, "tc": np.tanh(rng.standard_normal((b, H))), "c_prev": rng.standard_normal((b, H)),
                "dh": rng.standard_normal((b, H)), "dc": rng.standard_normal((b, H)),
                "d": np.empty((b, 4 * H))}  # fmt: skip
    return forward, backward


def _gru_step_arrays(rng, b=3, H=4):
    forward = {"gx": rng.standard_normal((b, 3 * H)), "gh": rng.standard_normal((b, 3 * H)),
               "a": np.empty((b, 3 * H)), "gh_n": np.empty((b, H)), "h": rng.standard_normal((b, H))}  # fmt: skip
    acts = np.concatenate([1 / (1 + np.exp(-rng.standard_normal((b, 2 * H)))), np.tanh(rng.standard_normal((b, H)))],
                          axis=1)  # fmt: skip
    backward = {"a": acts, "gh_n": rng.standard_normal((b, H)), "h_prev": rng.standard_normal((b, H)),
                "dh": rng.standard_normal((b, H)), "d": np.empty((b, 3 * H)), "e": np.empty((b, 3 * H))}  # fmt: skip
    return forward, backward


STEP_TWINS = {  # each recurrence step's NumPy function and its kernel: the same arguments, the same results
    "lstm forward": (R.lstm_step_forward, R.lstm_step_forward_kernel, lambda rng: _lstm_step_arrays(rng)[0]),
    "lstm backward": (R._lstm_step_backward, R._lstm_step_backward_kernel, lambda rng: _lstm_step_arrays(rng)[1]),
    "gru forward": (R.gru_step_forward, R.gru_step_forward_kernel, lambda rng: _gru_step_arrays(rng)[0]),
    "gru backward": (R._gru_step_backward, R._gru_step_backward_kernel, lambda rng: _gru_step_arrays(rng)[1]),
}


@pytest.mark.parametrize("where", KERNELS)
@pytest.mark.parametrize("name", sorted(STEP_TWINS))
def test_each_recurrence_step_kernel_equals_its_numpy_twin(where, name):
    """Called with the same keyword arguments (float64), the two leave every array alike."""
    numpy_step, kernel_step, make = STEP_TWINS[name]
    arrays = make(np.random.default_rng(8))
    expected = {k: v.copy() for k, v in arrays.items()}
    numpy_step(**expected)
    with kernels_on(where) as device:
        got = {k: to_device(v, device) for k, v in arrays.items()}
        kernel_step(**got)
    for k in arrays:
        np.testing.assert_allclose(to_device(got[k], "cpu"), expected[k], rtol=1e-12, atol=1e-12, err_msg=k)


@pytest.mark.parametrize("where", KERNELS)
def test_lstm_cell_kernels_match_the_cpu(where):
    rng = np.random.default_rng(4)
    c_prev = rng.standard_normal((4, 3)).astype(np.float32)
    x = rng.standard_normal((2, 12)).astype(np.float32)  # a shrinking batch: 2 of 4 rows step
    _both(where, F.lstm, c_prev, x)


@pytest.mark.parametrize("where", KERNELS)
def test_softmax_cross_entropy_kernel_matches_the_cpu(where):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 5)).astype(np.float32)
    t = np.array([0, 4, -1, 2, 2, 1])
    for smoothing in (0.0, 0.1):

        def loss(x, smoothing=smoothing):
            return F.softmax_cross_entropy(x, seqkit.get_array_module(x).asarray(t), label_smoothing=smoothing)

        _both(where, loss, x)


@pytest.mark.parametrize("where", KERNELS)
def test_dropout_kernel_matches_its_reference(where):
    from seqkit.functions.noise import dropout_mask_kernel, dropout_reference

    rng = np.random.default_rng(5)
    x, u = rng.standard_normal((64, 33)).astype(np.float32), rng.random((64, 33)).astype(np.float32)
    with kernels_on(where) as device:
        mask, y = dropout_mask_kernel(to_device(x, device), to_device(u, device), 0.3)
    expected_mask, expected_y = dropout_reference(x, u, 0.3)
    np.testing.assert_allclose(to_device(mask, "cpu"), expected_mask, rtol=1e-6)
    np.testing.assert_allclose(to_device(y, "cpu"), expected_y, rtol=1e-6)


@pytest.mark.parametrize("where", KERNELS)
def test_counter_uniform_kernel_equals_its_numpy_twin_bitwise(where):
    from seqkit.random import counter_uniform

    for dtype in (np.dtype(np.float32), np.dtype(np.float64)):
        expected = counter_uniform(np, 2**64 - 5, 2**40, (33, 7), dtype)
        with kernels_on(where) as device:
            xp = seqkit.get_array_module(to_device(np.zeros(1), device))
            got = counter_uniform(xp, 2**64 - 5, 2**40, (33, 7), dtype)
        np.testing.assert_array_equal(to_device(got, "cpu"), expected)


@pytest.mark.parametrize("where", KERNELS)
def test_adam_kernel_matches_the_cpu_update(where):
    from seqkit.optim import Adam, AdamW

    for make in (lambda: Adam(lr=0.01), lambda: AdamW(lr=0.01, weight_decay=0.1)):
        finals = []
        for run_on in ("cpu", where):
            with kernels_on(run_on) as device:
                p = seqkit.Parameter(to_device(np.linspace(-1, 1, 1000, dtype=np.float32), device), name="p")
                opt = make().setup([p])
                for step in range(3):
                    opt.zero_grads()
                    p.grad = to_device(np.cos(np.arange(1000, dtype=np.float32) * (step + 1)), device)
                    opt.update()
                finals.append(to_device(p.data, "cpu"))
        np.testing.assert_allclose(finals[1], finals[0], rtol=1e-5, atol=1e-6)


def _function_and_layer_suite(*options):
    tests = Path(__file__).parent
    files = sorted(str(p) for p in tests.glob("test_functions_*.py")) + [
        str(tests / name) for name in ("test_rnn.py", "test_attention.py", "test_layers_basic.py", "test_optim.py",
                                          "test_transformer.py")
    ]
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *options, *files],
                          capture_output=True, text=True, timeout=1800)  # fmt: skip
    assert done.returncode == 0, done.stdout[-5000:]


@gpu
def test_the_function_and_layer_suite_passes_on_the_gpu():
    """Every gradient check of the function and layer tests (float64, double backward included), on CUDA."""
    _function_and_layer_suite("--device", "cuda:0")


@needs_gxx
def test_the_function_and_layer_suite_passes_with_emulated_kernels():
    """The same suite with every fused-kernel branch taken, the kernels emulated: float64 gradient checks of
    the kernels' backward bodies, and the fused layers against their per-step references."""
    _function_and_layer_suite("--emulate-cuda-kernels")


@needs_gxx
def test_the_emulator_switches_the_kernels_on_and_off():
    """While active, the kernels run for NumPy arrays, built by the emulator; after the undo, they do not."""
    from seqkit.functions.noise import _DROPOUT_MASK

    x = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)
    assert not use_kernels(np)
    with pytest.MonkeyPatch.context() as mp:
        kernel_emulator.activate(mp)
        assert use_kernels(np)
        with seqkit.using_config("train", True):
            y = F.dropout(x, 0.5).data
        assert _DROPOUT_MASK._builder is kernel_emulator.EmulatedKernel
    assert not use_kernels(np)
    np.testing.assert_array_equal(y[y != 0], 2 * x[y != 0])


def _kernel_sources() -> dict:
    """Every emulated check of this file run with its kernels recorded: ``(name, dtypes, argument kinds)`` →
    the kernel's body as CUDA source, in float32 and float64."""
    import seqkit.optim  # noqa: F401  (defines the Adam kernel)

    sources = {}

    class Recording(kernel_emulator.EmulatedKernel):
        def cpp(self, types, kinds):
            for dtype in (np.float32, np.float64):
                typed = {t: np.dtype(dtype) if dt.kind == "f" else dt for t, dt in types.items()}
                key = self.name, tuple(typed.items()), tuple(kinds)
                sources.setdefault(key, self.cuda(typed, kinds, f"k{len(sources)}"))
            return super().cpp(types, kinds)

    with pytest.MonkeyPatch.context() as mp:
        kernel_emulator.activate(mp, Recording)
        test_bidirectional_layer_kernels_match_the_cpu("cpu")
        test_lstm_cell_kernels_match_the_cpu("cpu")
        test_softmax_cross_entropy_kernel_matches_the_cpu("cpu")
        test_dropout_kernel_matches_its_reference("cpu")
        test_adam_kernel_matches_the_cpu_update("cpu")
        test_counter_uniform_kernel_equals_its_numpy_twin_bitwise("cpu")
    return sources


@needs_gxx
def test_every_kernel_is_checked_by_the_emulated_tests():
    """The emulated checks above run every kernel seqkit defines: none is left without its comparison."""
    assert {name for name, _, _ in _kernel_sources()} == set(ElementwiseKernel.defined)


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="needs nvcc (the CUDA toolkit)")
def test_the_kernels_compile_for_cuda(tmp_path):
    """Each kernel, with the argument kinds of its call sites, in float32 and float64, compiles with nvcc: what
    g++ accepts in the emulation, CUDA accepts too."""
    sources = _kernel_sources()
    assert {name for name, _, _ in sources} == set(ElementwiseKernel.defined)
    source = tmp_path / "kernels.cu"
    source.write_text("#include <cstddef>\n#include <cstdint>\n" + "".join(sources.values()))
    done = subprocess.run(["nvcc", "-ptx", "-arch=compute_80", "-o", str(tmp_path / "kernels.ptx"), str(source)],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
