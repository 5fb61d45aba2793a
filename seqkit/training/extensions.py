"""Extensions: the JSON-lines log, the progress bar, validation loss, BLEU and other metrics, snapshots."""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy

from seqkit.config import no_grad, using_config
from seqkit.distributed import Communicator
from seqkit.errors import UserError
from seqkit.faults import fault_point, planned
from seqkit.io import atomic_write
from seqkit.training.checkpoints import save_checkpoint, snapshot_paths
from seqkit.training.trainer import (
    PRIORITY_EDITOR,
    PRIORITY_READER,
    PRIORITY_WRITER,
    Extension,
    Trainer,
    TrainingDiverged,
)


class LogReport(Extension):
    """Appends one JSON object per report to ``log.jsonl``: iteration, epoch, loss and perplexity (averaged over
    the target tokens since the last report), lr, grad norm, tokens/s, elapsed seconds, and every ``val/*``
    observation of that iteration. The loss is read from the device only here."""

    priority = PRIORITY_READER
    name = "log"

    def __init__(self, path: str | os.PathLike, trigger: Any = (100, "iteration")) -> None:
        self.path, self.trigger = Path(path), trigger
        self.entries: list[dict[str, Any]] = []
        self._reset()

    def _reset(self) -> None:
        self._loss, self._tokens, self._sentences, self._since = 0.0, 0, 0, time.perf_counter()

    def initialize(self, trainer: Trainer) -> None:
        self._since = time.perf_counter()
        if self.path.exists():  # a resumed run: drop what was logged after the snapshot it resumes from
            data = self.path.read_bytes()
            entries, torn = log_entries(data, self.path, torn_end=True), not data.endswith(b"\n")
            kept = [e for e in entries if e["iteration"] <= trainer.updater.iteration]
            if len(kept) != len(entries) or torn:
                with atomic_write(self.path) as f:
                    f.writelines(json.dumps(e) + "\n" for e in kept)

    def accumulate(self, observation: dict[str, Any]) -> None:
        self._loss = self._loss + observation["loss"] * observation["tokens"]
        self._tokens += observation["tokens"]
        self._sentences += observation["sentences"]

    def __call__(self, trainer: Trainer) -> None:
        if self._tokens == 0:
            return
        u = trainer.updater
        loss = float(self._loss) / self._tokens  # the only read of the loss from a GPU
        trainer.check_finite(loss)
        seconds = max(time.perf_counter() - self._since, 1e-9)
        entry = {
            "iteration": u.iteration, "epoch": u.epoch, "epoch_detail": round(u.epoch_detail, 4),
            "loss": round(loss, 6), "perplexity": round(math.exp(min(loss, 50.0)), 4), "lr": u.optimizer.lr,
            "grad_norm": _grad_norm(u.optimizer), "tokens_per_s": round(self._tokens / seconds, 1),
            "sentences_per_s": round(self._sentences / seconds, 2), "elapsed": round(trainer.total_elapsed(), 2),
        }  # fmt: skip
        entry.update({k: v for k, v in trainer.observation.items() if k.startswith("val/")})
        self.entries.append(entry)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(entry) + "\n"
        with open(self.path, "a", encoding="utf-8") as f:
            if planned("log"):  # a fault test cuts the line in the middle
                f.write(line[: len(line) // 2])
                f.flush()
                fault_point("log", u.iteration)
                line = line[len(line) // 2 :]
            f.write(line)
        self._reset()

    def state_dict(self) -> dict[str, Any]:
        return {"loss": float(self._loss), "tokens": self._tokens, "sentences": self._sentences}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._loss, self._tokens, self._sentences = state["loss"], state["tokens"], state["sentences"]


def read_log(path: Path, *, torn_end: bool = False) -> list[dict[str, Any]]:
    """The entries of a ``log.jsonl``. ``torn_end``: a last line without its line end (a write that a kill or a
    full disk cut short) is dropped; any other line that is not a JSON object is ``UserError`` naming it."""
    return log_entries(path.read_bytes(), path, torn_end=torn_end)


def log_entries(data: bytes, path: Path, *, torn_end: bool = False) -> list[dict[str, Any]]:
    """``read_log`` of the file's bytes ``data``."""
    lines = data.decode("utf-8", errors="replace").splitlines()
    if torn_end and lines and not data.endswith(b"\n"):
        lines.pop()
    entries = []
    for number, line in enumerate(lines, 1):
        try:
            entry = json.loads(line)
        except ValueError:
            entry = None
        if not isinstance(entry, dict) or not isinstance(entry.get("iteration"), int):
            raise UserError(f"{path}:{number}: not a log entry (a JSON object with an iteration)")
        entries.append(entry)
    return entries


def _grad_norm(optimizer) -> float | None:
    for hook in getattr(optimizer, "hooks", []):
        norm = getattr(hook, "last_norm", None)
        if norm is not None:
            return round(float(norm), 6)
    return None


class Accumulate(Extension):
    """Feeds every update's observation to the log (every iteration, before the log reads it)."""

    priority = PRIORITY_WRITER + 1
    name = "accumulate"

    def __init__(self, log: LogReport) -> None:
        self.log = log

    def __call__(self, trainer: Trainer) -> None:
        self.log.accumulate(trainer.observation)


class ProgressBar(Extension):
    """A tqdm bar on stderr (off when stderr is not a terminal) with the loss and validation figures of the
    latest log entry (so the bar never reads the loss from a GPU itself)."""

    priority = PRIORITY_READER - 1
    name = "progress"

    def __init__(self, total_epochs: int, updates_per_epoch: int, enabled: bool | None = None) -> None:
        self.total = total_epochs * updates_per_epoch
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.bar = None

    def initialize(self, trainer: Trainer) -> None:
        if self.enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=self.total, initial=trainer.updater.iteration, file=sys.stderr, unit="batch",
                            dynamic_ncols=True, leave=False)  # fmt: skip

    def __call__(self, trainer: Trainer) -> None:
        if self.bar is None:
            return
        self.bar.update(1)
        log = trainer._extensions.get("log")
        entries = log.extension.entries if log is not None else []
        if entries and entries[-1]["iteration"] == trainer.updater.iteration:  # the log read the loss: show it
            shown = {"epoch": trainer.updater.epoch, "loss": f"{entries[-1]['loss']:.3f}"}
            shown.update({k[4:]: f"{v:.2f}" for k, v in entries[-1].items() if k.startswith("val/")})
            self.bar.set_postfix(shown, refresh=False)

    def finalize(self, trainer: Trainer) -> None:
        if self.bar is not None:
            self.bar.close()


class Evaluator(Extension):
    """Validation loss (mean per target token) over ``batches`` -> ``val/loss`` and ``val/perplexity``. With
    several processes (``comm``) each takes every ``size``-th batch and the sums are all-reduced."""

    priority = PRIORITY_WRITER
    name = "validation"

    def __init__(self, batches: Callable[[], Sequence], trigger: Any = (1, "epoch"),
                 comm: Communicator | None = None) -> None:  # fmt: skip
        self.batches, self.trigger, self.comm = batches, trigger, comm or Communicator()

    def __call__(self, trainer: Trainer) -> None:
        total, tokens = 0.0, 0
        rank, size = self.comm.rank, self.comm.size
        with no_grad(), using_config("train", False):
            for i, batch in enumerate(self.batches()):
                if i % size == rank:
                    loss, n = trainer.model.loss(batch.src, batch.tgt)
                    total, tokens = total + float(loss.data) * n, tokens + n
        total, tokens = self.comm.allreduce(numpy.array([total, tokens], numpy.float64)).tolist()
        loss = total / max(tokens, 1)
        trainer.observation["val/loss"] = round(loss, 6)
        trainer.observation["val/perplexity"] = round(math.exp(min(loss, 50.0)), 4)


class BleuEvaluator(Extension):
    """Decodes the dev sources with ``translate(model, sources) -> list[str]`` (detokenised) and scores them
    against ``references`` with every metric of ``metrics`` (name -> a ``seqkit.metrics.Metric``; default:
    sacreBLEU alone) -> ``val/NAME``, rounded to 4 decimals; the output goes to ``translations/dev.txt``. With
    several processes (``comm``) each decodes every ``size``-th sentence; every process scores the whole set, so
    all of them see the same observations; rank 0 writes the file."""

    priority = PRIORITY_WRITER - 1
    name = "bleu"

    def __init__(self, translate: Callable, sources: Sequence, references: Sequence[str], out: str | os.PathLike,
                 trigger: Any = (1, "epoch"), comm: Communicator | None = None,
                 metrics: Mapping[str, Callable] | None = None) -> None:  # fmt: skip
        self.translate, self.sources, self.references = translate, sources, list(references)
        self.out, self.trigger, self.comm = Path(out), trigger, comm or Communicator()
        self.metrics = dict(metrics) if metrics is not None else None

    def __call__(self, trainer: Trainer) -> None:
        from seqkit.metrics import bleu, compute

        rank, size = self.comm.rank, self.comm.size
        shares = self.comm.allgather(self.translate(trainer.model, self.sources[rank::size]))
        hypotheses = [shares[i % size][i // size] for i in range(len(self.sources))]
        for name, metric in (self.metrics if self.metrics is not None else {"bleu": bleu}).items():
            result = compute(name, metric, hypotheses, [self.references])
            trainer.observation[f"val/{name}"] = round(float(result.value), 4)
        if self.comm.is_primary:
            self.out.parent.mkdir(parents=True, exist_ok=True)
            with atomic_write(self.out, "w") as f:
                f.writelines(h + "\n" for h in hypotheses)


class Snapshot(Extension):
    """Saves the whole training state as ``checkpoints/snapshot_<iteration>.npz`` when its trigger fires, keeping
    the ``keep`` newest; ``last.npz`` is the newest state saved and ``best.npz`` the state of the best
    ``monitor`` value (hard links to the snapshots). A run that ends or is interrupted between scheduled
    snapshots saves its state at the end of the last complete iteration as ``last.npz`` alone, so which
    numbered snapshots are kept depends on the schedule only. It runs after every other extension, so the
    state it saves is the state after this iteration is complete.

    Each file a checkpoint's state speaks of is in place before that checkpoint is: a snapshot is written
    (atomically) first, then linked as ``best.npz`` when it is the best, then as ``last.npz``, which a resume
    reads first. A kill anywhere leaves ``last.npz`` a complete state whose ``best.npz`` is in place."""

    priority = PRIORITY_READER - 10
    name = "snapshot"

    def __init__(self, directory: str | os.PathLike, trigger: Any = (1, "epoch"), *, keep: int = 3,
                 monitor: str | None = None, mode: str = "max") -> None:  # fmt: skip
        if mode not in ("min", "max"):
            raise ValueError(f"snapshot mode must be 'min' or 'max', got {mode!r}")
        self.directory, self.trigger, self.keep = Path(directory), trigger, keep
        self.monitor, self.mode = monitor, mode
        self.best: float | None = None

    def initialize(self, trainer: Trainer) -> None:
        for stale in self.directory.glob(".*.tmp"):  # left by a write that a kill cut short
            stale.unlink(missing_ok=True)

    def __call__(self, trainer: Trainer) -> None:
        iteration = trainer.updater.iteration
        value = trainer.observation.get(self.monitor) if self.monitor else None
        better = value is not None and (
            self.best is None or (value > self.best if self.mode == "max" else value < self.best)
        )
        if better:
            self.best = float(value)
        numbered = self.directory / f"snapshot_{iteration}.npz"
        with trainer.uninterruptible():
            # (another snapshot extension may have written this iteration already: its file holds this one's
            # state too, unless this one has just found a new best)
            if trainer.saved_iteration != iteration or better or not numbered.exists():
                self._write(trainer, numbered)
            fault_point("checkpoint", iteration)
            if better:
                _link(numbered, self.directory / "best.npz")
            _link(numbered, self.directory / "last.npz")
            for old in snapshot_paths(self.directory)[self.keep :]:
                old.unlink(missing_ok=True)
        fault_point("snapshot", iteration)

    def _write(self, trainer: Trainer, path: Path) -> None:
        for p in trainer.model.params():  # never replace a good snapshot with one that has diverged
            if not bool(p.xp.isfinite(p.data).all()):
                trainer.diverged = True
                raise TrainingDiverged(
                    f"the parameters became NaN or infinite at iteration {trainer.updater.iteration}; training "
                    "stopped and the last good checkpoint is kept (try a lower learning rate or gradient clipping)"
                )
        self.directory.mkdir(parents=True, exist_ok=True)
        arrays, meta = trainer.state_dict()
        meta["iteration"] = trainer.updater.iteration
        save_checkpoint(path, arrays, meta)
        trainer.saved_iteration = trainer.updater.iteration

    def finalize(self, trainer: Trainer) -> None:
        """Save the state at the end, unless a snapshot of it exists or it is not one to keep: a run that
        diverged, or an iteration that did not complete."""
        if trainer.diverged or not trainer.consistent or trainer.saved_iteration == trainer.updater.iteration:
            return
        with trainer.uninterruptible():
            self._write(trainer, self.directory / "last.npz")

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = state["best"]


def _link(source: Path, target: Path) -> None:
    """Make ``target`` a hard link to ``source``, replacing it atomically."""
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.unlink(missing_ok=True)
    os.link(source, tmp)
    os.replace(tmp, target)


class ReportToSchedule(Extension):
    """Passes a validation metric to the learning-rate schedule (for decay on plateau)."""

    priority = PRIORITY_EDITOR + 1
    name = "schedule"

    def __init__(self, monitor: str, trigger: Any = (1, "epoch")) -> None:
        self.monitor, self.trigger = monitor, trigger

    def __call__(self, trainer: Trainer) -> None:
        value = trainer.observation.get(self.monitor)
        if value is not None and trainer.updater.schedule is not None:
            trainer.updater.schedule.report(float(value))
