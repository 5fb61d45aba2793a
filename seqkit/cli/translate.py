"""``seqkit translate``, ``seqkit evaluate`` and ``seqkit average``: using a trained run."""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import sys
from pathlib import Path

import numpy

from seqkit.errors import UserError
from seqkit.io import atomic_write


def _decoding(args: argparse.Namespace, run) -> dict:
    """The run's ``[decoding]`` with the command line's changes: ``--strategy`` (another strategy starts from
    its own defaults), the shorthands ``--beam``, ``--alpha``, ``--length-penalty``, ``--batch-size``, and
    ``--set decoding.KEY=VALUE``. ``Run.translate`` checks the result as a recipe's."""
    from seqkit.recipes import DecodingOptions, parse_override

    sets = {}
    for text in args.set or []:
        keys, value = parse_override(text)
        if len(keys) != 2 or keys[0] != "decoding":
            raise UserError(f"--set {text!r}: {args.command} sets decoding keys only, e.g. --set decoding.top_k=10")
        sets[keys[1]] = value
    table = dict(run.recipe.decoding)
    strategy = args.strategy or sets.pop("strategy", None)
    if strategy is not None and strategy != table["strategy"]:
        shared = {f.name for f in dataclasses.fields(DecodingOptions)}
        table = {k: v for k, v in table.items() if k in shared} | {"strategy": strategy}
    table |= {k: getattr(args, k) for k in ("beam", "alpha", "length_penalty", "batch_size")
              if getattr(args, k) is not None}  # fmt: skip
    table |= sets
    return table


def _ensemble(args: argparse.Namespace) -> list:
    from seqkit.runs import Run

    return [Run.open(d, args.plugin_manager, args.checkpoint, args.device) for d in args.ensemble or []]


def _read_input(path: str | None) -> list[str]:
    if path in (None, "-"):
        data = sys.stdin.buffer.read()
        name = "<stdin>"
    else:
        try:
            data = Path(path).read_bytes()
            if path.endswith(".gz"):
                data = gzip.decompress(data)
        except (OSError, EOFError) as e:
            raise UserError(f"{path}: cannot read ({e.strerror})") from None
        name = path
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise UserError(f"{name}: line {line} is not valid UTF-8") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.rstrip("\r") for line in lines]


def attention_weights(run, sentences: list[str], results: list) -> list[numpy.ndarray | None]:
    """The attention weights of each sentence's best hypothesis (None for an empty sentence): the decoder's own,
    ``(steps, source pieces)`` (seq2seq: its one attention), or for a model with ``cross_attention`` (the
    transformer) every decoder layer's per head, ``(layers, heads, steps, source pieces)``."""
    from seqkit.data import normalize

    weights = [hyps[0].attention for hyps in results]
    if not hasattr(run.model, "cross_attention"):
        return weights
    chosen = [i for i, w in enumerate(weights) if w is not None]
    src = [numpy.asarray(run.tokenizers.source.encode(normalize(sentences[i]))) for i in chosen]
    maps = run.model.cross_attention(src, [results[i][0].tokens for i in chosen]) if chosen else []
    for i, m in zip(chosen, maps):
        weights[i] = m[:, :, : len(weights[i])]  # the decoder's steps: one fewer without EOS at the length limit
    return weights


def run_translate(args: argparse.Namespace) -> int:
    from seqkit.runs import Run

    run = Run.open(args.run_dir, args.plugin_manager, args.checkpoint, args.device)
    sentences = _read_input(args.input)
    bar = None
    if sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=sum(1 for s in sentences if s.strip()), file=sys.stderr, unit="sent", leave=False)
    results = run.translate(sentences, _decoding(args, run), nbest=args.nbest, keep_attention=bool(args.attention),
                            progress=bar.update if bar else None, ensemble=_ensemble(args))  # fmt: skip
    if bar:
        bar.close()
    lines = []
    for i, hyps in enumerate(results):
        for h in hyps[: args.nbest]:
            if args.nbest > 1:
                lines.append(f"{i} ||| {h.text} ||| {h.score:.6f}")
            elif args.scores:
                lines.append(f"{h.score:.6f}\t{h.text}")
            else:
                lines.append(h.text)
    text = "".join(line + "\n" for line in lines)
    if args.output:
        with atomic_write(args.output) as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    if args.attention:
        found = attention_weights(run, sentences, results)
        weights = {f"sentence_{i}": w for i, w in enumerate(found) if w is not None}
        if args.attention.endswith(".json"):
            with atomic_write(args.attention) as f:
                json.dump({k: v.tolist() for k, v in weights.items()}, f)
        else:
            with atomic_write(args.attention, "wb") as f:
                numpy.savez(f, **weights)
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from seqkit.runs import Run

    run = Run.open(args.run_dir, args.plugin_manager, args.checkpoint, args.device)
    results = run.evaluate(args.split, _decoding(args, run), metrics=args.metrics or (), ensemble=_ensemble(args))
    if args.format == "json":
        print(json.dumps(results, indent=2))
    else:
        print(f"{args.split}: BLEU = {results['bleu']:.2f}  ({results['bleu_signature']})")
        print(f"{args.split}: chrF = {results['chrf']:.2f}  ({results['chrf_signature']})")
        for name in dict.fromkeys(args.metrics or ()):
            if name not in ("bleu", "chrf"):
                print(f"{args.split}: {name} = {results[name]:.4f}  ({results[f'{name}_signature']})")
    return 0


