"""The reference Transformer, side by side in one run: a training step against the GEMM floor and PyTorch's
``nn.Transformer`` eager, and beam-5 decoding with a key/value cache against PyTorch (when torch is installed).

Model (issue 18): source and target embeddings 8000 x 256 (scaled by sqrt(256)) plus sinusoidal positions, 3
encoder and 3 decoder layers of d_model 256, 4 heads, feed-forward 1024 with ReLU, pre-norm with a final layer
norm on both stacks (``NORM_FIRST``, seqkit's default), an output layer over 8000 with a bias (not tied), no
dropout (11,682,624 parameters in both frameworks); label-smoothed (0.1) cross-entropy averaged over the real
target tokens (EOS included); Adam, lr 1e-3.

Training: one batch of about 4000 tokens with Multi30k-like lengths, cut as ``BatchIterator`` cuts them: 20,000
pairs with source length ~ Gamma(8.5, 13/8.5), clipped to [2, 40], target length = source x Normal(0.95, 0.15)
(../shared/BENCHMARK.md), sorted by the longer side and cut greedily at 4096 padded tokens; the batch holding the
median pair (fixed seed). Rows, median ms per step (forward, backward, update) after warm-up:

- GEMM floor: NumPy running exactly the matrix products of this workload, forward and backward (three per linear
  layer: output, input gradient, weight gradient), the position-wise ones on the real tokens, attention's
  batched over the padded ``(B, heads, T, S)``;
- seqkit ``Transformer`` (``seqkit/models/transformer.py``) with ``Adam``;
- PyTorch: ``nn.Embedding``, ``nn.Transformer`` (``batch_first``, padding and causal masks), ``nn.Linear``,
  ``cross_entropy(label_smoothing=...)`` and ``torch.optim.Adam``.

Decoding: 1000 source sentences with the lengths of Multi30k test_2016 (as benchmarks/decode.py: Gamma lengths
when the file is missing) and random ids, sorted by length, in batches of 64; beam 5, GNMT length penalty 0.6,
maximum length ``int(1.5 * source length + 5)``; EOS's output bias set to -1e4 so that every hypothesis runs to
its maximum length and both frameworks do the same work ("tokens out" checks it). PyTorch's search is
benchmarks/decode.py's, batched over sentences, with the decoder run one step at a time over a per-layer
key/value cache: each step projects only the new token, appends its keys and values to the layer's cache
``(rows, heads, t, 64)`` and attends over it; cross-attention keys and values are projected once per source
sentence and shared by its beam (the beam's queries attend together); reordering the beam takes the cache's rows.

Every row runs in a process of its own (this script again, with ``--worker``), so that its peak RSS
(``resource.getrusage``) is its own and no library's threads or allocator state leak into another; the rows are
timed in turns, step by step (training) and batch by batch (decoding), so that a slow spell of a shared machine
falls on every row alike.

Run with 2 threads (set here unless already set): ``python benchmarks/transformer.py [--steps 25] [--warmup 3]``;
``--quick`` times 1 training step without warm-up and decodes 64 sentences (a smoke run). Unset
``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` for the command, if the machine sets them: they slow NumPy's GEMMs.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gzip
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "2")

import numpy as np  # noqa: E402

import seqkit  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train import blas_kernel, recipe_batch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TEST_SET = ROOT.parent / "shared" / "corpora" / "multi30k" / "test_2016_flickr.de.gz"
V, D, HEADS, LAYERS, FFN = 8000, 256, 4, 3, 1024
NORM_FIRST, LABEL_SMOOTHING, MAX_POSITIONS = True, 0.1, 1024  # pre-norm: seqkit's default
MAX_TOKENS = 4096
PAD, BOS, EOS = 0, 2, 3  # seqkit's defaults; ids 4.. are words
EOS_BIAS = -1e4
RATIO, OFFSET, ALPHA = 1.5, 5, 0.6

TRAIN_ROWS = {"floor": "GEMM floor (numpy)", "seqkit": "seqkit Transformer", "torch": "pytorch nn.Transformer"}
DECODE_ROWS = {"seqkit-beam": "seqkit beam {beam}", "torch-beam": "pytorch beam {beam}"}


# ---- data ---------------------------------------------------------------------------------------------------------
def training_batch() -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The source and target id arrays (no BOS/EOS) of the training batch; always the same."""
    return recipe_batch(V, MAX_TOKENS, 13.0, 8.5, seed=0)


