"""The Layer base class: registration, walking, gradients, state_dict, save/load, atomic writes, devices."""

from __future__ import annotations

import copy
import json
import os

import numpy
import pytest

import seqkit.functions as F
from seqkit.backend import Device
from seqkit.core import Parameter, Variable
from seqkit.io import atomic_write
from seqkit.layers import Layer, LayerList, load, save


class Affine(Layer):
    def __init__(self, n_in: int, n_out: int, seed: int = 0) -> None:
        super().__init__()
        rng = numpy.random.default_rng(seed)
        self.W = Parameter(rng.standard_normal((n_out, n_in)).astype("float32"))
        self.b = Parameter(numpy.zeros(n_out, "float32"))
        self.n_out = n_out  # a plain attribute: not registered

    def __call__(self, x):
        return F.linear(x, self.W, self.b)


class Net(Layer):
    def __init__(self) -> None:
        super().__init__()
        self.enc = Affine(3, 4, seed=1)
        self.scale = Parameter(numpy.ones((1,), "float32"))
        self.dec = Affine(4, 2, seed=2)

    def __call__(self, x):
        return self.dec(F.tanh(self.enc(x))) * self.scale


def test_registration_by_assignment_and_nested_names():
    net = Net()
    assert [n for n, _ in net.named_params()] == ["enc.W", "enc.b", "scale", "dec.W", "dec.b"]
    assert [p.shape for p in net.params()] == [(4, 3), (4,), (1,), (2, 4), (2,)]
    assert list(net.children()) == [net.enc, net.dec]
    assert [n for n, _ in net.named_layers()] == ["enc", "dec"]
    assert net.count_params() == 12 + 4 + 1 + 8 + 2
    assert net.enc.n_out == 4 and "n_out" not in dict(net.enc.named_params())


def test_shared_params_and_layers_counted_once():
    net = Net()
    net.tied = net.enc.W  # a parameter shared under a second name
    net.again = net.dec  # a layer shared under a second name
    names = [n for n, _ in net.named_params()]
    assert names == ["enc.W", "enc.b", "scale", "dec.W", "dec.b"]
    assert len(list(net.params())) == 5
    assert list(net.children()) == [net.enc, net.dec]
    assert net.count_params() == Net().count_params()
    assert set(net.state_dict()) == set(names)


def test_unregister_by_assigning_none_other_value_or_deleting():
    net = Net()
    net.scale = None
    assert "scale" not in dict(net.named_params()) and net.scale is None
    net.enc = "not a layer"
    assert [n for n, _ in net.named_layers()] == ["dec"]
    del net.dec
    assert list(net.params()) == [] and not hasattr(net, "dec")
    net.scale = Parameter(numpy.zeros(2, "float32"))  # re-registered, now last
    assert [n for n, _ in net.named_params()] == ["scale"]


def test_forgetting_super_init_is_a_clear_error():
    class Bad(Layer):
        def __init__(self) -> None:
            self.W = Parameter(numpy.zeros(2, "float32"))

    with pytest.raises(RuntimeError, match=r"super\(\).__init__\(\)"):
        Bad()


def test_dotted_names_are_rejected():
    layer = Layer()
    with pytest.raises(ValueError, match=r"cannot contain '\.'"):
        setattr(layer, "a.b", Parameter(numpy.zeros(1, "float32")))


def test_layer_list():
    layers = LayerList([Affine(3, 3, seed=i) for i in range(3)])
    assert len(layers) == 3 and layers[-1] is list(layers)[2]
    layers.append(Affine(3, 2))
    assert [n for n, _ in layers.named_params()][-2:] == ["3.W", "3.b"]

    class Stack(Layer):
        def __init__(self) -> None:
            super().__init__()
            self.layers = LayerList(Affine(2, 2, seed=i) for i in range(2))

    assert list(Stack().state_dict()) == ["layers.0.W", "layers.0.b", "layers.1.W", "layers.1.b"]
    with pytest.raises(TypeError, match="LayerList holds Layers"):
        layers.append(Parameter(numpy.zeros(1, "float32")))


def test_zero_grads_after_backward():
    net = Net()
    net(Variable(numpy.ones((5, 3), "float32"))).sum().backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in net.params())
    net.zero_grads()
    assert all(p.grad is None for p in net.params())


