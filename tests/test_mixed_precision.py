"""Mixed precision: float16 matrix products with float32 master weights and dynamic loss scaling."""

import numpy as np
import pytest

import seqkit
import seqkit.functions as F
from seqkit import Parameter, Variable
from seqkit.models.seq2seq import Seq2Seq, Seq2SeqOptions
from seqkit.optim import Adam
from seqkit.training import LossScaler, StandardUpdater


def test_cast_changes_the_dtype_and_its_gradient_changes_it_back():
    x = Variable(np.array([1.5, -2.25, 3.0]))
    y = F.cast(x, np.float32)
    assert y.dtype == np.float32 and F.cast(x, np.float64) is x
    (gx,) = seqkit.grad([F.sum(y * y)], [x], create_graph=True)
    assert gx.dtype == np.float64 and gx.data.tolist() == [3.0, -4.5, 6.0]
    (ggx,) = seqkit.grad([F.sum(gx)], [x])
    assert ggx.dtype == np.float64 and ggx.data.tolist() == [2.0, 2.0, 2.0]


@pytest.mark.parametrize("op", ["linear", "matmul"])
def test_autocast_runs_products_in_float16_and_returns_float32(op):
    rng = np.random.default_rng(0)
    W = Parameter(rng.standard_normal((6, 5)).astype(np.float32))
    x = rng.standard_normal((4, 5)).astype(np.float32)

    def run():
        W.zero_grad()
        y = F.linear(x, W) if op == "linear" else F.matmul(x, W, transb=True)
        F.sum(y * y).backward()
        return y.data, W.grad

    y32, g32 = run()
    with seqkit.using_config("autocast", "float16"):
        y16, g16 = run()
    assert y16.dtype == np.float32 and g16.dtype == np.float32
    assert not np.array_equal(y16, y32)  # float16 rounding happened...
    np.testing.assert_allclose(y16, y32, rtol=1e-2, atol=1e-2)  # ...and only that
    np.testing.assert_allclose(g16, g32, rtol=2e-2, atol=2e-2)
    x64, W64 = x.astype(np.float64), W.data.astype(np.float64)
    with seqkit.using_config("autocast", "float16"):  # only float32 is cast: float64 stays as it is
        y64 = F.linear(x64, W64)
    assert y64.dtype == np.float64 and np.array_equal(y64.data, F.linear(x64, W64).data)


def test_loss_scaler_skips_overflowing_steps_and_grows_after_good_ones():
    p = Parameter(np.ones(3, np.float32), name="p")
    opt = Adam(lr=0.1).setup([p])
    scaler = LossScaler(scale=8.0, growth_interval=2)
    opt.zero_grads()
    p.grad = np.array([8.0, np.inf, 0.0], np.float32)
    assert not scaler.unscale(opt) and scaler.scale == 4.0  # overflow: skip, halve
    opt.zero_grads()
    p.grad = np.array([4.0, 8.0, 0.0], np.float32)
    assert scaler.unscale(opt) and p.grad.tolist() == [1.0, 2.0, 0.0] and scaler.scale == 4.0
    opt.zero_grads()
    p.grad = np.array([4.0, 4.0, 4.0], np.float32)
    assert scaler.unscale(opt) and scaler.scale == 8.0  # two good steps in a row: grow
    again = LossScaler()
    again.load_state_dict(scaler.state_dict())
    assert (again.scale, again.good_steps) == (8.0, 2)


class _Repeat:
    """An iterator over the same few batches, shaped like BatchIterator."""

    epoch, epoch_detail, is_new_epoch = 0, 0.0, False

    def __init__(self, batches):
        self.batches, self.i = batches, 0

    def __next__(self):
        self.i += 1
        return self.batches[self.i % len(self.batches)]

    def state_dict(self):
        return {}


def _losses(mixed: bool, steps: int = 15) -> list[float]:
    from seqkit.data import Batch

    rng = np.random.default_rng(0)
    batches = []
    for _ in range(3):
        src = [rng.integers(4, 30, size=int(n)) for n in rng.integers(2, 9, size=8)]
        batches.append(Batch(np.arange(8), src, [s[::-1] for s in src]))
    seqkit.random.seed(0)
    options = Seq2SeqOptions(embed_size=16, hidden_size=16, encoder_layers=1, decoder_layers=1, dropout=0.0)
    model = Seq2Seq(30, 30, options)
    updater = StandardUpdater(_Repeat(batches), model, Adam(lr=0.01).setup(model))
    if mixed:
        updater.scaler = LossScaler()
    with seqkit.using_config("autocast", "float16" if mixed else None):
        return [float(updater.update()["loss"]) for _ in range(steps)]


def test_the_mixed_precision_loss_curve_follows_float32():
    full, mixed = _losses(False), _losses(True)
    np.testing.assert_allclose(mixed, full, rtol=1e-2)
    assert mixed[-1] < 0.8 * mixed[0]