def source_lengths(n: int) -> tuple[np.ndarray, str]:
    """``n`` source lengths (spread evenly over the test set when ``n`` is smaller) and where they came from."""
    if TEST_SET.exists():
        with gzip.open(TEST_SET, "rt", encoding="utf-8") as f:
            lengths = np.array([max(len(line.split()), 1) for line in f])
        where = f"{TEST_SET.name} (whitespace tokens)"
    else:
        lengths = np.clip(np.round(np.random.default_rng(0).gamma(8.5, 13 / 8.5, 1000)), 2, 40).astype(int)
        where = "Gamma(8.5, 13/8.5) lengths (test_2016_flickr.de.gz not found)"
    return lengths[np.linspace(0, len(lengths) - 1, min(n, len(lengths))).astype(int)], where


def decoding_batches(sentences: int, batch: int) -> list[list[np.ndarray]]:
    """Random token ids of the test set's lengths, sorted by length and cut into batches."""
    rng = np.random.default_rng(0)
    src = [rng.integers(4, V, size=n) for n in sorted(source_lengths(sentences)[0])]
    return [src[i : i + batch] for i in range(0, len(src), batch)]


def max_lengths(src) -> np.ndarray:
    return (np.array([len(s) for s in src]) * RATIO + OFFSET).astype(int)


# ---- GEMM floor ---------------------------------------------------------------------------------------------------
def gemm_floor(src, tgt):
    """The matrix products of one training step (forward and backward) on this batch's shapes, in NumPy.
    Returns the step and its GFLOP."""
    rng = np.random.default_rng(0)
    n_src, n_tgt = sum(map(len, src)), sum(len(t) + 1 for t in tgt)  # BOS + tokens in, tokens + EOS out
    B, S, T, dk = len(src), max(map(len, src)), max(map(len, tgt)) + 1, D // HEADS

    def a(*shape):
        return rng.standard_normal(shape, dtype=np.float32)

    def linear(n: int, d_in: int, d_out: int) -> list:
        x, W, g = a(n, d_in), a(d_out, d_in), a(n, d_out)
        return [(x, W.T), (g, W), (g.T, x)]  # output, input gradient, weight gradient

    def attention(tq: int, tk: int) -> list:
        q, k, v, g_context = a(B, HEADS, tq, dk), a(B, HEADS, tk, dk), a(B, HEADS, tk, dk), a(B, HEADS, tq, dk)
        weights, g_scores = a(B, HEADS, tq, tk), a(B, HEADS, tq, tk)
        kt, vt, wt, st = (x.transpose(0, 1, 3, 2) for x in (k, v, weights, g_scores))
        return [(q, kt), (g_scores, k), (st, q),  # scores = q k^T; gradients of q and k
                (weights, v), (g_context, vt), (wt, g_context)]  # context = w v; gradients of w and v  # fmt: skip

    products = []  # (left, right) operand pairs; transposed operands are views, as BLAS takes them
    for _ in range(LAYERS):  # encoder: self-attention (q, k, v projections in one), output projection, FFN
        products += linear(n_src, D, 3 * D) + attention(S, S) + linear(n_src, D, D)
        products += linear(n_src, D, FFN) + linear(n_src, FFN, D)
    for _ in range(LAYERS):  # decoder: causal self-attention, cross-attention (keys, values from memory), FFN
        products += linear(n_tgt, D, 3 * D) + attention(T, T) + linear(n_tgt, D, D)
        products += linear(n_tgt, D, D) + linear(n_src, D, 2 * D) + attention(T, S) + linear(n_tgt, D, D)
        products += linear(n_tgt, D, FFN) + linear(n_tgt, FFN, D)
    products += linear(n_tgt, D, V)  # output layer
    gflop = sum(2 * np.prod(p.shape) * q.shape[-1] for p, q in products) / 1e9

    def step():
        for p, q in products:
            np.matmul(p, q)

    return step, gflop


