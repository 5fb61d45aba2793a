"""``seqkit bleu``: BLEU, chrF, TER or any registered metric of one or more systems against references.

``seqkit bleu REF [REF ...] -i HYP [HYP ...]`` prints what ``sacrebleu REF ... -i HYP ... -m bleu chrf ter -f
text`` prints, line for line (``--format json``: sacrebleu's JSON), with sacrebleu's own scoring, bootstrap,
paired tests and output functions. ``-m`` names metrics of the plugin manager's metric registry: the
sacrebleu ones (``seqkit.metrics.SacrebleuMetric``) go through sacrebleu as above; any other is called as the
``seqkit.metrics.Metric`` contract says and printed in sacrebleu's layout, without confidence intervals or
paired tests (those need sacrebleu's sufficient statistics).

References come before ``-i``, which takes every file after it. Without ``-i`` (or with ``-i -``) the hypotheses
are read from stdin, as one system (sacrebleu would split stdin on tabs into several). Output has no terminal
colours.

``--tok-lc`` switches to the tokenised-lowercased BLEU of older papers (``seqkit.metrics.TokLcBLEU``): the
references are then the pre-tokenised ones, and every line of output names the score ``BLEU-tok-lc``.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import sys
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from seqkit.errors import UserError

# sacrebleu (slow to import) and seqkit.metrics are imported inside the functions: every seqkit command
# imports this module at start-up.

STDIN = "-"
STDIN_NAME = "<stdin>"
#: the metrics scored without -m, named as ``seqkit.metrics.METRIC_CLASSES`` names them
METRICS = ("bleu", "chrf", "ter")


def read_lines(path: str) -> list[str]:
    """The lines of a UTF-8 text file (``.gz`` read through gzip; ``-`` is stdin), split on ``\\n`` only and
    without trailing whitespace, as sacrebleu reads them, and without a leading BOM (which sacrebleu keeps).
    Raises ``UserError`` naming the file when it cannot be read, and the file and line for invalid UTF-8."""
    name = STDIN_NAME if path == STDIN else path
    try:
        if path == STDIN:
            data = sys.stdin.buffer.read()
        else:
            with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
                data = f.read()
    except (OSError, EOFError) as e:
        raise UserError(f"cannot read {name}: {getattr(e, 'strerror', None) or e}") from e
    if data.startswith(b"\xef\xbb\xbf"):  # a UTF-8 BOM marks the encoding; it is not text
        data = data[3:]
    raw_lines = data.split(b"\n")
    if raw_lines[-1] == b"":
        raw_lines.pop()
    lines = []
    for number, raw in enumerate(raw_lines, 1):
        try:
            lines.append(raw.decode("utf-8").rstrip())
        except UnicodeDecodeError as e:
            raise UserError(
                f"{name} line {number}: invalid UTF-8 (byte 0x{raw[e.start]:02x} at byte {e.start + 1} of the line)"
            ) from None
    return lines


def _resolve_metrics(args: argparse.Namespace) -> dict[str, Any]:
    """Registered name -> metric object for every name of ``-m`` (default: ``METRICS``), looked up in the plugin
    manager's metric registry; an unknown name is bad input (``UnknownNameError``, with the closest name)."""
    from seqkit.metrics import get_metric

    registry = args.plugin_manager.registry("metric")
    resolved = {}
    for name in args.metrics or METRICS:
        try:
            resolved[name] = get_metric(registry, name)
        except UserError as e:
            raise UserError(f"-m {name}: {e}") from None
    return resolved


def _build_metrics(args: argparse.Namespace, chosen: dict[str, Any], references: list[list[str]]) -> dict[str, Any]:
    """Key -> sacrebleu metric object with the references cached (a ``SacrebleuMetric``) or the registered metric
    itself (any other), keyed by the upper-cased name and ordered as sacrebleu's CLI keys its metrics."""
    from seqkit.metrics import SacrebleuMetric, make_metric

    if args.tok_lc:
        return {"BLEU": make_metric("tok-lc", references, hyp_tokenize=args.tokenize or "13a")}
    # only flags that were given: a registered variant's own options stay unless a flag overrides them
    bleu_flags: dict[str, Any] = {"tokenize": args.tokenize} if args.tokenize else {}
    if args.lowercase:
        bleu_flags["lowercase"] = True
    built = {}
    for name, metric in chosen.items():
        if isinstance(metric, SacrebleuMetric):
            built[name.upper()] = metric.make(references, **(bleu_flags if metric.kind == "bleu" else {}))
        else:
            built[name.upper()] = _Registered(name, metric, references)
    return built