def run_average(args: argparse.Namespace) -> int:
    from seqkit.training import load_checkpoint, save_checkpoint
    from seqkit.training.checkpoints import snapshot_paths

    directory = Path(args.run_dir) / "checkpoints"
    paths = snapshot_paths(directory)[: args.last]
    if not paths:
        raise UserError(f"{directory}: no snapshot_<iteration>.npz files to average")
    total: dict[str, numpy.ndarray] = {}
    for path in paths:
        arrays, _ = load_checkpoint(path)
        for k, v in arrays.items():
            if k.startswith("model/"):
                total[k] = total[k] + v.astype(numpy.float64) if k in total else v.astype(numpy.float64)
    averaged = {k: (v / len(paths)).astype(arrays[k].dtype) for k, v in total.items()}
    out = directory / "averaged.npz"
    save_checkpoint(out, averaged, {"averaged": [p.name for p in paths]})
    print(f"averaged {len(paths)} snapshots ({', '.join(p.name for p in paths)}) into {out}")
    return 0


def _run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--run", dest="run_dir", required=True, metavar="RUN_DIR", help="a run directory made by seqkit train"
    )
    p.add_argument("--checkpoint", default="best", help="best (default), last, averaged, or a checkpoint file")
    p.add_argument("--device", help="cpu or cuda:N (default: the recipe's training.device)")
    p.add_argument("--strategy", metavar="NAME",
                   help="decoding strategy: greedy, beam, sampling, or a plugin's (default: the recipe's)")
    p.add_argument("--beam", type=int, help="beam size, for --strategy beam (same as --set decoding.beam=N)")
    p.add_argument("--alpha", type=float, help="length penalty strength, for --strategy beam")
    p.add_argument("--length-penalty", choices=("gnmt", "normalize", "none"),
                   help="length penalty kind, for --strategy beam")
    p.add_argument("--batch-size", type=int, help="sentences decoded together")
    p.add_argument("--set", action="append", metavar="decoding.KEY=VALUE",
                   help="set a [decoding] key: the strategy's options (e.g. decoding.top_k=10) or the shared ones")
    p.add_argument("--ensemble", nargs="+", metavar="RUN_DIR",
                   help="decode with the average of this run's model and these runs' (same tokenizers)")


def add_parser(sub) -> None:
    p = sub.add_parser("translate", help="translate lines of text with a trained run",
                       epilog="example:\n  seqkit translate --run runs/quickstart < input.de > output.en",
                       formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    _run_arguments(p)
    p.add_argument("-i", "--input", help="input file (default: stdin); one sentence per line, UTF-8")
    p.add_argument("-o", "--output", help="output file (default: stdout), written atomically")
    p.add_argument("--nbest", type=int, default=1, help="print N hypotheses per line as 'i ||| text ||| score'")
    p.add_argument("--scores", action="store_true", help="print 'score<TAB>text'")
    p.add_argument("--attention", metavar="FILE",
                   help="save the best hypotheses' attention weights (.npz, or .json): per sentence (steps, source "
                   "pieces), or for a transformer (layers, heads, steps, source pieces), every decoder layer's "
                   "cross-attention per head")  # fmt: skip
    p.set_defaults(run=run_translate)
    p = sub.add_parser("evaluate", help="translate a split of the run's data and score it (BLEU, chrF)",
                       epilog="example:\n  seqkit evaluate --run runs/quickstart --split test",
                       formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    _run_arguments(p)
    p.add_argument("--split", default="test", help="train, dev, test (default), or another split of the corpus")
    p.add_argument("--format", choices=("text", "json"), default="text", help="how to print the scores (default text)")
    p.add_argument("-m", "--metrics", nargs="+", metavar="NAME",
                   help="also score these registered metrics (ter, a plugin's, ...), beside BLEU and chrF")
    p.set_defaults(run=run_evaluate)
    p = sub.add_parser("average", help="average the weights of a run's newest snapshots",
                       epilog="example:\n  seqkit average --run runs/quickstart --last 3\n"
                       "  seqkit translate --run runs/quickstart --checkpoint averaged < in > out",
                       formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--run", dest="run_dir", required=True, metavar="RUN_DIR",
                   help="a run directory made by seqkit train")  # fmt: skip
    p.add_argument("--last", type=int, default=3, help="how many of the newest snapshots (default 3)")
    p.set_defaults(run=run_average)
