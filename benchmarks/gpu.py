"""The GPU path in one run: checks against the CPU, then timings, with PyTorch (cuDNN) beside them when it is
installed with CUDA. Prints a short table last; fits a 10-minute run.

Checks (float32, random inputs, the largest relative error over outputs and gradients must stay under 1e-4,
measured as ``max|gpu - cpu| / max|cpu|``): the fused LSTM and GRU layers (2 layers, bidirectional, mixed
lengths), an LSTM cell step, general attention, softmax cross-entropy with an ignored label and label
smoothing, dropout's fused mask (against its formula on the same draws), three Adam steps, and a whole
training step of the Multi30k recipe's model (loss and every gradient).

Timings (median over ``--steps`` after warm-up, with the device synchronised only around the timed region):

- one LSTM layer forward+backward, B 64, T <= 30, 256 -> 512 (``benchmarks/lstm.py``'s workload): seqkit's
  fused kernels against ``torch.nn.LSTM`` on packed sequences (cuDNN);
- a training step of the reference model of ``../shared/BENCHMARK.md`` (benchmarks/train.py), tokens/s;
- a training step of recipes/multi30k-de-en-lstm.toml's model on a 4,000-token batch, tokens/s;
- beam-5 decoding of 1,000 Multi30k-like sentences in batches of 64 with the recipe-sized model
  (benchmarks/decode.py's workload), sentences/s.

Run: ``python benchmarks/gpu.py [--device cuda:0] [--steps 20]``. Without CUDA and CuPy it says so and exits 0;
``--device cpu --quick`` runs the script's every path but the kernels on the CPU (the test suite's smoke run).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import seqkit
import seqkit.functions as F
import seqkit.layers as L
from seqkit import Variable, to_device


def relative_error(cpu_arrays, gpu_arrays) -> float:
    worst = 0.0
    for a, b in zip(cpu_arrays, gpu_arrays):
        b = to_device(b, "cpu")
        worst = max(worst, float(np.abs(b - a).max() / max(np.abs(a).max(), 1e-12)))
    return worst


def run_on(device, build, inputs):
    """``build()`` -> (layer or None, fn); outputs and gradients of ``sum(fn(...)^2)`` on ``device``."""
    seqkit.random.seed(0)
    layer, fn = build()
    if layer is not None:
        layer.to_device(device)
    xs = [Variable(to_device(a, device)) if a.dtype.kind == "f" else to_device(a, device) for a in inputs]
    outs = fn(*xs)
    outs = outs if isinstance(outs, (tuple, list)) else (outs,)
    flat = [o for out in outs for o in (out if isinstance(out, (tuple, list)) else (out,))]
    F.sum(F.concat([F.reshape(o * o, (-1,)) for o in flat], axis=0)).backward()
    grads = [x.grad for x in xs if isinstance(x, Variable)]
    grads += [p.grad for p in layer.params()] if layer is not None else []
    return [o.data for o in flat] + list(grads)


def checks(device) -> list[tuple[str, float]]:
    from seqkit.functions.noise import dropout_mask_kernel
    from seqkit.optim import Adam

    rng = np.random.default_rng(0)
    f32 = np.float32
    seqs = [rng.standard_normal((n, 16)).astype(f32) for n in (7, 3, 9, 1)]
    cases = {
        "LSTM 2x bidirectional": (lambda: (m := L.LSTM(16, 24, 2, bidirectional=True), lambda *xs: m(list(xs))[0]),
                                  seqs),
        "GRU 2x bidirectional": (lambda: (m := L.GRU(16, 24, 2, bidirectional=True), lambda *xs: m(list(xs))[0]),
                                 seqs),
        "LSTM cell step": (lambda: (None, F.lstm), [rng.standard_normal((5, 8)).astype(f32),
                                                    rng.standard_normal((3, 32)).astype(f32)]),
        "general attention": (lambda: (m := L.GeneralAttention(16, 16), lambda q, mem: m(q, mem)),
                              [rng.standard_normal((4, 16)).astype(f32), rng.standard_normal((4, 6, 16)).astype(f32)]),
        "softmax cross-entropy": (lambda: (None, lambda x, t: F.softmax_cross_entropy(x, t, label_smoothing=0.1)),
                                  [rng.standard_normal((50, 300)).astype(f32), np.r_[rng.integers(0, 300, 49), -1]]),
    }  # fmt: skip
    rows = [(name, relative_error(run_on("cpu", b, x), run_on(device, b, x))) for name, (b, x) in cases.items()]
    if device.kind == "cuda":  # the kernel has no CPU path: its reference is the formula
        x, u = rng.standard_normal((256, 512)).astype(f32), rng.random((256, 512)).astype(f32)
        mask, y = dropout_mask_kernel(to_device(x, device), to_device(u, device), 0.3)
        expected = (u >= 0.3) * f32(1 / 0.7)
        rows.append(("dropout mask", relative_error([expected, x * expected], [mask, y])))
    finals = []
    for d in ("cpu", device):
        p = seqkit.Parameter(to_device(np.linspace(-1, 1, 4096, dtype=f32), d), name="p")
        opt = Adam(lr=0.01).setup([p])
        for step in range(3):
            opt.zero_grads()
            p.grad = to_device(np.cos(np.arange(4096, dtype=f32) * (step + 1)), d)
            opt.update()
        finals.append(p.data)
    rows.append(("Adam, 3 steps", relative_error([finals[0]], [finals[1]])))
    model_cpu, model_gpu = recipe_model(), recipe_model().to_device(device)
    src, tgt = batch(rng, 4000, 6000)
    results = []
    with seqkit.using_config("train", False):  # no dropout: the two devices draw different masks
        for model in (model_cpu, model_gpu):
            model.zero_grads()
            loss, _ = model.loss(src, tgt)
            loss.backward()
            results.append([loss.data] + [p.grad for p in model.params()])
    rows.append(("Multi30k recipe model step", relative_error(*results)))
    return rows


def recipe_model():
    from seqkit.models.seq2seq import Seq2Seq, Seq2SeqOptions

    seqkit.random.seed(0)
    options = Seq2SeqOptions(embed_size=256, hidden_size=256, encoder_layers=2, bidirectional=True, decoder_layers=2,
                             attention="general_attention", input_feeding=False, bridge="dense", dropout=0.3,
                             tie_embeddings=True, label_smoothing=0.1)  # fmt: skip
    return Seq2Seq(6000, 6000, options)


def batch(rng, max_tokens: int, vocab: int):
    from train import pair_lengths

    src_len, tgt_len = pair_lengths(rng, 4 * max_tokens // 14, 13.0)
    n = max_tokens // int(max(src_len.max(), tgt_len.max()) + 1)
    src = [rng.integers(4, vocab, size=k) for k in src_len[:n]]
    return src, [rng.integers(4, vocab, size=k) for k in tgt_len[:n]]


def timed(step, steps: int, sync) -> float:
    for _ in range(3):
        step()
    sync()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def timings(device, steps: int, sentences: int) -> list[tuple[str, str, str]]:
    from seqkit.optim import Adam

    sync = seqkit.backend.cupy_module().cuda.Device().synchronize if device.kind == "cuda" else lambda: None
    rng = np.random.default_rng(1)
    rows = []
    lengths = sorted(rng.integers(10, 31, size=64).tolist(), reverse=True)
    xs = [to_device(rng.standard_normal((n, 256)).astype(np.float32), device) for n in lengths]
    lstm = L.LSTM(256, 512).to_device(device)

    def lstm_step():
        lstm.zero_grads()
        ys, _ = lstm(xs)
        F.sum(F.concat([F.reshape(y, (-1,)) for y in ys], axis=0)).backward()

    rows.append(("LSTM layer fwd+bwd (B 64, T<=30, 256->512)", f"{timed(lstm_step, steps, sync):.2f} ms",
                 torch_lstm(lengths, steps) if device.kind == "cuda" else ""))  # fmt: skip
    from train import REFERENCE, V, reference_batch

    from seqkit.models.seq2seq import Seq2Seq

    for name, model, (src, tgt) in (
        ("reference model step (tokens/s)", Seq2Seq(V, V, REFERENCE), reference_batch("multi30k")),
        ("Multi30k recipe model step, 4000 tokens (tokens/s)", recipe_model(), batch(rng, 4000, 6000)),
    ):
        model.to_device(device)
        opt = Adam(lr=1e-3).setup(model)
        tokens = sum(len(t) + 1 for t in tgt)

        def train_step(model=model, opt=opt, src=src, tgt=tgt):
            opt.zero_grads()
            loss, _ = model.loss(src, tgt)
            loss.backward()
            opt.update()

        ms = timed(train_step, steps, sync)
        rows.append((name, f"{tokens / ms * 1e3:,.0f}", ""))
    from decode import source_lengths

    from seqkit.decoding import beam_search

    model = recipe_model().to_device(device)
    lengths, _ = source_lengths(sentences)
    sources = [rng.integers(4, 6000, size=int(n)) for n in lengths]
    start = time.perf_counter()
    with seqkit.no_grad(), seqkit.using_config("train", False):
        for i in range(0, len(sources), 64):
            beam_search(model, sources[i : i + 64], beam=5)
    sync()
    rate = f"{len(sources) / (time.perf_counter() - start):.1f}"
    rows.append((f"beam 5, {len(sources)} sentences, batch 64 (sentences/s)", rate, ""))
    return rows


def torch_lstm(lengths, steps: int) -> str:
    try:
        import torch
    except ImportError:
        return "(torch not installed)"
    if not torch.cuda.is_available():
        return "(torch without CUDA)"
    from torch.nn.utils.rnn import pack_sequence

    lstm = torch.nn.LSTM(256, 512).cuda()
    xs = [torch.randn(n, 256, device="cuda") for n in lengths]

    def step():
        lstm.zero_grad()
        out, _ = lstm(pack_sequence(xs))
        out.data.sum().backward()

    return f"{timed(step, steps, torch.cuda.synchronize):.2f} ms (torch cuDNN)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda:0")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="1 timed step, 64 sentences (a smoke run)")
    args = parser.parse_args()
    seqkit.keep_freed_host_memory()  # as a training job does: freed temporaries stay in malloc
    steps, sentences = (1, 64) if args.quick else (args.steps, 1000)
    try:
        device = seqkit.backend.resolve_device(args.device)
    except seqkit.errors.UserError as e:
        print(f"no GPU to benchmark: {e}")
        return 0
    check_rows = checks(device)
    time_rows = timings(device, steps, sentences)
    failed = [name for name, err in check_rows if err >= 1e-4]
    print(f"\nGPU checks on {device} (float32, relative error against the CPU; must be < 1e-4)\n")
    print("| check | relative error | |\n|---|---:|---|")
    for name, err in check_rows:
        print(f"| {name} | {err:.1e} | {'FAIL' if err >= 1e-4 else 'ok'} |")
    print(f"\nGPU timings on {device}\n\n| workload | seqkit | PyTorch |\n|---|---:|---:|")
    for row in time_rows:
        print("| " + " | ".join(row) + " |")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
