"""Per-op overhead of define-by-run autograd on a tiny graph, side by side in one run.

Graph: y = sum(tanh(x @ W + b)) with x 1x8, W 8x8, b 8 (4 ops), forward + backward, in microseconds per op.
Rows: NumPy by hand (forward and backward without autograd: the floor), seqkit, and PyTorch eager on the
CPU when torch is installed. Ratios are against the floor and against PyTorch. Run:

    python benchmarks/op_overhead.py [--repeat 20000]
"""

from __future__ import annotations

import argparse
import os
import platform
import timeit

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

import seqkit  # noqa: E402
import seqkit.functions as F  # noqa: E402

N_OPS = 4


def numpy_step(x, W, b):
    h = x @ W + b
    y = np.tanh(h)
    loss = y.sum()
    gy = np.ones_like(y)
    gh = gy * (1 - y * y)
    return loss, x.T @ gh, gh @ W.T, gh.sum(axis=0)


def make_seqkit(x, W, b):
    xv, Wv, bv = seqkit.Variable(x), seqkit.Parameter(W), seqkit.Parameter(b)

    def step():
        Wv._grad = bv._grad = xv._grad = None
        loss = F.sum(F.tanh(xv @ Wv + bv))
        loss.backward()
        return loss

    return step


def make_torch(x, W, b):
    import torch

    torch.set_num_threads(1)
    xt, Wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, W, b))

    def step():
        xt.grad = Wt.grad = bt.grad = None
        loss = torch.tanh(xt @ Wt + bt).sum()
        loss.backward()
        return loss

    return step


def per_op_us(fn, repeat: int) -> float:
    fn()
    best = min(timeit.repeat(fn, number=repeat, repeat=5))
    return best / repeat / N_OPS * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20000)
    args = parser.parse_args()
    seqkit.keep_freed_host_memory()  # as a training job does: freed temporaries stay in malloc
    rng = np.random.default_rng(0)
    x, W, b = (rng.standard_normal(s).astype(np.float32) for s in ((1, 8), (8, 8), (8,)))

    rows = [("numpy by hand (floor)", per_op_us(lambda: numpy_step(x, W, b), args.repeat))]
    rows.append(("seqkit", per_op_us(make_seqkit(x, W, b), args.repeat)))
    try:
        rows.append(("pytorch eager", per_op_us(make_torch(x, W, b), args.repeat)))
    except ImportError:
        print("(torch not installed: install torch==2.13.0 in a separate venv for the side-by-side row)")
    floor = rows[0][1]
    torch_us = dict(rows).get("pytorch eager")
    where = f"{platform.machine()}, Python {platform.python_version()}, numpy {np.__version__}"
    print(f"per-op overhead, forward+backward, {where}")
    print(f"{'':24}{'us/op':>9}{'x floor':>9}{'x torch':>9}")
    for name, us in rows:
        vs_torch = f"{us / torch_us:9.2f}" if torch_us else f"{'-':>9}"
        print(f"{name:24}{us:9.2f}{us / floor:9.2f}{vs_torch}")


if __name__ == "__main__":
    main()
