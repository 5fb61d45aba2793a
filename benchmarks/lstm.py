"""LSTM forward + backward, side by side in one run: seqkit, PyTorch (when installed), and the GEMM floor.

Workload (../shared/BENCHMARK.md): batch 64, up to 30 steps of mixed lengths, input 256, hidden 512, float32;
a 1-layer LSTM and a 2-layer bidirectional one. Rows:

- GEMM floor: NumPy running exactly the matrix products a packed LSTM needs (input projections, one
  recurrent product per step on the shrinking batch, and their backward), with no elementwise work;
- seqkit ``L.LSTM`` (fused whole-sequence op) and an ``L.LSTMCell`` loop in Python (padded batch);
- PyTorch ``nn.LSTM`` on a packed sequence and an ``nn.LSTMCell`` loop (padded batch), when torch imports.

Run with 2 threads: ``python benchmarks/lstm.py`` (it sets OMP/OpenBLAS/MKL threads to 2 unless already set).
The rows of a table are timed in turns (one call of each, ``--repeat`` times; medians).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "2")

import numpy as np  # noqa: E402

import seqkit  # noqa: E402
import seqkit.functions as F  # noqa: E402
import seqkit.layers as L  # noqa: E402
from seqkit.functions.rnn import batch_sizes_of  # noqa: E402

B, T, D, H = 64, 30, 256, 512


def median_ms(steps: list, repeat: int, warmup: int = 2) -> list[float]:
    """Median ms per call of each of ``steps``, timed in turns (one call of each, ``repeat`` times), so that a
    slow spell of a shared machine falls on every row alike and their ratios hold."""
    for step in steps:
        for _ in range(warmup):
            step()
    times: list[list[float]] = [[] for _ in steps]
    for _ in range(repeat):
        for step, spent in zip(steps, times):
            t = time.perf_counter()
            step()
            spent.append(time.perf_counter() - t)
    return [statistics.median(spent) * 1e3 for spent in times]


def timed(rows: list, repeat: int) -> list[tuple[str, float]]:
    return list(zip([name for name, _ in rows], median_ms([step for _, step in rows], repeat)))


def make_lengths(rng) -> list[int]:
    lengths = np.clip(np.round(rng.gamma(8.5, 20 / 8.5, size=B)), 2, T).astype(int)
    lengths[0] = T
    return lengths.tolist()


def gemm_floor(lengths, layers: int, directions: int, rng):
    """The matrix products of a packed LSTM's forward and backward, on the same shapes, in NumPy."""
    bs = batch_sizes_of(sorted(lengths, reverse=True))
    N = sum(lengths)
    w = {k: rng.standard_normal(s).astype(np.float32) for k, s in {"x": (N, D), "h": (N, H * directions)}.items()}
    W_in = {d_in: rng.standard_normal((directions * 4 * H, d_in)).astype(np.float32) for d_in in (D, H * directions)}
    W_hh = rng.standard_normal((4 * H, H)).astype(np.float32)
    g = rng.standard_normal((N, directions * 4 * H)).astype(np.float32)
    g1 = rng.standard_normal((N, 4 * H)).astype(np.float32)
    h_small = {b: rng.standard_normal((b, H)).astype(np.float32) for b in set(bs)}
    g_small = {b: rng.standard_normal((b, 4 * H)).astype(np.float32) for b in set(bs)}
    hprev = rng.standard_normal((N, H)).astype(np.float32)

    def step():
        for layer in range(layers):
            x = w["x"] if layer == 0 else w["h"]
            Wi = W_in[x.shape[1]]
            x @ Wi.T  # input projections, both directions
            g @ Wi  # their gradient w.r.t. the input
            g.T @ x  # and w.r.t. the weights
            for _ in range(directions):
                for b in bs:
                    h_small[b] @ W_hh.T  # recurrent product per step
                    g_small[b] @ W_hh  # its backward per step
                g1.T @ hprev  # recurrent weight gradient, one GEMM

    return step


