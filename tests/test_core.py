"""The autograd core: Variables, backprop, grad, hooks, graph memory, errors."""

import gc
import subprocess
import sys
import threading
import weakref
from pathlib import Path

import numpy as np
import pytest

import seqkit
import seqkit.functions as F
from seqkit import FunctionNode, Parameter, Variable
from seqkit.core.gradient_check import check_backward, check_double_backward


def test_leaf_requires_grad_defaults_follow_dtype():
    assert Variable(np.zeros(3)).requires_grad
    assert not Variable(np.zeros(3, dtype=np.int64)).requires_grad
    with pytest.raises(TypeError, match="floating-point"):
        Variable(np.zeros(3, dtype=np.int32), requires_grad=True)
    assert Parameter(np.zeros(2, np.float32)).requires_grad


def test_gradient_accumulates_over_repeated_use_and_calls():
    x = Variable(np.array([1.5, -2.0]))
    y = x * x + x  # x used three times
    y.sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x.data + 1)
    (x * 3.0).sum().backward()  # a second backward adds to grad
    np.testing.assert_allclose(x.grad, 2 * x.data + 4)
    x.zero_grad()
    assert x.grad is None


def test_diamond_graph_sums_both_paths():
    x = Variable(np.array([0.3, 0.7]))
    a = F.tanh(x)
    y = a * F.exp(a)  # a reaches y along two paths
    y.sum().backward()
    t = np.tanh(x.data)
    np.testing.assert_allclose(x.grad, (np.exp(t) + t * np.exp(t)) * (1 - t * t))


def test_ten_thousand_step_chain_backprops_iteratively():
    limit = sys.getrecursionlimit()
    x = Variable(np.array([1.0]))
    h = x
    for _ in range(10_000):
        h = h * 1.0001
    h.sum().backward()
    np.testing.assert_allclose(x.grad, [1.0001**10_000])
    assert sys.getrecursionlimit() == limit
    del h  # freeing a 10,000-deep graph must not overflow the C stack either


def test_dropped_variables_free_their_arrays_and_graph_keeps_only_retained():
    """Backprop through a 1,000-step chain holds only what ops declared they retain."""
    x = Variable(np.ones(4))
    h = x
    refs_scaled, refs_tanh = [], []
    for _ in range(1000):
        h = h * 0.5  # MulConstant retains nothing
        refs_scaled.append(weakref.ref(h.data))
        h = F.tanh(h)  # Tanh retains its output
        refs_tanh.append(weakref.ref(h.data))
    gc.collect()
    assert sum(r() is not None for r in refs_scaled) == 0
    assert sum(r() is not None for r in refs_tanh) == 1000
    h.sum().backward()
    assert x.grad.shape == (4,)
    del h
    gc.collect()
    assert sum(r() is not None for r in refs_tanh) == 0


def test_graph_holds_leaves_weakly():
    x = Variable(np.ones(3))
    y = F.exp(x)
    ref = weakref.ref(x)
    del x
    gc.collect()
    assert ref() is None
    y.sum().backward()  # the dropped leaf's gradient has nowhere to go; no error


def test_unchain_backward_cuts_graph_for_truncated_bptt():
    x = Variable(np.array([2.0]))
    h = x * 3.0
    node = weakref.ref(h.creator)
    h.unchain_backward()
    gc.collect()
    assert node() is None and h.creator is None
    y = h * h
    y.sum().backward()
    assert x.grad is None
    np.testing.assert_allclose(h.grad, [12.0])  # h became a leaf


def test_grad_returns_without_touching_grad_attributes():
    x = Variable(np.array([1.0, 2.0]))
    y = (x**3).sum()
    (gx,) = seqkit.grad(y, x)
    np.testing.assert_allclose(gx.data, 3 * x.data**2)
    assert x.grad is None


def test_grad_with_respect_to_an_intermediate_variable():
    x = Variable(np.array([1.0, 2.0]))
    h = x * 2.0
    y = (h * h).sum()
    gh, gx = seqkit.grad(y, [h, x])
    np.testing.assert_allclose(gh.data, 2 * h.data)
    np.testing.assert_allclose(gx.data, 8 * x.data)


