"""The data pipeline on Multi30k train: how fast it reads, tokenises (SentencePiece) and batches, and what that
costs against a training epoch.

Rows: reading + normalising alone; SentencePiece encoding alone; a cold ``load_parallel`` (read, normalise,
tokenise, write the token cache); time to first batch on a second run (cache hit: hash the files, load the
ids, plan the epoch, build the batch); and one epoch of batches padded to ``(B, T)`` on both sides. The last
line puts the per-epoch pipeline cost against a training epoch of the reference workload
(../shared/BENCHMARK.md) at ``--step-ms`` per 64-pair step (default 253 ms, that workload's GEMM floor: no
real step is faster, so the share printed is an upper bound).

Multi30k is read from ``--data-dir``/``$SEQKIT_DATA``, else ``../shared/corpora``. Run with 2 threads:
``python benchmarks/data.py``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "2")

from seqkit import corpora  # noqa: E402
from seqkit.data import BatchIterator, load_parallel, read_parallel  # noqa: E402
from seqkit.tokenizers import SentencePieceTokenizer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def best_of(repeat: int, fn) -> tuple[float, object]:
    """The fastest of ``repeat`` timed calls (seconds) and the last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", help="folder holding multi30k/ (default $SEQKIT_DATA, else ../shared/corpora)")
    p.add_argument("--vocab-size", type=int, default=8000)
    p.add_argument("--max-tokens", type=int, default=1200, help="token budget per batch (~64 Multi30k pairs)")
    p.add_argument("--step-ms", type=float, default=253.0, help="training step time per 64 pairs to compare with")
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()

    data_dir = corpora.data_dir(args.data_dir) or ROOT / ".." / "shared" / "corpora"
    manifest = {m.name: m for m in corpora.builtin_manifests()}["multi30k"]
    src, tgt = corpora.split_paths(manifest, "train", data=data_dir, download=False)

    t_read, pairs = best_of(args.repeat, lambda: list(read_parallel(src, tgt)))
    n = len(pairs)
    texts = [s for pair in pairs for s in pair]
    tok = SentencePieceTokenizer(vocab_size=args.vocab_size)
    t_train, _ = best_of(1, lambda: tok.train(texts))
    t_encode, _ = best_of(args.repeat, lambda: tok.encode_batch(texts))

    with tempfile.TemporaryDirectory() as tmp:
        cold = []
        for i in range(args.repeat):
            cache = Path(tmp) / f"cold{i}"
            start = time.perf_counter()
            load_parallel(src, tgt, tok, tok, cache_dir=cache)
            cold.append(time.perf_counter() - start)

        def first_batch():
            data = load_parallel(src, tgt, tok, tok, cache_dir=Path(tmp) / "cold0")
            assert data.report.cache_hit
            it = BatchIterator(data, args.max_tokens, seed=0)
            next(it)
            return it

        t_first, it = best_of(args.repeat, first_batch)

    def epoch():
        for _ in range(len(it)):
            batch = next(it)
            batch.padded("src")
            batch.padded("tgt")

    t_epoch, _ = best_of(args.repeat, epoch)
    steps = len(it)
    train_epoch = n / 64 * args.step_ms / 1e3
    print(f"Multi30k train: {n} pairs, {len(texts)} sentences; SentencePiece unigram, vocabulary {args.vocab_size}")
    print(f"  train the tokenizer (once per run)      {t_train:8.2f} s")
    print(f"  read + normalise                        {t_read:8.3f} s   {len(texts) / t_read:10,.0f} sentences/s")
    print(f"  SentencePiece encode (2 threads)        {t_encode:8.3f} s   {len(texts) / t_encode:10,.0f} sentences/s")
    t_cold = min(cold)
    print(f"  first run: read, tokenise, cache        {t_cold:8.3f} s   {len(texts) / t_cold:10,.0f} sentences/s")
    print(f"  second run: time to first batch         {t_first * 1e3:8.1f} ms  (cache hit)")
    print(
        f"  one epoch of batches, padded            {t_epoch:8.3f} s   {n / t_epoch:10,.0f} pairs/s, "
        f"{steps} batches of {n / steps:.0f} pairs on average"
    )
    print(
        f"  vs a training epoch at {args.step_ms:.0f} ms per 64 pairs ({train_epoch:.0f} s): batching "
        f"{100 * t_epoch / train_epoch:.2f}% per epoch; first epoch with tokenising "
        f"{100 * (t_epoch + t_cold) / train_epoch:.2f}%"
    )


if __name__ == "__main__":
    main()
