"""Recipes: a TOML file -> a validated, typed configuration; ``--set a.b=value`` overrides; a resolved copy.

Every section is a dataclass. The ``[tokenizer]``, ``[model]``, ``[optimizer]``, ``[updater]`` and ``[schedule]``
sections name a registered component (``name = "seq2seq"``) and their other keys are checked against that
component's options dataclass, plugin components included (an options dataclass may check its values in
``__post_init__``: a ``ValueError`` there is reported naming the section). Precedence: defaults < recipe <
``--set``. Unknown keys, wrong types and missing required keys are ``UserError``s naming the recipe file, the
key path, what was expected and the known keys (with the closest suggested).
"""

from __future__ import annotations

import dataclasses
import difflib
import tomllib
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

from seqkit.errors import UserError
from seqkit.registry import Registry

SCHEMA = 2

#: component sections: section -> (registry kind, default name)
COMPONENTS = {"tokenizer": ("tokenizer", "sentencepiece"), "model": ("model", "seq2seq"),
              "optimizer": ("optimizer", "adam"), "updater": ("updater", "standard"),
              "schedule": ("schedule", "constant")}  # fmt: skip
SECTIONS = ("data", "tokenizer", "model", "optimizer", "updater", "schedule", "training", "decoding", "evaluation")


@dataclasses.dataclass
class DataOptions:
    """``[data]``: where the parallel text comes from and how it is filtered."""

    corpus: str = ""  # a registered corpus (see `seqkit corpus list`), or "" to give files below
    source: str = ""  # source language code (e.g. "de"); for files, used only in names
    target: str = ""  # target language code
    train: str = "train"  # the corpus split to train on...
    dev: str = "dev"  # ...to validate on (picks the best checkpoint)...
    test: str = "test"  # ...and to score at the end
    train_files: list[str] = dataclasses.field(default_factory=list)  # or [SOURCE, TARGET] files (plain or .gz)
    dev_files: list[str] = dataclasses.field(default_factory=list)  # [SOURCE, TARGET], instead of a dev split
    test_files: list[str] = dataclasses.field(default_factory=list)  # [SOURCE, TARGET], instead of a test split
    max_len: int = 80  # drop training pairs with a side longer than this many tokens
    empty: str = "skip"  # empty lines: "skip" (and count) or "error"
    data_dir: str = ""  # where local copies of corpora live (default: $SEQKIT_DATA)


@dataclasses.dataclass
class TrainingOptions:
    """``[training]``: the loop."""

    max_tokens: int = 4096  # padded tokens per batch (sentences x longest side)
    max_sentences: int = 0  # 0: no limit
    epochs: int = 10  # passes over the training data (fewer with early stopping)
    clip: float = 5.0  # global gradient-norm clipping; 0 to turn off
    weight_decay: float = 0.0  # L2 penalty added to the gradient (see also the adamw optimizer)
    patience: int = 0  # early stopping: evaluations without improvement (0: off)
    log_every: int = 100  # iterations between log lines
    eval_every: int = 1  # epochs between validations and snapshots
    snapshot_every: int = 0  # iterations between snapshots (0: at each validation)
    keep: int = 3  # numbered snapshots kept
    seed: int = 1  # initial weights, batch order and dropout
    device: str = "cpu"  # "cpu" or "cuda:N" (CuPy); `seqkit train --device` overrides it
    mixed_precision: bool = False  # float16 matrix products, float32 weights, dynamic loss scaling (for GPUs)


@dataclasses.dataclass
class DecodingOptions:
    """``[decoding]``: how validation BLEU, the test set and ``seqkit translate`` decode: the keys below, and
    the options of the strategy beside them, listed under each strategy."""

    strategy: str = "beam"  # a registered decoding strategy: greedy, beam, sampling, or a plugin's
    max_len_ratio: float = 1.5  # longest output: max_len_ratio x source length + max_len_offset
    max_len_offset: int = 10  # (see max_len_ratio)
    batch_size: int = 64  # sentences decoded together

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.max_len_ratio < 0:
            raise ValueError(f"batch_size must be at least 1 and max_len_ratio at least 0, got batch_size="
                             f"{self.batch_size}, max_len_ratio={self.max_len_ratio}")