def test_state_dict_round_trip():
    src, dst = Net(), Net()
    dst.enc.W.data[...] = 0
    state = src.state_dict()
    assert list(state) == ["enc.W", "enc.b", "scale", "dec.W", "dec.b"]
    assert all(type(a) is numpy.ndarray for a in state.values())
    state["enc.b"][...] = 7  # a copy: changing it leaves the layer alone
    assert not numpy.any(src.enc.b.data == 7)
    W_before = dst.enc.W.data
    assert dst.load_state_dict(state) == ([], [])
    assert dst.enc.W.data is W_before  # loaded in place
    for (n, a), (m, b) in zip(dst.state_dict().items(), state.items(), strict=True):
        assert n == m and numpy.array_equal(a, b)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda s: s.pop("dec.W"), r"^missing key 'dec.W': expected shape \(2, 4\) float32$"),
        (lambda s: s.update(extra=numpy.zeros(1)), r"^unexpected key 'extra': no such parameter in Net$"),
        (lambda s: s.update({"dec.b": numpy.zeros(3, "float32")}), r"^shape mismatch for 'dec.b': "
         r"expected \(2,\), got \(3,\)$"),
        (lambda s: s.update({"dec.b": numpy.zeros(2, "float64")}), r"^dtype mismatch for 'dec.b': "
         r"expected float32, got float64$"),
    ],
)  # fmt: skip
def test_strict_loading_errors_change_nothing(change, message):
    net, state = Net(), Net().state_dict()
    for a in state.values():
        a += 1
    change(state)
    before = net.state_dict()
    with pytest.raises(ValueError, match=message):
        net.load_state_dict(state)
    for name, a in net.state_dict().items():
        assert numpy.array_equal(a, before[name]), name


def test_non_strict_loading_reports_missing_and_unexpected():
    net, state = Net(), Net().state_dict()
    del state["scale"]
    state["extra"] = numpy.zeros(1)
    assert net.load_state_dict(state, strict=False) == (["scale"], ["extra"])
    with pytest.raises(ValueError, match=r"shape mismatch for 'enc\.b'"):
        net.load_state_dict({"enc.b": numpy.zeros(9, "float32")}, strict=False)


def test_save_load_round_trip(tmp_path):
    src, dst = Net(), Net()
    dst.zero_grads()
    for p in dst.params():
        p.data[...] = 0
    path = tmp_path / "model.npz"
    save(src, path, metadata={"epoch": 3, "vocab": ["a", "b"]})
    with numpy.load(path, allow_pickle=False) as npz:
        assert sorted(npz.files) == sorted(src.state_dict())
    info = json.loads((tmp_path / "model.json").read_text())
    assert info["params"]["enc.W"] == {"shape": [4, 3], "dtype": "float32"}
    assert info["metadata"] == {"epoch": 3, "vocab": ["a", "b"]} and info["seqkit_version"]
    assert load(dst, path) == info
    for (n, a), b in zip(dst.state_dict().items(), src.state_dict().values(), strict=True):
        assert numpy.array_equal(a, b), n
    assert sorted(os.listdir(tmp_path)) == ["model.json", "model.npz"]  # no temp files left behind


def test_save_rejects_bad_metadata_before_writing(tmp_path):
    with pytest.raises(TypeError, match="not JSON-serialisable"):
        save(Net(), tmp_path / "m.npz", metadata={"f": object()})
    assert os.listdir(tmp_path) == []


