"""Optimizers, hooks and schedules against plain NumPy references of their published rules; flat buffers;
state round trips that resume bit for bit."""

import dataclasses
import inspect
import json
import math
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

import seqkit.functions as F
import seqkit.layers as L
import seqkit.optim as O
from seqkit import Parameter, to_device
from seqkit.plugins import get_plugin_manager
from seqkit.testing.optimizers import OptimizerCase, OptimizerTests, check_optimizer

SHAPES = [(3, 4), (4,), (2, 3, 2), (1,)]


def make_params(dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [Parameter(rng.standard_normal(s).astype(dtype), name=f"p{i}") for i, s in enumerate(SHAPES)]


def grad_sequence(n_steps, dtype, seed=1):
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(s).astype(dtype) for s in SHAPES] for _ in range(n_steps)]


def run(opt, params, grads):
    for step in grads:
        for p, g in zip(params, step):
            p.grad = g.copy()
        opt.update()
    return [p.data.copy() for p in params]


# ---- NumPy references of the published rules (PyTorch's semantics) -------------------------------------------
def ref_sgd(p, grads, lr):
    for g in grads:
        p = p - lr * g
    return p


def ref_momentum(p, grads, lr, momentum, nesterov):
    buf = None
    for g in grads:
        buf = g.copy() if buf is None else momentum * buf + g  # torch.optim.SGD, dampening=0
        p = p - lr * (g + momentum * buf if nesterov else buf)
    return p


def ref_adam(p, grads, lr, beta1, beta2, eps, weight_decay=0.0):
    m, v = np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        p = p * (1 - lr * weight_decay)  # torch.optim.AdamW: decoupled decay first
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return p


RULES = {
    "sgd": (lambda: O.SGD(lr=0.1), lambda p, gs: ref_sgd(p, gs, 0.1)),
    "momentum": (lambda: O.MomentumSGD(lr=0.1, momentum=0.8), lambda p, gs: ref_momentum(p, gs, 0.1, 0.8, False)),
    "nesterov": (
        lambda: O.MomentumSGD(lr=0.1, momentum=0.8, nesterov=True),
        lambda p, gs: ref_momentum(p, gs, 0.1, 0.8, True),
    ),
    "adam": (
        lambda: O.Adam(lr=0.01, beta1=0.8, beta2=0.9, eps=1e-3),
        lambda p, gs: ref_adam(p, gs, 0.01, 0.8, 0.9, 1e-3),
    ),
    "adamw": (
        lambda: O.AdamW(lr=0.01, beta1=0.8, beta2=0.9, eps=1e-3, weight_decay=0.5),
        lambda p, gs: ref_adam(p, gs, 0.01, 0.8, 0.9, 1e-3, weight_decay=0.5),
    ),
}
TOL = {np.float64: {"rtol": 1e-12, "atol": 1e-12}, np.float32: {"rtol": 2e-5, "atol": 2e-6}}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("rule", sorted(RULES))
def test_rule_matches_numpy_reference(rule, dtype):
    make_opt, reference = RULES[rule]
    params = make_params(dtype)
    start = [p.data.copy() for p in params]
    grads = grad_sequence(6, dtype)
    got = run(make_opt().setup(params), params, grads)
    for i, (p0, p) in enumerate(zip(start, got)):
        expected = reference(p0.astype(np.float64), [step[i].astype(np.float64) for step in grads])
        assert p.dtype == dtype
        np.testing.assert_allclose(p, expected, **TOL[dtype])


@pytest.mark.parametrize("rule", sorted(RULES))
def test_chunks_and_threads_give_bitwise_the_same_update(rule):
    make_opt = RULES[rule][0]
    results = []
    for chunk, threads in ((None, 1), (5, 1), (1, 1), (5, 3), (2, 8)):
        params = make_params(np.float32)
        opt = make_opt().setup(params, chunk=chunk, threads=threads)
        opt.add_hook(O.WeightDecay(0.1))
        results.append(run(opt, params, grad_sequence(4, np.float32)))
    for other in results[1:]:
        assert all(np.array_equal(a, b) for a, b in zip(results[0], other))