def test_higher_order_gradients():
    x = Variable(np.array([0.5, -1.5]))
    y = (x**3).sum()
    (g1,) = seqkit.grad(y, x, create_graph=True)
    (g2,) = seqkit.grad(g1.sum(), x, create_graph=True)
    (g3,) = seqkit.grad(g2.sum(), x)
    np.testing.assert_allclose(g1.data, 3 * x.data**2)
    np.testing.assert_allclose(g2.data, 6 * x.data)
    np.testing.assert_allclose(g3.data, [6.0, 6.0])


def test_backward_create_graph_gives_differentiable_grad():
    x = Variable(np.array([0.3]))
    F.tanh(x).sum().backward(create_graph=True)
    gx = x.grad_var
    x.zero_grad()
    gx.sum().backward()
    t = np.tanh(0.3)
    np.testing.assert_allclose(x.grad, [-2 * t * (1 - t * t)])


def test_grad_of_unreachable_input_is_none():
    x, z = Variable(np.ones(2)), Variable(np.ones(2))
    assert seqkit.grad((x * 2.0).sum(), [z]) == [None]


def test_hooks_modify_gradients_and_can_be_removed():
    x = Variable(np.array([1.0, 2.0]))
    handle = x.register_hook(lambda g: g * 10.0)
    (x * 2.0).sum().backward()
    np.testing.assert_allclose(x.grad, [20.0, 20.0])
    handle.remove()
    x.zero_grad()
    (x * 2.0).sum().backward()
    np.testing.assert_allclose(x.grad, [2.0, 2.0])


def test_hook_on_intermediate_sees_total_gradient():
    x = Variable(np.array([1.0]))
    h = x * 1.0
    seen = []
    h.register_hook(lambda g: seen.append(g.data.copy()))
    (h * 2.0 + h * 3.0).sum().backward()
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], [5.0])


def test_retain_grad_keeps_intermediate_gradient():
    x = Variable(np.array([1.0, 2.0]))
    h = x * 3.0
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad, 2 * h.data)


def test_no_grad_context_and_decorator():
    x = Variable(np.ones(2))
    with seqkit.no_grad():
        assert (x * 2.0).creator is None

    @seqkit.no_grad()
    def f(v):
        return F.exp(v)

    assert f(x).creator is None
    assert seqkit.config.enable_backprop
    assert (x * 2.0).creator is not None


def test_using_config_is_thread_local_and_restored():
    seen = {}
    with seqkit.using_config("train", False):
        t = threading.Thread(target=lambda: seen.setdefault("train", seqkit.config.train))
        t.start()
        t.join()
        assert seqkit.config.train is False
    assert seqkit.config.train is True
    assert seen["train"] is True


def test_config_lists_every_key_and_rejects_unknown(capsys):
    from seqkit.config import KEYS, show

    show()
    out = capsys.readouterr().out
    for key in KEYS:
        assert key in out
    with pytest.raises(AttributeError, match="unknown config key 'trian'"):
        seqkit.config.trian  # noqa: B018
    with pytest.raises(AttributeError, match="known keys"), seqkit.using_config("trian", True):
        pass


def test_debug_mode_names_op_that_produced_nan():
    with seqkit.using_config("debug", True), pytest.raises(FloatingPointError, match="Log"):
        F.log(Variable(np.array([-1.0])))


def test_shape_mismatch_error_names_op_and_shapes():
    with pytest.raises(ValueError, match=r"MatMul.*\(3, 4\) float64.*\(5, 6\) float64"):
        Variable(np.ones((3, 4))) @ Variable(np.ones((5, 6)))
    with pytest.raises(ValueError, match=r"Add.*\(3,\).*\(4,\)"):
        Variable(np.ones(3)) + Variable(np.ones(4))


def test_integer_input_to_float_op_is_a_type_error():
    with pytest.raises(TypeError, match=r"Tanh: expects a floating-point array at input 0.*int64"):
        F.tanh(np.arange(3))