def seqkit_fused(lengths, layers, bidirectional, rng):
    lstm = L.LSTM(D, H, layers, bidirectional=bidirectional)
    xs = [rng.standard_normal((n, D)).astype(np.float32) for n in lengths]

    def step():
        lstm.zero_grads()
        ys, _ = lstm(xs)
        F.sum(F.concat(ys, axis=0)).backward()

    return step


def seqkit_cells(lengths, rng):
    cell = L.LSTMCell(D, H)
    x = rng.standard_normal((T, B, D)).astype(np.float32)

    def step():
        cell.zero_grads()
        h, c = cell(x[0])
        total = F.sum(h)
        for t in range(1, T):
            h, c = cell(x[t], (h, c))
            total = total + F.sum(h)
        total.backward()

    return step


def torch_rows(lengths, layers, bidirectional, rng):
    import torch
    from torch.nn.utils.rnn import pack_sequence

    torch.set_num_threads(2)
    lstm = torch.nn.LSTM(D, H, layers, bidirectional=bidirectional)
    xs = [torch.tensor(rng.standard_normal((n, D)).astype(np.float32)) for n in lengths]

    def packed():
        lstm.zero_grad()
        out, _ = lstm(pack_sequence(xs, enforce_sorted=False))
        out.data.sum().backward()

    rows = [("pytorch nn.LSTM (packed)", packed)]
    if layers == 1 and not bidirectional:
        cell = torch.nn.LSTMCell(D, H)
        x = torch.tensor(rng.standard_normal((T, B, D)).astype(np.float32))

        def cells():
            cell.zero_grad()
            h, c = cell(x[0])
            total = h.sum()
            for t in range(1, T):
                h, c = cell(x[t], (h, c))
                total = total + h.sum()
            total.backward()

        rows.append(("pytorch LSTMCell loop", cells))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="one timed call per row (a smoke run)")
    args = parser.parse_args()
    seqkit.keep_freed_host_memory()  # as a training job does: freed temporaries stay in malloc
    if args.quick:
        args.repeat = 1
    rng = np.random.default_rng(0)
    seqkit.random.seed(0)
    lengths = make_lengths(rng)
    tokens = sum(lengths)
    print(f"LSTM forward+backward: B={B}, T<={T}, {tokens} tokens, in={D}, hidden={H}, float32, "
          f"threads={os.environ['OMP_NUM_THREADS']}, numpy {np.__version__}")
    configs = ((1, False), (2, True))
    rows = {}
    for layers, bidirectional in configs:
        rows[layers] = [("GEMM floor (numpy)", gemm_floor(lengths, layers, 2 if bidirectional else 1, rng))]
        rows[layers].append(("seqkit L.LSTM (fused)", seqkit_fused(lengths, layers, bidirectional, rng)))
        if layers == 1:
            rows[layers].append(("seqkit LSTMCell loop", seqkit_cells(lengths, rng)))
    with contextlib.suppress(ImportError):
        for layers, bidirectional in configs:
            rows[layers] += torch_rows(lengths, layers, bidirectional, rng)
    # every row of a table in turns, PyTorch's too (its OpenMP threads, still spinning after its call, slowed
    # the next seqkit call by 2-3% when measured: less than a machine's slow spells, which turns even out)
    results = {layers: timed(rows[layers], args.repeat) for layers, _ in configs}
    for layers, bidirectional in configs:
        table = results[layers]
        floor = table[0][1]
        torch_ms = dict(table).get("pytorch nn.LSTM (packed)")
        print(f"\n{layers} layer{'s' if layers > 1 else ''}{', bidirectional' if bidirectional else ''}")
        print(f"{'':28}{'ms/iter':>9}{'tokens/s':>10}{'x floor':>9}{'x torch':>9}")
        for name, ms in table:
            vs = f"{ms / torch_ms:9.2f}" if torch_ms else f"{'-':>9}"
            print(f"{name:28}{ms:9.1f}{tokens / ms * 1e3:10.0f}{ms / floor:9.2f}{vs}")
    try:
        import torch  # noqa: F401
    except ImportError:
        print("\n(torch not installed: `pip install torch==2.13.0` in a separate venv adds its rows)")


if __name__ == "__main__":
    main()