# ---- seqkit -------------------------------------------------------------------------------------------------------
def seqkit_model():
    """The reference model in seqkit, or a one-line message (a ``str``) saying what is missing."""
    try:
        from seqkit.models.transformer import Transformer, TransformerOptions
    except ImportError as e:
        return f"seqkit.models.transformer is not importable ({e})"
    from seqkit.models.base import default_layers

    seqkit.random.seed(0)
    options = TransformerOptions(d_model=D, heads=HEADS, encoder_layers=LAYERS, decoder_layers=LAYERS,
                                 ffn_size=FFN, dropout=0.0, attention_dropout=0.0, activation_dropout=0.0,
                                 activation="relu", norm_first=NORM_FIRST, positions="sinusoidal",
                                 max_positions=MAX_POSITIONS, share_embeddings=False, tie_output=False,
                                 label_smoothing=LABEL_SMOOTHING)  # fmt: skip
    return Transformer.build(options, source_vocab=V, target_vocab=V, pad_id=PAD, bos_id=BOS, eos_id=EOS,
                             layers=default_layers())  # fmt: skip


def seqkit_train(src, tgt):
    from seqkit.optim import Adam

    model = seqkit_model()
    if isinstance(model, str):
        return model
    opt = Adam(lr=1e-3).setup(model)

    def step():
        opt.zero_grads()
        loss, _ = model.loss(src, tgt)
        loss.backward()
        opt.update()

    return step, sum(p.size for p in model.params())


def seqkit_beam(beam: int):
    from seqkit.decoding import beam_search

    model = seqkit_model()
    if isinstance(model, str):
        return model
    model.out.b.data[EOS] = EOS_BIAS
    decoder = model.for_decoding()  # once for the run, as ``Run.translate`` does

    def decode(src):
        found = beam_search(decoder, src, beam=beam, length_penalty_kind="gnmt", alpha=ALPHA, max_len_ratio=RATIO,
                            max_len_offset=OFFSET)  # fmt: skip
        return [len(hyps[0].tokens) for hyps in found]

    return decode, sum(p.size for p in model.params())