def test_backward_of_non_scalar_needs_gradient():
    y = Variable(np.ones((2, 3))) * 2.0
    with pytest.raises(ValueError, match=r"non-scalar.*\(2, 3\).*sum\(\)"):
        y.backward()
    with pytest.raises(ValueError, match="gradient of shape"):
        y.backward(np.ones(3))
    with seqkit.no_grad():
        z = Variable(np.ones(1)) * 2.0
    with pytest.raises(RuntimeError, match="does not require grad"):
        z.backward()


def test_variable_operators_and_methods():
    a = np.arange(1.0, 7.0).reshape(2, 3)
    x = Variable(a)
    np.testing.assert_allclose((2.0 - x).data, 2.0 - a)
    np.testing.assert_allclose((2.0 / x).data, 2.0 / a)
    np.testing.assert_allclose((2.0**x).data, 2.0**a)
    np.testing.assert_allclose((-x).data, -a)
    np.testing.assert_allclose((x @ x.T).data, a @ a.T)
    np.testing.assert_allclose(x.reshape(3, 2).data, a.reshape(3, 2))
    np.testing.assert_allclose(x.reshape((6,)).data, a.reshape(6))
    np.testing.assert_allclose(x.transpose(1, 0).data, a.T)
    np.testing.assert_allclose(x[1, 1:].data, a[1, 1:])
    np.testing.assert_allclose(x.sum(axis=0).data, a.sum(axis=0))
    assert x.mean().item() == pytest.approx(a.mean())
    assert x.max().item() == 6.0
    assert x.shape == (2, 3) and x.ndim == 2 and x.size == 6 and len(x) == 2 and x.dtype == np.float64
    np.testing.assert_allclose((a + x).data, 2 * a)  # numpy on the left defers to Variable


def test_float32_is_preserved_with_python_scalars():
    x = Variable(np.ones(3, np.float32))
    y = (x * 2.5 + 1.0) / 3.0 - 0.5
    y = y**2
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32


class _WrongSquare(FunctionNode):
    def forward(self, inputs):
        self.retain_inputs((0,))
        return (inputs[0] ** 2,)

    def backward(self, indexes, grad_outputs):
        (x,) = self.get_retained_inputs()
        return (grad_outputs[0] * x * 3.0,)  # wrong: should be 2x


def test_gradient_check_catches_a_wrong_backward():
    x = np.random.default_rng(0).standard_normal(5)
    with pytest.raises(AssertionError, match="gradient check failed"):
        check_backward(lambda v: _WrongSquare().apply((v,))[0], x)
    check_backward(lambda v: v**2, x)


def test_double_backward_check_catches_a_wrong_second_derivative():
    class Cube(FunctionNode):
        def forward(self, inputs):
            self.retain_inputs((0,))
            return (inputs[0] ** 3,)

        def backward(self, indexes, grad_outputs):
            (x,) = self.get_retained_inputs()
            # right first derivative, but built from a constant copy: no second derivative flows
            return (grad_outputs[0] * Variable(3 * x.data**2, requires_grad=False),)

    rng = np.random.default_rng(1)
    x, gy, ggx = rng.standard_normal(4), rng.standard_normal(4), rng.standard_normal(4)
    check_backward(lambda v: Cube().apply((v,))[0], x)
    with pytest.raises(AssertionError):
        check_double_backward(lambda v: Cube().apply((v,))[0], x, gy, ggx)
    check_double_backward(lambda v: v**3, x, gy, ggx)