def test_adam_first_step_moves_every_weight_by_about_lr():
    params = make_params(np.float64)
    start = [p.data.copy() for p in params]
    grads = grad_sequence(1, np.float64)
    run(O.Adam(lr=0.01).setup(params), params, grads)
    for p0, p, g in zip(start, params, grads[0]):  # bias correction: m_hat / sqrt(v_hat) = sign(g)
        np.testing.assert_allclose(p.data, p0 - 0.01 * np.sign(g), rtol=0, atol=1e-7)


def test_adam_bias_correction_uses_the_step_count():
    p = Parameter(np.zeros(1))
    opt = O.Adam(lr=1.0, beta1=0.5, beta2=0.5, eps=1e-30).setup([p])
    for t in range(1, 4):
        p.grad = np.array([2.0])  # a constant gradient: m_hat = 2, v_hat = 4, every step moves by exactly lr
        opt.update()
        assert opt.t == t
        np.testing.assert_allclose(p.data, [-t], rtol=1e-15)


def test_mixed_dtypes_make_two_groups_each_updated():
    p32, p64 = Parameter(np.ones(3, np.float32)), Parameter(np.ones(2, np.float64))
    opt = O.SGD(lr=0.5).setup([p32, p64])
    assert [g.dtype for g in opt.flat.groups] == [np.float32, np.float64]
    p32.grad, p64.grad = np.ones(3, np.float32), np.full(2, 2.0)
    opt.update()
    assert p32.data.dtype == np.float32
    np.testing.assert_array_equal(p32.data, 0.5)
    np.testing.assert_array_equal(p64.data, 0.0)


# ---- flat buffers ---------------------------------------------------------------------------------------------
class TwoLayer(L.Layer):
    def __init__(self, dtype=np.float32):
        super().__init__()
        self.l1 = L.Linear(3, 4, dtype=dtype)
        self.l2 = L.Linear(4, 2, dtype=dtype)
        self.unused = Parameter(np.ones((2, 2), dtype))

    def __call__(self, x):
        return self.l2(F.tanh(self.l1(x)))


