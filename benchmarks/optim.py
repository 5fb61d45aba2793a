"""One Adam step over the reference model's parameters: flat buffers vs. a per-parameter loop, and the floor.

Parameters: the shapes of the reference encoder-decoder (../shared/BENCHMARK.md) built from seqkit's own
layers: 16,334,656 float32 scalars in 18 arrays (PyTorch's layout has two LSTM biases per layer, hence its
16,342,848 in 22). Rows, median ms per step:

- memory floor: the bytes an Adam step must move (read p, g, m, v; write p, m, v: 28 bytes per parameter)
  at the bandwidth of a large ``a += b`` on the same threads, measured in the same run;
- ``seqkit.optim.Adam`` on flat buffers, gradients already in the flat buffer (what the step itself costs),
  with its default threads (``OMP_NUM_THREADS``, set to 2 here unless already set);
- the same plus copying fresh gradients into the flat buffer (the cost after ``zero_grads(set_to_none=True)``,
  when backward leaves each gradient in its own array; after ``zero_grads()`` backward accumulates into the
  flat buffer in place and there is nothing to copy);
- the same flat update on one thread, and on one thread without cache blocking (one pass over memory per
  NumPy operation);
- a per-parameter loop (one thread) running the same in-place operations on each parameter's own arrays;
- a per-parameter loop in the textbook form with temporaries (Chainer's ``update_core_cpu`` style).

Also the global gradient norm (one ``vdot`` over the flat buffer vs. one per parameter) and the gradient
reset (one fill vs. one per parameter). Run:

    python benchmarks/optim.py [--repeat 10] [--device cuda:0]
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "2")

import numpy as np  # noqa: E402

import seqkit  # noqa: E402
import seqkit.layers as L  # noqa: E402
import seqkit.optim as O  # noqa: E402
from seqkit import Device, Parameter, Variable, to_device  # noqa: E402
from seqkit.optim.flat import default_threads  # noqa: E402

B1, B2, EPS, LR = 0.9, 0.999, 1e-8, 1e-3


def reference_shapes() -> list[tuple[int, ...]]:
    """Parameter shapes of the reference model, from the layers that build it."""
    layers = [
        L.Embedding(8000, 256),
        L.Embedding(8000, 256),
        L.LSTM(256, 512, 2),
        L.LSTM(256, 512, 2),
        L.Linear(512, 512, bias=False),
        L.Linear(1024, 512, bias=False),
        L.Linear(512, 8000),
    ]
    return [p.shape for layer in layers for p in layer.params()]


def median_ms(step, repeat: int, sync) -> float:
    step()
    sync()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def adam_inplace(xp, p, g, m, v, tmp, t: int) -> None:
    """The operations of ``seqkit.optim.Adam`` on one array."""
    root_bc2 = math.sqrt(1 - B2**t)
    xp.subtract(g, m, out=tmp)
    tmp *= 1 - B1
    m += tmp
    v *= B2
    xp.multiply(g, g, out=tmp)
    tmp *= 1 - B2
    v += tmp
    xp.sqrt(v, out=tmp)
    tmp += EPS * root_bc2
    xp.divide(m, tmp, out=tmp)
    tmp *= LR * root_bc2 / (1 - B1**t)
    p -= tmp


def adam_textbook(xp, p, g, m, v, t: int) -> None:
    m += (1 - B1) * (g - m)
    v += (1 - B2) * (g * g - v)
    p -= LR / (1 - B1**t) * m / (xp.sqrt(v / (1 - B2**t)) + EPS)


def bandwidth(xp, n: int, threads: int, repeat: int, sync) -> float:
    """Bytes per second of ``a += b`` over two ``n``-element float32 arrays (reads two, writes one), the
    arrays cut into ``threads`` parts added on as many threads (on a GPU: one call)."""
    a, b = xp.ones(n, np.float32), xp.ones(n, np.float32)
    cuts = [slice(i * n // threads, (i + 1) * n // threads) for i in range(threads)]
    with ThreadPoolExecutor(threads) as pool:

        def add():
            list(pool.map(lambda s: xp.add(a[s], b[s], out=a[s]), cuts))

        return 3 * a.nbytes / (median_ms(add, repeat, sync) / 1e3)


def time_flat(host, grads, device, repeat: int, sync, fresh_grads=False, **setup) -> tuple[float, float, float]:
    """ms per ``Adam.update()`` on flat buffers (``setup``: chunk, threads), per global gradient norm, and per
    gradient reset (``zero_grads()``)."""
    params = [Parameter(to_device(h, device)) for h in host]
    opt = O.Adam(lr=LR).setup(params, **setup)
    grad_vars = [Variable(g, requires_grad=False) for g in grads]

    def bind():
        for p, g in zip(params, grad_vars):
            p._grad = g

    def step():
        if fresh_grads:  # as after backward: every gradient its own array, copied into the flat buffer
            bind()
        opt.update()

    bind()
    opt.flat.gather_grads()
    return (
        median_ms(step, repeat, sync),
        median_ms(lambda: O.global_norm(opt), repeat, sync),
        median_ms(opt.zero_grads, repeat, sync),
    )


def time_loops(host, grads, device, repeat: int, sync) -> tuple[float, float, float, float]:
    """ms per per-parameter Adam step (same in-place ops; textbook form), norm, and gradient reset."""
    xp = device.xp
    params = [to_device(h, device) for h in host]
    moments = [(xp.zeros_like(p), xp.zeros_like(p)) for p in params]
    scratch = [xp.empty_like(p) for p in params]
    counter = [0]

    def loop_inplace():
        counter[0] += 1
        for p, g, (m, v), tmp in zip(params, grads, moments, scratch):
            adam_inplace(xp, p, g, m, v, tmp, counter[0])

    def loop_textbook():
        counter[0] += 1
        for p, g, (m, v) in zip(params, grads, moments):
            adam_textbook(xp, p, g, m, v, counter[0])

    def norm():
        return math.sqrt(sum(float(xp.vdot(g, g)) for g in grads))

    def reset():
        for tmp in scratch:
            tmp.fill(0)

    return (
        median_ms(loop_inplace, repeat, sync),
        median_ms(loop_textbook, repeat, sync),
        median_ms(norm, repeat, sync),
        median_ms(reset, repeat, sync),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--device", default="cpu", help="cpu or cuda:N")
    args = parser.parse_args()
    seqkit.keep_freed_host_memory()  # as a training job does: freed temporaries stay in malloc
    device = Device(args.device)
    xp = device.xp
    sync = (lambda: xp.cuda.Device(device.index).synchronize()) if device.kind == "cuda" else (lambda: None)
    shapes = reference_shapes()
    n = sum(math.prod(s) for s in shapes)
    rng = np.random.default_rng(0)
    host = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads = [to_device(a * 1e-2, device) for a in host]

    threads = default_threads() if device.kind == "cpu" else 1
    bytes_per_s = bandwidth(xp, n, threads, args.repeat, sync)
    flat, norm_flat, reset_flat = time_flat(host, grads, device, args.repeat, sync)
    gather = time_flat(host, grads, device, args.repeat, sync, fresh_grads=True)[0]
    one_thread = time_flat(host, grads, device, args.repeat, sync, threads=1)[0]
    unblocked = time_flat(host, grads, device, args.repeat, sync, chunk=n)[0]
    inplace, textbook, norm_loop, reset_loop = time_loops(host, grads, device, args.repeat, sync)
    rows = [
        ("memory floor (28 B/param)", 28 * n / bytes_per_s * 1e3),
        (f"flat, seqkit.optim.Adam, {threads} thr", flat),
        ("flat, + gathering gradients", gather),
        ("flat, 1 thread", one_thread),
        ("flat, 1 thread, no blocking", unblocked),
        ("per-parameter loop, same ops", inplace),
        ("per-parameter loop, textbook", textbook),
    ]
    where = f"{platform.machine()}, {device}, Python {platform.python_version()}, numpy {np.__version__}"
    print(f"Adam step over {n:,} float32 parameters in {len(shapes)} arrays ({where})")
    print(f"stream bandwidth {bytes_per_s / 1e9:.1f} GB/s; medians of {args.repeat}")
    print(f"{'':32}{'ms':>9}{'x floor':>9}{'x flat':>9}")
    for name, ms in rows:
        print(f"{name:32}{ms:9.2f}{ms / rows[0][1]:9.2f}{ms / flat:9.2f}")
    print(f"global gradient norm: flat {norm_flat:.2f} ms, per-parameter {norm_loop:.2f} ms")
    print(f"gradient reset (fill with zeros): flat {reset_flat:.2f} ms, per-parameter {reset_loop:.2f} ms")


if __name__ == "__main__":
    main()