def test_import_is_light():
    heavy = "('cupy', 'torch', 'sentencepiece', 'sacrebleu', 'pluggy')"
    code = f"import sys, seqkit; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_grad_visits_only_the_part_of_the_graph_that_leads_to_the_inputs():
    calls = []

    class Spy(FunctionNode):
        def forward(self, inputs):
            return (inputs[0] * 2,)

        def backward(self, indexes, grad_outputs):
            calls.append(1)
            return (grad_outputs[0] * 2.0,)

    x = Variable(np.ones(2))
    h = Spy().apply((x,))[0]  # behind h: not needed for d y / d h
    y = (h * h).sum()
    (gh,) = seqkit.grad(y, h, retain_graph=True)
    np.testing.assert_allclose(gh.data, 2 * h.data)
    assert calls == []
    (gx,) = seqkit.grad(y, x)
    np.testing.assert_allclose(gx.data, 8 * x.data)
    assert calls == [1]


def test_in_place_accumulation_never_touches_shared_gradient_arrays():
    a, b = Variable(np.array([1.0, 2.0])), Variable(np.array([3.0, 4.0]))
    s = a + b  # Add hands the same gradient array to a and b
    t = s + a + a * 2.0  # three more contributions to a
    t.sum().backward()
    np.testing.assert_allclose(b.grad, [1.0, 1.0])
    np.testing.assert_allclose(a.grad, [4.0, 4.0])
    x = Variable(np.array([0.5]))
    h = x * 1.0
    y = h + h + h * h  # an intermediate receiving several contributions
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [2.0 + 2 * 0.5])


def test_sums_handed_on_unchanged_are_never_added_into_twice():
    a, b = Variable(np.array([1.0])), Variable(np.array([1.0]))
    p = a * 1.0
    q = (b * 1.0) * 1.0
    loss = (p + q) + (p + q) + p * 3.0
    loss.backward()
    np.testing.assert_allclose(a.grad, [5.0])
    np.testing.assert_allclose(b.grad, [2.0])


def test_random_graphs_give_the_same_gradients_with_and_without_create_graph():
    rng = np.random.default_rng(0)
    for trial in range(150):
        leaves = [Variable(rng.standard_normal(3)) for _ in range(3)]

        def build(leaves=leaves, trial=trial):
            pool = list(leaves)
            op_rng = np.random.default_rng(trial)
            for _ in range(8):
                i, j = op_rng.integers(len(pool), size=2)
                kind = op_rng.integers(4)
                a, b = pool[i], pool[j]
                pool.append(a + b if kind == 0 else a - b if kind == 1 else a * 0.5 if kind == 2 else F.tanh(a))
            return sum(F.sum(v) for v in pool[-4:])

        build().backward()
        plain = [v.grad.copy() if v.grad is not None else None for v in leaves]
        expected = seqkit.grad(build(), leaves, create_graph=True)
        for got, want in zip(plain, expected):
            if want is None:
                assert got is None
            else:
                np.testing.assert_allclose(got, want.data, rtol=1e-12, atol=1e-12)
        for v in leaves:
            v.zero_grad()


def test_leaf_gradients_never_share_memory():
    x, y = Variable(np.ones(3)), Variable(np.ones(3))
    F.sum(x + y).backward()
    assert not np.shares_memory(x.grad, y.grad)
    x.grad *= 0.5
    np.testing.assert_allclose(y.grad, 1.0)
    g = np.ones(3)
    z = Variable(np.ones(3))
    (z * 1.0).backward(g)
    assert not np.shares_memory(z.grad, g)


def test_graph_is_freed_by_backward_unless_retained():
    x = Variable(np.array([0.5]))
    y = F.tanh(x) * 2.0
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad, 2 * 2 * (1 - np.tanh(0.5) ** 2))
    with pytest.raises(RuntimeError, match=r"second time.*retain_graph=True"):
        y.backward()


def test_mixing_float_dtypes_is_an_error_naming_the_op():
    w = Parameter(np.ones(3, np.float32))
    with pytest.raises(TypeError, match=r"Mul: mixes floating-point dtypes.*float32.*float64"):
        w * np.ones(3)


def test_grad_leaves_retained_gradients_alone():
    x = Variable(np.array([1.0, 2.0]))
    h = x * 2.0
    h.retain_grad()
    seqkit.grad(F.sum(h * h), [h])
    assert h.grad is None