def loss_of(model, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((5, 3)).astype(model.l1.W.dtype)
    return F.sum(model(x) ** 2)


def assert_views(opt, model):
    for group in opt.flat.groups:
        for p in group.params:
            assert p.data.base is group.data
            assert p.grad is None or p.grad.base is group.grad


def test_params_stay_views_after_updates_and_load_state_dict():
    model = TwoLayer()
    opt = O.Adam().setup(model)
    assert_views(opt, model)
    for _ in range(3):
        opt.zero_grads()
        loss_of(model).backward()
        opt.update()
        assert_views(opt, model)
    other = TwoLayer().state_dict()
    model.load_state_dict(other)
    assert_views(opt, model)
    assert all(np.array_equal(p.data, other[n]) for n, p in model.named_params())
    np.testing.assert_array_equal(opt.flat.groups[0].data[: other["l1.W"].size], other["l1.W"].ravel())


def test_setup_keeps_values_and_packs_shared_params_once():
    model = TwoLayer()
    model.alias = model.l1.W  # shared: one parameter under two names
    before = model.state_dict()
    opt = O.SGD().setup(model)
    assert opt.flat.size == model.count_params() == sum(a.size for a in before.values())
    assert all(np.array_equal(p.data, before[n]) for n, p in model.named_params())


def test_frozen_params_are_left_alone():
    model = TwoLayer()
    model.unused.requires_grad = False
    opt = O.SGD().setup(model)
    assert all(p is not model.unused for p in opt.flat.groups[0].params)


def test_a_replaced_data_array_is_copied_back_into_the_buffer():
    p = Parameter(np.zeros(3))
    opt = O.SGD(lr=1.0).setup([p])
    p.data = np.full(3, 5.0)
    p.grad = np.ones(3)
    opt.update()
    assert p.data.base is opt.flat.groups[0].data
    np.testing.assert_array_equal(p.data, 4.0)
    p.data = np.zeros(4)
    with pytest.raises(RuntimeError, match=r"'0' is now \(4,\) float64 on cpu.*setup"):
        opt.update()


def test_gradients_accumulate_over_two_backwards_without_zero_grads():
    model, fresh = TwoLayer(np.float64), TwoLayer(np.float64)
    fresh.load_state_dict(model.state_dict())
    opt = O.SGD(lr=0.0).setup(model)
    loss_of(model).backward()
    opt.update()  # the gradients are now views of the flat buffer
    loss_of(model, seed=1).backward()
    opt.update()
    loss_of(fresh).backward()
    loss_of(fresh, seed=1).backward()
    for (n, p), q in zip(model.named_params(), fresh.params()):
        expected = np.zeros_like(p.data) if q.grad is None else q.grad
        np.testing.assert_allclose(p.grad, expected, rtol=1e-12, err_msg=n)


def test_zero_grads_reads_none_and_reading_changes_nothing():
    """After zero_grads every gradient reads None, as often as it is read, and the buffer keeps last step's
    values (declared zero, not filled); backward then writes into the views. set_to_none takes the views away
    until the next zero_grads: backward makes arrays of its own, which update() copies in."""
    model = TwoLayer()
    opt = O.Adam().setup(model)
    loss_of(model).backward()
    opt.update()
    group = opt.flat.groups[0]
    stale = group.grad.copy()
    assert stale.any()
    opt.zero_grads()
    for _ in range(2):
        assert all(p.grad is None and p.grad_var is None for p in model.params())
        np.testing.assert_array_equal(group.grad, stale)
    loss_of(model).backward()
    assert_views(opt, model)
    opt.zero_grads(set_to_none=True)
    assert all(p.grad is None for p in model.params())
    loss_of(model).backward()
    assert all(p.grad is None or p.grad.base is not group.grad for p in model.params())
    opt.update()
    assert_views(opt, model)
    opt.zero_grads()
    loss_of(model).backward()
    assert_views(opt, model)


def test_declared_zero_gradients_take_the_first_backward_and_accumulate_later_ones():
    """After zero_grads the buffer is not cleared: the first backward writes each gradient it reaches, later
    ones add; a parameter no backward reached is zero at update (not last step's value)."""
    model, fresh = TwoLayer(np.float64), TwoLayer(np.float64)
    fresh.load_state_dict(model.state_dict())
    opt = O.SGD(lr=0.0).setup(model)
    opt.zero_grads()
    opt.flat.groups[0].grad[...] = 7.0  # last step's gradients, still in the buffer
    for _ in range(2):
        loss_of(model).backward()
        loss_of(fresh).backward()
    for p, q in zip(model.params(), fresh.params()):
        if q.grad is None:
            assert p.grad is None
        else:
            np.testing.assert_allclose(p.grad, q.grad, rtol=1e-12)
    first = next(iter(model.params()))
    opt.zero_grads()
    (first * 2.0).sum().backward()  # reaches one parameter only
    opt.update()
    for p in model.params():
        expected = np.full_like(p.data, 2.0) if p is first else np.zeros_like(p.data)
        np.testing.assert_array_equal(p.grad, expected)


@pytest.mark.parametrize("rule", sorted(RULES))
def test_a_parameter_no_gradient_reached_after_zero_grads_is_updated_as_with_a_zero_gradient(rule):
    make_opt = RULES[rule][0]
    params, twins = make_params(np.float64), make_params(np.float64)
    opt, twin_opt = make_opt().setup(params), make_opt().setup(twins)
    for step, grads in enumerate(grad_sequence(3, np.float64)):
        opt.zero_grads()
        opt.flat.groups[0].grad[...] = 7.0  # last step's gradients, still in the buffer
        for i, (p, q, g) in enumerate(zip(params, twins, grads)):
            if i == 1 and step > 0:  # reached by the first backward only: momentum and moments carry on
                q.grad = np.zeros_like(g)
                continue
            (p * g).sum().backward()
            q.grad = g.copy()
        assert (params[1].grad is None) == (step > 0)
        opt.update()
        twin_opt.update()
    for p, q in zip(params, twins):
        np.testing.assert_array_equal(p.data, q.data)
    np.testing.assert_array_equal(params[1].grad, 0)


def test_backward_accumulates_straight_into_the_flat_buffer():
    model, fresh = TwoLayer(np.float64), TwoLayer(np.float64)
    fresh.load_state_dict(model.state_dict())
    opt = O.SGD(lr=0.0).setup(model)
    opt.zero_grads()
    loss_of(model).backward()
    assert_views(opt, model)  # backward wrote into the views: update() has nothing to copy
    loss_of(fresh).backward()
    for p, q in zip(model.params(), fresh.params()):
        if q.grad is None:
            assert p.grad is None  # no gradient reached it: declared zero
        else:
            np.testing.assert_array_equal(p.grad, q.grad)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_none_grad_counts_as_zero(dtype):
    model = TwoLayer(dtype)
    clip = O.GradientClipping(1e9)
    opt = O.AdamW(lr=0.1, weight_decay=0.5).setup(model)
    opt.add_hook(clip)
    before = model.unused.data.copy()
    loss_of(model).backward()
    assert model.unused.grad is None
    used = [p.grad.astype(np.float64) for p in model.params() if p.grad is not None]
    opt.update()
    assert clip.last_norm == pytest.approx(math.sqrt(sum((g**2).sum() for g in used)), rel=1e-6)
    # zero moments and a zero gradient: Adam's step is 0/(0+eps) = 0, only the decoupled decay acts
    np.testing.assert_array_equal(model.unused.grad, 0)
    np.testing.assert_allclose(model.unused.data, before * (1 - 0.1 * 0.5), rtol=1e-6)


def test_momentum_keeps_moving_a_param_whose_grad_is_none():
    p = Parameter(np.zeros(2))
    opt = O.MomentumSGD(lr=1.0, momentum=0.5).setup([p])
    p.grad = np.ones(2)
    opt.update()
    opt.zero_grads()
    opt.update()
    np.testing.assert_array_equal(p.data, -1.5)


# ---- hooks ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("max_norm", [0.5, 1e6])
def test_gradient_clipping_over_all_groups(max_norm):
    params = [*make_params(np.float32), *make_params(np.float64, seed=3)]
    grads = [g for dtype in (np.float32, np.float64) for g in grad_sequence(1, dtype, seed=4)[0]]
    for p, g in zip(params, grads):
        p.grad = g.copy()
    opt = O.SGD(lr=0.0).setup(params)
    clip = O.GradientClipping(max_norm)
    opt.add_hook(clip)
    opt.update()
    norm = np.sqrt(sum((g.astype(np.float64) ** 2).sum() for g in grads))
    assert clip.last_norm == pytest.approx(norm, rel=1e-6)
    rate = max_norm / (clip.last_norm + 1e-6)
    for p, g in zip(params, grads):
        np.testing.assert_array_equal(p.grad, g * p.dtype.type(rate) if rate < 1 else g)
    if rate < 1:
        assert O.global_norm(opt) == pytest.approx(max_norm, rel=1e-5)


def test_weight_decay_hook_is_l2_added_to_the_gradient():
    params = make_params(np.float64)
    start = [p.data.copy() for p in params]
    grads = grad_sequence(3, np.float64)
    opt = O.SGD(lr=0.1).setup(params, chunk=5)
    opt.add_hook(O.WeightDecay(0.01))
    run(opt, params, grads)
    for i, p in enumerate(params):
        expected = start[i]
        for step in grads:
            expected = expected - 0.1 * (step[i] + 0.01 * expected)
        np.testing.assert_allclose(p.data, expected, rtol=1e-13)


def test_hooks_run_in_order_before_the_rule():
    p = Parameter(np.array([3.0, 4.0]))
    opt = O.SGD(lr=1.0).setup([p])
    clip = O.GradientClipping(1.0)
    opt.add_hook(clip)
    opt.add_hook(O.WeightDecay(1.0))
    p.grad = np.array([30.0, 40.0])
    opt.update()  # clip 50 -> 1, then add p
    np.testing.assert_allclose(p.data, [3 - (0.6 + 3), 4 - (0.8 + 4)], rtol=1e-6)
    assert clip.last_norm == 50.0


# ---- schedules ----------------------------------------------------------------------------------------------
def lrs(schedule, n):
    out = [schedule.optimizer.lr]
    for _ in range(n):
        schedule.optimizer.update()
        schedule.step()
        out.append(schedule.optimizer.lr)
    return out


def ready_opt(lr=0.5):
    return O.SGD(lr=lr).setup([Parameter(np.zeros(1))])


CLOSED_FORMS = {
    "constant": (lambda o: O.Constant(o), lambda t: 0.5),
    "step": (lambda o: O.StepDecay(o, step_size=3, gamma=0.5), lambda t: 0.5 * 0.5 ** (t // 3)),
    "exponential": (lambda o: O.ExponentialDecay(o, gamma=0.5, every=4), lambda t: 0.5 * 0.5 ** (t / 4)),
    "inverse_sqrt": (lambda o: O.InverseSqrt(o, warmup=4), lambda t: 0.5 * min((t + 1) / 4, math.sqrt(4 / (t + 1)))),
    "cosine": (lambda o: O.Cosine(o, total=10), lambda t: 0.5 * (1 + math.cos(math.pi * min(t, 10) / 10)) / 2),
    "cosine_warmup": (
        lambda o: O.Cosine(o, total=10, warmup=2, min_lr=0.1, base_lr=1.0),
        lambda t: (t + 1) / 2 if t < 2 else 0.1 + 0.9 * (1 + math.cos(math.pi * min(t - 2, 8) / 8)) / 2,
    ),
}


@pytest.mark.parametrize("name", sorted(CLOSED_FORMS))
def test_schedule_matches_closed_form(name):
    make, closed = CLOSED_FORMS[name]
    got = lrs(make(ready_opt()), 14)
    np.testing.assert_allclose(got, [closed(t) for t in range(15)], rtol=1e-14)


def test_schedule_landmarks():
    assert lrs(O.InverseSqrt(ready_opt(1.0), warmup=4), 15)[3] == 1.0  # the peak, at update 4
    assert lrs(O.InverseSqrt(ready_opt(1.0), warmup=4), 15)[15] == 0.5  # sqrt(4 / 16)
    cos = lrs(O.Cosine(ready_opt(1.0), total=10, warmup=2, min_lr=0.1), 12)
    assert cos[:3] == [0.5, 1.0, 1.0] and cos[6] == pytest.approx(0.55) and cos[10:] == [0.1, 0.1, 0.1]


def plateau(reports, **kw):
    sched = O.ReduceOnPlateau(ready_opt(1.0), **kw)
    out = []
    for metric in reports:
        sched.report(metric)
        out.append(sched.optimizer.lr)
    return out


def test_plateau_waits_patience_then_reduces_by_factor():
    got = plateau([5, 4, 4, 4, 4, 3, 3, 3, 3], patience=2, factor=0.5)
    assert got == [1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25]


def test_plateau_mode_max_min_lr_threshold_cooldown():
    assert plateau([1, 2, 2, 1, 3], mode="max", patience=1, factor=0.1) == [1, 1, 1, 0.1, 0.1]
    assert plateau([1, 0.99, 0.98, 0.5], patience=0, factor=0.5, threshold=0.05) == [1, 0.5, 0.25, 0.25]
    assert plateau([1] * 6, patience=0, factor=0.1, min_lr=0.05) == [1, 0.1, 0.05, 0.05, 0.05, 0.05]
    assert plateau([1] * 6, patience=0, factor=0.5, cooldown=2) == [1, 0.5, 0.5, 0.5, 0.25, 0.25]


def test_plateau_ignores_step_and_other_schedules_ignore_report():
    sched = O.ReduceOnPlateau(ready_opt(1.0), patience=0)
    for _ in range(5):
        sched.step()
    assert sched.optimizer.lr == 1.0 and sched.t == 5
    step = O.StepDecay(ready_opt(1.0), step_size=1)
    step.report(3.0)
    assert step.optimizer.lr == 1.0


@pytest.mark.parametrize(
    "make",
    [
        lambda o: O.StepDecay(o, step_size=0),
        lambda o: O.InverseSqrt(o, warmup=0),
        lambda o: O.Cosine(o, total=5, warmup=5),
        lambda o: O.ReduceOnPlateau(o, mode="up"),
        lambda o: O.ReduceOnPlateau(o, factor=1.0),
    ],
)
def test_bad_schedule_settings(make):
    with pytest.raises(ValueError, match="must be"):
        make(ready_opt())


# ---- state: resume bit for bit ---------------------------------------------------------------------------------
class Regression(L.Layer):
    def __init__(self, seed):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.lin = L.Linear(4, 3, initialW=rng.standard_normal((3, 4)).astype(np.float32))
        self.extra = Parameter(np.zeros((2,), np.float32))  # never gets a gradient


def regression_step(model, opt, sched, step):
    rng = np.random.default_rng(100 + step)
    x = rng.standard_normal((8, 4)).astype(np.float32)
    y = rng.standard_normal((8, 3)).astype(np.float32)
    opt.zero_grads()
    F.sum((model.lin(x) - y) ** 2).backward()
    opt.update()
    sched.step()
    sched.report(float(step % 3))


OPTIMIZERS = {
    "sgd": lambda: O.SGD(lr=0.01),
    "nesterov": lambda: O.MomentumSGD(lr=0.01, nesterov=True),
    "adam": lambda: O.Adam(lr=0.01),
    "adamw": lambda: O.AdamW(lr=0.01),
}
SCHEDULES = {
    "inverse_sqrt": lambda o: O.InverseSqrt(o, warmup=3),
    "cosine": lambda o: O.Cosine(o, total=8, warmup=2),
    "plateau": lambda o: O.ReduceOnPlateau(o, patience=1, factor=0.5),
    "exponential": lambda o: O.ExponentialDecay(o, gamma=0.9),
}


def build(opt_name, sched_name, seed):
    model = Regression(seed)
    opt = OPTIMIZERS[opt_name]().setup(model, chunk=5)
    opt.add_hook(O.GradientClipping(1.0))
    opt.add_hook(O.WeightDecay(1e-3))
    return model, opt, SCHEDULES[sched_name](opt)


@pytest.mark.parametrize(("opt_name", "sched_name"), [(o, s) for o in OPTIMIZERS for s in SCHEDULES])
def test_resume_is_bitwise_identical(opt_name, sched_name):
    n, k = 10, 4
    straight = build(opt_name, sched_name, seed=0)
    for step in range(n):
        regression_step(*straight, step)

    first = build(opt_name, sched_name, seed=0)
    for step in range(k):
        regression_step(*first, step)
    saved = {"model": first[0].state_dict(), "opt": first[1].state_dict(), "sched": first[2].state_dict()}
    json.dumps({"opt": {key: v for key, v in saved["opt"].items() if not isinstance(v, np.ndarray)}})
    json.dumps(saved["sched"])
    del first

    model, opt, sched = build(opt_name, sched_name, seed=7)  # fresh objects, other initial weights
    model.load_state_dict(saved["model"])
    opt.load_state_dict(saved["opt"])
    sched.load_state_dict(saved["sched"])
    for step in range(k, n):
        regression_step(model, opt, sched, step)

    assert opt.t == straight[1].t == n and opt.lr == straight[1].lr
    assert sched.state_dict() == straight[2].state_dict()
    for (name, a), b in zip(straight[0].named_params(), model.params()):
        assert np.array_equal(a.data, b.data), name
    assert np.array_equal(straight[1].flat.groups[0].data, opt.flat.groups[0].data)


def test_state_dict_is_a_copy_and_load_checks_keys_and_shapes():
    model = Regression(0)
    opt = O.Adam().setup(model)
    state = opt.state_dict()
    assert sorted(state) == ["exp_avg.0", "exp_avg_sq.0", "lr", "t"]
    state["exp_avg.0"] += 1
    assert not opt._state[0][0].any()
    with pytest.raises(ValueError, match=r"missing key 'exp_avg_sq\.0'"):
        opt.load_state_dict({k: v for k, v in state.items() if k != "exp_avg_sq.0"})
    with pytest.raises(ValueError, match=r"unexpected key 'momentum_buffer\.0'"):
        opt.load_state_dict({**state, "momentum_buffer.0": state["exp_avg.0"]})
    bad = {**state, "exp_avg_sq.0": np.zeros(3, np.float32)}
    with pytest.raises(ValueError, match=r"'exp_avg_sq\.0' is \(3,\) float32, expected \(17,\) float32"):
        opt.load_state_dict(bad)
    assert not opt._state[0][0].any() and opt.t == 0  # nothing changed


# ---- API edges and the registry --------------------------------------------------------------------------------
def test_default_threads_follow_omp_num_threads(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert O.flat.default_threads() == 3
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert 1 <= O.flat.default_threads() <= 8
    params = make_params(np.float32)
    assert O.SGD().setup(params, chunk=4, threads=16).flat.groups[0].threads == 8  # 29 elements: 8 chunks


def test_errors():
    with pytest.raises(RuntimeError, match="Adam: call setup"):
        O.Adam().update()
    with pytest.raises(ValueError, match="no parameters"):
        O.Adam().setup([])
    with pytest.raises(TypeError, match="updates Parameters, got ndarray"):
        O.Adam().setup([np.zeros(2)])
    with pytest.raises(ValueError, match="Adam: beta1 must be in"):
        O.Adam(beta1=1.0)
    with pytest.raises(ValueError, match="max_norm must be > 0"):
        O.GradientClipping(0)


def test_optimizers_are_registered_with_options_matching_their_constructors():
    registry = get_plugin_manager().registry("optimizer")
    assert {"sgd", "momentum_sgd", "adam", "adamw"} <= set(registry.names())
    for name in ("sgd", "momentum_sgd", "adam", "adamw"):
        entry = registry.entry(name)
        fields = {f.name: f.default for f in dataclasses.fields(entry.options)}
        signature = inspect.signature(entry.obj).parameters
        assert fields == {k: p.default for k, p in signature.items()}, name
        entry.obj(**dataclasses.asdict(entry.options()))


def test_fits_a_linear_regression():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 5)).astype(np.float32)
    y = x @ rng.standard_normal((5, 2)).astype(np.float32) + 0.5
    model = L.Linear(5, 2)
    opt = O.Adam(lr=0.05).setup(model)
    sched = O.Cosine(opt, total=300, warmup=10)
    for _ in range(300):
        opt.zero_grads()
        loss = F.mean((model(x) - y) ** 2)
        loss.backward()
        opt.update()
        sched.step()
    assert loss.item() < 1e-6


@pytest.mark.gpu
def test_adam_on_gpu_matches_cpu_and_state_moves_between_devices():
    results = []
    for device in ("cpu", "cuda:0"):
        params = make_params(np.float32)
        for p in params:
            p.to_device(device)
        opt = O.Adam(lr=0.01).setup(params)
        opt.add_hook(O.GradientClipping(1.0))
        grads = [[to_device(g, device) for g in step] for step in grad_sequence(3, np.float32)]
        results.append([to_device(a, "cpu") for a in run(opt, params, grads)])
        state = opt.state_dict()
        assert isinstance(state["exp_avg.0"], np.ndarray)
        opt.load_state_dict(state)
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


# ---- the optimizer kit (seqkit.testing.optimizers) on seqkit's optimizers and the documented example --------------
def sgd_step(p, g, state, t, lr):
    return p - lr * g


def momentum_step(p, g, state, t, lr, momentum=0.9, nesterov=False):
    b = state["momentum_buffer"] = momentum * state["momentum_buffer"] + g  # torch.optim.SGD, dampening=0
    return p - lr * (g + momentum * b if nesterov else b)


def adam_step(p, g, state, t, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    p = p * (1 - lr * weight_decay)  # torch.optim.AdamW: decoupled decay first
    m = state["exp_avg"] = beta1 * state["exp_avg"] + (1 - beta1) * g
    v = state["exp_avg_sq"] = beta2 * state["exp_avg_sq"] + (1 - beta2) * g * g
    return p - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)


class TestSGDKit(OptimizerTests):
    name = "sgd"
    kwargs: ClassVar = {"lr": 0.1}
    reference = sgd_step


class TestMomentumSGDKit(OptimizerTests):
    name = "momentum_sgd"
    kwargs: ClassVar = {"lr": 0.1, "momentum": 0.8}
    reference = momentum_step


class TestNesterovKit(OptimizerTests):
    name = "momentum_sgd"
    kwargs: ClassVar = {"lr": 0.1, "momentum": 0.8, "nesterov": True}
    reference = momentum_step


class TestAdamKit(OptimizerTests):
    name = "adam"
    kwargs: ClassVar = {"lr": 0.01, "beta1": 0.8, "beta2": 0.9, "eps": 1e-3}
    reference = adam_step


class TestAdamWKit(OptimizerTests):
    name = "adamw"
    kwargs: ClassVar = {"lr": 0.01, "beta1": 0.8, "beta2": 0.9, "eps": 1e-3, "weight_decay": 0.5}
    reference = adam_step


def test_the_base_class_declares_what_a_subclass_implements():
    assert O.Optimizer.__abstractmethods__ == {"coefficients", "update_chunk"}
    assert O.Optimizer.state_names == () and O.Adam.state_names == ("exp_avg", "exp_avg_sq")

    class NoRule(O.Optimizer):
        def coefficients(self):
            return (self.lr,)

    with pytest.raises(TypeError, match=r"abstract method.*update_chunk"):
        NoRule(0.1)


DOCS_PLUGINS = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"


def optimizer_example() -> str:
    """The optimizer plugin of docs/plugins.md (the python block marked ``<!-- file: plugins/adagrad.py -->``)."""
    text = DOCS_PLUGINS.read_text(encoding="utf-8")
    return text.split("<!-- file: plugins/adagrad.py -->\n```python\n", 1)[1].split("\n```\n", 1)[0] + "\n"


def adagrad_step(p, g, state, t, lr, eps=1e-10):
    state["sum_sq"] = state["sum_sq"] + g * g
    return p - lr * g / (np.sqrt(state["sum_sq"]) + eps)


def test_the_documented_optimizer_passes_the_kit(tmp_path):
    (tmp_path / "adagrad.py").write_text(optimizer_example(), encoding="utf-8")
    pm = get_plugin_manager(plugins_dir=tmp_path, environ={"SEQKIT_LOAD_PLUGINS": "adagrad"}, strict=True)
    registry = pm.registry("optimizer")
    assert registry.entry("adagrad").plugin == "adagrad"
    OptimizerCase("adagrad", adagrad_step, {"lr": 0.1, "eps": 1e-6}, registry).check_all()
    check_optimizer("adagrad", adagrad_step, registry=registry)  # the defaults