def test_load_errors_name_the_file(tmp_path):
    net = Net()
    with pytest.raises(FileNotFoundError, match=r"nope\.npz: no such file$"):
        load(net, tmp_path / "nope.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match=r"bad\.npz: not a readable \.npz file") as e:
        load(net, bad)
    assert "\n" not in str(e.value)
    other = tmp_path / "other.npz"
    save(Affine(3, 4), other)
    with pytest.raises(ValueError, match=r"other\.npz: missing key 'enc\.W'"):
        load(net, other)
    pickled = tmp_path / "pickled.npz"
    numpy.savez(pickled, **{"enc.W": numpy.array([object()])})
    with pytest.raises(ValueError, match=r"pickled\.npz: not a readable \.npz file"):
        load(net, pickled)
    save(net, tmp_path / "ok.npz")
    (tmp_path / "ok.json").write_text("{broken")
    with pytest.raises(ValueError, match=r"ok\.json: not a seqkit metadata file"):
        load(net, tmp_path / "ok.npz")


def test_atomic_write_keeps_old_file_when_writing_raises(tmp_path):
    path = tmp_path / "out.txt"
    with atomic_write(path, "w") as f:
        f.write("old\n")
    with pytest.raises(RuntimeError), atomic_write(path, "w") as f:
        f.write("new, half written")
        raise RuntimeError("disk on fire")
    assert path.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["out.txt"]
    with atomic_write(path, "wb") as f:
        f.write(b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01"
    with pytest.raises(ValueError, match="mode"), atomic_write(path, "a"):
        pass


def test_save_failing_midway_keeps_old_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    old = Net()
    save(old, path)
    old_bytes = path.read_bytes()
    real_write_array, calls = numpy.lib.format.write_array, []

    def failing_write_array(fp, array, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise OSError("disk full")
        return real_write_array(fp, array, **kwargs)

    monkeypatch.setattr(numpy.lib.format, "write_array", failing_write_array)
    with pytest.raises(OSError, match="disk full"):
        save(Net(), path, metadata={"new": True})
    assert path.read_bytes() == old_bytes
    assert sorted(os.listdir(tmp_path)) == ["model.json", "model.npz"]
    assert json.loads((tmp_path / "model.json").read_text())["metadata"] == {}


def test_repr_shows_tree_with_shapes():
    net = Net()
    net.blocks = LayerList([Affine(2, 2)])
    assert repr(net) == (
        "Net(scale=(1,)\n"
        "  (enc): Affine(W=(4, 3), b=(4,))\n"
        "  (dec): Affine(W=(2, 4), b=(2,))\n"
        "  (blocks): LayerList(\n"
        "    (0): Affine(W=(2, 2), b=(2,))\n"
        "  )\n"
        ")"
    )
    assert repr(Layer()) == "Layer()"


def test_deepcopy_gives_independent_parameters():
    net = Net()
    twin = copy.deepcopy(net)
    twin.enc.W.data[...] = 0
    assert not numpy.all(net.enc.W.data == 0)
    assert [n for n, _ in twin.named_params()] == [n for n, _ in net.named_params()]


def test_to_device_cpu_is_a_no_op_returning_self():
    net = Net()
    W = net.enc.W.data
    assert net.to_device("cpu") is net
    assert net.enc.W.data is W and net.device == Device("cpu") and net.device == "cpu"
    assert Layer().device == "cpu"


def _require_cuda():
    cupy = pytest.importorskip("cupy")
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            pytest.skip("no CUDA device")
    except Exception as e:  # CUDA driver missing or broken
        pytest.skip(f"CUDA not available: {e}")
    return cupy


@pytest.mark.gpu
def test_to_device_gpu_and_back(tmp_path):
    cupy = _require_cuda()
    net = Net()
    net(Variable(numpy.ones((5, 3), "float32"))).sum().backward()
    state, grads = net.state_dict(), [p.grad.copy() for p in net.params()]
    assert net.to_device("cuda:0") is net and net.device == "cuda:0" and net.enc.device == "cuda:0"
    assert all(isinstance(p.data, cupy.ndarray) and isinstance(p.grad, cupy.ndarray) for p in net.params())
    gpu_state = net.state_dict()  # host copies
    assert all(type(a) is numpy.ndarray and numpy.array_equal(a, state[n]) for n, a in gpu_state.items())
    W = net.enc.W.data
    net.load_state_dict(Net().state_dict())  # loads onto the GPU, in place
    assert net.enc.W.data is W and isinstance(W, cupy.ndarray)
    save(net, tmp_path / "gpu.npz")
    net.load_state_dict(state)
    assert net.to_device("cpu") is net and net.device == "cpu"
    for (n, a), g, p in zip(net.state_dict().items(), grads, net.params(), strict=True):
        assert type(p.data) is numpy.ndarray and numpy.array_equal(a, state[n]) and numpy.array_equal(p.grad, g)
    cpu = load(Net(), tmp_path / "gpu.npz")
    assert cpu["params"]["enc.W"]["shape"] == [4, 3]