class _Registered:
    """A registered metric that is not sacrebleu's, with the references it scores against."""

    def __init__(self, name: str, metric: Any, references: list[list[str]]) -> None:
        self.name, self.metric, self.references = name, metric, references

    def __call__(self, hypotheses: list[str]):
        from seqkit.metrics import compute

        return compute(self.name, self.metric, hypotheses, self.references)


@contextlib.contextmanager
def _no_colours() -> Iterator[None]:
    from sacrebleu.utils import Color

    saved, Color.ENABLE_COLORS = Color.ENABLE_COLORS, False
    try:
        yield
    finally:
        Color.ENABLE_COLORS = saved


def _check_arguments(args: argparse.Namespace, inputs: list[str]) -> None:
    from sacrebleu.metrics import BLEU

    if args.tokenize is not None and args.tokenize not in BLEU.TOKENIZERS:
        raise UserError(f"unknown --tokenize {args.tokenize!r}; sacrebleu's are: {', '.join(BLEU.TOKENIZERS)}")
    if not args.refs:
        raise UserError(
            "no reference files: give them before -i, as in 'seqkit bleu REF [REF ...] -i HYP [HYP ...]' "
            "(-i takes every file after it)"
        )
    seen = set()
    for path in inputs:
        if path in seen:
            raise UserError(f"{STDIN_NAME if path == STDIN else path} is given twice after -i")
        seen.add(path)
    if (args.paired_bs or args.paired_ar) and len(inputs) < 2:
        raise UserError("--paired-bs/--paired-ar need a baseline and at least one more system after -i")
    if args.confidence and len(inputs) > 1:
        raise UserError("--confidence is for one system; compare several with --paired-bs or --paired-ar")
    if args.tok_lc and args.metrics and set(args.metrics) != {"bleu"}:
        raise UserError("--tok-lc computes BLEU only; leave out -m or use -m bleu")


def _check_statistics(args: argparse.Namespace, chosen: dict[str, Any]) -> None:
    """Confidence intervals and paired tests resample sacrebleu's sufficient statistics: other metrics have none."""
    from seqkit.metrics import SacrebleuMetric

    others = [name for name, metric in chosen.items() if not isinstance(metric, SacrebleuMetric)]
    flags = [f for f, given in (("--confidence", args.confidence), ("--paired-bs", args.paired_bs),
                                 ("--paired-ar", args.paired_ar)) if given]  # fmt: skip
    if others and flags:
        flag = flags[0]
        raise UserError(f"{flag} needs sacrebleu's metrics (bleu, chrf, ter); -m {others[0]} is not one of them")


def _read_systems(args: argparse.Namespace, inputs: list[str]) -> tuple[list[tuple[str, list[str]]], list[list[str]]]:
    """(system name, hypotheses) pairs and reference streams, checked: no empty system, equal line counts."""
    references = [read_lines(path) for path in args.refs]
    systems = [(STDIN_NAME if path == STDIN else path, read_lines(path)) for path in inputs]
    for name, hypotheses in systems:
        if not hypotheses:
            raise UserError(f"{name} is empty: no hypotheses to score")
        for ref_path, stream in zip(args.refs, references):
            if len(stream) != len(hypotheses):
                raise UserError(
                    f"{name} has {len(hypotheses)} lines but {ref_path} has {len(stream)}: they must match line "
                    "for line; nothing scored"
                )
    return systems, references


def _add_note(json_text: str, note: str) -> str:
    record = json.loads(json_text)
    record = {"name": record.pop("name"), "note": note, **record}
    return json.dumps(record, indent=1, ensure_ascii=False)