# ---- PyTorch ------------------------------------------------------------------------------------------------------
def torch_model():
    """The reference model in PyTorch: ``loss(src, tgt)`` for training (lists of 1-D int64 tensors, no BOS/EOS),
    ``encode(src)`` and ``step(...)`` for decoding with a key/value cache."""
    import torch
    from torch import nn
    from torch.nn import functional as Fn
    from torch.nn.utils.rnn import pad_sequence

    class Reference(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.src_embed = nn.Embedding(V, D, padding_idx=PAD)
            self.tgt_embed = nn.Embedding(V, D, padding_idx=PAD)
            self.transformer = nn.Transformer(D, HEADS, LAYERS, LAYERS, FFN, dropout=0.0, batch_first=True,
                                              norm_first=NORM_FIRST)  # fmt: skip
            if not NORM_FIRST:  # a post-norm stack ends in its last layer's norm: no final one
                self.transformer.encoder.norm = self.transformer.decoder.norm = None
            self.out = nn.Linear(D, V)
            position = torch.arange(MAX_POSITIONS, dtype=torch.float32)[:, None]
            rate = torch.exp(torch.arange(0, D, 2, dtype=torch.float32) * (-math.log(10000.0) / D))
            pe = torch.zeros(MAX_POSITIONS, D)
            pe[:, 0::2], pe[:, 1::2] = torch.sin(position * rate), torch.cos(position * rate)
            self.register_buffer("pe", pe, persistent=False)

        def embed(self, embedding, ids, start: int = 0):
            return embedding(ids) * math.sqrt(D) + self.pe[start : start + ids.shape[1]]

        def loss(self, src: list, tgt: list):
            bos, eos = torch.tensor([BOS]), torch.tensor([EOS])
            src_ids = pad_sequence(src, batch_first=True, padding_value=PAD)
            tgt_in = pad_sequence([torch.cat([bos, t]) for t in tgt], batch_first=True, padding_value=PAD)
            tgt_out = pad_sequence([torch.cat([t, eos]) for t in tgt], batch_first=True, padding_value=PAD)
            src_pad = torch.arange(src_ids.shape[1])[None, :] >= torch.tensor([len(s) for s in src])[:, None]
            real = torch.arange(tgt_in.shape[1])[None, :] < torch.tensor([len(t) + 1 for t in tgt])[:, None]
            causal = torch.ones(tgt_in.shape[1], tgt_in.shape[1], dtype=torch.bool).triu(1)  # True: masked
            h = self.transformer(self.embed(self.src_embed, src_ids), self.embed(self.tgt_embed, tgt_in),
                                 tgt_mask=causal, src_key_padding_mask=src_pad, tgt_key_padding_mask=~real,
                                 memory_key_padding_mask=src_pad, tgt_is_causal=True)  # fmt: skip
            return Fn.cross_entropy(self.out(h[real]), tgt_out[real], label_smoothing=LABEL_SMOOTHING)

        def encode(self, src: list):
            """-> per decoder layer the cross-attention keys and values ``(B, heads, S, dk)``, and the source
            padding as an additive mask ``(B, 1, 1, S)``."""
            ids = pad_sequence([torch.from_numpy(s) for s in src], batch_first=True, padding_value=PAD)
            src_pad = torch.arange(ids.shape[1])[None, :] >= torch.tensor([len(s) for s in src])[:, None]
            memory = self.transformer.encoder(self.embed(self.src_embed, ids), src_key_padding_mask=src_pad)
            cross = []
            for layer in self.transformer.decoder.layers:
                attn = layer.multihead_attn
                kv = Fn.linear(memory, attn.in_proj_weight[D:], attn.in_proj_bias[D:])  # (B, S, 2D)
                k, v = kv.view(len(src), -1, 2, HEADS, D // HEADS).permute(2, 0, 3, 1, 4)
                cross.append((k, v))
            mask = torch.zeros(src_pad.shape).masked_fill(src_pad, float("-inf"))[:, None, None, :]
            return cross, mask

        def step(self, cross, mask, cache, prev, t: int):
            """One decoder step for ``R = B * K`` rows (a beam of ``K`` per source, consecutive): ``cache`` per
            layer ``(k, v)`` of ``(R, heads, t, dk)`` (None at t = 0) -> log-probabilities ``(R, V)`` and the
            cache with this step's keys and values appended."""
            R, B, dk = len(prev), len(mask), D // HEADS
            x = self.embed(self.tgt_embed, prev[:, None], start=t)[:, 0]  # (R, D)
            new_cache = []
            for layer, (ck, cv), past in zip(self.transformer.decoder.layers, cross, cache):
                sa, ca = layer.self_attn, layer.multihead_attn
                h = layer.norm1(x) if NORM_FIRST else x
                q, k, v = Fn.linear(h, sa.in_proj_weight, sa.in_proj_bias).view(R, 3, HEADS, 1, dk).unbind(1)
                if past is not None:
                    k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
                new_cache.append((k, v))
                weights = torch.softmax(q @ k.transpose(2, 3) / math.sqrt(dk), dim=-1)  # (R, heads, 1, t + 1)
                h = sa.out_proj((weights @ v).view(R, D))
                x = x + h if NORM_FIRST else layer.norm1(x + h)
                # cross-attention: the K queries of a source's beam against its keys, once per source
                h = layer.norm2(x) if NORM_FIRST else x
                q = Fn.linear(h, ca.in_proj_weight[:D], ca.in_proj_bias[:D]).view(B, -1, HEADS, dk).transpose(1, 2)
                weights = torch.softmax(q @ ck.transpose(2, 3) / math.sqrt(dk) + mask, dim=-1)  # (B, heads, K, S)
                h = ca.out_proj((weights @ cv).transpose(1, 2).reshape(R, D))
                x = x + h if NORM_FIRST else layer.norm2(x + h)
                h = layer.norm3(x) if NORM_FIRST else x
                h = layer.linear2(torch.relu(layer.linear1(h)))
                x = x + h if NORM_FIRST else layer.norm3(x + h)
            if NORM_FIRST:
                x = self.transformer.decoder.norm(x)
            return torch.log_softmax(self.out(x), dim=-1), new_cache

    return Reference()


def torch_setup():
    import warnings

    import torch

    for message in ("The PyTorch API of nested tensors", "enable_nested_tensor is True"):  # the encoder's fast path
        warnings.filterwarnings("ignore", message=message)
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))  # the same threads as NumPy: 2 unless set
    torch.manual_seed(0)
    return torch


