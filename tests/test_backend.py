"""Devices and array modules; the GPU half runs only where CuPy and CUDA are present."""

import sys

import numpy as np
import pytest

import seqkit
import seqkit.functions as F
from seqkit import Device, Variable, get_array_module, to_device, using_device
from seqkit.backend import get_device


def test_get_array_module_unwraps_variables():
    assert get_array_module(np.ones(2)) is np
    assert get_array_module(Variable(np.ones(2)), 3.0) is np
    assert get_array_module() is np


@pytest.mark.parametrize(
    ("spec", "text"), [("cpu", "cpu"), ("CPU", "cpu"), ("cuda:0", "cuda:0"), ("cuda:3", "cuda:3"), ("cuda", "cuda:0")]
)
def test_device_parsing(spec, text):
    assert str(Device(spec)) == text
    assert Device(spec) == text
    assert Device(Device(spec)) == Device(spec)


@pytest.mark.parametrize("spec", ["tpu", "cuda:x", "cpu:1", ""])
def test_bad_device_names_the_expected_form(spec):
    with pytest.raises(ValueError, match="expected 'cpu' or 'cuda:N'"):
        Device(spec)


def test_cpu_device_and_to_device_are_no_ops_on_numpy():
    a = np.ones(3)
    assert to_device(a, "cpu") is a
    assert isinstance(to_device([1, 2], "cpu"), np.ndarray)
    assert get_device(a) == "cpu"
    assert Device("cpu").xp is np
    with using_device("cpu") as d:
        assert d == "cpu"


@pytest.mark.gpu
def test_gpu_round_trip_and_ops_match_cpu():
    import cupy

    rng = np.random.default_rng(0)
    x, W, b = (rng.standard_normal(s).astype(np.float32) for s in ((4, 8), (5, 8), (5,)))
    with using_device("cuda:0"):
        xg, Wg, bg = (Variable(to_device(a, "cuda:0")) for a in (x, W, b))
    assert get_array_module(xg) is cupy and get_device(xg) == "cuda:0"
    yc = F.softmax(F.tanh(F.linear(Variable(x), Variable(W), Variable(b))))
    yg = F.softmax(F.tanh(F.linear(xg, Wg, bg)))
    yg.sum().backward()
    np.testing.assert_allclose(to_device(yg.data, "cpu"), yc.data, rtol=1e-5, atol=1e-6)
    assert isinstance(Wg.grad, cupy.ndarray)


@pytest.mark.gpu
def test_mixing_devices_names_the_problem():
    with pytest.raises(TypeError, match="different devices"):
        Variable(np.ones(3, np.float32)) + Variable(to_device(np.ones(3, np.float32), "cuda:0"))


def test_requesting_cuda_without_cupy_says_how_to_install(monkeypatch):
    import seqkit.backend as backend

    monkeypatch.setitem(__import__("sys").modules, "cupy", None)
    monkeypatch.setattr(backend, "_cupy", None)
    with pytest.raises(RuntimeError, match=r"pip install 'seqkit\[gpu\]'"):
        _ = Device("cuda:0").xp
    assert seqkit.Device("cpu").xp is np


# ---- the GPU's random generator (counter-based), tested through its NumPy twin -------------------------------
def test_counter_generator_draws_uniforms_and_normals():
    from seqkit.random import CounterGenerator

    g = CounterGenerator(np, seed=3)
    u = g.random((400, 250), np.float32)
    assert u.dtype == np.float32 and u.min() >= 0 and u.max() < 1
    assert abs(u.mean() - 0.5) < 0.005 and abs(u.var() - 1 / 12) < 0.002
    assert abs(np.corrcoef(u.ravel()[:-1], u.ravel()[1:])[0, 1]) < 0.01  # neighbours independent
    n = g.standard_normal(100_000, np.float64)
    assert abs(n.mean()) < 0.02 and abs(n.std() - 1) < 0.02
    assert g.state["offset"] == 400 * 250 + 2 * 100_000
    assert not np.array_equal(CounterGenerator(np, seed=4).random(10), CounterGenerator(np, seed=3).random(10))


def test_counter_generator_resumes_exactly_from_its_state():
    from seqkit.random import CounterGenerator

    g = CounterGenerator(np, seed=0)
    g.random(7)
    resumed = CounterGenerator(np, state=g.state)
    np.testing.assert_array_equal(resumed.random((3, 5), np.float32), g.random((3, 5), np.float32))
    # drawing n then m numbers gives the same stream as drawing n + m at once
    whole = CounterGenerator(np, seed=1).random(10)
    parts = CounterGenerator(np, seed=1)
    np.testing.assert_array_equal(np.concatenate([parts.random(4), parts.random(6)]), whole)


def test_snapshot_state_covers_every_generator_and_reads_old_snapshots():
    from seqkit import random

    random.seed(5)
    random.generator(np).random(3)
    random._generators["cupy"] = random.CounterGenerator(np, seed=5)  # stands in for the GPU's generator
    random._generators["cupy"].random(11)
    state = random.get_state()
    assert state["cupy"]["offset"] == 11 and state["numpy"]["bit_generator"] == "PCG64"
    expected = random.generator(np).random(4)
    random.seed(9)
    random.set_state({"numpy": state["numpy"]})
    np.testing.assert_array_equal(random.generator(np).random(4), expected)
    random.set_state(state["numpy"])  # the form snapshots had before the GPU's generator was recorded
    np.testing.assert_array_equal(random.generator(np).random(4), expected)
    random.seed(0)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_freed_host_memory_is_reused_without_page_faults():
    """A training-like loop of large temporaries takes its memory back from malloc, not from the system, once a
    long-running job has asked for it (``seqkit.cli.main`` and ``Trainer.run`` do; ``import seqkit`` does not)."""
    import resource

    import seqkit.layers as L

    assert seqkit.keep_freed_host_memory()
    lstm = L.LSTM(128, 512)
    xs = [np.ones((n, 128), np.float32) for n in [30] * 16 + [20] * 16]

    def step():
        lstm.zero_grads()
        ys, _ = lstm(xs)
        F.sum(F.concat(ys, axis=0)).backward()

    step(), step()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(3):
        step()
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    assert faults < 100, f"{faults} page faults in 3 steps: freed memory went back to the system"