def test_a_weight_used_by_many_linear_ops_gets_its_uses_summed_in_one_product(monkeypatch):
    from seqkit.core import accumulate
    from seqkit.optim import SGD

    rng = np.random.default_rng(0)
    W, b = Parameter(rng.standard_normal((5, 3))), Parameter(rng.standard_normal(5))
    xs = [rng.standard_normal(shape) for shape in [(4, 3), (2, 3), (1, 3), (2, 2, 3), (4, 3)]]

    def loss():
        h = Variable(rng.standard_normal((4, 5)))
        total = F.sum(F.matmul(h, W) ** 2)  # a use that is not a linear op: a plain gradient beside the factors
        for x in xs:
            total = total + F.sum(F.tanh(F.linear(x, W, b)) * 0.5)
        return total

    products = []
    product = accumulate.Outer.product
    monkeypatch.setattr(accumulate.Outer, "product", lambda self: products.append(len(self.a)) or product(self))
    state = rng.bit_generator.state
    want = [g.data for g in seqkit.grad(loss(), [W, b], create_graph=True)]  # no factors while building a graph
    assert products == []
    default_bound = accumulate.OUTER_BYTES
    for bound in (default_bound, 1):  # the factors kept to the end, and multiplied out at every use
        monkeypatch.setattr(accumulate, "OUTER_BYTES", bound)
        rng.bit_generator.state = state
        seen = []
        handle = W.register_hook(lambda g, seen=seen: seen.append(g.data.copy()))
        loss().backward()
        handle.remove()
        np.testing.assert_allclose(W.grad, want[0], rtol=1e-12)
        np.testing.assert_allclose(seen[0], want[0], rtol=1e-12)  # hooks see the total
        np.testing.assert_allclose(b.grad, want[1], rtol=1e-12)
        W.zero_grad(), b.zero_grad()
    assert products == [5, 2, 2, 1]  # five uses in one product; then multiplied out as soon as a second joins
    monkeypatch.setattr(accumulate, "OUTER_BYTES", default_bound)

    opt = SGD(lr=0.1)
    opt.setup([W, b])
    W.grad = np.ones_like(W.data)
    opt.zero_grads()  # a buffer declared zero: the product is copied in, not added to the stale ones
    rng.bit_generator.state = state
    loss().backward()
    np.testing.assert_allclose(W.grad, want[0], rtol=1e-12)
    rng.bit_generator.state = state
    (w_grad,) = seqkit.grad(loss(), [W])  # returned, not accumulated
    np.testing.assert_allclose(w_grad.data, want[0], rtol=1e-12)
    products.clear()
    rng.bit_generator.state = state
    (b_grad,) = seqkit.grad(loss(), [b])
    np.testing.assert_allclose(b_grad.data, want[1], rtol=1e-12)
    assert products == []  # W's factors were never multiplied out: nobody asked for its gradient

    y = F.linear(xs[0], W, b)  # a backward called by hand (not by backprop) keeps the protocol: Variables
    with seqkit.no_grad():
        grads = y.creator.backward((1, 2), (Variable(np.ones(y.shape)),))
    assert all(type(g) is Variable for g in grads)


def test_the_accumulator_adds_in_place_only_into_sums_it_allocated():
    from seqkit.core.accumulate import Accumulator

    a, b, c = (Variable(np.full(2, value), requires_grad=False) for value in (1.0, 2.0, 3.0))
    with Accumulator(False, None) as sums:
        total = sums.add(a, b)  # a and b were handed out by ops and may be shared: never written
        np.testing.assert_array_equal(a.data, 1.0)
        np.testing.assert_array_equal(b.data, 2.0)
        assert sums.add(total, c) is total  # its own sum: the next gradient goes in place
        np.testing.assert_array_equal(total.data, 6.0)
        sums.hand_over(FunctionNode(), [total])  # given to a backward, which may pass it on as it is
        again = sums.add(total, c)
        assert again is not total
        np.testing.assert_array_equal(total.data, 6.0)
        np.testing.assert_array_equal(again.data, 9.0)
    x = Variable(np.ones(2))
    with Accumulator(True, None) as sums:  # create_graph: differentiable sums, nothing in place
        graph_sum = sums.add(x * 2.0, x * 3.0)
    assert graph_sum.creator is not None
    (gx,) = seqkit.grad(F.sum(graph_sum), x)
    np.testing.assert_array_equal(gx.data, 5.0)


