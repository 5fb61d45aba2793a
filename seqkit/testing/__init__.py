"""Test a plugin's layer against the real seqkit: the author kit (also a pytest plugin, loaded automatically).

Give it a *registered* layer name, constructor arguments and input shapes; it looks the layer up through the
plugin manager (so the test also proves the plugin is installed and registered), then checks:

- ``check_gradients``: analytic gradients of inputs, initial state and every parameter against central
  differences, in float64; every parameter must receive a gradient;
- ``check_save_load``: ``seqkit.layers.save`` then ``load`` into a differently initialised layer restores the
  parameters and the outputs;
- ``check_deterministic``: after ``seqkit.random.seed``, building and running twice (training mode, so dropout
  is on) gives bitwise equal parameters, outputs and gradients;
- ``check_device_parity``: a copy on ``cuda:0`` gives the CPU's outputs and gradients (skipped without CUDA);
- ``check_rnn_contract``: what a recipe needs from an encoder/decoder RNN layer: constructor, attributes, list
  and padded calls, state, and for a ``RecurrentLayer`` its recurrence against ``rnn_reference`` (see
  ``LayerCase.check_rnn_contract``);
- ``check_rnn_step``: what a decoder needs: ``step`` reproduces the whole-sequence call one step at a time.

With pytest, subclass ``RNNLayerTests`` (or ``LayerTests`` for a layer that is not an RNN)::

    from seqkit.testing import RNNLayerTests

    class TestMGU(RNNLayerTests):
        name = "mgu"
        kwargs = {"in_size": 3, "hidden_size": 4}
        shapes = [(3, 3), (1, 3), (4, 3)]    # a list of (T_i, D): the layer is called with a list

or call ``check_layer(name, shapes, kwargs=...)``, or use the ``seqkit_layer_check`` fixture. Every check
raises ``AssertionError`` with one line saying what differs. Building a layer reseeds ``seqkit.random``.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import inspect
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy
import pytest

import seqkit.functions
import seqkit.random
from seqkit.backend import Device, get_device, to_device
from seqkit.config import config, no_grad, using_config
from seqkit.core.autograd import Variable
from seqkit.layers.layer import Layer, load, save
from seqkit.layers.rnn import RecurrentLayer, RNNLayer
from seqkit.registry import Registry

Shapes = list[tuple[int, ...]] | tuple[int, ...]

#: tolerances of CPU/GPU parity in float32 (outputs, gradients)
PARITY_OUTPUT = {"rtol": 1e-4, "atol": 1e-5}
PARITY_GRAD = {"rtol": 1e-3, "atol": 1e-4}


def cuda_available() -> bool:
    """True when CuPy is installed and sees at least one CUDA device."""
    if importlib.util.find_spec("cupy") is None:
        return False
    import cupy

    try:
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # CuPy installed without a driver or a device
        return False


def layer_registry() -> Registry:
    """The layer registry of a fresh strict plugin manager (a broken plugin is an error, not a warning)."""
    from seqkit.plugins import get_plugin_manager

    return get_plugin_manager(strict=True).registry("layer")


def _flatten(out: Any) -> list[Variable]:
    """Every Variable (or array) in a nest of lists and tuples, in order."""
    if isinstance(out, (list, tuple)):
        return [v for item in out for v in _flatten(item)]
    if out is None:
        return []
    return [out if isinstance(out, Variable) else Variable(out, requires_grad=False)]


def _host(v: Any) -> numpy.ndarray:
    return to_device(getattr(v, "data", v), "cpu")


def _structure_like(state: Any, rng: numpy.random.Generator, dtype, device: Device) -> Any:
    """Random arrays shaped like ``state`` (an array or a nest of them)."""
    if isinstance(state, (list, tuple)):
        return type(state)(_structure_like(s, rng, dtype, device) for s in state)
    return to_device(rng.standard_normal(state.shape).astype(dtype), device)


def _map(state: Any, fn: Callable[[Any], Any]) -> Any:
    """``fn`` applied to every array of a state (an array or a tuple of them)."""
    return tuple(fn(s) for s in state) if isinstance(state, (list, tuple)) else fn(state)


def _raises_value_error(who: str, why: str, call: Callable[[], Any]) -> None:
    try:
        call()
    except ValueError:
        return
    except Exception as e:
        raise AssertionError(f"{who}: {why} must raise ValueError, got {type(e).__name__}: {e}") from e
    raise AssertionError(f"{who}: {why} must raise ValueError, but the call succeeded")


def _variables_like(state: Any) -> Any:
    if isinstance(state, (list, tuple)):
        return type(state)(_variables_like(s) for s in state)
    return Variable(state)


@dataclasses.dataclass
class LayerCase:
    """A registered layer with its constructor arguments and inputs: ``shapes`` a list of ``(T_i, D)`` means the
    layer is called with a list of sequences; a single tuple means it is called with one array."""

    name: str
    shapes: Shapes
    kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    registry: Registry | None = None
    seed: int = 0

    @property
    def is_sequence(self) -> bool:
        return isinstance(self.shapes, list)

    def factory(self) -> Callable[..., Layer]:
        """The registered class or factory (``UnknownNameError`` with the closest names when missing)."""
        if self.registry is None:
            self.registry = layer_registry()
        return self.registry.get(self.name)

    def build(self, *, seed: int | None = None, dtype: Any = None, device: str | Device = "cpu") -> Layer:
        """A new layer from ``kwargs``, after ``seqkit.random.seed(seed)``, parameters in ``dtype`` (default
        ``config.dtype``), moved to ``device``."""
        factory = self.factory()
        seqkit.random.seed(self.seed if seed is None else seed)
        with using_config("dtype", dtype or config.dtype):
            layer = factory(**self.kwargs)
        if not isinstance(layer, Layer):
            raise AssertionError(f"layer {self.name!r}: the factory returned a {type(layer).__name__}, not a Layer")
        wanted = numpy.dtype(dtype or config.dtype)
        for pname, p in layer.named_params():
            if p.dtype != wanted:
                raise AssertionError(
                    f"layer {self.name!r}: parameter {pname!r} is {p.dtype} but config.dtype is {wanted}; create "
                    "parameters with seqkit.initializers.create(..., dtype) so that they follow it"
                )
        return layer.to_device(device)

    def inputs(self, *, dtype: Any = "float32", seed: int | None = None, device: str | Device = "cpu") -> Any:
        """Random inputs of ``shapes``: a list of arrays, or one array."""
        rng = numpy.random.default_rng(self.seed + 1 if seed is None else seed)
        shapes = self.shapes if self.is_sequence else [self.shapes]
        arrays = [to_device(rng.standard_normal(s).astype(dtype), device) for s in shapes]
        return arrays if self.is_sequence else arrays[0]

    # ---- the checks --------------------------------------------------------------------------------------
    def check_rnn_contract(self) -> None:
        """What a recipe needs from an encoder or decoder RNN layer (seqkit's models build and call ``LSTM`` and
        ``GRU`` this way):

        - it is a ``seqkit.layers.RNNLayer``;
        - the factory accepts ``(in_size, hidden_size, num_layers, *, bidirectional=..., dropout=...)``;
        - ints ``out_size`` and ``directions`` (1 or 2); ``has_cell`` true exactly when the state is a tuple;
        - ``layer(xs, state=None) -> (ys, final_state)`` for a list ``xs`` of ``(T_i, in)`` arrays or Variables in
          any order; ``ys`` a list in the order of ``xs``, ``ys[i]`` ``(T_i, out_size)`` in the parameters' dtype;
        - ``final_state`` an array or a tuple of arrays, each ``(layers * directions, B, out_size / directions)``;
          it is accepted back as ``state`` and changes the outputs;
        - each sequence's outputs and final state do not depend on the rest of the batch;
        - ``layer(padded, state, lengths=lengths)`` on a padded ``(B, T, in)`` batch gives the list form's results,
          ``ys`` ``(B, T, out_size)`` with zeros past each length;
        - an empty list and a wrong feature size raise ``ValueError``;
        - for a ``seqkit.layers.RecurrentLayer``: outputs and final state equal ``rnn_reference``'s, which runs
          the layer's ``cell`` step by step (so a fused ``recurrence`` computes what the cell says).
        """
        if not self.is_sequence:
            raise AssertionError(f"layer {self.name!r}: the RNN contract needs shapes as a list of (T_i, D)")
        who = f"layer {self.name!r}"
        try:
            inspect.signature(self.factory()).bind(1, 1, 1, bidirectional=False, dropout=0.0)
        except (TypeError, ValueError) as e:
            raise AssertionError(
                f"{who}: recipes build RNN layers as factory(in_size, hidden_size, num_layers, *, bidirectional=..., "
                f"dropout=...), which this one does not accept ({e})"
            ) from None
        layer = self.build()
        if not isinstance(layer, RNNLayer):
            raise AssertionError(f"{who}: models take as encoder or decoder only a seqkit.layers.RNNLayer subclass, "
                                 f"not {type(layer).__name__}")  # fmt: skip
        xs = self.inputs()
        out_size, directions = getattr(layer, "out_size", None), getattr(layer, "directions", None)
        if not isinstance(out_size, int) or out_size < 1:
            raise AssertionError(f"{who}: needs an int attribute out_size > 0, got {out_size!r}")
        if directions not in (1, 2) or out_size % directions:
            raise AssertionError(
                f"{who}: needs an attribute directions, 1 or 2 (dividing out_size), got {directions!r}"
            )
        with using_config("train", False):
            result = layer(xs)
            if not (isinstance(result, tuple) and len(result) == 2):
                raise AssertionError(f"{who}: layer(xs) must return (ys, final_state), got {type(result).__name__}")
            ys, final = result
            if not isinstance(ys, (list, tuple)) or len(ys) != len(xs):
                raise AssertionError(f"{who}: ys must be a list of {len(xs)} sequences, got {type(ys).__name__}")
            dtype = next((p.dtype for p in layer.params()), numpy.dtype(config.dtype))
            for i, (x, y) in enumerate(zip(xs, ys)):
                if tuple(y.shape) != (len(x), out_size) or y.dtype != dtype:
                    raise AssertionError(
                        f"{who}: ys[{i}] must be ({len(x)}, {out_size}) {dtype}, got {tuple(y.shape)} {y.dtype}"
                    )
            if isinstance(final, tuple) != bool(getattr(layer, "has_cell", False)):
                raise AssertionError(f"{who}: has_cell must be True exactly when the state is a tuple (like an LSTM's)")
            parts = _flatten(final)
            for k, s in enumerate(parts):
                if s.ndim != 3 or s.shape[0] % directions or s.shape[1:] != (len(xs), out_size // directions):
                    raise AssertionError(
                        f"{who}: final_state part {k} must be (layers*directions, B={len(xs)}, "
                        f"H={out_size // directions}), got {s.shape}"
                    )
            again = _flatten(layer([Variable(x) for x in xs])[0])
            if not all(numpy.array_equal(_host(a), _host(b)) for a, b in zip(again, ys)):
                raise AssertionError(f"{who}: Variables as input give other outputs than arrays")
            for i, x in enumerate(xs):
                y_alone, final_alone = layer([x])
                _close(f"{who}: sequence {i} run alone vs in the batch, outputs", y_alone[0], ys[i], 1e-4, 1e-5)
                for k, (alone, batched) in enumerate(zip(_flatten(final_alone), parts)):
                    what = f"{who}: sequence {i} alone vs batched, final state part {k}"
                    _close(what, alone, batched[:, i : i + 1], 1e-4, 1e-5)
            ys2, final2 = layer(xs, state=final)
            if [tuple(y.shape) for y in ys2] != [tuple(y.shape) for y in ys]:
                raise AssertionError(f"{who}: layer(xs, state=final_state) changes the output shapes")
            if [s.shape for s in _flatten(final2)] != [s.shape for s in parts]:
                raise AssertionError(f"{who}: final_state passed back as state gives a final state of another shape")
            if all(numpy.array_equal(_host(a), _host(b)) for a, b in zip(ys2, ys)):
                raise AssertionError(f"{who}: the initial state is ignored (same outputs with and without it)")
            lengths = [len(x) for x in xs]
            padded = numpy.zeros((len(xs), max(lengths), xs[0].shape[1]), dtype=xs[0].dtype)
            for i, x in enumerate(xs):
                padded[i, : len(x)] = x
            try:
                ys_padded, final_padded = layer(padded, final, lengths=lengths)
            except Exception as e:
                raise AssertionError(
                    f"{who}: layer(padded, state, lengths=lengths) raised {type(e).__name__}: {e}"
                ) from e
            if tuple(ys_padded.shape) != (*padded.shape[:2], out_size):
                raise AssertionError(f"{who}: padded ys must be {(*padded.shape[:2], out_size)}, got {ys_padded.shape}")
            for i, y in enumerate(ys2):
                _close(f"{who}: padded vs list input, sequence {i}", ys_padded[i, : lengths[i]], y, 1e-5, 1e-6)
                if numpy.any(_host(ys_padded[i, lengths[i] :])):
                    raise AssertionError(f"{who}: padded ys must be zero past each length (sequence {i} is not)")
            for k, (a, b) in enumerate(zip(_flatten(final_padded), _flatten(final2))):
                _close(f"{who}: padded vs list input, final state part {k}", a, b, 1e-5, 1e-6)
            wider = [numpy.concatenate([x, x[:, :1]], axis=1) for x in xs]
            for bad, why in (([], "an empty list"), (wider, "a wrong feature size")):
                _raises_value_error(who, why, lambda bad=bad: layer(bad))
            if isinstance(layer, RecurrentLayer):  # its recurrence (fused or not) computes what its cell says
                ys_ref, final_ref = rnn_reference(layer, xs, final)
                for i, (a, b) in enumerate(zip(ys2, ys_ref)):
                    _close(
                        f"{who}: the layer vs rnn_reference (its cell, step by step), sequence {i}", a, b, 1e-4, 1e-5
                    )
                for k, (a, b) in enumerate(zip(_flatten(final2), _flatten(final_ref))):
                    _close(f"{who}: the layer vs rnn_reference (its cell), final state part {k}", a, b, 1e-4, 1e-5)

    def check_rnn_step(self) -> None:
        """What a decoder needs: ``layer.step(x, state) -> (h, state)`` on ``(B, in)`` gives, step after step, the
        outputs and final state of the whole-sequence call (from zeros and from a given state). A bidirectional
        layer must refuse ``step`` with ``ValueError``."""
        if not self.is_sequence:
            raise AssertionError(f"layer {self.name!r}: the RNN step check needs shapes as a list of (T_i, D)")
        who = f"layer {self.name!r}"
        layer = self.build()
        xs = self.inputs()
        if not callable(getattr(layer, "step", None)):
            raise AssertionError(f"{who}: a decoder needs step(x, state) -> (h, state)")
        if getattr(layer, "directions", 1) != 1:
            _raises_value_error(who, "step on a bidirectional layer", lambda: layer.step(xs[0][:1]))
            return
        rng = numpy.random.default_rng(self.seed + 4)
        with using_config("train", False):
            start = _structure_like(layer(xs)[1], rng, xs[0].dtype, get_device(xs[0]))
            for state in (None, start):
                ys, final = layer(xs, state=state)
                for i, x in enumerate(xs):
                    s = None if state is None else _map(state, lambda a, i=i: a[:, i : i + 1])
                    for t in range(len(x)):
                        h, s = layer.step(x[t : t + 1], s)
                        _close(
                            f"{who}: step {t} of sequence {i} vs the whole sequence", h, ys[i][t : t + 1], 1e-4, 1e-5
                        )
                    for k, (a, b) in enumerate(zip(_flatten(s), _flatten(final))):
                        _close(
                            f"{who}: state after stepping sequence {i} vs final state part {k}",
                            a,
                            b[:, i : i + 1],
                            1e-4,
                            1e-5,
                        )

    def check_gradients(self, *, eps: float = 1e-4, rtol: float = 1e-4, atol: float = 1e-5) -> None:
        """Directional derivatives (central differences, float64, evaluation mode) against backprop, separately for
        the inputs, the initial state (RNNs: shaped like the final state) and each parameter."""
        who = f"layer {self.name!r}"
        layer = self.build(dtype="float64")
        xs = self.inputs(dtype="float64")
        rng = numpy.random.default_rng(self.seed + 2)
        with using_config("train", False):
            state = None
            if self.is_sequence:
                with no_grad():
                    state = _structure_like(layer(xs)[1], rng, "float64", Device("cpu"))

            def run(inputs, st):
                return layer(inputs, state=st) if self.is_sequence else layer(inputs)

            outs = _flatten(run(xs, state))
            gys = [rng.standard_normal(y.shape) for y in outs]

            def objective(inputs, st) -> float:
                with no_grad():
                    return sum(float((_host(y) * gy).sum()) for y, gy in zip(_flatten(run(inputs, st)), gys))

            x_vars = [Variable(x) for x in xs] if self.is_sequence else Variable(xs)
            s_vars = None if state is None else _variables_like(state)
            outs = _flatten(run(x_vars, s_vars))
            total = None
            for y, gy in zip(outs, gys):
                if y.requires_grad:
                    term = (y * gy).sum()
                    total = term if total is None else total + term
            if total is None:
                raise AssertionError(f"{who}: no output depends on anything differentiable")
            total.backward()
            groups: list[tuple[str, list[Variable], list[numpy.ndarray]]] = []
            inputs_flat = _flatten(x_vars)
            groups.append(("the inputs", inputs_flat, [v.data for v in inputs_flat]))
            if s_vars is not None:
                s_flat = _flatten(s_vars)
                groups.append(("the initial state", s_flat, [v.data for v in s_flat]))
            for pname, p in layer.named_params():
                if p.grad is None:
                    raise AssertionError(f"{who}: parameter {pname!r} got no gradient (is it used in the forward?)")
                groups.append((f"parameter {pname!r}", [p], [p.data]))
            for label, variables, arrays in groups:
                directions = [rng.standard_normal(a.shape) for a in arrays]
                analytic = 0.0
                for v, d in zip(variables, directions):
                    if v.grad is None:
                        raise AssertionError(f"{who}: {label} got no gradient")
                    if v.grad.shape != v.shape or v.grad.dtype != v.dtype:
                        raise AssertionError(
                            f"{who}: gradient of {label} is {v.grad.shape} {v.grad.dtype}, expected {v.shape} {v.dtype}"
                        )
                    analytic += float((v.grad * d).sum())
                numeric = (
                    self._shifted(objective, xs, state, arrays, directions, eps)
                    - self._shifted(objective, xs, state, arrays, directions, -eps)
                ) / (2 * eps)
                if not abs(analytic - numeric) <= atol + rtol * abs(numeric):
                    raise AssertionError(
                        f"{who}: gradient of {label} disagrees with central differences: analytic {analytic!r} vs "
                        f"numerical {numeric!r} (directional derivative, float64)"
                    )

    @staticmethod
    def _shifted(objective, xs, state, arrays, directions, t: float) -> float:
        """``objective`` with each of ``arrays`` moved by ``t * direction`` in place (then restored)."""
        for a, d in zip(arrays, directions):
            a += t * d
        try:
            return objective(xs, state)
        finally:
            for a, d in zip(arrays, directions):
                a -= t * d

    def check_save_load(self, directory: str | os.PathLike) -> None:
        """Save with ``seqkit.layers.save``, load into a layer built from another seed: same parameters, same
        outputs."""
        who = f"layer {self.name!r}"
        source, target = self.build(seed=self.seed), self.build(seed=self.seed + 100)
        path = Path(directory) / f"{self.name}.npz"
        save(source, path, metadata={"layer": self.name, "kwargs": repr(self.kwargs)})
        load(target, path)
        expected, got = source.state_dict(), target.state_dict()
        if list(expected) != list(got):
            raise AssertionError(f"{who}: parameters after load are {list(got)}, expected {list(expected)}")
        for key in expected:
            if not numpy.array_equal(expected[key], got[key]):
                raise AssertionError(f"{who}: parameter {key!r} differs after a save/load round trip")
        xs = self.inputs()
        with using_config("train", False), no_grad():
            for a, b in zip(_flatten(source(xs)), _flatten(target(xs))):
                _close(f"{who}: outputs after a save/load round trip", b, a, 1e-6, 1e-7)

    def check_deterministic(self) -> None:
        """Seed, build, run and backprop twice (training mode): bitwise equal parameters, outputs and gradients."""
        who = f"layer {self.name!r}"
        runs = []
        for _ in range(2):
            layer = self.build(seed=self.seed)
            outs = _flatten(layer(self.inputs()))
            _backward_random(outs, numpy.random.default_rng(self.seed + 3))
            runs.append(
                (
                    layer.state_dict(),
                    [_host(y) for y in outs],
                    {n: _host(p.grad) for n, p in layer.named_params() if p.grad is not None},
                )
            )
        (params1, outs1, grads1), (params2, outs2, grads2) = runs
        for what, first, second in (("parameters", params1, params2), ("gradients", grads1, grads2)):
            if first.keys() != second.keys() or not all(numpy.array_equal(first[k], second[k]) for k in first):
                raise AssertionError(f"{who}: two seeded runs give different {what}")
        if not all(numpy.array_equal(a, b) for a, b in zip(outs1, outs2)):
            raise AssertionError(f"{who}: two seeded runs give different outputs")

    def check_device_parity(self, device: str = "cuda:0") -> None:
        """The same layer and inputs on ``device`` give the CPU's outputs and gradients (float32 tolerances
        ``PARITY_OUTPUT``, ``PARITY_GRAD``). Skips the test when CUDA is not available."""
        if not cuda_available():
            pytest.skip("needs CUDA and CuPy")
        who = f"layer {self.name!r}"
        results = []
        for where in ("cpu", device):
            layer = self.build(seed=self.seed, device=where)
            with using_config("train", False):
                outs = _flatten(layer(self.inputs(device=where)))
            for y in outs:
                if get_device(y.data) != Device(where):
                    raise AssertionError(f"{who}: an output is on {get_device(y.data)}, expected {where}")
            _backward_random(outs, numpy.random.default_rng(self.seed + 3))
            results.append((outs, dict(layer.named_params())))
        (cpu_outs, cpu_params), (dev_outs, dev_params) = results
        for k, (a, b) in enumerate(zip(cpu_outs, dev_outs)):
            _close(f"{who}: output {k} on {device} vs cpu", b, a, **PARITY_OUTPUT)
        for name, p in cpu_params.items():
            if p.grad is not None:
                _close(f"{who}: gradient of {name!r} on {device} vs cpu", dev_params[name].grad, p.grad, **PARITY_GRAD)

    def check_all(self, directory: str | os.PathLike | None = None) -> None:
        """Every check (the RNN contract when ``shapes`` is a list); device parity only when CUDA is there."""
        if self.is_sequence:
            self.check_rnn_contract()
            self.check_rnn_step()
        self.check_gradients()
        if directory is None:
            with tempfile.TemporaryDirectory() as tmp:
                self.check_save_load(tmp)
        else:
            self.check_save_load(directory)
        self.check_deterministic()
        if cuda_available():
            self.check_device_parity()


def _backward_random(outs: list[Variable], rng: numpy.random.Generator) -> None:
    """Backprop ``sum(y * g)`` over the outputs with random ``g`` drawn on the host (same on every device)."""
    total = None
    for y in outs:
        if y.requires_grad:
            g = to_device(rng.standard_normal(y.shape).astype(y.dtype), get_device(y.data))
            total = (y * g).sum() if total is None else total + (y * g).sum()
    if total is not None:
        total.backward()


def _close(what: str, actual: Any, expected: Any, rtol: float, atol: float) -> None:
    a, b = _host(actual), _host(expected)
    if a.shape != b.shape:
        raise AssertionError(f"{what}: shape {a.shape} vs {b.shape}")
    if not numpy.allclose(a, b, rtol=rtol, atol=atol):
        worst = float(numpy.max(numpy.abs(a - b)))
        raise AssertionError(f"{what}: differ by up to {worst:.3g} (rtol={rtol}, atol={atol})")


def rnn_reference(layer: Any, xs: Any, state: Any = None) -> tuple[list[Variable], Any]:
    """What ``layer(xs, state)`` computes, for a ``seqkit.layers.RecurrentLayer`` and a list ``xs``, from the
    layer's ``cell`` in plain Python loops: one layer, direction, sequence and time step at a time, each step's
    input projection from that direction's rows of ``W_ih`` and ``b``. Slow; a test oracle for the layer's
    ``recurrence``, its packing and its state handling. Dropout is not applied (run it in evaluation mode).
    Returns ``(ys, final_state)`` in the layer's form."""
    H, G, D = layer.hidden_size, layer.gates, layer.directions
    parts = None if state is None else (state if layer.has_cell else (state,))
    n_parts = 2 if layer.has_cell else 1
    ys = [x if isinstance(x, Variable) else Variable(x) for x in xs]
    finals: list[list] = [[] for _ in range(n_parts)]
    for index in range(layer.num_layers):
        outs = []
        for d in range(D):
            k = index * D + d
            weights = layer.weights(index, d)
            rows = slice(d * G * H, (d + 1) * G * H)
            W_ih, b = weights.W_ih[rows], weights.b[rows]
            seq_out, seq_final = [], [[] for _ in range(n_parts)]
            for j, x in enumerate(ys):
                zeros = (x.xp.zeros((1, H), x.dtype),) * n_parts
                s = zeros if parts is None else tuple(p[k][j : j + 1] for p in parts)
                hs = {}
                for t in range(len(x) - 1, -1, -1) if d == 1 else range(len(x)):
                    s = tuple(layer.cell(seqkit.functions.linear(x[t : t + 1], W_ih, b), weights, s))
                    hs[t] = s[0]
                seq_out.append(seqkit.functions.concat([hs[t] for t in range(len(x))], axis=0))
                for acc, v in zip(seq_final, s):
                    acc.append(v)
            outs.append(seq_out)
            for f, acc in zip(finals, seq_final):
                f.append(seqkit.functions.concat(acc, axis=0))
        ys = [seqkit.functions.concat(list(o), axis=1) for o in zip(*outs)] if D == 2 else outs[0]
    stacked = [seqkit.functions.stack(f) for f in finals]
    return ys, (tuple(stacked) if layer.has_cell else stacked[0])