def torch_train(src, tgt):
    torch = torch_setup()
    model = torch_model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    src_t, tgt_t = [torch.from_numpy(s) for s in src], [torch.from_numpy(t) for t in tgt]

    def step():
        opt.zero_grad()
        model.loss(src_t, tgt_t).backward()
        opt.step()

    return step, sum(p.numel() for p in model.parameters())


def torch_beam(beam: int):
    """benchmarks/decode.py's batched beam search over the model's cached decoder steps."""
    torch = torch_setup()
    model = torch_model().eval()
    with torch.no_grad():
        model.out.bias[EOS] = EOS_BIAS

    @torch.inference_mode()
    def decode(src):
        K, B = beam, len(src)
        cross, mask = model.encode(src)
        cache = [None] * LAYERS
        limit = torch.from_numpy(max_lengths(src))
        scores = torch.full((B, K), float("-inf"))
        scores[:, 0] = 0.0  # all beams start identical: only the first may expand
        history = torch.zeros((B, K, 0), dtype=torch.long)
        best_score = torch.full((B,), float("-inf"))
        out_len = [0] * B
        active = torch.arange(B)
        prev = torch.full((B * K,), BOS)
        for t in range(int(limit.max())):
            logp, cache = model.step(cross, mask, cache, prev, t)
            n = len(active)
            total = scores[:, :, None] + logp.view(n, K, V)
            top_scores, top = total.view(n, K * V).topk(K, dim=1)
            parent, token = top // V, top % V
            history = torch.cat([history.gather(1, parent[:, :, None].expand(-1, -1, t)), token[:, :, None]], dim=2)
            # hypotheses that end here: at EOS, or every one of a sentence at its maximum length
            is_eos = token == EOS
            at_limit = t + 1 >= limit[active]
            ended = torch.where(is_eos | at_limit[:, None], top_scores / ((6.0 + t) / 6.0) ** ALPHA, float("-inf"))
            best_ended, j = ended.max(dim=1)
            for i in torch.nonzero(best_ended > best_score[active])[:, 0].tolist():
                b = int(active[i])
                best_score[b] = best_ended[i]
                out_len[b] = t if bool(is_eos[i, j[i]]) else t + 1
            scores = top_scores.masked_fill(is_eos, float("-inf"))  # an ended hypothesis is not expanded
            done = at_limit | torch.isinf(scores).all(dim=1)
            if bool(done.all()):
                break
            rows = (torch.arange(n)[:, None] * K + parent).view(-1)
            keep = torch.nonzero(~done)[:, 0]
            if len(keep) < n:  # sentences leave: their rows, and their sources' keys and values
                rows = rows.view(n, K)[keep].view(-1)
                cross = [(k[keep], v[keep]) for k, v in cross]
                history, scores, token, active = history[keep], scores[keep], token[keep], active[keep]
                mask = mask[keep]
            cache = [(k[rows], v[rows]) for k, v in cache]
            prev = token.reshape(-1)
        return out_len

    return decode, sum(p.numel() for p in model.parameters())


