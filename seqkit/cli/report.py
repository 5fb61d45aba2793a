"""``seqkit report RUN_DIR``: plots of a run's log and attention heatmaps of a few dev sentences (PNG files).

Needs matplotlib (``pip install 'seqkit[plot]'``); without it the command says so and exits with 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy

from seqkit.cli.flags import number
from seqkit.errors import UserError

CURVES = (("loss", "training loss"), ("perplexity", "training perplexity"), ("lr", "learning rate"),
          ("val/bleu", "dev BLEU"), ("val/loss", "dev loss"))  # fmt: skip


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise UserError("seqkit report needs matplotlib: pip install 'seqkit[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def read_log(path: Path) -> list[dict]:
    """The entries of ``log.jsonl`` (without a last line a running or killed run left half-written); raises
    ``UserError`` naming the file and line of a bad one."""
    from seqkit.training.extensions import read_log as read_entries

    if not path.is_file():
        raise UserError(f"{path}: no training log (run seqkit train first)")
    return read_entries(path, torn_end=True)


def plot_curves(entries: list[dict], out: Path) -> list[Path]:
    """One PNG per logged quantity against the iteration; returns the files written."""
    plt = _pyplot()
    written = []
    for key, title in CURVES:
        points = [(e["iteration"], e[key]) for e in entries if e.get(key) is not None]
        if not points:
            continue
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.plot(*zip(*points), marker="o" if key.startswith("val/") else None, markersize=3)
        ax.set(xlabel="iteration", ylabel=key, title=title)
        ax.grid(alpha=0.3)
        path = out / f"{key.replace('/', '_')}.png"
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    return written


def plot_attention(run, sentences: list[str], out: Path) -> list[Path]:
    """Heatmaps of the attention of the best hypothesis for each sentence (source pieces x output pieces): one,
    or for a model with attention per layer and head (the transformer) a grid of them, a row per decoder layer
    and a column per head."""
    from seqkit.cli.translate import attention_weights

    plt = _pyplot()
    written = []
    results = run.translate(sentences, keep_attention=True)
    for i, (sentence, hyps, found) in enumerate(zip(sentences, results, attention_weights(run, sentences, results))):
        if found is None:
            continue
        src_pieces = [run.tokenizers.source.decode([t]) for t in run.tokenizers.source.encode(sentence)]
        out_pieces = [run.tokenizers.target.decode([t]) for t in hyps[0].tokens] + ["</s>"]
        grid = found if found.ndim == 4 else found[None, None]  # (layers, heads, steps, source)
        layers, heads = grid.shape[:2]
        width, height = 1 + 0.45 * len(src_pieces), 1 + 0.4 * len(out_pieces)
        fig, axes = plt.subplots(layers, heads, figsize=(width * heads, height * layers), squeeze=False)
        for (layer, head), ax in numpy.ndenumerate(axes):
            ax.imshow(grid[layer, head, : len(out_pieces), : len(src_pieces)], cmap="Greys", vmin=0.0, vmax=1.0)
            ax.set_xticks(range(len(src_pieces)), src_pieces, rotation=60, ha="right")
            ax.set_yticks(range(len(out_pieces)), out_pieces)
            if found.ndim == 4:
                ax.set_title(f"layer {layer + 1}, head {head + 1}", fontsize=9)
        fig.suptitle(f"dev sentence {i}") if found.ndim == 4 else axes[0, 0].set_title(f"dev sentence {i}")
        fig.tight_layout()
        path = out / f"attention_{i}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    return written


def run(args: argparse.Namespace) -> int:
    from seqkit.runs import Run

    directory = Path(args.run_dir)
    entries = read_log(directory / "log.jsonl")
    out = directory / "report"
    out.mkdir(exist_ok=True)
    written = plot_curves(entries, out)
    if args.attention:
        trained = Run.open(directory, args.plugin_manager, args.checkpoint, args.device)
        sources, _ = trained.texts("dev")
        written += plot_attention(trained, sources[: args.attention], out)
    for path in written:
        print(path)
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("report", help="plot a run's training curves and attention heatmaps (PNG)",
                       epilog="example:\n  seqkit report runs/quickstart --attention 3",
                       formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory made by seqkit train")
    p.add_argument("--attention", type=number(int, 0), default=3, metavar="N",
                   help="heatmaps of the first N dev sentences")  # fmt: skip
    p.add_argument("--device", help="cpu or cuda:N for the heatmaps' decoding (default: the recipe's)")
    p.add_argument("--checkpoint", default="best", help="for the heatmaps: best (default), last, averaged, or a file")
    p.set_defaults(run=run)