def check_layer(
    name: str,
    shapes: Shapes,
    *,
    kwargs: dict[str, Any] | None = None,
    registry: Registry | None = None,
    directory: str | os.PathLike | None = None,
) -> None:
    """Run every check on the registered layer ``name`` built with ``kwargs`` (see the module docstring)."""
    LayerCase(name, shapes, dict(kwargs or {}), registry).check_all(directory)


class LayerTests:
    """Subclass as ``TestSomething`` and set ``name``, ``kwargs`` and ``shapes``: one pytest test per check.

    ``shapes`` is a list of ``(T_i, D)`` for a layer called with a list of sequences, or one tuple for a layer
    called with one array. The layer is looked up in the registry of the ``seqkit_plugin_manager`` fixture.
    """

    name: ClassVar[str]
    kwargs: ClassVar[dict[str, Any]] = {}
    shapes: ClassVar[Shapes]

    @pytest.fixture
    def case(self, seqkit_plugin_manager) -> LayerCase:
        return LayerCase(self.name, self.shapes, dict(self.kwargs), seqkit_plugin_manager.registry("layer"))

    def test_registered(self, case: LayerCase) -> None:
        case.factory()

    def test_gradients(self, case: LayerCase) -> None:
        case.check_gradients()

    def test_save_load(self, case: LayerCase, tmp_path: Path) -> None:
        case.check_save_load(tmp_path)

    def test_deterministic(self, case: LayerCase) -> None:
        case.check_deterministic()

    def test_device_parity(self, case: LayerCase) -> None:
        case.check_device_parity()


class RNNLayerTests(LayerTests):
    """``LayerTests`` plus the encoder/decoder RNN contract (``check_rnn_contract``, ``check_rnn_step``)."""

    def test_rnn_contract(self, case: LayerCase) -> None:
        case.check_rnn_contract()

    def test_rnn_step(self, case: LayerCase) -> None:
        case.check_rnn_step()


__all__ = [
    "LayerCase", "LayerTests", "PARITY_GRAD", "PARITY_OUTPUT", "RNNLayerTests", "check_layer", "cuda_available",
    "layer_registry", "rnn_reference",
]  # fmt: skip
