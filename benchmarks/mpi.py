"""Data-parallel training over MPI: tokens/s with 1 and 2 processes, and the share of a step spent in all-reduce.

The model is the reference attention encoder-decoder of benchmarks/train.py (16.3 M parameters: a 65 MB float32
gradient buffer, all-reduced once per step). Each process trains on its own batch of 64 Multi30k-like pairs
(weak scaling, as data-parallel training is used: the global batch grows with the processes) through the
``mpi`` updater of plugins/seqkit-mpi and its MPI communicator, with one BLAS thread per process. Rows:

- 1 process, 1 thread, and 1 process, 2 threads (the single-process baseline on the whole machine);
- 2 processes, 1 thread each: the same two cores shared by data parallelism.

For each: median ms per step over ``--steps`` steps after ``--warmup``, target tokens/s over all processes,
and the median fraction of the step spent in the gradient all-reduce (counts, gradients, loss; measured on
rank 0, including any wait for the slower rank). Needs the seqkit-mpi plugin (it brings mpi4py and MPICH):
``pip install ./plugins/seqkit-mpi``; run ``python benchmarks/mpi.py``. A machine with more cores than
processes, or several machines (see docs/distributed.md), is where the speed-up itself shows; on two cores
the point is correctness and the price of the communication.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def worker(steps: int, warmup: int) -> None:
    import numpy as np
    from seqkit_mpi import MPICommunicator, MPIUpdater

    import seqkit
    from seqkit.data import Batch
    from seqkit.models.seq2seq import Seq2Seq
    from seqkit.optim import Adam

    sys.path.insert(0, str(ROOT))
    from train import BOS, EOS, PAD, REFERENCE, V, pair_lengths

    comm = MPICommunicator()
    rng = np.random.default_rng(comm.rank)  # each process its own batch of 64 pairs, the same every step
    src_len, tgt_len = pair_lengths(rng, 64 * comm.size, 13.0)
    src = [rng.integers(4, V, size=n) for n in src_len]
    tgt = [rng.integers(4, V, size=n) for n in tgt_len]
    order = np.argsort(np.maximum(src_len, tgt_len))  # a length-sorted batch, shared out by rank as the updater does
    batch = Batch(order, [src[i] for i in order], [tgt[i] for i in order])

    class Repeat:
        epoch, epoch_detail, is_new_epoch = 0, 0.0, False

        def __next__(self):
            return batch

    seqkit.random.seed(0)
    model = Seq2Seq(V, V, REFERENCE, pad_id=PAD, bos_id=BOS, eos_id=EOS)
    updater = MPIUpdater(Repeat(), model, Adam(lr=1e-3).setup(model), comm=comm)
    times, shares = [], []
    for i in range(warmup + steps):
        comm.barrier()
        before, start = updater.allreduce_seconds, time.perf_counter()
        tokens = updater.update()["tokens"]
        elapsed = time.perf_counter() - start
        if i >= warmup:
            times.append(elapsed)
            shares.append((updater.allreduce_seconds - before) / elapsed)
    if comm.rank == 0:
        ms = statistics.median(times) * 1e3
        print(json.dumps({"ms": ms, "tokens": tokens, "allreduce": statistics.median(shares),
                          "params": sum(p.size for p in model.params())}))  # fmt: skip


def run(processes: int, threads: int, args) -> dict:
    mpirun = shutil.which("mpirun", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    if mpirun is None:
        sys.exit("mpirun not found: pip install ./plugins/seqkit-mpi (it brings MPICH and mpi4py)")
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads),
           "MKL_NUM_THREADS": str(threads)}  # fmt: skip
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        env.pop(var, None)
    print(f"  {processes} process(es) x {threads} thread(s) ...", file=sys.stderr, flush=True)
    cmd = [mpirun, "-n", str(processes), sys.executable, __file__, "--worker", "--steps", str(args.steps),
           "--warmup", str(args.warmup)]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        sys.exit(f"{processes} processes failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10, help="timed steps (median reported)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="1 step without warm-up (a smoke run)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    import seqkit

    seqkit.keep_freed_host_memory()  # as a training job does: freed temporaries stay in malloc
    if args.quick:
        args.steps, args.warmup = 1, 0
    if args.worker:
        worker(args.steps, args.warmup)
        return
    rows = [("1 process x 1 thread", run(1, 1, args)), ("1 process x 2 threads", run(1, 2, args)),
            ("2 processes x 1 thread", run(2, 1, args))]  # fmt: skip
    base = rows[0][1]
    print(f"\nData-parallel training step, reference model ({base['params']:,} parameters), 64 pairs per process, "
          f"{os.cpu_count()} CPUs, median of {args.steps} steps\n")  # fmt: skip
    print(f"| {'':24} | {'ms/step':>8} | {'tokens/s':>9} | {'x 1 process':>11} | {'all-reduce share':>16} |")
    print(f"|{'-' * 26}|{'-' * 9}:|{'-' * 10}:|{'-' * 12}:|{'-' * 17}:|")
    for name, r in rows:
        rate = r["tokens"] / r["ms"] * 1e3
        speedup = rate / (base["tokens"] / base["ms"] * 1e3)
        print(f"| {name:24} | {r['ms']:8.0f} | {rate:9.0f} | {speedup:10.2f}x | {r['allreduce']:15.1%} |")


if __name__ == "__main__":
    main()
