"""``seqkit bleu``: BLEU, chrF, TER or any registered metric of one or more systems against references.

``DESCRIPTION`` (below, and ``--help``) says what is sacrebleu's, byte for byte, and what is seqkit's own. The
scoring, bootstrap, paired tests and printing are sacrebleu's own classes and functions, fed with sacrebleu's
option names; seqkit reads the files, checks the arguments (refusing flags that sacrebleu would ignore, and
values that it takes but cannot mean: a negative smoothing value, negative chrF orders or both 0, a negative
chrF beta) and adds:

- ``-m`` names metrics of the plugin manager's metric registry: the sacrebleu ones
  (``seqkit.metrics.SacrebleuMetric``) go through sacrebleu as above; any other is called as the
  ``seqkit.metrics.Metric`` contract says and printed in sacrebleu's layout, without confidence intervals or
  paired tests (those need sacrebleu's sufficient statistics).
- ``--tok-lc`` switches to the tokenised-lowercased BLEU of older papers (``seqkit.metrics.TokLcBLEU``): the
  references are then the pre-tokenised ones, and every line of output names the score ``BLEU-tok-lc``.
- ``--paired-bs -f json``, which fails in sacrebleu (NumPy float32 in its results), prints the numbers of
  sacrebleu's ``PairedTest``; ``-sl -f json`` prints one JSON record a line.
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import gzip
import json
import math
import sys
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from seqkit.cli.flags import number
from seqkit.errors import UserError

# sacrebleu (slow to import) and seqkit.metrics are imported inside the functions: every seqkit command
# imports this module at start-up.

STDIN = "-"
STDIN_NAME = "<stdin>"
NEWLINE = b"\n"
#: the metrics scored without -m, named as ``seqkit.metrics.METRIC_CLASSES`` names them
METRICS = ("bleu", "chrf", "ter")
#: the metric scored without -m at sentence level (one metric only), as in sacrebleu
SENTENCE_METRIC = "bleu"
#: The options of each sacrebleu metric, by the ``dest`` of their flag. As in sacrebleu's CLI, the flag is
#: ``--`` and the dest with dashes, and the keyword of the metric's class is the dest less its ``chrf_``/``ter_``.
METRIC_FLAGS = {
    "bleu": ("tokenize", "lowercase", "smooth_method", "smooth_value", "force"),
    "chrf": ("chrf_char_order", "chrf_word_order", "chrf_beta", "chrf_whitespace", "chrf_lowercase",
             "chrf_eps_smoothing"),
    "ter": ("ter_case_sensitive", "ter_asian_support", "ter_no_punct", "ter_normalized"),
}  # fmt: skip


def read_lines(path: str, encoding: str = "utf-8") -> list[str]:
    """The lines of a text file in ``encoding`` (``.gz`` read through gzip; ``-`` is stdin), split on ``\\n``
    only and without trailing whitespace, as sacrebleu reads files, and without a leading BOM (which sacrebleu
    keeps). Raises ``UserError`` naming the file when it cannot be read, and the file and line for bytes that
    are not text in ``encoding``."""
    name = STDIN_NAME if path == STDIN else path
    try:
        if path == STDIN:
            data = sys.stdin.buffer.read()
        else:
            with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
                data = f.read()
    except (OSError, EOFError) as e:
        raise UserError(f"cannot read {name}: {getattr(e, 'strerror', None) or e}") from e
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as e:
        raise UserError(f"{name} line {_where(data, e, encoding)}") from None
    lines = text.removeprefix("\ufeff").split("\n")  # a BOM marks the encoding; it is not text
    if lines[-1] == "":
        lines.pop()
    return [line.rstrip() for line in lines]


def _where(data: bytes, e: UnicodeDecodeError, encoding: str) -> str:
    """``N: invalid ENCODING (byte 0xXX at byte M of the line)`` for the byte that ``e`` found undecodable; M
    counts from the start of the file instead in an encoding whose newline is not the byte 0x0a (UTF-16, ...)."""
    line = data[: e.start].decode(encoding, errors="replace").count("\n") + 1
    label = "UTF-8" if codecs.lookup(encoding).name == "utf-8" else encoding
    if "\n".encode(encoding) == NEWLINE:
        at = f"{e.start - data.rfind(NEWLINE, 0, e.start)} of the line"
    else:
        at = f"{e.start + 1} of the file"
    return f"{line}: invalid {label} (byte 0x{data[e.start]:02x} at byte {at})"


def _resolve_metrics(args: argparse.Namespace) -> dict[str, Any]:
    """Registered name -> metric object for every name of ``-m`` (default: ``METRICS``; ``SENTENCE_METRIC`` with
    ``-sl`` or ``--tok-lc``), looked up in the plugin manager's metric registry; an unknown name is bad input
    (``UnknownNameError``, with the closest name)."""
    from seqkit.metrics import get_metric

    registry = args.plugin_manager.registry("metric")
    resolved = {}
    for name in args.metrics or ((SENTENCE_METRIC,) if args.sentence_level or args.tok_lc else METRICS):
        try:
            resolved[name] = get_metric(registry, name)
        except UserError as e:
            raise UserError(f"-m {name}: {e}") from None
    return resolved


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def _metric_options(args: argparse.Namespace, chosen: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """sacrebleu metric kind -> keyword options of its class from the flags given (a flag not given leaves a
    registered variant's own option as it is). A flag of a metric that is not scored is refused."""
    from seqkit.metrics import SacrebleuMetric

    kinds = {"bleu"} if args.tok_lc else {m.kind for m in chosen.values() if isinstance(m, SacrebleuMetric)}
    options: dict[str, dict[str, Any]] = {}
    for kind, dests in METRIC_FLAGS.items():
        # not given: None (a value) or False (a switch); 0 is a value given
        given = {dest: value for dest in dests if (value := getattr(args, dest)) is not None and value is not False}
        if given and kind not in kinds:
            flag, scored = _flag(next(iter(given))), " ".join(chosen)
            raise UserError(f"{flag} is an option of {kind}, which is not scored (-m {scored})")
        options[kind] = {dest.removeprefix(f"{kind}_"): value for dest, value in given.items()}
    if args.sentence_level:
        # as sacrebleu's -sl: without it, a sentence with no 4-gram in common with a reference scores about 0
        options["bleu"]["effective_order"] = True
    return options


def _build_metrics(
    args: argparse.Namespace, chosen: dict[str, Any], options: dict[str, dict[str, Any]], references: list[list[str]]
) -> dict[str, Any]:
    """Key -> sacrebleu metric object with ``options`` (``_metric_options``) and the references cached (a
    ``SacrebleuMetric``) or the registered metric itself (any other), keyed by the upper-cased name and ordered as
    sacrebleu's CLI keys its metrics."""
    from seqkit.metrics import SacrebleuMetric, make_metric

    if args.tok_lc:
        # TokLcBLEU sets tokenize, lowercase and force itself; -tok is the hypotheses' tokenizer
        bleu = {k: v for k, v in options["bleu"].items() if k not in ("tokenize", "lowercase", "force")}
        built = {"BLEU": make_metric("tok-lc", references, hyp_tokenize=args.tokenize or "13a", **bleu)}
    else:
        built = {}
        for name, metric in chosen.items():
            if isinstance(metric, SacrebleuMetric):
                built[name.upper()] = metric.make(references, **options[metric.kind])
            else:
                built[name.upper()] = _Registered(name, metric, references)
    for metric in built.values():
        _check_built(args, metric)
    return built


def _check_built(args: argparse.Namespace, metric: Any) -> None:
    """Refuse what the options come to, flags and a registered variant's own together, where it means nothing."""
    from sacrebleu.metrics import BLEU, CHRF

    valueless = isinstance(metric, BLEU) and BLEU.SMOOTH_DEFAULTS[metric.smooth_method] is None
    if valueless and args.smooth_value is not None:
        raise UserError(f"-sv/--smooth-value is for --smooth-method floor or add-k, not {metric.smooth_method}")
    if isinstance(metric, CHRF) and metric.char_order + metric.word_order == 0:
        raise UserError("chrF needs character or word n-grams: -cc/--chrf-char-order or -cw/--chrf-word-order above 0")


class _Registered:
    """A registered metric that is not sacrebleu's, with the references it scores against."""

    def __init__(self, name: str, metric: Any, references: list[list[str]]) -> None:
        self.name, self.metric, self.references = name, metric, references

    def __call__(self, hypotheses: list[str]):
        from seqkit.metrics import compute

        return compute(self.name, self.metric, hypotheses, self.references)

    def sentence_score(self, hypothesis: str, references: list[str]):
        """The score of one sentence against its references, as sacrebleu's ``Metric.sentence_score``."""
        from seqkit.metrics import compute

        return compute(self.name, self.metric, [hypothesis], [[reference] for reference in references])


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
    if args.smooth_method is not None and args.smooth_method not in BLEU.SMOOTH_DEFAULTS:
        raise UserError(
            f"unknown --smooth-method {args.smooth_method!r}; sacrebleu's are: {', '.join(BLEU.SMOOTH_DEFAULTS)}"
        )
    if args.smooth_value is not None and not (math.isfinite(args.smooth_value) and args.smooth_value >= 0):
        raise UserError(f"-sv/--smooth-value must be a number of at least 0, got {args.smooth_value}")
    for dest, least in (("chrf_char_order", 0), ("chrf_word_order", 0), ("chrf_beta", 0), ("num_refs", 1)):
        value = getattr(args, dest)
        if value is not None and value < least:
            raise UserError(f"{_flag(dest)} must be at least {least}, got {value}")
    try:
        NEWLINE.decode(args.encoding, errors="replace")  # not b"": Python decodes that without a look-up
    except LookupError:
        raise UserError(f"unknown --encoding {args.encoding!r}: not a text encoding Python knows") from None
    if not args.refs:
        raise UserError(
            "no reference files: give them before -i, as in 'seqkit bleu REF [REF ...] -i HYP [HYP ...]' "
            "(-i takes every file after it)"
        )
    if args.num_refs > 1 and len(args.refs) > 1:
        raise UserError("-nr/--num-refs splits the lines of one REF file on tabs; give one REF file, or leave it out")
    seen = set()
    for path in inputs:
        if path in seen:
            raise UserError(f"{STDIN_NAME if path == STDIN else path} is given twice after -i")
        seen.add(path)
    _check_combination(args, inputs)


def _check_combination(args: argparse.Namespace, inputs: list[str]) -> None:
    """Refuse what sacrebleu refuses, and flags that it would ignore in this combination."""
    paired = "--paired-bs" if args.paired_bs else "--paired-ar" if args.paired_ar else None
    if paired and len(inputs) < 2:
        raise UserError("--paired-bs/--paired-ar need a baseline and at least one more system after -i")
    if args.confidence and len(inputs) > 1:
        raise UserError("--confidence is for one system; compare several with --paired-bs or --paired-ar")
    if args.tok_lc and args.metrics and set(args.metrics) != {"bleu"}:
        raise UserError("--tok-lc computes BLEU only; leave out -m or use -m bleu")
    if args.sentence_level:
        if len(inputs) > 1:
            raise UserError("-sl/--sentence-level scores one system; give one file after -i")
        if args.confidence or paired:
            raise UserError(f"-sl/--sentence-level has no statistical tests: leave out {paired or '--confidence'}")
        if args.metrics and len(args.metrics) > 1:
            raise UserError("-sl/--sentence-level scores one metric; give one after -m")
    if args.format == "latex" and (len(inputs) == 1 or args.sentence_level):
        raise UserError("-f latex is a table of several systems; for one system use -f text or -f json")
    if args.score_only and len(inputs) > 1 and not args.sentence_level:
        raise UserError("-b/--score-only is for one system; several are printed as a table")
    if args.short and args.format == "json":
        raise UserError("--short shortens the signatures of text and latex output; JSON keeps sacrebleu's full keys")


def _check_statistics(args: argparse.Namespace, chosen: dict[str, Any]) -> None:
    """Confidence intervals and paired tests resample sacrebleu's sufficient statistics: other metrics have none."""
    from seqkit.metrics import SacrebleuMetric

    others = [name for name, metric in chosen.items() if not isinstance(metric, SacrebleuMetric)]
    flags = [f for f, given in (("--confidence", args.confidence), ("--paired-bs", args.paired_bs),
                                 ("--paired-ar", args.paired_ar)) if given]  # fmt: skip
    if others and flags:
        flag = flags[0]
        raise UserError(f"{flag} needs sacrebleu's metrics (bleu, chrf, ter); -m {others[0]} is not one of them")


def _read_references(args: argparse.Namespace) -> list[list[str]]:
    """The reference streams: one a REF file, or ``-nr`` of them from the tab-separated fields of one."""
    files = [read_lines(path, args.encoding) for path in args.refs]
    if args.num_refs == 1:
        return files
    streams: list[list[str]] = [[] for _ in range(args.num_refs)]
    for line_number, line in enumerate(files[0], 1):
        fields = line.split("\t", args.num_refs - 1)
        if len(fields) != args.num_refs:
            raise UserError(f"{args.refs[0]} line {line_number}: {len(fields)} tab-separated references, -nr says "
                            f"{args.num_refs}")  # fmt: skip
        for stream, field in zip(streams, fields):
            stream.append(field)
    return streams


def _read_systems(args: argparse.Namespace, inputs: list[str]) -> tuple[list[tuple[str, list[str]]], list[list[str]]]:
    """(system name, hypotheses) pairs and reference streams, checked: no empty system, equal line counts."""
    references = _read_references(args)
    systems = [(STDIN_NAME if path == STDIN else path, read_lines(path, args.encoding)) for path in inputs]
    for name, hypotheses in systems:
        if not hypotheses:
            raise UserError(f"{name} is empty: no hypotheses to score")
        for ref_path, stream in zip(args.refs * args.num_refs, references):
            if len(stream) != len(hypotheses):
                raise UserError(
                    f"{name} has {len(hypotheses)} lines but {ref_path} has {len(stream)}: they must match line "
                    "for line; nothing scored"
                )
    return systems, references


def _add_note(json_text: str, note: str | None, indent: int | None = 1) -> str:
    """sacrebleu's JSON record with the tok-lc note after its name, written with ``indent`` (None: one line); a
    bare number (``-b``) stays as it is."""
    record = json.loads(json_text)
    if isinstance(record, dict) and note:
        record = {"name": record.pop("name"), "note": note, **record}
    return json.dumps(record, indent=indent, ensure_ascii=False)


def _print_sentences(args: argparse.Namespace, metric: Any, hypotheses: list[str], references: list[list[str]],
                     note: str | None) -> None:  # fmt: skip
    """A score for each sentence, one line each, as sacrebleu's ``-sl`` prints them (``-f json``: one record
    a line)."""
    as_json = args.format == "json"
    for hypothesis, *refs in zip(hypotheses, *references):
        score = metric.sentence_score(hypothesis, refs)
        if isinstance(metric, _Registered):
            line = score.format(args.width, args.score_only, as_json)
        else:
            line = score.format(args.width, args.score_only, metric.get_signature().format(args.short), as_json)
        print(_add_note(line, note, indent=None) if as_json else line)


def run(args: argparse.Namespace) -> int:
    from sacrebleu.utils import print_results_table, print_single_results

    from seqkit.metrics import TOK_LC_NOTE, paired_test

    inputs = args.input or [STDIN]
    _check_arguments(args, inputs)
    chosen = _resolve_metrics(args)
    _check_statistics(args, chosen)
    options = _metric_options(args, chosen)
    systems, references = _read_systems(args, inputs)
    try:
        metrics = _build_metrics(args, chosen, options, references)
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

    if note and not as_json:
        print(note)
    if args.sentence_level:
        (metric,) = metrics.values()
        _print_sentences(args, metric, systems[0][1], references, note)
        return 0
    if len(systems) == 1:
        results = []
        for key in sorted(metrics):
            metric = metrics[key]
            if isinstance(metric, _Registered):
                results.append(metric(systems[0][1]).format(args.width, args.score_only, as_json))
                continue
            n_bootstrap = args.confidence_n if args.confidence else 1
            score = metric.corpus_score(systems[0][1], None, n_bootstrap=n_bootstrap)
            line = score.format(args.width, args.score_only, metric.get_signature().format(args.short), as_json)
            results.append(_add_note(line, note) if note and as_json else line)
    elif args.paired_bs or args.paired_ar:
        named = [(f"Baseline: {systems[0][0]}", systems[0][1]), *systems[1:]]
        test = "bs" if args.paired_bs else "ar"
        signatures, scores = paired_test(
            named, metrics, test=test, n_samples=args.paired_bs_n if args.paired_bs else args.paired_ar_n,
            short=args.short,
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
                signatures[score.name] = metrics[key].get_signature().format(args.short)
                scores[score.name].append(score.format(args.width, True))

    with _no_colours():
        if len(systems) == 1:
            print_single_results(results, layout)
        else:
            print_results_table(scores, signatures, layout)
    return 0


DESCRIPTION = """\
Score system output with sacrebleu: BLEU, chrF(++) and TER of the corpus or of each sentence, with confidence
intervals and paired significance tests; -m also takes any metric a plugin registers (see 'seqkit plugins').

The options are sacrebleu's, and so is the output, byte for byte, once -m and -f are spelled out: 'seqkit bleu
ARGS' prints what 'sacrebleu ARGS -m bleu chrf ter -f text --no-color' prints (seqkit's defaults, with -m bleu
for -sl; sacrebleu's are -m bleu -f json), and with -m or -f given, what sacrebleu prints with the same. That
holds for -f text and json of one system, -f text, json and latex of several, and -sl in text. seqkit's own:
--paired-bs -f json (sacrebleu's fails), -sl -f json (a record a line; sacrebleu prints text), --tok-lc and
plugin metrics. Stdin is one system (sacrebleu splits it on tabs) whose lines end at LF only, as a file's
(sacrebleu's stdin also ends them at CR); a leading BOM is dropped (sacrebleu keeps it); a flag that sacrebleu
would ignore is refused."""


def add_parser(sub) -> None:
    p = sub.add_parser(
        "bleu",
        help="BLEU, chrF, TER or any registered metric against references, with sacrebleu's numbers and output",
        description=DESCRIPTION,
        epilog="examples:\n  seqkit bleu ref.en -i hyp.en\n  seqkit bleu ref.en -i hyp.en --confidence\n"
        "  seqkit bleu ref.en -i baseline.en system.en --paired-bs\n  seqkit bleu ref.en -i hyp.en -m chrf -cw 2"
        "      # chrF++\n  seqkit bleu ref.en -i hyp.en -sl -m bleu -b    # sentence BLEU, one number a line\n"
        "  cat hyp.en | seqkit bleu ref.en",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("refs", nargs="*", metavar="REF", help="reference file(s), one segment a line; give them before -i")
    p.add_argument(
        "-i", "--input", nargs="+", metavar="HYP",
        help="system output file(s) ('-' or none: stdin); with several, the first is the baseline of paired tests",
    )
    p.add_argument(
        "-nr", "--num-refs", type=int, default=1, metavar="N",
        help="split each line of the one REF file on tabs into N references (default 1: a reference a file)",
    )
    p.add_argument(
        "-e", "--encoding", default="utf-8", metavar="ENCODING",
        help="the encoding of REF, HYP and stdin, a name Python knows (default utf-8)",
    )
    p.add_argument(
        "-m", "--metrics", nargs="+", metavar="METRIC",
        help="metrics to compute: bleu, chrf, ter or any registered metric (seqkit plugins lists them; default: "
        "bleu chrf ter; with -sl or --tok-lc, bleu)",
    )
    p.add_argument(
        "-sl", "--sentence-level", action="store_true",
        help="a score for each sentence, a line each: one system, one metric (BLEU with effective order, as "
        "sacrebleu's -sl)",
    )
    bleu = p.add_argument_group("BLEU")
    bleu.add_argument(
        "-s", "--smooth-method", metavar="METHOD",
        help="BLEU's smoothing: exp (default), floor, add-k or none",
    )
    bleu.add_argument(
        "-sv", "--smooth-value", type=float, metavar="VALUE",
        help="the value of floor (default 0.1) or add-k (default 1) smoothing, at least 0",
    )
    bleu.add_argument(
        "-tok", "--tokenize", metavar="TOKENIZER",
        help="BLEU's tokenizer, one of sacrebleu's: 13a (default), intl, char, none, zh, ja-mecab, ... (a name it "
        "does not know is refused with the full list); with --tok-lc, the tokenizer applied to the hypotheses",
    )
    bleu.add_argument("-lc", "--lowercase", action="store_true", help="case-insensitive BLEU (as sacrebleu's -lc)")
    bleu.add_argument(
        "--force", action="store_true",
        help="no warning when 100 hypotheses or more end in ' .' (a sign of tokenised output)",
    )
    bleu.add_argument(
        "--tok-lc", action="store_true",
        help="tokenised, lowercased BLEU for comparison with older papers (labelled BLEU-tok-lc, not sacreBLEU): "
        "hypotheses tokenised (--tokenize, default 13a) and lowercased, REF files pre-tokenised, lowercased here",
    )
    chrf = p.add_argument_group("chrF")
    chrf.add_argument("-cc", "--chrf-char-order", type=int, metavar="N", help="character n-gram order (default 6)")
    chrf.add_argument(
        "-cw", "--chrf-word-order", type=int, metavar="N", help="word n-gram order (default 0; 2 is chrF++)"
    )
    chrf.add_argument(
        "--chrf-beta", type=int, metavar="N", help="the weight of recall against precision (default 2: chrF2)"
    )
    chrf.add_argument("--chrf-whitespace", action="store_true", help="whitespace in the character n-grams")
    chrf.add_argument("--chrf-lowercase", action="store_true", help="case-insensitive chrF")
    chrf.add_argument(
        "--chrf-eps-smoothing", action="store_true",
        help="epsilon smoothing as chrF++.py, NLTK and Moses, not the effective order",
    )
    ter = p.add_argument_group("TER (the defaults are TERCOM's)")
    ter.add_argument("--ter-case-sensitive", action="store_true", help="case-sensitive TER")
    ter.add_argument("--ter-asian-support", action="store_true", help="special treatment of Asian characters")
    ter.add_argument("--ter-no-punct", action="store_true", help="punctuation removed")
    ter.add_argument("--ter-normalized", action="store_true", help="basic normalisation and tokenisation")
    stats = p.add_argument_group("confidence intervals and paired tests")
    stats.add_argument(
        "-ci", "--confidence", action="store_true", help="bootstrap 95%% confidence interval (one system)"
    )
    stats.add_argument(
        "-cin", "--confidence-n", type=number(int, 2), default=1000, metavar="N", help="bootstrap resamples (1000)"
    )
    paired = stats.add_mutually_exclusive_group()
    paired.add_argument(
        "-pbs", "--paired-bs", action="store_true", help="paired bootstrap resampling test against the first"
    )
    paired.add_argument("-par", "--paired-ar", action="store_true", help="paired approximate randomisation test, ditto")
    stats.add_argument(
        "-pbsn", "--paired-bs-n", type=number(int, 1), default=1000, metavar="N",
        help="paired bootstrap resamples (1000)",
    )
    stats.add_argument(
        "-parn", "--paired-ar-n", type=number(int, 1), default=10000, metavar="N", help="randomisation trials (10000)"
    )
    output = p.add_argument_group("output")
    output.add_argument(
        "-f", "--format", choices=("text", "json", "latex"), default="text",
        help="output format (default text; latex: the table of several systems)",
    )
    output.add_argument(
        "-w", "--width", type=number(int, 0), default=1, metavar="N", help="decimals of the scores (default 1)"
    )
    output.add_argument("-sh", "--short", action="store_true", help="short signatures (text and latex)")
    output.add_argument(
        "-b", "--score-only", action="store_true", help="the scores alone (one system, or with -sl)"
    )
    p.set_defaults(run=run)
