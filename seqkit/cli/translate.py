"""``seqkit translate``, ``seqkit score``, ``seqkit evaluate`` and ``seqkit average``: using a trained run."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy

from seqkit.cli.flags import number
from seqkit.errors import UserError
from seqkit.io import atomic_write
from seqkit.ranges import MAX_BEAM


def _decoding(args: argparse.Namespace, run) -> dict:
    """The run's ``[decoding]`` with the command line's changes: ``--strategy`` (another strategy starts from
    its own defaults), the shorthands ``--beam``, ``--alpha``, ``--length-penalty``, ``--batch-size``, and
    ``--set decoding.KEY=VALUE``. ``Run.translator`` checks the result as a recipe's."""
    from seqkit.recipes import parse_override

    sets = {}
    for text in args.set or []:
        keys, value = parse_override(text)
        if len(keys) != 2 or keys[0] != "decoding":
            raise UserError(f"--set {text!r}: {args.command} sets decoding keys only, e.g. --set decoding.top_k=10")
        sets[keys[1]] = value
    strategy = args.strategy or sets.pop("strategy", None)
    shorthands = {k: getattr(args, k) for k in ("beam", "alpha", "length_penalty", "batch_size")
                  if getattr(args, k) is not None}  # fmt: skip
    return run.decoding_table(strategy, shorthands | sets)


def _ensemble(args: argparse.Namespace) -> list:
    from seqkit.runs import Run

    return [Run.open(d, args.plugin_manager, args.checkpoint, args.device) for d in args.ensemble or []]


def _input_lines(path: str | None) -> Iterator[str]:
    """The lines of ``path`` (plain or gzip'd; stdin for None or ``-``), each as soon as it arrives, without its
    line end and a leading BOM; ``UserError`` naming the input and line for invalid UTF-8."""
    from seqkit.data import decode_lines, read_lines

    if path in (None, "-"):
        return decode_lines(sys.stdin.buffer, "<stdin>")
    return read_lines(path)


def _parts(lines: Iterator[str], size: int) -> Iterator[list[str]]:
    """``lines`` in lists of ``size`` (the last may be shorter), each as soon as it is full; 0: one list of all."""
    if size == 0:
        yield list(lines)
        return
    part = []
    for line in lines:
        part.append(line)
        if len(part) == size:
            yield part
            part = []
    if part:
        yield part


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


def _format(hyps: list, i: int, args: argparse.Namespace) -> str:
    """Sentence ``i``'s output lines: the best hypothesis' text, ``score<TAB>text`` with ``--scores``, or with
    ``--nbest N`` (N > 1) N lines ``i ||| text ||| score``."""
    if args.nbest > 1:
        return "".join(f"{i} ||| {h.text} ||| {h.score:.6f}\n" for h in hyps[: args.nbest])
    h = hyps[0]
    return f"{h.score:.6f}\t{h.text}\n" if args.scores else h.text + "\n"


def run_translate(args: argparse.Namespace) -> int:
    from seqkit.runs import Run

    if args.scores and args.nbest > 1:
        raise UserError("--scores: the n-best format 'i ||| text ||| score' already gives every score; drop --scores")
    if args.output:
        _check_writable(args.output)
    if args.attention:
        _check_writable(args.attention)
    run = Run.open(args.run_dir, args.plugin_manager, args.checkpoint, args.device)
    translate = run.translator(_decoding(args, run), nbest=args.nbest, keep_attention=bool(args.attention),
                               ensemble=_ensemble(args))  # fmt: skip
    prefixes = list(_input_lines(args.prefix_file)) if args.prefix_file else None
    stdin = args.input in (None, "-")
    size = args.buffer_size if args.buffer_size is not None else (1 if stdin and sys.stdin.isatty() else 0)
    out, found, done = [], [], 0
    for part in _parts(_input_lines(args.input), size):
        bar = None
        if size == 0 and sys.stderr.isatty():
            from tqdm import tqdm

            bar = tqdm(total=sum(1 for s in part if s.strip()), file=sys.stderr, unit="sent", leave=False)
        forced = None
        if prefixes is not None:
            forced = prefixes[done : done + len(part)]
            if len(forced) < len(part) or (size == 0 and len(prefixes) > len(part)):
                raise UserError(f"{args.prefix_file} has {len(prefixes)} lines, the input {'at least ' * (size > 0)}"
                                f"{done + len(part)}: --prefix-file needs one prefix per input line")  # fmt: skip
        results = translate(part, bar.update if bar else None, forced)
        if bar:
            bar.close()
        text = "".join(_format(hyps, done + i, args) for i, hyps in enumerate(results))
        if args.output:
            out.append(text)
        else:
            sys.stdout.write(text)
            sys.stdout.flush()  # a streamed line's translation leaves at once
        if args.attention:
            found += attention_weights(run, part, results)
        done += len(part)
    if prefixes is not None and len(prefixes) != done:
        raise UserError(f"{args.prefix_file} has {len(prefixes)} lines, the input {done}: --prefix-file needs one "
                        "prefix per input line")  # fmt: skip
    if args.output:
        with atomic_write(args.output) as f:
            f.write("".join(out))
    if args.attention:
        weights = {f"sentence_{i}": w for i, w in enumerate(found) if w is not None}
        if args.attention.endswith(".json"):
            with atomic_write(args.attention) as f:
                json.dump({k: v.tolist() for k, v in weights.items()}, f)
        else:
            with atomic_write(args.attention, "wb") as f:
                numpy.savez(f, **weights)
    return 0


