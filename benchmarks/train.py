"""One training step of the reference attention encoder-decoder, side by side in one run: seqkit, PyTorch eager
(when installed), and the GEMM floor.

Workload (../shared/BENCHMARK.md): embeddings 8000 x 256, a 2-layer unidirectional LSTM encoder and a 2-layer
LSTM decoder (hidden 512, initial state = encoder final state, teacher forcing, no input feeding), Luong general
attention with the source padding masked, ``tanh(W_c [c; h])`` without bias, output layer over 8000, mean
cross-entropy over the real target tokens (EOS included), Adam lr 1e-3, no dropout. One batch of 64 pairs with
Multi30k-like lengths (fixed seed), and the fixed-length-20 variant. Rows, median ms per step (forward,
backward, update) over ``--steps`` steps after ``--warmup`` warm-up steps:

- GEMM floor: NumPy running exactly the matrix products of this workload, forward and backward, on the same
  shapes (LSTMs packed: one input-projection GEMM per layer, one recurrent product per step on the shrinking
  batch; attention batched over the padded ``(B, T, S)``; combine and output layers on the real target rows);
- seqkit ``Seq2Seq`` with ``Adam`` (16,334,656 parameters: one LSTM bias per layer where PyTorch has two);
- PyTorch: the same model written with ``nn.Embedding``, ``nn.LSTM`` on packed sequences and ``torch.optim.Adam``
  (16,342,848 parameters), when torch imports.

Every row runs in its own fresh process (this script again, with ``--worker``), so that its peak RSS
(``resource.getrusage``) is its own and no library's threads or allocator state leak into another row; the
rows still run one after the other in this one run, which is the only place their ratios mean anything.

A second section times one training step of the models of recipes/quickstart.toml and
recipes/multi30k-en-de-lstm.toml (each with its vocabulary size, dropout, label smoothing, tied embeddings,
optimizer and gradient clipping) on one batch as its batch iterator would cut it: pairs of Tatoeba-like
lengths (mean ~9 subword tokens) or Multi30k-like ones (mean ~13) sorted by length and cut at the recipe's
``training.max_tokens`` padded tokens; the batch holding the median pair. seqkit only.

Run with 2 threads (set here unless already set): ``python benchmarks/train.py [--steps 25] [--warmup 3]``;
``--quick`` times 1 step without warm-up (a smoke run). Unset ``OPENBLAS_CORETYPE`` and
``OPENBLAS_L2_SIZE`` for the command, if the machine sets them: they slow NumPy's GEMMs.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "2")

import numpy as np  # noqa: E402

import seqkit  # noqa: E402
from seqkit.functions.rnn import batch_sizes_of  # noqa: E402
from seqkit.models.seq2seq import Seq2Seq, Seq2SeqOptions  # noqa: E402
from seqkit.optim import Adam, GradientClipping  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
V, E, H, LAYERS, B = 8000, 256, 512, 2, 64
PAD, BOS, EOS = 0, 2, 3  # seqkit's defaults; ids 4.. are words
SEQKIT_PARAMS, TORCH_PARAMS = 16_334_656, 16_342_848
VARIANTS = {"multi30k": "Multi30k-like lengths", "fixed20": "fixed length 20"}
#: recipes timed in the second section, with the (mean, Gamma shape) of their pairs' lengths
RECIPES = {"quickstart": (9.0, 6.0), "multi30k-en-de-lstm": (13.0, 8.5)}
REFERENCE = Seq2SeqOptions(embed_size=E, hidden_size=H, encoder_layers=LAYERS, bidirectional=False,
                           decoder_layers=LAYERS, attention="general_attention", input_feeding=False, bridge="copy",
                           dropout=0.0, tie_embeddings=False)  # fmt: skip


# ---- data ---------------------------------------------------------------------------------------------------------
def pair_lengths(rng, n: int, mean: float, shape: float = 8.5) -> tuple[np.ndarray, np.ndarray]:
    """Source ~ Gamma(shape, mean / shape), rounded, in [2, 40]; target = source x Normal(0.95, 0.15), in [2, 40]."""
    src = np.clip(np.round(rng.gamma(shape, mean / shape, size=n)), 2, 40).astype(int)
    tgt = np.clip(np.round(src * rng.normal(0.95, 0.15, size=n)), 2, 40).astype(int)
    return src, tgt


def reference_batch(variant: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The 64 source and target id arrays (no BOS/EOS) of a variant; always the same for the same variant."""
    rng = np.random.default_rng(0)
    src_len, tgt_len = pair_lengths(rng, B, 13.0) if variant == "multi30k" else (np.full(B, 20), np.full(B, 20))
    src = [rng.integers(4, V, size=n) for n in src_len]
    tgt = [rng.integers(4, V, size=n) for n in tgt_len]
    return src, tgt


