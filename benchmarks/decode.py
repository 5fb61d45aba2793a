"""Greedy and beam-5 decoding speed, side by side in one run: seqkit's ``greedy_search`` / ``beam_search`` and the
same model in PyTorch eager with a plain batched search (when torch is installed).

Workload: 1000 source sentences with the lengths of Multi30k test_2016 (whitespace tokens of
../shared/corpora/multi30k/test_2016_flickr.de.gz, mean 10.9; if that file is missing, Gamma-distributed lengths
with mean 13) and random token ids, translated by a random-weight model of the Multi30k recipe's size:
embeddings 256, a 2-layer bidirectional LSTM encoder (512 per direction), dense ``tanh`` bridge, a 2-layer LSTM
decoder (512), Luong general attention, ``tanh(W_c [c; h])``, output over 8000 (23.7M parameters). Sentences
are sorted by length and decoded in batches of 64 by one ``model.for_decoding()`` copy, as ``Run.translate``
does (so seqkit lays its weights out for decoding once, before the warm-up); the maximum length is
``int(1.5 * source length + 5)`` (the recipes' ``max_len_ratio`` and ``max_len_offset``); beam search uses
the GNMT length penalty with alpha 0.6.

A random-weight model would stop at EOS only by accident, at different steps in the two frameworks, so the
work is fixed instead: EOS's output bias is set to -1e4 in both models, no hypothesis ever ends early, and
every sentence decodes exactly its maximum length, greedy and beam alike (the "tokens out" column checks that
both did the same work). A trained model stops after about the source length, so real decoding does about 2/3
of this work per sentence; the ratio between the frameworks is what this measures.

PyTorch rows: ``nn.LSTM`` (packed) encoder and an ``nn.LSTM`` decoder called one step at a time on all
``batch x beam`` rows, attention by ``bmm``, top-k over ``beam x 8000`` per sentence, the decoder state
reordered by ``index_select``, sentences leaving the batch at their maximum length (as in seqkit); no Python
loop over sentences or beams in the compute, only in recording the finished hypotheses.

Run with 2 threads (set here unless already set): ``python benchmarks/decode.py`` (one warm-up batch per row, then
one timed pass over the sentences, the rows in turns batch by batch); ``--quick`` decodes 64 sentences.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import os
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "2")

import numpy as np  # noqa: E402

import seqkit  # noqa: E402
from seqkit.decoding import beam_search, greedy_search  # noqa: E402
from seqkit.models.seq2seq import Seq2Seq, Seq2SeqOptions  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TEST_SET = ROOT.parent / "shared" / "corpora" / "multi30k" / "test_2016_flickr.de.gz"
V, E, H, LAYERS = 8000, 256, 512, 2
PAD, BOS, EOS = 0, 2, 3  # seqkit's defaults; ids 4.. are words
EOS_BIAS = -1e4
RATIO, OFFSET, ALPHA = 1.5, 5, 0.6
OPTIONS = Seq2SeqOptions(embed_size=E, hidden_size=H, encoder_layers=LAYERS, bidirectional=True,
                         decoder_layers=LAYERS, attention="general_attention")  # fmt: skip


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


def batches(lengths: np.ndarray, batch: int) -> list[list[np.ndarray]]:
    """Random token ids of these lengths, sorted by length and cut into batches."""
    rng = np.random.default_rng(0)
    src = [rng.integers(4, V, size=n) for n in sorted(lengths)]
    return [src[i : i + batch] for i in range(0, len(src), batch)]


def max_lengths(src) -> np.ndarray:
    return (np.array([len(s) for s in src]) * RATIO + OFFSET).astype(int)


# ---- seqkit ---------------------------------------------------------------------------------------------------------
def seqkit_model() -> Seq2Seq:
    """The random-weight model, EOS suppressed."""
    seqkit.random.seed(0)
    model = Seq2Seq(V, V, OPTIONS, pad_id=PAD, bos_id=BOS, eos_id=EOS)
    model.out.b.data[EOS] = EOS_BIAS
    return model


def seqkit_rows(beam: int, model: Seq2Seq) -> dict:
    """Greedy and beam search with ``model``'s decoding copy, made once for the run as ``Run.translate`` does."""
    decoder = model.for_decoding()

    def greedy(src):
        return [len(h.tokens) for h in greedy_search(decoder, src, max_len_ratio=RATIO, max_len_offset=OFFSET)]

    def beams(src):
        found = beam_search(decoder, src, beam=beam, length_penalty_kind="gnmt", alpha=ALPHA, max_len_ratio=RATIO,
                            max_len_offset=OFFSET)  # fmt: skip
        return [len(hyps[0].tokens) for hyps in found]

    params = sum(p.size for p in model.params())
    return {"seqkit greedy": (greedy, params), f"seqkit beam {beam}": (beams, params)}