def _check_writable(path: str) -> None:
    """``UserError`` now, before any decoding, when ``path`` cannot be written: its folder is missing, or it is
    a folder."""
    target = Path(path)
    if target.is_dir():
        raise UserError(f"{path}: is a directory, not a file to write")
    if not target.parent.is_dir():
        raise UserError(f"{path}: its directory {target.parent} does not exist")


def run_score(args: argparse.Namespace) -> int:
    from seqkit.runs import Run

    if args.output:
        _check_writable(args.output)
    run = Run.open(args.run_dir, args.plugin_manager, args.checkpoint, args.device)
    sources, targets = list(_input_lines(args.source)), list(_input_lines(args.target))
    if len(sources) != len(targets):
        raise UserError(f"{args.source} has {len(sources)} lines but {args.target} has {len(targets)}; "
                        "seqkit score needs one target per source line")  # fmt: skip
    empty = next((i for i, s in enumerate(sources, 1) if not s.strip()), None)
    if empty is not None:
        raise UserError(f"{args.source}:{empty}: empty source line: nothing to score its target against")
    found = run.score(sources, targets, batch_size=args.batch_size, ensemble=_ensemble(args))
    lines = []
    for lp in found:
        total = f"{float(numpy.cumsum(lp)[-1]):.6f}"
        lines.append(f"{total}\t{' '.join(f'{x:.6f}' for x in lp)}" if args.tokens else total)
    text = "".join(line + "\n" for line in lines)
    if args.output:
        with atomic_write(args.output) as f:
            f.write(text)
    else:
        sys.stdout.write(text)
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
    p.add_argument("--beam", type=number(int, 1, MAX_BEAM),
                   help="beam size, for --strategy beam (same as --set decoding.beam=N)")  # fmt: skip
    p.add_argument("--alpha", type=number(float, 0), help="length penalty strength, for --strategy beam")
    p.add_argument("--length-penalty", choices=("gnmt", "normalize", "none"),
                   help="length penalty kind, for --strategy beam")
    p.add_argument("--batch-size", type=number(int, 1), help="sentences decoded together")
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
    p.add_argument("--nbest", type=number(int, 1, MAX_BEAM), default=1,
                   help="print N hypotheses per line as 'i ||| text ||| score'")  # fmt: skip
    p.add_argument("--scores", action="store_true", help="print 'score<TAB>text' (with --nbest 1)")
    p.add_argument("--prefix-file", metavar="FILE",
                   help="one line per input line: the start each translation must have (empty: none); the model "
                   "continues it, as for interactive completion")  # fmt: skip
    p.add_argument("--buffer-size", type=number(int, 0), metavar="N",
                   help="translate the input N lines at a time, writing each part's translations as soon as they are "
                   "done (1: line by line, the default when stdin is a terminal; 0: read the whole input first, "
                   "the default otherwise, which batches best)")  # fmt: skip
    p.add_argument("--attention", metavar="FILE",
                   help="save the best hypotheses' attention weights (.npz, or .json): per sentence (steps, source "
                   "pieces), or for a transformer (layers, heads, steps, source pieces), every decoder layer's "
                   "cross-attention per head")  # fmt: skip
    p.set_defaults(run=run_translate)
    p = sub.add_parser("score", help="score given translations under a trained run (forced decoding)",
                       epilog="example:\n  seqkit score --run runs/quickstart -s test.de -t test.en\n"
                       "prints the log-probability of each target given its source (with --tokens, also each of its "
                       "subword tokens' and EOS's),\nthe number beam search reports as its log_prob for that output",
                       formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--run", dest="run_dir", required=True, metavar="RUN_DIR",
                   help="a run directory made by seqkit train")  # fmt: skip
    p.add_argument("--checkpoint", default="best", help="best (default), last, averaged, or a checkpoint file")
    p.add_argument("--device", help="cpu or cuda:N (default: the recipe's training.device)")
    p.add_argument("-s", "--source", required=True, help="source sentences, one per line (UTF-8, plain or gzip'd)")
    p.add_argument("-t", "--target", required=True, help="their translations, line by line")
    p.add_argument("-o", "--output", help="output file (default: stdout), written atomically")
    p.add_argument("--tokens", action="store_true",
                   help="after each total, a tab and the log-probability of each target token and of EOS")
    p.add_argument("--batch-size", type=number(int, 1), default=64, help="pairs scored together (default 64)")
    p.add_argument("--ensemble", nargs="+", metavar="RUN_DIR",
                   help="score with the average of this run's model and these runs' (same tokenizers)")
    p.set_defaults(run=run_score)
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
    p.add_argument("--last", type=number(int, 1), default=3, help="how many of the newest snapshots (default 3)")
    p.set_defaults(run=run_average)