# ---- workers ------------------------------------------------------------------------------------------------------
def worker(row: str, args) -> None:
    """Build one row, then run units on request: a line ``run I`` runs unit I (a training step, or decoding
    batch I) and answers ``{"s": seconds, "tokens": n}``; ``end`` answers the peak RSS and exits. The first
    answer describes the row. Answers go to the original stdout, one JSON line each; anything else printed goes
    to stderr."""
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)

    def answer(**values) -> None:
        answers.write(json.dumps(values) + "\n")

    if row in TRAIN_ROWS:
        src, tgt = training_batch()
        made = {"floor": gemm_floor, "seqkit": seqkit_train, "torch": torch_train}[row](src, tgt)
        if isinstance(made, str):
            answer(missing=made)
            return
        step, info = made
        units = [lambda: step() or 0] * args.steps
        answer(info=float(info), pairs=len(src), src_tokens=sum(map(len, src)),
               tgt_tokens=sum(len(t) + 1 for t in tgt))  # fmt: skip
    else:
        data = decoding_batches(args.sentences, args.batch)
        made = {"seqkit-beam": seqkit_beam, "torch-beam": torch_beam}[row](args.beam)
        if isinstance(made, str):
            answer(missing=made)
            return
        decode, info = made
        units = [lambda src=src: sum(decode(src)) for src in data]
        answer(info=float(info), batches=len(data))
    for line in sys.stdin:
        command, *rest = line.split()
        if command == "end":
            break
        start = time.perf_counter()
        tokens = units[int(rest[0])]()
        answer(s=time.perf_counter() - start, tokens=int(tokens))
    answer(rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)  # KiB on Linux


