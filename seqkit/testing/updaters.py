"""Test a plugin's updater against the contract of ``seqkit.training.Updater``.

Give it a *registered* updater name, its options and where its plugin comes from (installed entry points, or
``plugins_dir``, a folder of plugin files); it writes a tiny task of its own into a directory (a few hundred
random letter sequences and their reversals, and a recipe training a small seq2seq model on them with
dropout, naming the updater in ``[updater]``), then checks:

- ``check_registered``: the name gives a ``seqkit.training.Updater`` subclass;
- ``check_options``: the fields of the registered options dataclass (filled in as a recipe fills them) are
  accepted by the constructor as keywords: seqkit builds ``cls(iterator, model, optimizer, **options)``;
- ``check_update``: a new updater's ``iteration`` is 0; every ``update()`` returns ``loss`` (a finite scalar),
  ``tokens`` and ``sentences`` (positive ints) and counts one ``iteration``; an epoch takes the updates that
  ``batches_per_update`` plans (what the schedule is built for), its ``sentences`` add up to the training
  data, and the parameters change;
- ``check_state_round_trip``: after a few updates, ``state_dict()`` holds only JSON-able values and NumPy
  arrays (arrays only as values of dicts, at any depth); the whole training state goes through a checkpoint's
  form (JSON text and copied arrays) into a fresh updater built from other initial weights, and the next
  updates of both are bitwise the same: losses, model, optimizer state and updater state, arrays included;
- ``check_resume_after_kill``: ``seqkit train`` in a subprocess that SIGKILLs itself the moment a snapshot in the
  middle of the second epoch is in place (no race with the machine's speed), then resumed with ``--resume``, ends
  with the final checkpoint of an uninterrupted run (model weights, optimizer, schedule, updater state, random
  state) bitwise, and logs the same losses at the same iterations.

With pytest, subclass ``UpdaterTests``::

    from seqkit.testing.updaters import UpdaterTests

    class TestLookahead(UpdaterTests):
        name = "lookahead"
        options = {"k": 3}

or call ``check_updater(name, options=..., plugins_dir=...)``. Each check takes a few seconds on a CPU; every
one raises ``AssertionError`` with one line naming the updater and what broke.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy
import pytest

import seqkit.random
from seqkit.backend import to_device
from seqkit.training import Trainer, Updater, load_checkpoint

#: letters of the kit's task; sequences of 2-6 of them, the target the source reversed
ALPHABET = "abcdefgh"
#: training pairs of the kit's task (about 50 batches an epoch)
TRAIN_PAIRS = 1200
#: iterations between the kit's snapshots (``training.snapshot_every``)
SNAPSHOT_EVERY = 4
#: the kit's recipe, but for ``[updater]``; the resume check kills the run in its second epoch of three
RECIPE = """\
schema = 2
name = "updater-kit"

[data]
train_files = ["train.src", "train.tgt"]
dev_files = ["dev.src", "dev.tgt"]
test_files = ["dev.src", "dev.tgt"]
max_len = 10

[tokenizer]
name = "whitespace"

[model]
name = "seq2seq"
embed_size = 8
hidden_size = 16
bidirectional = false
dropout = 0.2                    # draws from seqkit.random: its state must resume too

[optimizer]
name = "adam"
lr = 0.01

[training]
max_tokens = 96
epochs = 3
log_every = 2
snapshot_every = {snapshot_every}
keep = 1000                      # every snapshot stays
seed = 1

[decoding]
beam = 1

[evaluation]
dev_bleu = false
monitor = "val/loss"
"""


def write_task(directory: str | os.PathLike, name: str, options: Mapping[str, Any] | None = None) -> Path:
    """Write the kit's task into ``directory`` (created): ``train``/``dev`` source and target files and
    ``recipe.toml`` training with the updater ``name`` and ``options`` (TOML scalars or lists). Returns the
    recipe's path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)
    for split, n in (("train", TRAIN_PAIRS), ("dev", 16)):
        src = [" ".join(rng.choice(ALPHABET) for _ in range(rng.randint(2, 6))) for _ in range(n)]
        (directory / f"{split}.src").write_text("".join(s + "\n" for s in src), encoding="utf-8")
        (directory / f"{split}.tgt").write_text("".join(" ".join(s.split()[::-1]) + "\n" for s in src), "utf-8")
    section = [f"[updater]\nname = {json.dumps(name)}"]
    section += [f"{key} = {json.dumps(value)}" for key, value in (options or {}).items()]  # JSON's are TOML's
    path = directory / "recipe.toml"
    path.write_text(RECIPE.format(snapshot_every=SNAPSHOT_EVERY) + "\n" + "\n".join(section) + "\n", "utf-8")
    return path


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _never(trainer: Any) -> bool:
    return False


