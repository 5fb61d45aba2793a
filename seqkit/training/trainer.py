"""The training loop: an updater, triggers, and extensions with priorities (Chainer's design, small).

``Trainer.run()`` calls ``updater.update()`` until the stop trigger fires; after each update every extension
whose trigger fires runs, highest priority first. Each update's observations (and whatever extensions add,
such as ``val/loss``) are in ``trainer.observation``. ``state_dict()`` covers the updater (iteration, iterator
position), the model, the optimizer and schedule, seqkit's random state and every extension's state, so
``resume(snapshot)`` continues exactly as if the run had never stopped.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy

from seqkit import random as seqkit_random
from seqkit.backend import is_cupy_array, keep_freed_host_memory
from seqkit.distributed import Communicator
from seqkit.training.checkpoints import join_arrays, split_arrays

PRIORITY_WRITER = 300  # extensions that add observations (evaluators) run before...
PRIORITY_EDITOR = 200  # ...those that act on them (early stopping, schedules), which run before...
PRIORITY_READER = 100  # ...those that only read them (log, progress); the snapshot runs last of all


class IntervalTrigger:
    """Fires every ``period`` iterations (``unit="iteration"``) or at the end of every ``period``-th epoch."""

    def __init__(self, period: int, unit: str = "iteration") -> None:
        if unit not in ("iteration", "epoch") or period < 1:
            raise ValueError(f"a trigger needs a positive period and unit 'iteration' or 'epoch', got {period} {unit}")
        self.period, self.unit = period, unit

    def __call__(self, trainer: Trainer) -> bool:
        u = trainer.updater
        if self.unit == "iteration":
            return u.iteration % self.period == 0
        return u.is_new_epoch and u.epoch % self.period == 0


def as_trigger(spec: Any) -> Callable[[Trainer], bool]:
    """A trigger from ``(period, unit)``, or the callable itself."""
    return IntervalTrigger(*spec) if isinstance(spec, tuple) else spec


class Extension:
    """Something that runs after an update when its ``trigger`` fires. ``initialize`` runs once before the
    first update (after a resume too), ``finalize`` once at the end; ``state_dict`` is saved in snapshots."""

    trigger: Any = (1, "iteration")
    priority = PRIORITY_READER
    name: str | None = None

    def __call__(self, trainer: Trainer) -> None:
        raise NotImplementedError

    def initialize(self, trainer: Trainer) -> None:
        pass

    def finalize(self, trainer: Trainer) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


class EarlyStopping(Extension):
    """The stop trigger: ``max_epochs`` done, or ``monitor`` not improved for ``patience`` checks (0: never).

    Also an extension (register it with ``extend``): it judges each check when the check is made, before
    snapshots, so its state in a snapshot already counts that check.
    """

    trigger: Any = (1, "epoch")
    priority = PRIORITY_EDITOR + 2
    name = "early_stopping"

    def __init__(self, monitor: str, *, patience: int, mode: str = "min", max_epochs: int) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"early stopping mode must be 'min' or 'max', got {mode!r}")
        self.monitor, self.patience, self.mode, self.max_epochs = monitor, patience, mode, max_epochs
        self.best: float | None = None
        self.bad_checks = 0

    def __call__(self, trainer: Trainer) -> None:
        value = trainer.observation.get(self.monitor)
        if value is None:
            return
        value = float(value)
        if self.best is None or (value < self.best if self.mode == "min" else value > self.best):
            self.best, self.bad_checks = value, 0
        else:
            self.bad_checks += 1

    def should_stop(self, trainer: Trainer) -> bool:
        done = trainer.updater.epoch >= self.max_epochs
        return done or (self.patience > 0 and self.bad_checks >= self.patience)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "bad_checks": self.bad_checks}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.bad_checks = state["best"], int(state["bad_checks"])


@dataclasses.dataclass
class _Registered:
    extension: Extension
    name: str
    trigger: Callable[[Trainer], bool]
    priority: int


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


class Interrupted(KeyboardInterrupt):
    """Training stopped by ``signum`` (SIGINT or SIGTERM) at ``iteration``; ``saved``: the iteration whose
    state the newest checkpoint holds (``iteration`` itself when the state at the stop is saved; None when
    no checkpoint was written or resumed from)."""

    def __init__(self, signum: int, iteration: int, saved: int | None) -> None:
        super().__init__(signum, iteration, saved)
        self.signum, self.iteration, self.saved = signum, iteration, saved


class Trainer:
    """Runs ``updater`` until ``stop_trigger`` fires; ``out`` is the run directory. A stop trigger with state
    (``EarlyStopping``) is also registered as an extension, which saves and restores it. ``comm``: the
    processes training together (``seqkit.distributed``), one by default."""

    def __init__(self, updater, stop_trigger: Any, out: str | Path, comm: Communicator | None = None) -> None:
        self.updater = updater
        self.comm = comm or Communicator()
        self.stop_trigger = as_trigger(stop_trigger)
        self.out = Path(out)
        self.observation: dict[str, Any] = {}
        self.diverged = False
        #: True at the end of an iteration (and before the first): a state a checkpoint may hold
        self.consistent = True
        #: the iteration whose state the newest checkpoint written by this run holds (or it resumed from)
        self.saved_iteration: int | None = None
        self._uninterruptible, self._stop_now, self._finishing = 0, False, False
        self.elapsed = 0.0  # seconds of training, over every resumed part of the run
        self._extensions: dict[str, _Registered] = {}
        self._start: float | None = None

    def extend(self, extension: Extension, *, name: str | None = None, trigger: Any = None,
               priority: int | None = None) -> None:  # fmt: skip
        """Register ``extension`` (its own trigger, priority and name unless given)."""
        name = name or extension.name or type(extension).__name__
        if name in self._extensions:
            raise ValueError(f"an extension named {name!r} is already registered")
        trigger = as_trigger(extension.trigger if trigger is None else trigger)
        self._extensions[name] = _Registered(
            extension, name, trigger, extension.priority if priority is None else priority
        )

    def get_extension(self, name: str) -> Extension:
        return self._extensions[name].extension

    @property
    def model(self):
        return self.updater.model

    def total_elapsed(self) -> float:
        return self.elapsed + (time.perf_counter() - self._start if self._start is not None else 0.0)

    def run(self) -> None:
        """Train until the stop trigger fires. SIGINT (Ctrl-C) or SIGTERM stops training after the iteration
        under way is complete, on every process alike; a second signal stops it at once (a checkpoint being
        written is finished first). Either way ``Interrupted`` is raised, after every extension's
        ``finalize`` (the snapshot extension saves there only a state at an iteration's end, so the saved
        state resumes exactly). Freed host memory is kept for reuse from here on (``keep_freed_host_memory``;
        a step frees and reallocates the same large arrays), unless ``SEQKIT_MALLOC=system``."""
        keep_freed_host_memory()
        ordered = sorted(self._extensions.values(), key=lambda r: -r.priority)
        for r in ordered:
            r.extension.initialize(self)
        self._start = time.perf_counter()
        self._stop_now = self._finishing = False
        signals: list[int] = []

        def on_signal(signum, frame) -> None:
            signals.append(signum)
            if len(signals) == 1:
                if self.comm.is_primary:
                    print(f"seqkit: {signal.Signals(signum).name}: stopping after this iteration, which is then "
                          "saved (Ctrl-C again to stop at once, without saving it)", file=sys.stderr)  # fmt: skip
            elif self._uninterruptible or self._finishing:  # a checkpoint being written, or the last one
                self._stop_now = True
                if self.comm.is_primary:
                    print("seqkit: stopping once the checkpoint being written is complete", file=sys.stderr)
            else:
                raise KeyboardInterrupt

        previous = {}
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                if signal.getsignal(signum) is not signal.SIG_IGN:  # an ignored signal stays so
                    previous[signum] = signal.signal(signum, on_signal)
        try:
            try:
                while not self.stop_trigger(self):
                    self.consistent = False
                    self.observation = dict(self.updater.update())
                    loss = self.observation["loss"]
                    if not is_cupy_array(loss):  # on a GPU the log checks it when it reads the loss
                        self.check_finite(float(loss))
                    for r in ordered:
                        if r.trigger(self):
                            r.extension(self)
                    self.consistent = True
                    if self.comm.any(bool(signals)):
                        raise KeyboardInterrupt
            finally:  # after an error too; signals now only wait for the end (an error stays the error)
                self._finishing = True
                self.elapsed = self.total_elapsed()
                self._start = None
                for r in ordered:
                    r.extension.finalize(self)
        except KeyboardInterrupt:
            signals.append(signal.SIGINT)  # for a KeyboardInterrupt not from our handler
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        if signals:  # (a signal after the last iteration stops the command too; that state is saved as well)
            raise Interrupted(signals[0], self.updater.iteration, self.saved_iteration)

    @contextlib.contextmanager
    def uninterruptible(self) -> Iterator[None]:
        """A block (writing a checkpoint) that a second SIGINT or SIGTERM does not cut short: training stops
        when the block is complete."""
        self._uninterruptible += 1
        try:
            yield
        finally:
            self._uninterruptible -= 1
        if self._stop_now and not self._uninterruptible and not self._finishing:
            self._stop_now = False
            raise KeyboardInterrupt

    def check_finite(self, loss: float) -> None:
        """Raise ``TrainingDiverged`` (and mark the run as diverged) unless ``loss`` is finite."""
        if not math.isfinite(loss):
            self.diverged = True
            raise TrainingDiverged(
                f"the loss became {loss} at iteration {self.updater.iteration}; training stopped and the last "
                "good checkpoint is kept (try a lower learning rate or gradient clipping)"
            )

    # ---- state ----------------------------------------------------------------------------------------------
    def state_dict(self) -> tuple[dict[str, numpy.ndarray], dict[str, Any]]:
        """``(arrays, meta)``: the model's, optimizer's and updater's arrays, and JSON-able state of everything
        else (the updater's with references to its arrays)."""
        updater = self.updater
        arrays = {f"model/{k}": v for k, v in updater.model.state_dict().items()}
        opt_state = updater.optimizer.state_dict()
        opt_arrays = {k: v for k, v in opt_state.items() if isinstance(v, numpy.ndarray)}
        arrays.update({f"optimizer/{k}": v for k, v in opt_arrays.items()})
        meta = {
            "elapsed": self.total_elapsed(),
            "updater": split_arrays(updater.state_dict(), "updater", arrays),
            "optimizer": {k: v for k, v in opt_state.items() if k not in opt_arrays},
            "schedule": updater.schedule.state_dict() if updater.schedule is not None else None,
            "random": seqkit_random.get_state(),
            "extensions": {name: r.extension.state_dict() for name, r in self._extensions.items()},
        }
        return arrays, meta

    def load_state_dict(self, arrays: dict[str, numpy.ndarray], meta: dict[str, Any]) -> None:
        """Restore ``state_dict()``'s output (before ``run``)."""
        updater = self.updater
        updater.model.load_state_dict({k[6:]: v for k, v in arrays.items() if k.startswith("model/")})
        opt_state = dict(meta["optimizer"])
        opt_state.update({k[10:]: v for k, v in arrays.items() if k.startswith("optimizer/")})
        updater.optimizer.load_state_dict(opt_state)
        if updater.schedule is not None and meta["schedule"] is not None:
            updater.schedule.load_state_dict(meta["schedule"])
        updater.load_state_dict(join_arrays(meta["updater"], arrays))
        seqkit_random.set_state(meta["random"])
        for name, state in meta["extensions"].items():
            if name in self._extensions:
                self._extensions[name].extension.load_state_dict(state)
        self.elapsed = float(meta["elapsed"])
        self.saved_iteration = updater.iteration