class Worker:
    """A row's process, driven one unit at a time."""

    def __init__(self, row: str, args) -> None:
        print(f"  starting {row} ...", file=sys.stderr, flush=True)
        self.row = row
        cmd = [sys.executable, __file__, "--worker", row, "--steps", str(args.steps), "--sentences",
               str(args.sentences), "--batch", str(args.batch), "--beam", str(args.beam)]  # fmt: skip
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        self.first = self.receive()
        self.missing = self.first.get("missing")

    def receive(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            sys.exit(f"the {self.row} worker failed (its error is above)")
        return json.loads(line)

    def run(self, unit: int) -> dict:
        self.proc.stdin.write(f"run {unit}\n")
        return self.receive()

    def end(self) -> float:
        if self.missing is None:
            self.proc.stdin.write("end\n")
            rss = self.receive()["rss_mb"]
        self.proc.wait()
        return rss if self.missing is None else float("nan")


@dataclasses.dataclass
class Timed:
    first: dict
    times: list = dataclasses.field(default_factory=list)
    tokens: int = 0
    rss_mb: float = float("nan")


def in_turns(rows: list[str], units: int, warmup: int, args) -> tuple[dict, dict]:
    """Start every row's worker, run ``warmup`` untimed units, then ``units`` timed ones, the rows in turns.
    Returns the timings of the rows that run and the one-line reasons of those that cannot."""
    workers = [Worker(row, args) for row in rows]
    missing = {w.row: w.missing for w in workers if w.missing}
    workers = [w for w in workers if not w.missing]
    timed = {w.row: Timed(w.first) for w in workers}
    for _ in range(warmup):
        for w in workers:
            w.run(0)
    for unit in range(units):
        for w in workers:
            done = w.run(unit)
            timed[w.row].times.append(done["s"])
            timed[w.row].tokens += done["tokens"]
    for w in workers:
        timed[w.row].rss_mb = w.end()
    return timed, missing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=25, help="timed training steps (median reported)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed training steps first")
    parser.add_argument("--sentences", type=int, default=1000, help="source sentences to decode (at most 1000)")
    parser.add_argument("--batch", type=int, default=64, help="sentences per decoding batch")
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="1 training step, no warm-up, 64 sentences")
    parser.add_argument("--worker", choices=[*TRAIN_ROWS, *DECODE_ROWS], help=argparse.SUPPRESS)
    args = parser.parse_args()
    seqkit.keep_freed_host_memory()  # as a training job does: freed temporaries stay in malloc
    if args.worker:
        worker(args.worker, args)
        return
    if args.quick:
        args.steps, args.warmup, args.sentences = 1, 0, 64
    torch_version = None
    with contextlib.suppress(ImportError):
        import torch

        torch_version = torch.__version__

    with_torch = [] if torch_version is None else ["torch"]
    print("every row in a process of its own, timed in turns:", file=sys.stderr)
    train, train_missing = in_turns(["floor", "seqkit", *with_torch], args.steps, args.warmup, args)
    n_batches = len(decoding_batches(args.sentences, args.batch))
    decode, decode_missing = in_turns(["seqkit-beam", *[f"{r}-beam" for r in with_torch]], n_batches, 1, args)

    print(f"\nThe reference Transformer (issue 18): {LAYERS}+{LAYERS} layers, d_model {D}, {HEADS} heads, "
          f"FFN {FFN}, vocabulary {V}, {'pre' if NORM_FIRST else 'post'}-norm; "
          f"threads={os.environ['OMP_NUM_THREADS']}; numpy {np.__version__}, {blas_kernel()}"
          + (f", torch {torch_version}" if torch_version else ""))  # fmt: skip
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if var in os.environ:
            print(f"warning: {var}={os.environ[var]} is set; it slows NumPy's GEMMs (unset it for this command)")
    params = {name: int(r.first["info"]) for name, r in train.items() if name != "floor"}
    if params:
        print("parameters: " + ", ".join(f"{name} {n:,}" for name, n in params.items()))

    first = train["floor"].first
    print(f"\nTraining step: {first['pairs']} pairs, {first['src_tokens']} source tokens, {first['tgt_tokens']} target "
          f"tokens (with EOS), {first['info']:.1f} GFLOP of matrix products; median of {args.steps} after "
          f"{args.warmup} warm-up")  # fmt: skip
    floor = statistics.median(train["floor"].times)
    torch_s = statistics.median(train["torch"].times) if "torch" in train else None
    print(f"{'':24}{'ms/step':>9}{'tokens/s':>10}{'x floor':>9}{'x torch':>9}{'peak RSS MB':>13}")
    for row, r in train.items():
        s = statistics.median(r.times)
        vs = f"{s / torch_s:9.2f}" if torch_s else f"{'-':>9}"
        print(f"{TRAIN_ROWS[row]:24}{s * 1e3:9.1f}{first['tgt_tokens'] / s:10.0f}{s / floor:9.2f}{vs}{r.rss_mb:13.0f}")
    for row, why in train_missing.items():
        print(f"{TRAIN_ROWS[row]:24}  not run: {why}")
    print("(x floor, x torch: time relative to that row; below 1 is faster)")

    lengths, where = source_lengths(args.sentences)
    expected = int(sum(max_lengths(s).sum() for s in decoding_batches(args.sentences, args.batch)))
    print(f"\nBeam-{args.beam} decoding of {len(lengths)} sentences, lengths of {where}: mean {lengths.mean():.1f}, "
          f"max {lengths.max()}; batches of {args.batch}, sorted by length; max length "
          f"int({RATIO} * len + {OFFSET}), EOS suppressed ({expected} output tokens); 1 warm-up batch, then the "
          "batches in turns")  # fmt: skip
    torch_s = sum(decode["torch-beam"].times) if "torch-beam" in decode else None
    print(f"{'':24}{'seconds':>9}{'sentences/s':>13}{'tokens out':>12}{'x torch':>9}{'peak RSS MB':>13}")
    for row, r in decode.items():
        s = sum(r.times)
        vs = f"{s / torch_s:9.2f}" if torch_s else f"{'-':>9}"
        name = DECODE_ROWS[row].format(beam=args.beam)
        print(f"{name:24}{s:9.2f}{len(lengths) / s:13.1f}{r.tokens:12d}{vs}{r.rss_mb:13.0f}")
    for row, why in decode_missing.items():
        print(f"{DECODE_ROWS[row].format(beam=args.beam):24}  not run: {why}")
    print("(x torch: time relative to PyTorch's; below 1 is faster)")
    if torch_version is None:
        print("\n(torch not installed: `pip install torch==2.13.0` in a separate venv adds its rows)")


if __name__ == "__main__":
    main()