def _host(value: Any) -> numpy.ndarray:
    return numpy.asarray(to_device(getattr(value, "data", value), "cpu"))


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "(no output)"


def _is_array(value: Any) -> bool:
    from seqkit.backend import is_cupy_array

    return isinstance(value, numpy.ndarray) or is_cupy_array(value)


def state_problem(state: Any, path: str = "state_dict()") -> str | None:
    """What makes ``state`` unfit for a checkpoint's updater state, or None. It must be a dict whose values are
    JSON-able (dicts with str keys, lists, str, int, float, bool, None), arrays, or dicts of the same: the
    checkpoint moves arrays out of nested dicts into its arrays, but an array in a list would stay in its JSON
    record."""
    if not isinstance(state, dict):
        return f"{path} is a {type(state).__name__}, not a dict"
    for key, value in state.items():
        if not isinstance(key, str):
            return f"{path} has the key {key!r}, a {type(key).__name__}; JSON keys are str"
        where = f"{path}[{key!r}]"
        found = (
            None if _is_array(value) else (state_problem if isinstance(value, dict) else _json_problem)(value, where)
        )
        if found:
            return found
    return None


def _json_problem(value: Any, path: str) -> str | None:
    """What makes ``value`` not JSON-able, or None."""
    if isinstance(value, dict):
        items = list(value.items())
        for key, _ in items:
            if not isinstance(key, str):
                return f"{path} has the key {key!r}, a {type(key).__name__}; JSON keys are str"
    elif isinstance(value, (list, tuple)):
        items = list(enumerate(value))
    elif _is_array(value):
        return f"{path} is an array inside a list; keep arrays as values of dicts"
    elif isinstance(value, numpy.generic):
        return f"{path} is a NumPy {type(value).__name__}; use int() or float(), or a 0-d array"
    elif value is None or isinstance(value, (str, bool, int, float)):
        return None
    else:
        return f"{path} is a {type(value).__name__}, neither JSON-able nor a NumPy array"
    for key, item in items:
        found = _json_problem(item, f"{path}[{key!r}]")
        if found:
            return found
    return None


def _first_difference(a: Any, b: Any, path: str) -> str | None:
    """The path of the first difference between two JSON values, or None (NaN equals NaN)."""
    if isinstance(a, dict) and isinstance(b, dict):
        if list(a) != list(b):
            return f"{path} keys {sorted(a)} vs {sorted(b)}"
        for key in a:
            found = _first_difference(a[key], b[key], f"{path}/{key}")
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return next(filter(None, (_first_difference(x, y, f"{path}/{i}") for i, (x, y) in enumerate(zip(a, b)))), None)
    both_nan = isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)
    return None if both_nan or (type(a) is type(b) and a == b) else f"{path} ({_short(a, 30)} vs {_short(b, 30)})"


def _state_difference(one: tuple[dict, dict], other: tuple[dict, dict]) -> str | None:
    """The first difference between two ``(arrays, meta)`` training states (``elapsed`` aside), or None."""
    (arrays, meta), (arrays2, meta2) = one, other
    if sorted(arrays) != sorted(arrays2):
        extra = sorted(set(arrays) ^ set(arrays2))
        return f"the arrays differ in keys ({', '.join(extra[:3])})"
    for key in sorted(arrays):
        a, b = _host(arrays[key]), _host(arrays2[key])
        if a.shape != b.shape or a.dtype != b.dtype or not numpy.array_equal(a, b, equal_nan=True):
            return f"array {key!r}"
    keep = ("iteration", "updater", "optimizer", "schedule", "random", "extensions")
    as_saved = [json.loads(json.dumps({k: m.get(k) for k in keep})) for m in (meta, meta2)]  # as a checkpoint has it
    return _first_difference(*as_saved, "state")