# ---- PyTorch --------------------------------------------------------------------------------------------------------
def torch_model():
    """The model in PyTorch, with ``encode(src)`` and ``step(memory, keys, padding, state, prev_tokens)``."""
    import torch
    from torch import nn
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence

    class Translator(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.src_embed = nn.Embedding(V, E, padding_idx=PAD)
            self.tgt_embed = nn.Embedding(V, E, padding_idx=PAD)
            self.encoder = nn.LSTM(E, H, LAYERS, bidirectional=True, batch_first=True)
            self.bridge, self.bridge_c = nn.Linear(2 * H, H), nn.Linear(2 * H, H)
            self.decoder = nn.LSTM(E, H, LAYERS, batch_first=True)
            self.W_a = nn.Linear(2 * H, H, bias=False)  # keys = W_a h_s: (B, S, H)
            self.combine = nn.Linear(3 * H, H, bias=False)
            self.out = nn.Linear(H, V)

        def encode(self, src: list):
            """-> memory (B, S, 2H), keys (B, S, H), padding mask (B, S), decoder state ((L, B, H),) * 2."""
            lengths = torch.tensor([len(s) for s in src])
            ids = pad_sequence([torch.from_numpy(s) for s in src], batch_first=True, padding_value=PAD)
            x = pack_padded_sequence(self.src_embed(ids), lengths, batch_first=True, enforce_sorted=False)
            packed, final = self.encoder(x)
            memory, _ = pad_packed_sequence(packed, batch_first=True)
            B = len(src)
            # (L*2, B, H) -> (L, B, 2H): both directions of a layer side by side, then tanh(W s + b)
            state = tuple(
                torch.tanh(bridge(part.view(LAYERS, 2, B, H).permute(0, 2, 1, 3).reshape(LAYERS, B, 2 * H)))
                for part, bridge in zip(final, (self.bridge, self.bridge_c))
            )
            padding = torch.arange(memory.shape[1])[None, :] >= lengths[:, None]
            return memory, self.W_a(memory), padding, state

        def step(self, memory, keys, padding, state, prev):
            """Previous tokens (R,) -> log-probabilities (R, V) and the next decoder state."""
            out, state = self.decoder(self.tgt_embed(prev)[:, None], state)
            h = out[:, 0]
            scores = torch.bmm(keys, h[:, :, None])[:, :, 0].masked_fill(padding, float("-inf"))
            context = torch.bmm(torch.softmax(scores, dim=1)[:, None], memory)[:, 0]
            h_tilde = torch.tanh(self.combine(torch.cat([context, h], dim=1)))
            return torch.log_softmax(self.out(h_tilde), dim=1), state

    return Translator().eval()


def torch_rows(beam: int, model=None) -> dict:
    """Greedy and beam search with ``model`` (from ``torch_model()``; by default a random one, EOS suppressed)."""
    import torch

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))  # the same threads as NumPy: 2 unless set
    if model is None:
        torch.manual_seed(0)
        model = torch_model()
        with torch.no_grad():
            model.out.bias[EOS] = EOS_BIAS

    def select(encoded, rows):
        memory, keys, padding, (h, c) = encoded
        return memory[rows], keys[rows], padding[rows], (h[:, rows], c[:, rows])

    @torch.inference_mode()
    def greedy(src):
        memory, keys, padding, state = model.encode(src)
        limit = torch.from_numpy(max_lengths(src))
        out_len = limit.clone()
        active = torch.arange(len(src))
        prev = torch.full((len(src),), BOS)
        for t in range(int(limit.max())):
            logp, state = model.step(memory, keys, padding, state, prev)
            best = logp.argmax(dim=1)
            is_eos = best == EOS
            out_len[active[is_eos]] = t
            done = is_eos | (t + 1 >= limit[active])
            if bool(done.all()):
                break
            if bool(done.any()):
                keep = torch.nonzero(~done)[:, 0]
                memory, keys, padding, state = select((memory, keys, padding, state), keep)
                active, best = active[keep], best[keep]
            prev = best
        return out_len.tolist()

    @torch.inference_mode()
    def beams(src):
        K, B = beam, len(src)
        encoded = model.encode(src)
        memory, keys, padding, state = select(encoded, torch.arange(B).repeat_interleave(K))
        limit = torch.from_numpy(max_lengths(src))
        scores = torch.full((B, K), float("-inf"))
        scores[:, 0] = 0.0  # all beams start identical: only the first may expand
        history = torch.zeros((B, K, 0), dtype=torch.long)
        best_score = torch.full((B,), float("-inf"))
        out_len = [0] * B
        active = torch.arange(B)
        prev = torch.full((B * K,), BOS)
        for t in range(int(limit.max())):
            logp, state = model.step(memory, keys, padding, state, prev)
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
            if len(keep) < n:
                rows = rows.view(n, K)[keep].view(-1)
                memory, keys, padding = (
                    a.view(n, K, *a.shape[1:])[keep].flatten(0, 1) for a in (memory, keys, padding)
                )
                history, scores, token, active = history[keep], scores[keep], token[keep], active[keep]
            state = (state[0][:, rows], state[1][:, rows])
            prev = token.reshape(-1)
        return out_len

    params = sum(p.numel() for p in model.parameters())
    return {"pytorch greedy": (greedy, params), f"pytorch beam {beam}": (beams, params)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=1000, help="source sentences to decode (at most 1000)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1, help="batches decoded before timing each row")
    parser.add_argument("--quick", action="store_true", help="64 sentences (a smoke run)")
    args = parser.parse_args()
    seqkit.keep_freed_host_memory()  # as a training job does: freed temporaries stay in malloc
    if args.quick:
        args.sentences = 64
    lengths, where = source_lengths(args.sentences)
    data = batches(lengths, args.batch)
    expected = int(sum(max_lengths(s).sum() for s in data))

    model = seqkit_model()
    rows = seqkit_rows(args.beam, model)
    torch_version = None
    with contextlib.suppress(ImportError):
        import torch

        torch_version = torch.__version__
        rows.update(torch_rows(args.beam))

    results = dict.fromkeys(rows, (0.0, 0))
    for decode, _ in rows.values():
        for src in data[: args.warmup]:
            decode(src)
    # the rows in turns, batch by batch: a slow spell of a shared machine falls on every row alike
    for src in data:
        for name, (decode, _) in rows.items():
            start = time.perf_counter()
            tokens = sum(decode(src))
            seconds, total = results[name]
            results[name] = (seconds + time.perf_counter() - start, total + tokens)

    n = len(lengths)
    print(f"\nDecoding {n} sentences, lengths of {where}: mean {lengths.mean():.1f}, max {lengths.max()}; "
          f"batches of {args.batch}, sorted by length; max length int({RATIO} * len + {OFFSET}), EOS suppressed "
          f"({expected} output tokens per search); threads={os.environ['OMP_NUM_THREADS']}, numpy {np.__version__}"
          + (f", torch {torch_version}" if torch_version else ""))  # fmt: skip
    print(
        "parameters: "
        + ", ".join(f"{name.split()[0]} {params:,}" for name, (_, params) in rows.items() if "greedy" in name)
    )
    print(f"{'':20}{'seconds':>9}{'sentences/s':>13}{'tokens out':>12}{'x torch':>9}")
    for name, (seconds, tokens) in results.items():
        kind = name.split(maxsplit=1)[1]
        torch_s = results.get(f"pytorch {kind}", (None,))[0]
        vs = f"{seconds / torch_s:9.2f}" if torch_s else f"{'-':>9}"
        print(f"{name:20}{seconds:9.2f}{n / seconds:13.1f}{tokens:12d}{vs}")
    print("(x torch: time relative to PyTorch's same search; below 1 is faster)")
    if torch_version is None:
        print("\n(torch not installed: `pip install torch==2.13.0` in a separate venv adds its rows)")


if __name__ == "__main__":
    main()