def _split_decoding(table: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A ``[decoding]`` table as its ``DecodingOptions`` keys and the rest (the strategy's options)."""
    shared = {f.name for f in dataclasses.fields(DecodingOptions)}
    return {k: v for k, v in table.items() if k in shared}, {k: v for k, v in table.items() if k not in shared}


def load_decoding(table: dict[str, Any], registry: Registry, where: str) -> dict[str, Any]:
    """A ``[decoding]`` table (``strategy``, the ``DecodingOptions`` keys and the strategy's options), checked
    and filled: ``{"strategy": NAME, max_len_ratio, max_len_offset, batch_size, *the strategy's options}``.
    A table without ``strategy`` is beam search's, as schema 1 wrote it."""
    shared, options = _split_decoding(table)
    values = dataclasses.asdict(build_options(DecodingOptions, shared, where))
    name = values.pop("strategy")
    return _component({"strategy": name, **options}, "decoding strategy", registry, where, name, extra=values,
                      key="strategy")  # fmt: skip


def decoding_parts(decoding: dict[str, Any]) -> tuple[str, dict[str, Any], DecodingOptions]:
    """A filled ``[decoding]`` table (``load_decoding``) as the strategy's name, its options and the
    ``DecodingOptions``."""
    shared, options = _split_decoding(decoding)
    return decoding["strategy"], options, DecodingOptions(**shared)


@dataclasses.dataclass
class EvaluationOptions:
    """``[evaluation]``: what picks the best checkpoint."""

    dev_bleu: bool = True  # decode the dev set at every validation and score it (BLEU, and the monitored metric)
    dev_sentences: int = 0  # decode only the first N dev sentences for scoring (0: all)
    monitor: str = "val/bleu"  # val/loss (min) or val/NAME, NAME a registered metric (bleu, chrf, ter, a plugin's)


@dataclasses.dataclass
class Recipe:
    """A resolved recipe: every section with every default filled in."""

    name: str
    path: str
    data: DataOptions
    tokenizer: dict[str, Any]
    model: dict[str, Any]
    optimizer: dict[str, Any]
    updater: dict[str, Any]
    schedule: dict[str, Any]
    training: TrainingOptions
    decoding: dict[str, Any]
    evaluation: EvaluationOptions

    def identity(self) -> str:
        """``to_toml()`` without the device: a run may be resumed on another device."""
        return "".join(line for line in self.to_toml().splitlines(keepends=True) if not line.startswith("device = "))

    def to_toml(self) -> str:
        """The recipe as TOML, every key present, so a run directory records exactly what ran."""
        lines = [f"schema = {SCHEMA}", f"name = {_toml_value(self.name)}"]
        for section in SECTIONS:
            value = getattr(self, section)
            table = value if isinstance(value, dict) else dataclasses.asdict(value)
            lines.append(f"\n[{section}]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in table.items() if v is not None]  # TOML has no null
        return "\n".join(lines) + "\n"


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"a.b=value"`` -> (``["a", "b"]``, value as a TOML literal, or the raw string)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise UserError(f"--set {text!r}: expected KEY=VALUE, e.g. --set training.epochs=5")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return key.strip().split("."), value


def _type_ok(value: Any, annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (types.UnionType, typing.Union):
        return any(_type_ok(value, a) for a in typing.get_args(annotation))
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is type(None):
        return value is None
    if origin in (list, tuple):
        (inner, *_) = typing.get_args(annotation) or (Any,)
        return isinstance(value, list) and all(inner is Any or _type_ok(x, inner) for x in value)
    if annotation is Any:
        return True
    return isinstance(value, origin or annotation)


def build_options(cls: type, table: dict[str, Any], where: str, *, skip: tuple[str, ...] = ()) -> Any:
    """``cls(**table)`` after checking every key and type; ``where`` names the recipe and section."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values = {}
    for key, value in table.items():
        if key in skip:
            continue
        if key not in fields:
            close = difflib.get_close_matches(key, list(fields), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ";"
            raise UserError(f"{where}: unknown key {key!r}{hint} known keys: {', '.join(sorted(fields)) or '(none)'}")
        if not _type_ok(value, hints[key]):
            expected = getattr(hints[key], "__name__", str(hints[key]))
            raise UserError(f"{where}.{key}: expected {expected}, got {type(value).__name__} {value!r}")
        values[key] = value
    for name, f in fields.items():
        if name not in values and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise UserError(f"{where}.{name}: required key missing")
    try:
        return cls(**values)
    except ValueError as e:  # the dataclass's own check of its values (__post_init__)
        raise UserError(f"{where}: {e}") from None


def _component(table: dict, kind: str, registry, where: str, default: str, extra: dict | None = None, *,
               key: str = "name") -> dict[str, Any]:  # fmt: skip
    """A ``[section]`` naming a registered component under ``key``: its name plus its options, validated and
    filled. ``extra``: keys the section allows besides the component's options, with their defaults."""
    extra = extra or {}
    table = dict(table)
    own = {k: table.pop(k, v) for k, v in extra.items()}
    for k, v in own.items():
        if type(v) is not type(extra[k]):
            raise UserError(f"{where}.{k}: expected {type(extra[k]).__name__}, got {type(v).__name__} {v!r}")
    name = table.get(key, default)
    if not isinstance(name, str):
        raise UserError(f"{where}.{key}: expected the name of a registered {kind}, got {name!r}")
    try:
        entry = registry.entry(name)
    except KeyError as e:
        raise UserError(f"{where}.{key}: {e}") from None
    options = {k: v for k, v in table.items() if k != key}
    if entry.options is None:
        if options:
            raise UserError(f"{where}: {kind} {name!r} takes no options, got {', '.join(sorted(options))}")
        return {key: name, **own}
    built = build_options(entry.options, options, where)
    return {key: name, **own, **dataclasses.asdict(built)}


def load_recipe(path: str | Path, overrides: list[str] = (), *, registries: Callable[[str], Registry]) -> Recipe:
    """Read, override, validate and fill a recipe. ``registries(kind)`` gives the registry of a component kind
    (the plugin manager's ``registry``: ``load_recipe(path, registries=pm.registry)``)."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: no such recipe file") from None
    except UnicodeDecodeError as e:
        raise UserError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except tomllib.TOMLDecodeError as e:
        raise UserError(f"{path}: not valid TOML: {e}") from None
    for text in overrides:
        keys, value = parse_override(text)
        table = raw
        for k in keys[:-1]:
            table = table.setdefault(k, {})
            if not isinstance(table, dict):
                raise UserError(f"--set {text!r}: {'.'.join(keys[:-1])} is not a section")
        table[keys[-1]] = value
    where = str(path)
    if raw.get("schema") == 1:
        _upgrade_schema1(raw)
    if raw.get("schema") != SCHEMA:
        raise UserError(f"{where}: schema = {raw.get('schema')!r}; this seqkit reads schema = {SCHEMA} (and 1)")
    for key in raw:
        if key not in {*SECTIONS, "schema", "name"}:
            close = difflib.get_close_matches(key, SECTIONS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise UserError(f"{where}: unknown section or key {key!r}{hint} known: {', '.join(sorted(SECTIONS))}")
    for key in SECTIONS:
        if key in raw and not isinstance(raw[key], dict):
            raise UserError(f"{where}: {key} must be a [{key}] section")
    section = {k: raw.get(k, {}) for k in SECTIONS}
    for key, moved in MOVED.items():
        if key in section["training"]:
            raise UserError(f"{where}: training.{key} is {moved} since schema 2 (docs/recipes.md)")
    data = build_options(DataOptions, section["data"], f"{where}: data")
    for split in ("train", "dev", "test"):  # files are relative to the recipe; the resolved copy holds full paths
        files = getattr(data, f"{split}_files")
        setattr(data, f"{split}_files", [str((path.parent / f).resolve()) for f in files])
    components = {
        name: _component(section[name], kind, registries(kind), f"{where}: {name}", default,
                         extra={"joint": True} if name == "tokenizer" else None)
        for name, (kind, default) in COMPONENTS.items()
    }  # fmt: skip
    recipe = Recipe(
        name=str(raw.get("name", path.stem)),
        path=where,
        data=data,
        **components,
        training=build_options(TrainingOptions, section["training"], f"{where}: training"),
        decoding=load_decoding(section["decoding"], registries("decoding_strategy"), f"{where}: decoding"),
        evaluation=build_options(EvaluationOptions, section["evaluation"], f"{where}: evaluation"),
    )
    _check(recipe, where, registries)
    return recipe


def _check(r: Recipe, where: str, registries) -> None:
    """The rules between keys that types cannot express, checked before anything is written or trained."""
    t = r.training
    rules = [
        (t.epochs >= 1 and t.eval_every >= 1 and t.log_every >= 1 and t.keep >= 1, "training: epochs, eval_every, "
         "log_every and keep must be at least 1"),
        (t.max_tokens >= 1 and t.snapshot_every >= 0 and t.max_sentences >= 0 and t.patience >= 0,
         "training: max_tokens must be at least 1, snapshot_every, max_sentences and patience at least 0"),
        (r.evaluation.dev_bleu or r.evaluation.monitor == LOSS, f"evaluation.monitor = {r.evaluation.monitor!r} "
         "needs evaluation.dev_bleu = true (the dev set is decoded and scored only then)"),
        (r.data.empty in ("skip", "error"), f"data.empty {r.data.empty!r}: expected 'skip' or 'error'"),
    ]  # fmt: skip
    _check_monitor(r.evaluation.monitor, where, registries)
    for ok, problem in rules:
        if not ok:
            raise UserError(f"{where}: {problem}")


#: keys of schema 1's [training] that schema 2 keeps elsewhere
MOVED = {"updater": "[updater] name", "accumulate": "[updater] accumulate", "schedule": "[schedule] name",
         "warmup": "[schedule] warmup", "decay": "[schedule] gamma (step, exponential) or factor (plateau)",
         "decay_every": "[schedule] epochs"}  # fmt: skip


def _upgrade_schema1(raw: dict[str, Any]) -> None:
    """Rewrite a schema 1 recipe (overrides applied) as schema 2, in place: schema 1 kept the updater and the
    schedule in ``[training]``, with the schedule's options shared between schedules."""
    t = raw.get("training", {})
    if not isinstance(t, dict):
        return
    updater = {"name": t.pop("updater", "standard")}
    accumulate = t.pop("accumulate", 1)
    if accumulate != 1 or updater["name"] == "accumulate":
        updater["accumulate"] = accumulate
    name, warmup = t.pop("schedule", "constant"), t.pop("warmup", 0)
    decay, every = t.pop("decay", 0.5), t.pop("decay_every", 1)
    options = {"inverse_sqrt": {"warmup": max(warmup, 1)}, "cosine": {"warmup": warmup},
               "exponential": {"gamma": decay, "epochs": every}, "step": {"gamma": decay, "epochs": every},
               "plateau": {"factor": decay, "patience": t.get("patience", 0) // 2}}  # fmt: skip
    schedule = {"name": name, **options.get(name, {})}
    raw.setdefault("updater", updater)
    raw.setdefault("schedule", schedule)
    raw["schema"] = SCHEMA


def monitored_metric(monitor: str) -> str | None:
    """The metric name of ``evaluation.monitor`` (``"val/chrf"`` -> ``"chrf"``), or None for ``val/loss``."""
    return None if monitor == LOSS else monitor.removeprefix("val/")


def _check_monitor(monitor: str, where: str, registries) -> None:
    """``evaluation.monitor`` is ``val/loss`` or ``val/NAME`` for a registered metric that keeps the contract."""
    from seqkit.metrics import get_metric

    if monitor == LOSS:
        return
    registry = registries("metric")
    expected = f"expected {LOSS!r} or 'val/NAME' with NAME a registered metric ({', '.join(registry.names())})"
    if not monitor.startswith("val/"):
        hint = f"; did you mean 'val/{monitor}'?" if monitor in registry else ""
        raise UserError(f"{where}: evaluation.monitor {monitor!r}: {expected}{hint}")
    try:
        get_metric(registry, monitored_metric(monitor))
    except UserError as e:  # an unknown name: the registry's message has the closest one
        raise UserError(f"{where}: evaluation.monitor {monitor!r}: {e}") from None


LOSS = "val/loss"