def test_the_accumulator_multiplies_a_leafs_factors_out_in_one_product_into_its_buffer():
    from seqkit.core.accumulate import Accumulator, Outer

    rng = np.random.default_rng(0)
    pairs = [(rng.standard_normal((n, 4)), rng.standard_normal((n, 3))) for n in (2, 5, 1)]
    W = Parameter(np.zeros((4, 3)))
    buffer = np.full((4, 3), 7.0)  # stale values: the first gradient is copied in, not added
    W.grad_buffer = buffer
    with Accumulator(False, None) as sums:
        for a, b in pairs:
            sums.to_leaf(weakref.ref(W), Outer(a, b))
        assert W.grad is None and len(sums.factors[W].a) == 3  # kept as factors until the pass ends
        sums.finish()
    want = sum(a.T @ b for a, b in pairs)
    np.testing.assert_allclose(W.grad, want, rtol=1e-12)
    assert W.grad is buffer
    (F.sum(W) * 1.0).backward()  # a later gradient adds into the buffer in place
    np.testing.assert_allclose(buffer, want + 1.0, rtol=1e-12)


def test_a_grad_buffer_takes_the_first_gradient_and_reading_grad_changes_nothing():
    W = Parameter(np.ones(3))
    buffer = np.full(3, 9.0)
    W.grad_buffer = buffer
    for _ in range(2):
        assert W.grad is None and W.grad_var is None
        np.testing.assert_array_equal(buffer, 9.0)
    (W * 2.0).sum().backward()
    assert np.shares_memory(W.grad, buffer)
    np.testing.assert_array_equal(buffer, 2.0)
    (W * 3.0).sum().backward()
    np.testing.assert_array_equal(buffer, 5.0)
    W.zero_grad()
    (W * W).sum().backward(create_graph=True)  # a gradient with a graph is kept as it is, not copied in
    assert W.grad_var.creator is not None
    np.testing.assert_array_equal(buffer, 5.0)


def test_operators_are_installed_by_the_core_alone():
    """A Variable has its operators and backward() with seqkit.core imported and neither seqkit.functions nor
    the seqkit facade run (the package is stubbed so that its __init__ does not run)."""
    root = str(Path(seqkit.__file__).resolve().parent)
    code = f"""
import sys, types
import numpy as np
stub = types.ModuleType("seqkit")
stub.__path__ = [{root!r}]
sys.modules["seqkit"] = stub
import seqkit.core.autograd as a
x = a.Variable(np.array([[1.0, 2.0], [3.0, 4.0]]))
y = ((x + 1.0) * x - x / 2.0 + 2.0 ** x - (-x)) ** 2 @ x.T
y = y[0:1].reshape(2).transpose() + x.sum(axis=0) + x.mean() + x.max() - 1.0 + (1.0 - x[1])
y.sum().backward()
loaded = sorted(m for m in sys.modules if m.startswith("seqkit."))
assert not any(m.startswith("seqkit.functions") for m in loaded), loaded
print(x.grad.shape, "ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["(2,", "2)", "ok"]


def test_operators_pass_float64_gradient_checks():
    rng = np.random.default_rng(3)
    a, b = rng.uniform(0.5, 2.0, (3, 4)), rng.uniform(0.5, 2.0, (3, 4))

    def f(u, v):
        return ((u + v) * u - u / v + u**2.0 + 1.5**v - (-v)) @ v.T + u[1:, ::2].sum() + v.mean(axis=0).max()

    gy = rng.standard_normal((3, 3))
    check_backward(f, (a, b), gy)
    check_double_backward(f, (a, b), gy, (rng.standard_normal((3, 4)), rng.standard_normal((3, 4))))