def run(args: argparse.Namespace) -> int:
    from sacrebleu.utils import print_results_table, print_single_results

    from seqkit.metrics import TOK_LC_NOTE, paired_test

    inputs = args.input or [STDIN]
    _check_arguments(args, inputs)
    chosen = _resolve_metrics(args)
    _check_statistics(args, chosen)
    systems, references = _read_systems(args, inputs)
    try:
        metrics = _build_metrics(args, chosen, references)
    except (ImportError, RuntimeError, OSError) as e:
        if args.tokenize is None:
            raise
        # ja-mecab, ko-mecab need packages seqkit does not depend on; spm, flores* download a model
        raise UserError(f"--tokenize {args.tokenize}: {' '.join(str(e).split())}") from e
    note = TOK_LC_NOTE.format(tok=args.tokenize or "13a") if args.tok_lc else None
    as_json = args.format == "json"
    # The attributes sacrebleu's print functions read from its own parsed arguments.
    layout = argparse.Namespace(
        format=args.format, width=args.width, paired_bs=args.paired_bs, paired_ar=args.paired_ar,
        paired_bs_n=args.paired_bs_n, paired_ar_n=args.paired_ar_n,
    )

    if len(systems) == 1:
        results = []
        for key in sorted(metrics):
            metric = metrics[key]
            if isinstance(metric, _Registered):
                results.append(metric(systems[0][1]).format(args.width, False, as_json))
                continue
            n_bootstrap = args.confidence_n if args.confidence else 1
            score = metric.corpus_score(systems[0][1], None, n_bootstrap=n_bootstrap)
            line = score.format(args.width, False, metric.get_signature().format(), as_json)
            results.append(_add_note(line, note) if note and as_json else line)
    elif args.paired_bs or args.paired_ar:
        named = [(f"Baseline: {systems[0][0]}", systems[0][1]), *systems[1:]]
        test = "bs" if args.paired_bs else "ar"
        signatures, scores = paired_test(
            named, metrics, test=test, n_samples=args.paired_bs_n if args.paired_bs else args.paired_ar_n
        )
    else:
        signatures, scores = {}, defaultdict(list)
        scores["System"] = [name for name, _ in systems]
        for _, hypotheses in systems:
            for key in sorted(metrics):
                if isinstance(metrics[key], _Registered):
                    result = metrics[key](hypotheses)
                    signatures[result.name] = result.signature
                    scores[result.name].append(result.format(args.width, True))
                    continue
                score = metrics[key].corpus_score(hypotheses, None)
                signatures[score.name] = metrics[key].get_signature().format()
                scores[score.name].append(score.format(args.width, True))

    if note and not as_json:
        print(note)
    with _no_colours():
        if len(systems) == 1:
            print_single_results(results, layout)
        else:
            print_results_table(scores, signatures, layout)
    return 0


def _count(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def add_parser(sub) -> None:
    p = sub.add_parser(
        "bleu",
        help="BLEU, chrF, TER or any registered metric against references, as sacrebleu prints them",
        description="Score system output with sacrebleu: BLEU, chrF and TER, confidence intervals and paired "
        "significance tests, printed as 'sacrebleu REF -i HYP -m bleu chrf ter' prints them; -m also takes any "
        "metric a plugin registers (see 'seqkit plugins').",
        epilog="examples:\n  seqkit bleu ref.en -i hyp.en\n  seqkit bleu ref.en -i hyp.en --confidence\n"
        "  seqkit bleu ref.en -i baseline.en system.en --paired-bs\n  cat hyp.en | seqkit bleu ref.en",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("refs", nargs="*", metavar="REF", help="reference file(s), one segment a line; give them before -i")
    p.add_argument(
        "-i", "--input", nargs="+", metavar="HYP",
        help="system output file(s) ('-' or none: stdin); with several, the first is the baseline of paired tests",
    )
    p.add_argument(
        "-m", "--metrics", nargs="+", metavar="METRIC",
        help="metrics to compute: bleu, chrf, ter or any registered metric (seqkit plugins lists them; default: "
        "bleu chrf ter)",
    )
    p.add_argument(
        "-tok", "--tokenize", metavar="TOKENIZER",
        help="BLEU's tokenizer, one of sacrebleu's: 13a (default), intl, char, none, zh, ja-mecab, ... (a name it "
        "does not know is refused with the full list); with --tok-lc, the tokenizer applied to the hypotheses",
    )
    p.add_argument("-lc", "--lowercase", action="store_true", help="case-insensitive BLEU (as sacrebleu's -lc)")
    p.add_argument(
        "--tok-lc", action="store_true",
        help="tokenised, lowercased BLEU for comparison with older papers (labelled BLEU-tok-lc, not sacreBLEU): "
        "hypotheses tokenised (--tokenize, default 13a) and lowercased, REF files pre-tokenised, lowercased here",
    )
    p.add_argument("-ci", "--confidence", action="store_true", help="bootstrap 95%% confidence interval (one system)")
    p.add_argument("--confidence-n", type=_count(2), default=1000, metavar="N", help="bootstrap resamples (1000)")
    paired = p.add_mutually_exclusive_group()
    paired.add_argument("--paired-bs", action="store_true", help="paired bootstrap resampling test against the first")
    paired.add_argument("--paired-ar", action="store_true", help="paired approximate randomisation test, ditto")
    p.add_argument("--paired-bs-n", type=_count(1), default=1000, metavar="N", help="paired bootstrap resamples (1000)")
    p.add_argument("--paired-ar-n", type=_count(1), default=10000, metavar="N", help="randomisation trials (10000)")
    p.add_argument("-f", "--format", choices=("text", "json"), default="text", help="output format (default text)")
    p.add_argument("-w", "--width", type=_count(0), default=1, metavar="N", help="decimals of the scores (default 1)")
    p.set_defaults(run=run)
