"""A run directory, from a recipe to a trained translator, and back to translations.

Layout::

    RUN/recipe.toml       the resolved recipe (every default filled in)
    RUN/tokenizer/        the trained tokenizer(s)
    RUN/checkpoints/      last.npz, best.npz, snapshot_<iteration>.npz (see seqkit.training.checkpoints)
    RUN/log.jsonl         one JSON object per report
    RUN/translations/     dev.txt (latest validation), test.txt
    RUN/results.json      the final test scores: BLEU, chrF and the monitored metric
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy

from seqkit import corpora
from seqkit import random as seqkit_random
from seqkit.backend import resolve_device
from seqkit.config import using_config
from seqkit.data import BatchIterator, ParallelData, load_parallel, normalize, read_parallel
from seqkit.decoding import Ensemble, Hypothesis, Prefixed, for_search, force_decode
from seqkit.distributed import Communicator
from seqkit.errors import UserError
from seqkit.io import DirectoryLock, atomic_write
from seqkit.recipes import Recipe, decoding_parts, load_decoding, load_recipe, monitored_metric
from seqkit.tokenizers import TokenizerPair

if TYPE_CHECKING:
    from seqkit.optim import TrainingPlan

TOKENIZER_DIR = "tokenizer"


class Run:
    """A run directory with its recipe, tokenizers and model (weights as last loaded)."""

    def __init__(self, directory: Path, recipe: Recipe, tokenizers: TokenizerPair, model, pm,
                 comm: Communicator | None = None) -> None:  # fmt: skip
        self.directory, self.recipe, self.tokenizers, self.model, self.pm = directory, recipe, tokenizers, model, pm
        self.comm = comm or Communicator()
        #: the lock on the directory of a run being trained (``Run.create``): one writer at a time
        self.lock: DirectoryLock | None = None

    # ---- making and opening ----------------------------------------------------------------------------------
    @classmethod
    def create(cls, recipe: Recipe, directory: str | Path, pm, *, resume: bool = False,
               log: Callable[[str], None] = print, comm: Communicator | None = None) -> Run:  # fmt: skip
        """Set up ``directory`` for ``recipe``: write the resolved recipe, train or reuse the tokenizer, build the
        model. An existing directory with checkpoints must hold the same recipe and be resumed (``resume``); one
        without starts afresh. The run holds the directory's lock (``lock``) until ``close``: a second process
        is refused. With several processes (``comm``), all must run the same seqkit and recipe; rank 0 writes,
        the others then read."""
        from seqkit._version import __version__

        directory = Path(directory)
        comm = comm or Communicator()
        comm.check_same({"the seqkit version": __version__, "the resolved recipe": recipe.identity()})
        device = resolve_device(recipe.training.device)
        if device.kind == "cuda" and comm.size > 1:  # one process per GPU: the r-th process of a machine on GPU r
            device = resolve_device(f"cuda:{comm.local_rank}")
        _check_components(recipe, pm)  # a bad option fails here, before anything is written
        lock = _prepare_directory(directory, recipe, pm, resume, log) if comm.is_primary else None
        try:
            comm.barrier()
            tokenizers = TokenizerPair.load(directory / TOKENIZER_DIR, pm.registry("tokenizer"))
            seqkit_random.seed(recipe.training.seed)
            run = cls(directory, recipe, tokenizers, build_model(recipe, tokenizers, pm).to_device(device), pm, comm)
        except BaseException:
            if lock is not None:
                lock.release()
            raise
        run.lock = lock
        return run

    def close(self) -> None:
        """Release the run directory's lock (a run made by ``create``; ending the process does as much)."""
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @classmethod
    def open(cls, directory: str | Path, pm, checkpoint: str = "best", device: str | None = None) -> Run:
        """Open a trained run and load ``checkpoint`` (``best``, ``last``, ``averaged``, or a file path) onto
        ``device`` (default: the recipe's ``training.device``)."""
        directory = Path(directory)
        if not (directory / "recipe.toml").is_file():
            raise UserError(f"{directory}: not a run directory (no recipe.toml)")
        recipe = load_recipe(directory / "recipe.toml", registries=pm.registry)
        tokenizers = TokenizerPair.load(directory / TOKENIZER_DIR, pm.registry("tokenizer"))
        model = build_model(recipe, tokenizers, pm).to_device(resolve_device(device or recipe.training.device))
        run = cls(directory, recipe, tokenizers, model, pm)
        run.load_weights(checkpoint)
        return run

    def checkpoint_path(self, name: str) -> Path:
        if name in ("best", "last", "averaged"):
            path = self.directory / "checkpoints" / f"{name}.npz"
            if name == "best" and not path.exists():
                path = self.directory / "checkpoints" / "last.npz"
            return path
        return Path(name)

    def load_weights(self, checkpoint: str) -> Path:
        """Load the model's weights from a checkpoint; raises ``UserError`` naming a mismatched parameter."""
        from seqkit.training import load_checkpoint

        path = self.checkpoint_path(checkpoint)
        arrays, _ = load_checkpoint(path)
        weights = {k[len("model/") :]: v for k, v in arrays.items() if k.startswith("model/")}
        try:
            self.model.load_state_dict(weights)
        except ValueError as e:
            raise UserError(f"{path}: does not fit this run's model: {e}") from None
        return path

    # ---- data ---------------------------------------------------------------------------------------------------
    def parallel_data(self, split: str) -> ParallelData:
        src, tgt = data_files(self.recipe, split, self.pm)
        max_len = self.recipe.data.max_len if split == "train" else None
        return load_parallel(src, tgt, self.tokenizers.source, self.tokenizers.target, max_len=max_len,
                             empty=self.recipe.data.empty, cache_dir=self.directory / "cache")  # fmt: skip

    def _shared_data(self, split: str, log: Callable[[str], None] | None = None) -> ParallelData:
        """``parallel_data(split)``, loaded by rank 0 first (it writes the cache), then by the other ranks."""
        data = self.parallel_data(split) if self.comm.is_primary else None
        self.comm.barrier()
        data = self.parallel_data(split) if data is None else data
        if log is not None:
            log(f"{split}: {data.report}")
        return data

    def texts(self, split: str) -> tuple[list[str], list[str]]:
        """The normalised source and reference sentences of a split (pairs with an empty side left out)."""
        src, tgt = data_files(self.recipe, split, self.pm)
        pairs = list(read_parallel(src, tgt, empty="skip"))
        return [p[0] for p in pairs], [p[1] for p in pairs]

    # ---- translating -------------------------------------------------------------------------------------------
    def translate(self, sentences: Sequence[str], decoding: dict[str, Any] | None = None, *, nbest: int = 1,
                  keep_attention: bool = False, progress: Callable[[int], None] | None = None,
                  ensemble: Sequence[Run] = ()) -> list[list[Hypothesis]]:  # fmt: skip
        """N-best hypotheses (with ``text`` set, detokenised) for each sentence, found by the strategy of
        ``decoding`` (a ``[decoding]`` table as a recipe has it, e.g. ``{"strategy": "sampling", "top_k": 10}``;
        default the recipe's) with this run's model, or with the average of its model and those of the runs in
        ``ensemble`` (which must share its tokenizers). An empty sentence gives one empty hypothesis. Sentences
        are decoded in batches of similar length."""
        return self.translator(decoding, nbest=nbest, keep_attention=keep_attention, ensemble=ensemble)(
            sentences, progress)

    def decoding_table(self, strategy: str | None = None, changes: dict[str, Any] | None = None) -> dict[str, Any]:
        """The recipe's ``[decoding]`` table with ``changes`` (its keys, e.g. ``{"beam": 10}``); another
        ``strategy`` than the recipe's starts from that strategy's defaults and the recipe's shared keys
        (``DecodingOptions``). ``translator`` checks the result."""
        from seqkit.recipes import DecodingOptions

        table = dict(self.recipe.decoding)
        if strategy is not None and strategy != table["strategy"]:
            shared = {f.name for f in dataclasses.fields(DecodingOptions)}
            table = {k: v for k, v in table.items() if k in shared} | {"strategy": strategy}
        return table | (changes or {})

    def translator(self, decoding: dict[str, Any] | None = None, *, nbest: int = 1, keep_attention: bool = False,
                   ensemble: Sequence[Run] = ()) -> Callable[..., list[list[Hypothesis]]]:  # fmt: skip
        """``translate`` with its settings checked once, now (``UserError`` for bad ones): a function of
        ``(sentences, progress=None, prefixes=None)``, for input that arrives in parts. ``prefixes``: one text
        per sentence that its translation must begin with (the model continues it; see ``Prefixed``)."""
        registry = self.pm.registry("decoding_strategy")
        name, options, d = decoding_parts(self.recipe.decoding if decoding is None else
                                          load_decoding(decoding, registry, "decoding"))  # fmt: skip
        strategy = registry.get(name)(**options)
        if nbest < 1:
            raise UserError(f"nbest must be at least 1, got {nbest}")
        if strategy.max_nbest is not None and nbest > strategy.max_nbest:
            most = f"{strategy.max_nbest} hypothes{'is' if strategy.max_nbest == 1 else 'es'}"
            raise UserError(f"decoding strategy {name!r} gives at most {most} per sentence, not nbest = {nbest}")
        model = self._model(ensemble)
        width = nbest if strategy.max_nbest is None else strategy.max_nbest

        def translate(sentences: Sequence[str], progress: Callable[[int], None] | None = None,
                      prefixes: Sequence[str] | None = None):  # fmt: skip
            if prefixes is not None and len(prefixes) != len(sentences):
                raise UserError(f"{len(prefixes)} prefixes for {len(sentences)} sentences")
            ids = [self.tokenizers.source.encode(normalize(s)) if s.strip() else [] for s in sentences]
            forced = [self.tokenizers.target.encode(normalize(p)) if p.strip() else [] for p in prefixes or ()]
            results: list[list[Hypothesis]] = [[Hypothesis([], 0.0, 0.0)] for _ in sentences]
            order = [i for i in sorted(range(len(ids)), key=lambda i: len(ids[i])) if ids[i]]
            everything = [ids[i] for i in order]  # the decoder's weight layouts are derived once for all batches
            prepared = for_search(model, everything, width, d.max_len_ratio, d.max_len_offset)
            for start in range(0, len(order), d.batch_size):
                chunk = order[start : start + d.batch_size]
                chunk_model = Prefixed(prepared, [forced[i] for i in chunk]) if prefixes is not None else prepared
                found = strategy.search(chunk_model, [numpy.asarray(ids[i]) for i in chunk], nbest=nbest,
                                        max_len_ratio=d.max_len_ratio, max_len_offset=d.max_len_offset,
                                        keep_attention=keep_attention)  # fmt: skip
                for i, hyps in zip(chunk, found):
                    results[i] = hyps
                if progress is not None:
                    progress(len(chunk))
            for hyps in results:
                for h in hyps:
                    h.text = self.tokenizers.target.decode(h.tokens)
            return results

        return translate

    def score(self, sources: Sequence[str], targets: Sequence[str], *, batch_size: int = 64,
              ensemble: Sequence[Run] = ()) -> list[numpy.ndarray]:  # fmt: skip
        """Forced decoding: for each pair, the log-probability of every token of the target's segmentation and
        of EOS after it, given the source (``force_decode``), under this run's model or the ensemble's. The sum
        of an array, taken step by step (``numpy.cumsum(a)[-1]``), is the ``log_prob`` a beam search reports when
        it finds that target. An empty source is ``UserError``."""
        if len(sources) != len(targets):
            raise UserError(f"{len(sources)} sources but {len(targets)} targets")
        if batch_size < 1:
            raise UserError(f"batch_size must be at least 1, got {batch_size}")
        model = self._model(ensemble)
        src = [self.tokenizers.source.encode(normalize(s)) for s in sources]
        tgt = [self.tokenizers.target.encode(normalize(t)) if t.strip() else [] for t in targets]
        for number, ids in enumerate(src, 1):
            if not ids:
                raise UserError(f"source {number} is empty: nothing to score its target against")
        results: list[numpy.ndarray] = [numpy.zeros(0)] * len(src)
        order = sorted(range(len(src)), key=lambda i: len(src[i]))
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            found = force_decode(model, [numpy.asarray(src[i]) for i in chunk], [tgt[i] for i in chunk])
            for i, lp in zip(chunk, found):
                results[i] = lp
        return results

    def _model(self, ensemble: Sequence[Run]):
        """This run's model, or the average of its and those of ``ensemble`` (``UserError`` unless they share
        this run's tokenizers)."""
        mine = (self.tokenizers.source.fingerprint(), self.tokenizers.target.fingerprint())
        for other in ensemble:
            if (other.tokenizers.source.fingerprint(), other.tokenizers.target.fingerprint()) != mine:
                raise UserError(f"{other.directory}: its tokenizers differ from those of {self.directory}; an "
                                "ensemble's runs must share them")  # fmt: skip
        return Ensemble([self.model, *(r.model for r in ensemble)]) if ensemble else self.model

    def translate_texts(self, sentences: Sequence[str], decoding: dict[str, Any] | None = None, *,
                        ensemble: Sequence[Run] = ()) -> list[str]:  # fmt: skip
        return [hyps[0].text for hyps in self.translate(sentences, decoding, ensemble=ensemble)]

    # ---- training -------------------------------------------------------------------------------------------
    def train(self, *, resume: bool = False, progress: bool | None = None, log: Callable[[str], None] = print) -> dict:
        """Train as the recipe says (resuming from the newest snapshot that loads and fits when asked); returns
        the final observation. Raises ``TrainingDiverged`` when the loss stops being finite, ``Interrupted``
        (``seqkit.training``) after SIGINT or SIGTERM, ``UserError`` when resuming finds no usable snapshot."""
        from seqkit.optim import GradientClipping, TrainingPlan, WeightDecay
        from seqkit.training import (
            Accumulate,
            BleuEvaluator,
            CheckpointError,
            EarlyStopping,
            Evaluator,
            IntervalTrigger,
            LogReport,
            LossScaler,
            ProgressBar,
            ReportToSchedule,
            Snapshot,
            Trainer,
            latest_good,
        )  # fmt: skip

        r, t, comm = self.recipe, self.recipe.training, self.comm
        updater_entry = self.pm.registry("updater").entry(r.updater["name"])
        if comm.size > 1 and not updater_entry.obj.data_parallel:
            raise UserError(f"{r.path}: updater {updater_entry.name!r} trains in one process, but {comm.size} were "
                            "started; set [updater] name = \"mpi\" (the seqkit-mpi plugin)")  # fmt: skip
        train, dev = self._shared_data("train", log), self._shared_data("dev")
        for split, data in (("training", train), ("dev", dev)):
            if len(data) == 0:
                src, tgt = data_files(r, "train" if split == "training" else "dev", self.pm)
                raise UserError(f"{r.path}: the {split} data {src} and {tgt} hold no sentence pairs ({data.report})")
        # max_tokens is per process: each update takes a batch of max_tokens x processes, shared out by rank
        iterator = BatchIterator(train, t.max_tokens * comm.size, seed=t.seed,
                                 max_sentences=t.max_sentences * comm.size or None)  # fmt: skip
        optimizer = build_optimizer(r, self.pm).setup(self.model)
        if t.clip:
            optimizer.add_hook(GradientClipping(t.clip))
        if t.weight_decay:
            optimizer.add_hook(WeightDecay(t.weight_decay))
        monitor, scored = r.evaluation.monitor, self._dev_metrics()
        # the direction is the metric's own (higher_is_better); the loss goes down
        metric_name = monitored_metric(monitor)
        mode = "min" if metric_name is None else ("max" if scored[metric_name].higher_is_better else "min")
        updater = updater_entry.obj(iterator, self.model, optimizer, **_options_of(r.updater))
        updates_per_epoch = -(-len(iterator) // updater.batches_per_update)  # the last may take fewer batches
        updater.schedule = build_schedule(r, optimizer, TrainingPlan(updates_per_epoch, t.epochs, mode), self.pm)
        if t.mixed_precision:
            updater.scaler = LossScaler()
        early = EarlyStopping(monitor, patience=t.patience, mode=mode, max_epochs=t.epochs)
        trainer = Trainer(updater, early.should_stop, self.directory, comm)
        trainer.extend(early, trigger=(t.eval_every, "epoch"))
        every = (t.eval_every, "epoch")
        trainer.extend(Evaluator(lambda: BatchIterator(dev, t.max_tokens, shuffle=False, repeat=False), every, comm))
        if r.evaluation.dev_bleu:
            n = r.evaluation.dev_sentences or None
            sources, references = self.texts("dev")
            trainer.extend(BleuEvaluator(lambda model, src: self.translate_texts(src), sources[:n], references[:n],
                                         self.directory / "translations" / "dev.txt", every, comm,
                                         metrics=scored))  # fmt: skip
        trainer.extend(ReportToSchedule(monitor, every))
        if comm.is_primary:  # rank 0 alone logs, shows progress and writes checkpoints
            often, at_validation = IntervalTrigger(t.log_every), IntervalTrigger(*every)
            log_report = LogReport(self.directory / "log.jsonl", lambda tr: often(tr) or at_validation(tr))
            trainer.extend(Accumulate(log_report))
            trainer.extend(log_report)
            trainer.extend(Snapshot(self.directory / "checkpoints", every, keep=t.keep, monitor=monitor, mode=mode))
            if t.snapshot_every:
                trainer.extend(Snapshot(self.directory / "checkpoints", (t.snapshot_every, "iteration"),
                                        keep=t.keep), name="snapshot_often")  # fmt: skip
            trainer.extend(ProgressBar(t.epochs, updates_per_epoch, enabled=progress))
        def restore(arrays: dict, meta: dict) -> None:
            try:
                trainer.load_state_dict(arrays, meta)
            except (KeyError, ValueError, TypeError, IndexError) as e:
                raise CheckpointError(f"its state does not fit this run ({type(e).__name__}: {e})") from None

        if resume:
            found = latest_good(self.directory / "checkpoints", restore)
            if found is not None:
                path = found[0]
                log(f"resumed from {path} at iteration {updater.iteration} (epoch {updater.epoch})")
            elif saved_checkpoints(self.directory):
                raise UserError(f"no checkpoint in {self.directory / 'checkpoints'} can be read (see the warnings "
                                "above): nothing to resume from; move them aside to start afresh")  # fmt: skip
        start = time.perf_counter()
        with using_config("autocast", "float16" if t.mixed_precision else None):
            trainer.run()
        log(f"trained {updater.iteration} iterations in {time.perf_counter() - start:.0f} s this session "
            f"({trainer.elapsed:.0f} s in all)")  # fmt: skip
        return trainer.observation

    def _dev_metrics(self) -> dict[str, Any]:
        """Name -> metric scored on the dev set at each validation: BLEU, and the monitored metric if another."""
        from seqkit.metrics import get_metric

        names = dict.fromkeys(["bleu", monitored_metric(self.recipe.evaluation.monitor) or "bleu"])
        return {name: get_metric(self.pm.registry("metric"), name) for name in names}

    def evaluate(self, split: str, decoding: dict[str, Any] | None = None, *, metrics: Sequence[str] = (),
                 ensemble: Sequence[Run] = ()) -> dict[str, Any]:  # fmt: skip
        """Translate a split (as ``translate`` does) and score it: BLEU and chrF (detokenised, rounded to 2
        decimals) and each registered metric named in ``metrics`` or by ``evaluation.monitor`` (as ``NAME``
        and ``NAME_signature``, rounded to 4 decimals); ``monitor`` repeats ``evaluation.monitor``. Writes
        ``translations/SPLIT.txt``."""
        from seqkit.metrics import bleu, chrf, compute, get_metric

        names = [n for n in dict.fromkeys([*metrics, monitored_metric(self.recipe.evaluation.monitor)])
                 if n is not None and n not in ("bleu", "chrf")]  # fmt: skip
        scorers = {name: get_metric(self.pm.registry("metric"), name) for name in names}  # unknown: before decoding
        sources, references = self.texts(split)
        hypotheses = self.translate_texts(sources, decoding, ensemble=ensemble)
        out = self.directory / "translations" / f"{split}.txt"
        out.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(out) as f:
            f.writelines(h + "\n" for h in hypotheses)
        b, c = bleu(hypotheses, [references]), chrf(hypotheses, [references])
        results = {"split": split, "sentences": len(sources), "bleu": round(b.value, 2), "bleu_signature": b.signature,
                   "chrf": round(c.value, 2), "chrf_signature": c.signature}  # fmt: skip
        for name, metric in scorers.items():
            result = compute(name, metric, hypotheses, [references])
            results.update({name: round(float(result.value), 4), f"{name}_signature": result.signature})
        return {**results, "monitor": self.recipe.evaluation.monitor, "translations": str(out)}


def _check_components(recipe: Recipe, pm) -> None:
    """Build the recipe's model (tiny), tokenizer and optimizer once, for the rules between their options that
    only they know (``UserError`` naming the recipe)."""
    build_model(recipe, None, pm)
    try:
        pm.registry("tokenizer").get(recipe.tokenizer["name"])(**_tokenizer_options(recipe))
    except UserError as e:
        raise UserError(f"{recipe.path}: {e}") from None
    try:
        build_optimizer(recipe, pm)
    except ValueError as e:
        raise UserError(f"{recipe.path}: optimizer: {e}") from None


def _tokenizer_options(recipe: Recipe) -> dict[str, Any]:
    """The tokenizer class's options: ``[tokenizer]`` but its name and ``joint`` (the pair's, not the class's)."""
    options = _options_of(recipe.tokenizer)
    options.pop("joint", None)
    return options


def _prepare_directory(directory: Path, recipe: Recipe, pm, resume: bool, log: Callable[[str], None]) -> DirectoryLock:
    """Check ``recipe``'s data, lock ``directory`` (``Run.create``), write the recipe there and train the tokenizer
    unless it is there. A directory that holds no checkpoint yet is started afresh."""
    files = {split: data_files(recipe, split, pm) for split in ("train", "dev", "test")}
    for split, paths in files.items():  # a missing data file fails before anything is written
        for path in paths:
            if not path.is_file():
                raise UserError(f"{recipe.path}: the {split} data {path} is not a file")
    if directory.exists() and not directory.is_dir():
        raise UserError(f"{directory}: not a directory; give --run-dir a directory (it is created if needed)")
    saved = directory / "recipe.toml"
    if resume and not saved.exists():
        raise UserError(f"{directory}: nothing to resume (no recipe.toml)")
    directory.mkdir(parents=True, exist_ok=True)
    try:
        lock = DirectoryLock(directory)  # one writer per run directory, until this process ends
    except BlockingIOError as e:
        raise UserError(f"{e}; wait for it to end, or stop it") from None
    try:
        tok_dir = directory / TOKENIZER_DIR
        if saved.exists():
            # read back with this seqkit's defaults, so a key added since the run began does not count
            same = load_recipe(saved, registries=pm.registry).identity() == recipe.identity()
            # a run that failed before its first checkpoint left nothing to keep: it starts afresh (but for a
            # --resume of another recipe, which is a mistaken directory); a run with checkpoints or results never
            early = not saved_checkpoints(directory) and not (directory / "results.json").exists()
            if not same and (resume or not early):
                raise UserError(f"{directory} holds a run of a different recipe; choose another --run-dir, or "
                                f"restore {saved} to resume it")  # fmt: skip
            if early:
                log(f"{directory} holds no checkpoint yet: training starts afresh")
                for stale in ("log.jsonl", *([] if same else [TOKENIZER_DIR])):
                    _remove(directory / stale)
            elif not resume:
                raise UserError(f"{directory} already holds this recipe's run; add --resume to continue it")
        with atomic_write(saved) as f:
            f.write(recipe.to_toml())
        if not tok_dir.exists():
            src_path, tgt_path = files["train"]
            entry = pm.registry("tokenizer").entry(recipe.tokenizer["name"])
            pairs = list(read_parallel(src_path, tgt_path, empty=recipe.data.empty))
            if not pairs:
                raise UserError(f"{recipe.path}: the training data {src_path} and {tgt_path} hold no sentence pairs")
            # nor does it learn from pairs that data.max_len drops for certain: every tokenizer seqkit ships
            # gives at least one token a word (none joins words), so a side of more words has more tokens
            limit = recipe.data.max_len
            pairs = [(s, t) for s, t in pairs if len(s.split()) <= limit and len(t.split()) <= limit]
            if not pairs:
                raise UserError(f"{recipe.path}: every training pair has a side over data.max_len = {limit} words")
            log(f"training the {recipe.tokenizer['name']} tokenizer on {len(pairs)} sentence pairs")
            sources, targets = [p[0] for p in pairs], [p[1] for p in pairs]
            pair = TokenizerPair.train(entry.obj, _tokenizer_options(recipe), sources, targets,
                                       joint=recipe.tokenizer.get("joint", True))  # fmt: skip
            tmp = directory / f".{TOKENIZER_DIR}.tmp"  # saved beside, then renamed: all there or not at all
            _remove(tmp)
            pair.save(tmp)
            os.replace(tmp, tok_dir)
    except BaseException:
        lock.release()
        raise
    return lock


def saved_checkpoints(directory: Path) -> list[Path]:
    """The checkpoint files of the run in ``directory`` (readable or not)."""
    return sorted((directory / "checkpoints").glob("[!.]*.npz"))


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def data_files(recipe: Recipe, split: str, pm) -> tuple[Path, Path]:
    """The source and target files of ``split``: ``train``, ``dev`` or ``test`` as the recipe defines them, or
    any other split of the recipe's corpus by its own name (e.g. ``test_2017_flickr``), found in the corpus
    registry of ``pm``, the plugin manager."""
    d = recipe.data
    files = {"train": d.train_files, "dev": d.dev_files, "test": d.test_files}.get(split, [])
    if files:
        if len(files) != 2:
            raise UserError(f"{recipe.path}: data.{split}_files must be [SOURCE_FILE, TARGET_FILE], got {files}")
        return Path(files[0]), Path(files[1])
    if not d.corpus:
        raise UserError(f"{recipe.path}: data needs a corpus or {split}_files")
    manifest = corpora.get_corpus(d.corpus, pm.registry("corpus"))
    split_name = {"train": d.train, "dev": d.dev, "test": d.test}.get(split, split)
    return corpora.split_paths(manifest, split_name, d.source or None, d.target or None,
                               data=corpora.data_dir(d.data_dir or None))  # fmt: skip


def build_model(recipe: Recipe, tokenizers: TokenizerPair | None, pm):
    """The recipe's model, ``cls.build(options, ...)``, sized to the tokenizers' vocabularies (tiny ones when
    None: to check the options), with the run's PAD/BOS/EOS ids."""
    from seqkit.data import BOS, EOS, PAD

    entry = pm.registry("model").entry(recipe.model["name"])
    options = entry.options(**_options_of(recipe.model)) if entry.options else None
    src_v, tgt_v = (8, 8) if tokenizers is None else (tokenizers.source.vocab_size, tokenizers.target.vocab_size)
    try:
        return entry.obj.build(options, source_vocab=src_v, target_vocab=tgt_v, pad_id=PAD, bos_id=BOS, eos_id=EOS,
                               layers=pm.registry("layer"))  # fmt: skip
    except UserError as e:  # a rule between [model] keys, found by the model: named in the recipe
        if not str(e).startswith(str(recipe.path)):
            e.args = (f"{recipe.path}: {e}", *e.args[1:])
        raise


def _options_of(section: dict[str, Any]) -> dict[str, Any]:
    """A component section's options: every key but its ``name``."""
    return {k: v for k, v in section.items() if k != "name"}


def build_optimizer(recipe: Recipe, pm):
    """The recipe's optimizer: ``cls(**options)``."""
    return pm.registry("optimizer").get(recipe.optimizer["name"])(**_options_of(recipe.optimizer))


def build_schedule(recipe: Recipe, optimizer, plan: TrainingPlan, pm):
    """The recipe's learning-rate schedule: ``cls.build(optimizer, plan, **options)``; a ``ValueError`` from it
    (options that do not fit this run, such as a warmup longer than the run) is a ``UserError``."""
    cls = pm.registry("schedule").get(recipe.schedule["name"])
    try:
        return cls.build(optimizer, plan, **_options_of(recipe.schedule))
    except ValueError as e:
        raise UserError(f"{recipe.path}: schedule {recipe.schedule['name']!r}: {e}") from None


def write_results(run: Run, results: dict[str, Any]) -> Path:
    path = run.directory / "results.json"
    with atomic_write(path) as f:
        json.dump(results, f, indent=2)
    return path


__all__ = ["Run", "build_model", "build_optimizer", "build_schedule", "data_files", "write_results"]
