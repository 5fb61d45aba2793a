"""The accumulating SGD updater: k accumulated batches step like one batch k times larger."""

import numpy
import pytest
import seqkit.functions as F
from seqkit.layers import Linear

from seqkit_example import AccumulatingSGD, AccumulatingSGDOptions


def mse(model, batch):
    x, t = batch
    return F.mean((model(x) - t) ** 2)


def batches(n, size, seed=0):
    """``n`` batches of ``size`` examples of a linear map plus a little noise."""
    rng = numpy.random.default_rng(seed)
    A = numpy.arange(6.0).reshape(3, 2) / 6
    out = []
    for _ in range(n):
        x = rng.standard_normal((size, 3))
        out.append((x, x @ A + 0.01 * rng.standard_normal((size, 2))))
    return out


def model(like=None):
    m = Linear(3, 2, dtype="float64")
    if like is not None:
        m.load_state_dict(like.state_dict())
    return m


def test_accumulated_step_equals_one_big_batch():
    small = batches(4, 5)
    a = model()
    b, before = model(like=a), model(like=a)
    report = AccumulatingSGD(a, mse, lr=0.5, accumulate=4).update(small)
    big = (numpy.concatenate([x for x, _ in small]), numpy.concatenate([t for _, t in small]))
    AccumulatingSGD(b, mse, lr=0.5, accumulate=1).update([big])
    for name, value in a.state_dict().items():
        numpy.testing.assert_allclose(value, b.state_dict()[name], rtol=1e-12)
    assert report["batches"] == 4
    assert report["loss"] == pytest.approx(numpy.mean([mse(before, batch).item() for batch in small]))


def test_takes_k_batches_at_a_time_from_an_iterator_and_loss_falls():
    m = model()
    updater = AccumulatingSGD(m, mse, lr=0.1, accumulate=3)
    data = iter(batches(7, 4))
    reports = [updater.update(data) for _ in range(3)]
    assert [r["batches"] for r in reports] == [3, 3, 1] and updater.iteration == 3
    with pytest.raises(ValueError, match="no batches"):
        updater.update(data)
    fixed = batches(1, 8, seed=1)
    losses = [updater.update(fixed)["loss"] for _ in range(30)]
    assert losses[-1] < losses[0] / 10


def test_state_dict_round_trip_and_bad_options():
    u = AccumulatingSGD(model(), mse, lr=0.2, accumulate=2)
    u.update(batches(2, 3))
    v = AccumulatingSGD(model(), mse)
    v.load_state_dict(u.state_dict())
    assert v.state_dict() == {"iteration": 1, "lr": 0.2, "accumulate": 2}
    with pytest.raises(ValueError, match="accumulate must be a positive integer"):
        AccumulatingSGD(model(), mse, accumulate=0)
    with pytest.raises(ValueError, match="lr must be positive"):
        AccumulatingSGD(model(), mse, lr=0)


def test_found_by_name(seqkit_plugin_manager):
    entry = seqkit_plugin_manager.registry("updater").entry("accumulating_sgd")
    assert entry.obj is AccumulatingSGD and entry.options is AccumulatingSGDOptions
    options = AccumulatingSGDOptions(accumulate=2)
    assert entry.obj(model(), mse, **vars(options)).accumulate == 2