def _training_state(updater: Updater) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(arrays, meta)`` as a checkpoint holds them (``Trainer.state_dict``), the arrays copied to the host."""
    arrays, meta = Trainer(updater, _never, ".").state_dict()
    return {k: _host(v).copy() for k, v in arrays.items()}, meta


class _Task:
    """The kit's task set up in a directory: recipe, tokenizers and training data, and fresh updaters."""

    def __init__(self, case: UpdaterCase, directory: Path) -> None:
        from seqkit.recipes import load_recipe
        from seqkit.runs import Run

        self.case, self.pm = case, case.plugin_manager()
        path = write_task(directory / "task", case.name, case.options)
        self.recipe = case._call("the kit's recipe", load_recipe, path, registries=self.pm.registry)
        self.run = Run.create(self.recipe, directory / "run", self.pm, log=lambda *a, **k: None)
        self.data = self.run.parallel_data("train")
        self.run.close()  # the kit drives the parts itself: nothing else writes to the run directory
        self.options = {k: v for k, v in self.recipe.updater.items() if k != "name"}

    def parts(self, seed: int) -> tuple[Any, Any, Any]:
        """A new iterator, a model initialised from ``seed`` and its optimizer, as ``Run.train`` sets them up."""
        from seqkit.data import BatchIterator
        from seqkit.optim import GradientClipping
        from seqkit.runs import build_model, build_optimizer

        t = self.recipe.training
        seqkit.random.seed(seed)
        model = build_model(self.recipe, self.run.tokenizers, self.pm)
        optimizer = build_optimizer(self.recipe, self.pm).setup(model)
        if t.clip:
            optimizer.add_hook(GradientClipping(t.clip))
        return BatchIterator(self.data, t.max_tokens, seed=t.seed), model, optimizer

    def build(self, seed: int | None = None) -> Updater:
        """A new updater as ``Run.train`` builds it (options, then the schedule), model weights from ``seed``
        (default the recipe's), ``seqkit.random`` seeded with the recipe's seed."""
        from seqkit.optim import TrainingPlan
        from seqkit.runs import build_schedule

        t = self.recipe.training
        iterator, model, optimizer = self.parts(t.seed if seed is None else seed)
        cls = self.pm.registry("updater").get(self.case.name)
        updater = self.case._call("the constructor", cls, iterator, model, optimizer, **self.options)
        per_epoch = -(-len(iterator) // updater.batches_per_update)
        updater.schedule = build_schedule(self.recipe, optimizer, TrainingPlan(per_epoch, t.epochs, "min"), self.pm)
        seqkit.random.seed(t.seed)
        return updater


@dataclasses.dataclass
class UpdaterCase:
    """A registered updater with its options: from installed plugins (``pm``, default a fresh strict plugin
    manager) or also from the plugin files in ``plugins_dir``. ``steps``: updates made before the state is
    saved and again after it is restored in ``check_state_round_trip``."""

    name: str
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    plugins_dir: str | os.PathLike | None = None
    pm: Any = None
    steps: int = 7

    def __post_init__(self) -> None:
        self.who = f"updater {self.name!r}"

    def plugin_manager(self) -> Any:
        if self.pm is None:
            from seqkit.plugins import get_plugin_manager

            self.pm = get_plugin_manager(plugins_dir=self.plugins_dir, strict=True)
        return self.pm

    def _call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(...)``, an error in it an ``AssertionError`` naming the updater and the call."""
        try:
            return fn(*args, **kwargs)
        except AssertionError:
            raise
        except Exception as e:
            raise AssertionError(f"{self.who}: {what} raised {type(e).__name__}: {e}".splitlines()[0]) from e

    def _update(self, updater: Updater, number: int) -> dict[str, Any]:
        """``updater.update()``, its result checked: ``loss`` a finite scalar, ``tokens`` and ``sentences``
        positive ints."""
        result = self._call(f"update() {number}", updater.update)
        if not isinstance(result, Mapping) or not {"loss", "tokens", "sentences"} <= set(result):
            got = sorted(result) if isinstance(result, Mapping) else type(result).__name__
            raise AssertionError(f"{self.who}: update() must return loss, tokens and sentences; got {got}")
        loss = _host(result["loss"])
        if loss.size != 1 or not math.isfinite(float(loss.reshape(()))):
            raise AssertionError(
                f"{self.who}: update() {number} returned loss {_short(result['loss'])}, not a finite scalar"
            )
        for key in ("tokens", "sentences"):
            value = result[key]
            if isinstance(value, bool) or not isinstance(value, (int, numpy.integer)) or value < 1:
                raise AssertionError(
                    f"{self.who}: update() {number} returned {key} {_short(value)}, not a positive int"
                )
        return dict(result)

    def task(self, directory: str | os.PathLike) -> _Task:
        """The kit's task set up in ``directory`` (one per check: it writes a run directory there)."""
        return _Task(self, Path(directory))

    # ---- the checks --------------------------------------------------------------------------------------
    def check_registered(self) -> None:
        """The name gives a ``seqkit.training.Updater`` subclass."""
        try:
            cls = self.plugin_manager().registry("updater").get(self.name)
        except Exception as e:
            raise AssertionError(f"{self.who}: not found in the updater registry ({e})".splitlines()[0]) from None
        if not (isinstance(cls, type) and issubclass(cls, Updater)):
            raise AssertionError(f"{self.who}: registered {_short(cls)}, not a seqkit.training.Updater subclass")
        if not isinstance(cls.data_parallel, bool):
            raise AssertionError(f"{self.who}: data_parallel must be a bool, got {_short(cls.data_parallel)}")

    def check_options(self, directory: str | os.PathLike) -> None:
        """The registered options dataclass's fields, filled in as a recipe fills them, are constructor
        keywords; the options the case gives are its fields; ``batches_per_update`` is a positive int."""
        self.check_registered()
        entry = self.plugin_manager().registry("updater").entry(self.name)
        if entry.options is None:
            if self.options:
                raise AssertionError(f"{self.who}: registered without options, but the case gives {self.options}")
            values: dict[str, Any] = {}
        else:
            if not dataclasses.is_dataclass(entry.options):
                raise AssertionError(f"{self.who}: its registered options {entry.options!r} are not a dataclass")
            fields = [f.name for f in dataclasses.fields(entry.options)]
            unknown = sorted(set(self.options) - set(fields))
            if unknown:
                raise AssertionError(f"{self.who}: test case: {unknown} are not fields of {entry.options.__name__}")
            built = self._call(f"{entry.options.__name__}(**{self.options})", entry.options, **self.options)
            values = dataclasses.asdict(built)
        try:
            inspect.signature(entry.obj).bind(None, None, None, **values)
        except TypeError as e:
            raise AssertionError(
                f"{self.who}: the constructor does not take the options {sorted(values)} as keywords ({e}); seqkit "
                "builds cls(iterator, model, optimizer, **options)"
            ) from None
        task = self.task(directory)
        if task.options != values:
            raise AssertionError(f"{self.who}: a recipe gives the options {task.options}, the dataclass {values}")
        updater = task.build()
        bpu = updater.batches_per_update
        if isinstance(bpu, bool) or not isinstance(bpu, int) or bpu < 1:
            raise AssertionError(f"{self.who}: batches_per_update must be a positive int, got {_short(bpu)}")

    def check_update(self, directory: str | os.PathLike) -> None:
        """One epoch of ``update()``: results, one ``iteration`` each, the planned number of updates, every
        sentence once, parameters that change."""
        task = self.task(directory)
        updater = task.build()
        if updater.iteration != 0:
            raise AssertionError(f"{self.who}: a new updater's iteration is {updater.iteration}, expected 0")
        before = {name: _host(p).copy() for name, p in updater.model.named_params()}
        updates = sentences = 0
        batches = len(updater.iterator)
        while True:
            result = self._update(updater, updates + 1)
            updates, sentences = updates + 1, sentences + int(result["sentences"])
            if updater.iteration != updates:
                raise AssertionError(
                    f"{self.who}: after {updates} update() calls iteration is {_short(updater.iteration)}; each "
                    "update() counts one (finish_step() does)"
                )
            if updater.is_new_epoch:
                break
            if updates > batches:
                raise AssertionError(f"{self.who}: {updates} updates and the epoch of {batches} batches goes on")
        planned = -(-batches // updater.batches_per_update)
        if updates != planned:
            raise AssertionError(
                f"{self.who}: an epoch of {batches} batches took {updates} updates, but batches_per_update = "
                f"{updater.batches_per_update} plans {planned} (the schedule is built for that many)"
            )
        if sentences != len(task.data):
            raise AssertionError(
                f"{self.who}: the sentences its updates report over an epoch add up to {sentences}, but the epoch "
                f"has {len(task.data)}"
            )
        if all(numpy.array_equal(before[name], _host(p)) for name, p in updater.model.named_params()):
            raise AssertionError(f"{self.who}: an epoch of updates left every parameter of the model unchanged")

    def check_state_round_trip(self, directory: str | os.PathLike) -> None:
        """``steps`` updates, the training state through a checkpoint's form into a fresh updater (other
        initial weights), then ``steps`` more updates of both: bitwise the same after each."""
        task = self.task(directory)
        first = task.build()
        for i in range(self.steps):
            self._update(first, i + 1)
        state = self._call("state_dict()", first.state_dict)
        problem = state_problem(state)
        if problem:
            raise AssertionError(f"{self.who}: {problem}")
        arrays, meta = _training_state(first)
        text = self._call("json.dumps of the checkpoint record", json.dumps, meta)
        second = task.build(seed=task.recipe.training.seed + 1000)
        self._call("load_state_dict(state_dict())", Trainer(second, _never, ".").load_state_dict, arrays,
                   json.loads(text))  # fmt: skip
        problem = state_problem(self._call("state_dict() after load_state_dict", second.state_dict))
        if problem:
            raise AssertionError(f"{self.who}: after load_state_dict, {problem}")
        random_states = [seqkit.random.get_state()] * 2  # each updater draws from its own copy
        for i in range(self.steps):
            results = []
            for k, updater in enumerate((first, second)):
                seqkit.random.set_state(random_states[k])
                results.append(self._update(updater, self.steps + i + 1))
                random_states[k] = seqkit.random.get_state()
            (a, b), number = results, f"update {i + 1} after the restore"
            restored = f"{self.who}: state_dict -> fresh updater -> load_state_dict: {number}"
            if not numpy.array_equal(_host(a["loss"]), _host(b["loss"])):
                loss, original = float(_host(b["loss"]).reshape(())), float(_host(a["loss"]).reshape(()))
                raise AssertionError(f"{restored} gives loss {loss!r}, the original {original!r}")
            if (a["tokens"], a["sentences"]) != (b["tokens"], b["sentences"]):
                raise AssertionError(f"{restored} takes another batch than the original")
            difference = _state_difference(_training_state(first), _training_state(second))
            if difference:
                raise AssertionError(f"{restored}: {difference} differs from the original's")

    def check_resume_after_kill(self, directory: str | os.PathLike, timeout: float = 300) -> None:
        """``seqkit train`` killed with SIGKILL after a snapshot in the middle of its second epoch, then
        resumed, ends bitwise where an uninterrupted run ends, and logs the same losses."""
        directory = Path(directory)
        recipe = write_task(directory / "task", self.name, self.options)
        plugins = ["--plugins-dir", os.fspath(self.plugins_dir)] if self.plugins_dir is not None else []
        command = [sys.executable, "-m", "seqkit", "--strict-plugins", *plugins, "train", str(recipe), "--no-progress",
                   "--run-dir"]  # fmt: skip
        straight, killed = directory / "straight", directory / "killed"
        self._train([*command, str(straight)], "the uninterrupted run", timeout)
        expected = self._log(straight)
        per_epoch = next((line["iteration"] for line in expected if "val/loss" in line), None)
        if per_epoch is None:
            raise AssertionError(f"{self.who}: the uninterrupted run logged no validation (val/loss)")
        target = (per_epoch // SNAPSHOT_EVERY + 1) * SNAPSHOT_EVERY  # the first snapshot after the first epoch
        if target >= 2 * per_epoch:
            raise AssertionError(f"{self.who}: {per_epoch} updates an epoch leave no snapshot mid-epoch to kill at")
        snapshot = killed / "checkpoints" / f"snapshot_{target}.npz"
        # the process kills itself the moment the snapshot is complete: the exact point, whatever the machine's speed
        env = {**os.environ, "SEQKIT_FAULTS": f"snapshot@{target}:kill"}
        with open(directory / "killed.err", "w+b") as err:
            proc = subprocess.run([*command, str(killed)], stdout=subprocess.DEVNULL, stderr=err, env=env,
                                  timeout=timeout)  # fmt: skip
            if proc.returncode != -signal.SIGKILL:
                err.seek(0)
                raise AssertionError(
                    f"{self.who}: the run to kill ended (exit {proc.returncode}) before writing {snapshot.name}: "
                    f"{_last_line(err.read().decode(errors='replace'))}"
                )
        out = self._train([*command, str(killed), "--resume"], "the resumed run", timeout)
        resumed = re.search(r"resumed from .* at iteration (\d+)", out)
        if resumed is None:
            raise AssertionError(f"{self.who}: --resume after the kill did not resume: {_last_line(out)}")
        at = int(resumed.group(1))
        if not per_epoch < at < 2 * per_epoch:
            raise AssertionError(
                f"{self.who}: the kill after snapshot_{target}.npz came too late: the run resumed at iteration {at}, "
                f"not inside epoch 1 ({per_epoch} updates an epoch)"
            )
        what = f"killed after snapshot_{target}.npz and resumed at iteration {at} (epoch 1 of {per_epoch} updates)"
        final = [load_checkpoint(run / "checkpoints" / "last.npz") for run in (straight, killed)]
        difference = _state_difference(*final)
        if difference:
            raise AssertionError(f"{self.who}: {what}: the final checkpoint's {difference} differs from an "
                                 "uninterrupted run's")  # fmt: skip
        logged = self._log(killed)
        if [e["iteration"] for e in logged] != [e["iteration"] for e in expected]:
            raise AssertionError(f"{self.who}: {what}: the log's iterations differ from an uninterrupted run's")
        for mine, theirs in zip(logged, expected):
            if mine.get("loss") != theirs.get("loss"):
                raise AssertionError(
                    f"{self.who}: {what}: the log's loss at iteration {mine['iteration']} is {mine.get('loss')}, "
                    f"an uninterrupted run's {theirs.get('loss')}"
                )

    def _train(self, command: list[str], what: str, timeout: float) -> str:
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.who}: {what} took more than {timeout:.0f} s") from None
        if done.returncode != 0:
            raise AssertionError(f"{self.who}: {what} failed (exit {done.returncode}): {_last_line(done.stderr)}")
        return done.stdout

    def _log(self, run: Path) -> list[dict[str, Any]]:
        return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines() if line.strip()]

    def check_all(self, directory: str | os.PathLike | None = None) -> None:
        """Every check, each in its own folder of ``directory`` (default a temporary one)."""
        if directory is None:
            with tempfile.TemporaryDirectory() as tmp:
                self.check_all(tmp)
            return
        directory = Path(directory)
        self.check_registered()
        self.check_options(directory / "options")
        self.check_update(directory / "update")
        self.check_state_round_trip(directory / "round_trip")
        self.check_resume_after_kill(directory / "resume")


def check_updater(
    name: str,
    *,
    options: dict[str, Any] | None = None,
    plugins_dir: str | os.PathLike | None = None,
    directory: str | os.PathLike | None = None,
) -> None:
    """Run every check on the registered updater ``name`` (see the module docstring and ``UpdaterCase``)."""
    UpdaterCase(name, dict(options or {}), plugins_dir).check_all(directory)


class UpdaterTests:
    """Subclass as ``TestSomething`` and set ``name`` (and as needed ``options``, and ``plugins_dir`` for an
    updater in a plugin file): one pytest test per check. Without ``plugins_dir`` the updater is looked up in
    the ``seqkit_plugin_manager`` fixture's registry; the subprocess of the resume check sees the same
    installed plugins."""

    name: ClassVar[str]
    options: ClassVar[dict[str, Any]] = {}
    plugins_dir: ClassVar[str | os.PathLike | None] = None

    @pytest.fixture
    def case(self, seqkit_plugin_manager) -> UpdaterCase:
        pm = seqkit_plugin_manager if self.plugins_dir is None else None
        return UpdaterCase(self.name, dict(self.options), self.plugins_dir, pm)

    def test_registered(self, case: UpdaterCase) -> None:
        case.check_registered()

    def test_options(self, case: UpdaterCase, tmp_path: Path) -> None:
        case.check_options(tmp_path)

    def test_update(self, case: UpdaterCase, tmp_path: Path) -> None:
        case.check_update(tmp_path)

    def test_state_round_trip(self, case: UpdaterCase, tmp_path: Path) -> None:
        case.check_state_round_trip(tmp_path)

    def test_resume_after_kill(self, case: UpdaterCase, tmp_path: Path) -> None:
        case.check_resume_after_kill(tmp_path)


__all__ = [
    "ALPHABET", "RECIPE", "SNAPSHOT_EVERY", "TRAIN_PAIRS", "UpdaterCase", "UpdaterTests", "check_updater",
    "state_problem", "write_task",
]  # fmt: skip