def recipe_batch(vocab: int, max_tokens: int, mean: float, shape: float, seed: int = 1
                 ) -> tuple[list[np.ndarray], list[np.ndarray]]:  # fmt: skip
    """A typical batch of a recipe: 20,000 pairs of lengths ~ Gamma(shape, mean / shape) sorted by their cost (the
    longer side) and cut greedily at ``max_tokens`` padded tokens, as ``BatchIterator`` does; the batch holding
    the median pair."""
    rng = np.random.default_rng(seed)
    src_len, tgt_len = pair_lengths(rng, 20_000, mean, shape=shape)
    cost = np.maximum(src_len, tgt_len)
    order = np.argsort(cost, kind="stable")
    batches, current, longest = [], [], 0
    for position, i in enumerate(order):
        if current and max(longest, cost[i]) * (len(current) + 1) > max_tokens:
            batches.append(current)
            current, longest = [], 0
        current.append(position)
        longest = max(longest, cost[i])
    batches.append(current)
    picked = order[next(b for b in batches if len(order) // 2 in b)]
    src = [rng.integers(4, vocab, size=src_len[i]) for i in picked]
    tgt = [rng.integers(4, vocab, size=tgt_len[i]) for i in picked]
    return src, tgt


# ---- rows -----------------------------------------------------------------------------------------------------------
def gemm_floor(src, tgt):
    """The matrix products of one training step (forward and backward) on this batch's shapes, in NumPy.
    Returns the step and its GFLOP."""
    rng = np.random.default_rng(0)
    src_len = [len(s) for s in src]
    tgt_len = [len(t) + 1 for t in tgt]  # BOS + tokens in, tokens + EOS out
    n_src, n_tgt, S, T = sum(src_len), sum(tgt_len), max(src_len), max(tgt_len)

    def a(*shape):
        return rng.standard_normal(shape, dtype=np.float32)

    products = []  # (left, right) operand pairs; transposed operands are views, as BLAS takes them
    for lengths, n in ((src_len, n_src), (tgt_len, n_tgt)):  # encoder, decoder
        bs = batch_sizes_of(sorted(lengths, reverse=True))
        W_hh, g, hprev = a(4 * H, H), a(n, 4 * H), a(n, H)
        h_small = {b: a(b, H) for b in set(bs)}
        g_small = {b: a(b, 4 * H) for b in set(bs)}
        for layer in range(LAYERS):
            x, W_ih = a(n, E if layer == 0 else H), a(4 * H, E if layer == 0 else H)
            products += [(x, W_ih.T), (g, W_ih), (g.T, x)]  # input projections; their input and weight gradients
            products += [(h_small[b], W_hh.T) for b in bs] + [(g_small[b], W_hh) for b in bs]  # per step, fwd + bwd
            products.append((g.T, hprev))  # recurrent weight gradient, one GEMM
    memory, W_a, hs = a(B, S, H), a(H, H), a(B, T, H)
    keys, weights, g_keys, g_scores, g_context = a(B, S, H), a(B, T, S), a(B * S, H), a(B, T, S), a(B, T, H)
    flat_memory = memory.reshape(B * S, H)
    products += [(flat_memory, W_a.T), (g_keys, W_a), (g_keys.T, flat_memory)]  # keys = memory W_a^T
    products += [(hs, keys.transpose(0, 2, 1)), (g_scores, keys), (g_scores.transpose(0, 2, 1), hs)]  # scores
    products += [(weights, memory), (g_context, memory.transpose(0, 2, 1)), (weights.transpose(0, 2, 1), g_context)]
    for d_in, d_out in ((2 * H, H), (H, V)):  # combine, output layer
        x, W, g = a(n_tgt, d_in), a(d_out, d_in), a(n_tgt, d_out)
        products += [(x, W.T), (g, W), (g.T, x)]
    gflop = sum(2 * np.prod(p.shape) * q.shape[-1] for p, q in products) / 1e9

    def step():
        for p, q in products:
            np.matmul(p, q)

    return step, gflop


def seqkit_step(src, tgt):
    seqkit.random.seed(0)
    model = Seq2Seq(V, V, REFERENCE, pad_id=PAD, bos_id=BOS, eos_id=EOS)
    opt = Adam(lr=1e-3).setup(model)

    def step():
        opt.zero_grads()
        loss, _ = model.loss(src, tgt)
        loss.backward()
        opt.update()

    return step, sum(p.size for p in model.params())


def recipe_step(name: str):
    """recipes/NAME.toml's model, optimizer and clipping as ``Run`` builds them (for its tokenizer's vocabulary
    size), and one batch as its ``training.max_tokens`` cuts them. Returns the step, parameters, the batch and
    what it read from the recipe."""
    from seqkit.plugins import get_plugin_manager
    from seqkit.recipes import load_recipe
    from seqkit.runs import build_model, build_optimizer

    seqkit.random.seed(0)
    pm = get_plugin_manager()
    recipe = load_recipe(ROOT / "recipes" / f"{name}.toml", registries=pm.registry)
    vocab = SimpleNamespace(vocab_size=recipe.tokenizer["vocab_size"])
    model = build_model(recipe, SimpleNamespace(source=vocab, target=vocab), pm)
    opt = build_optimizer(recipe, pm).setup(model)
    if recipe.training.clip:
        opt.add_hook(GradientClipping(recipe.training.clip))
    src, tgt = recipe_batch(vocab.vocab_size, recipe.training.max_tokens, *RECIPES[name])

    def step():
        opt.zero_grads()
        loss, _ = model.loss(src, tgt)
        loss.backward()
        opt.update()

    read = {"vocab": vocab.vocab_size, "max_tokens": recipe.training.max_tokens}
    return step, sum(p.size for p in model.params()), (src, tgt), read


def torch_model():
    """The reference model in PyTorch; ``model.loss(src, tgt)`` takes lists of 1-D int64 tensors (no BOS/EOS)."""
    import torch
    from torch import nn
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence

    class Reference(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.src_embed = nn.Embedding(V, E, padding_idx=PAD)
            self.tgt_embed = nn.Embedding(V, E, padding_idx=PAD)
            self.encoder = nn.LSTM(E, H, LAYERS, batch_first=True)
            self.decoder = nn.LSTM(E, H, LAYERS, batch_first=True)
            self.W_a = nn.Linear(H, H, bias=False)
            self.combine = nn.Linear(2 * H, H, bias=False)
            self.out = nn.Linear(H, V)

        def loss(self, src: list, tgt: list):
            bos, eos = torch.tensor([BOS]), torch.tensor([EOS])
            src_len = torch.tensor([len(s) for s in src])
            tgt_len = torch.tensor([len(t) + 1 for t in tgt])
            src_ids = pad_sequence(src, batch_first=True, padding_value=PAD)
            tgt_in = pad_sequence([torch.cat([bos, t]) for t in tgt], batch_first=True, padding_value=PAD)
            tgt_out = pad_sequence([torch.cat([t, eos]) for t in tgt], batch_first=True, padding_value=PAD)
            x = pack_padded_sequence(self.src_embed(src_ids), src_len, batch_first=True, enforce_sorted=False)
            packed_memory, final = self.encoder(x)
            memory, _ = pad_packed_sequence(packed_memory, batch_first=True)  # (B, S, H)
            y = pack_padded_sequence(self.tgt_embed(tgt_in), tgt_len, batch_first=True, enforce_sorted=False)
            hs, _ = pad_packed_sequence(self.decoder(y, final)[0], batch_first=True)  # (B, T, H)
            scores = hs @ self.W_a(memory).transpose(1, 2)  # (B, T, S)
            padding = torch.arange(memory.shape[1])[None, :] >= src_len[:, None]
            weights = torch.softmax(scores.masked_fill(padding[:, None, :], float("-inf")), dim=-1)
            h_tilde = torch.tanh(self.combine(torch.cat([weights @ memory, hs], dim=-1)))
            real = torch.arange(hs.shape[1])[None, :] < tgt_len[:, None]
            return nn.functional.cross_entropy(self.out(h_tilde[real]), tgt_out[real])

    return Reference()


def torch_step(src, tgt):
    import torch

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))  # the same threads as NumPy: 2 unless set
    torch.manual_seed(0)
    model = torch_model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    src_t, tgt_t = [torch.from_numpy(s) for s in src], [torch.from_numpy(t) for t in tgt]

    def step():
        opt.zero_grad()
        model.loss(src_t, tgt_t).backward()
        opt.step()

    return step, sum(p.numel() for p in model.parameters())


ROWS = {"floor": "GEMM floor (numpy)", "seqkit": "seqkit Seq2Seq + Adam", "torch": "pytorch eager + Adam"}


def median_ms(step, steps: int, warmup: int) -> float:
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def worker(row: str, variant: str, steps: int, warmup: int) -> dict:
    """Time one row in this process; the last line of stdout is its JSON."""
    extra = {}
    if row == "recipe":
        step, info, (src, tgt), extra = recipe_step(variant)
    else:
        src, tgt = reference_batch(variant)
        step, info = {"floor": gemm_floor, "seqkit": seqkit_step, "torch": torch_step}[row](src, tgt)
    ms = median_ms(step, steps, warmup)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {"ms": ms, "rss_mb": rss_mb, "info": float(info), "pairs": len(src),
            "src_tokens": sum(map(len, src)), "tgt_tokens": sum(len(t) + 1 for t in tgt), **extra}  # fmt: skip


def run_worker(row: str, variant: str, args) -> dict:
    print(f"  {row} ({variant}) ...", file=sys.stderr, flush=True)
    cmd = [sys.executable, __file__, "--worker", row, "--variant", variant,
           "--steps", str(args.steps), "--warmup", str(args.warmup)]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{row} ({variant}) failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def blas_kernel() -> str:
    """NumPy's BLAS and, for OpenBLAS, the kernel it picked (``openblas_get_corename``)."""
    blas = np.__config__.CONFIG["Build Dependencies"]["blas"]
    name = f"{blas.get('name')} {blas.get('version')}"
    with contextlib.suppress(OSError, StopIteration, AttributeError):
        with open("/proc/self/maps") as maps:
            path = next(line.split()[-1] for line in maps if "openblas" in line and ".so" in line)
        lib = ctypes.CDLL(path)
        fn = next(getattr(lib, f) for f in ("scipy_openblas_get_corename64_", "openblas_get_corename64_",
                                            "openblas_get_corename") if hasattr(lib, f))  # fmt: skip
        fn.restype = ctypes.c_char_p
        name += f" ({fn().decode()} kernel)"
    return name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=25, help="timed steps (median reported)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--quick", action="store_true", help="1 timed step, no warm-up (a smoke run)")
    parser.add_argument("--worker", choices=[*ROWS, "recipe"], help=argparse.SUPPRESS)
    parser.add_argument("--variant", choices=[*VARIANTS, *RECIPES], default="multi30k", help=argparse.SUPPRESS)
    args = parser.parse_args()
    seqkit.keep_freed_host_memory()  # as a training job does: freed temporaries stay in malloc
    if args.worker:
        print(json.dumps(worker(args.worker, args.variant, args.steps, args.warmup)))
        return
    if args.quick:
        args.steps, args.warmup = 1, 0
    rows = ["floor", "seqkit"]
    torch_version = None
    with contextlib.suppress(ImportError):
        import torch

        torch_version = torch.__version__
        rows.append("torch")

    print("running every row in its own process:", file=sys.stderr)
    results = {v: {row: run_worker(row, v, args) for row in rows} for v in VARIANTS}
    recipes = {name: run_worker("recipe", name, args) for name in RECIPES}

    print(f"\nTraining step of the reference encoder-decoder (../shared/BENCHMARK.md): batch {B}, vocabulary {V}, "
          f"threads={os.environ['OMP_NUM_THREADS']}, median of {args.steps} after {args.warmup} warm-up; "
          f"numpy {np.__version__}, {blas_kernel()}"
          + (f", torch {torch_version}" if torch_version else ""))  # fmt: skip
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if var in os.environ:
            print(f"warning: {var}={os.environ[var]} is set; it slows NumPy's GEMMs (unset it for this command)")
    params = int(results["multi30k"]["seqkit"]["info"])
    line = f"parameters: seqkit {params:,} (expected {SEQKIT_PARAMS:,})"
    if "torch" in rows:
        line += f", pytorch {int(results['multi30k']['torch']['info']):,} (expected {TORCH_PARAMS:,})"
    print(line)
    for variant, title in VARIANTS.items():
        res = results[variant]
        floor, first = res["floor"]["ms"], res["floor"]
        torch_ms = res["torch"]["ms"] if "torch" in res else None
        print(f"\n{title}: {first['src_tokens']} source tokens, {first['tgt_tokens']} target tokens (with EOS), "
              f"{first['info']:.1f} GFLOP of matrix products")  # fmt: skip
        print(f"{'':24}{'ms/step':>9}{'tokens/s':>10}{'x floor':>9}{'x torch':>9}{'peak RSS MB':>13}")
        for row, r in res.items():
            vs = f"{r['ms'] / torch_ms:9.2f}" if torch_ms else f"{'-':>9}"
            print(f"{ROWS[row]:24}{r['ms']:9.1f}{r['tgt_tokens'] / r['ms'] * 1e3:10.0f}{r['ms'] / floor:9.2f}{vs}"
                  f"{r['rss_mb']:13.0f}")  # fmt: skip
    print("(x floor, x torch: time relative to that row; below 1 is faster)")
    print("\nOne training step of a recipe's model on one typical batch of it, seqkit only")
    print(f"{'recipe':22}{'parameters':>12}{'vocab':>7}{'pairs':>7}{'tgt tok':>9}{'ms/step':>9}{'tokens/s':>10}"
          f"{'pairs/s':>9}{'peak RSS MB':>13}")  # fmt: skip
    for name, r in recipes.items():
        rates = f"{r['tgt_tokens'] / r['ms'] * 1e3:10.0f}{r['pairs'] / r['ms'] * 1e3:9.0f}"
        print(f"{name:22}{int(r['info']):12,}{r['vocab']:7}{r['pairs']:7}{r['tgt_tokens']:9}{r['ms']:9.1f}{rates}"
              f"{r['rss_mb']:13.0f}")  # fmt: skip
    if torch_version is None:
        print("\n(torch not installed: `pip install torch==2.13.0` in a separate venv adds its rows)")


if __name__ == "__main__":
    main()
