"""Recipes: a TOML file -> a validated, typed configuration; ``--set a.b=value`` overrides; a resolved copy.

Every section is a dataclass. The ``[tokenizer]``, ``[model]``, ``[optimizer]``, ``[updater]`` and ``[schedule]``
sections name a registered component (``name = "seq2seq"``) and their other keys are checked against that
component's options dataclass, plugin components included. Every numeric key declares its range in its field's
metadata (``seqkit.ranges``: ``metadata={"range": "[1, inf)"}``), and ``build_options`` checks every
section's and component's keys against them; rules between keys are the options dataclass's ``__post_init__``
(a ``ValueError`` there is reported naming the section) or ``_check``'s. Precedence: defaults < recipe <
``--set``. Unknown keys, wrong types, values out of range and missing required keys are ``UserError``s naming
the recipe file, the key path, what was expected and the known keys (with the closest suggested). All of it
happens while the recipe is read, before anything is written.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import tomllib
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

from seqkit.corpora import is_path_component
from seqkit.errors import UserError
from seqkit.ranges import range_error, ranged
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
    max_len: int = ranged(80, "[1, inf)")  # drop training pairs with a side longer than this many tokens
    empty: str = "skip"  # empty lines: "skip" (and count) or "error"
    data_dir: str = ""  # where local copies of corpora live (default: $SEQKIT_DATA)


@dataclasses.dataclass
class TrainingOptions:
    """``[training]``: the loop."""

    max_tokens: int = ranged(4096, "[1, inf)")  # padded tokens per batch (sentences x longest side)
    max_sentences: int = ranged(0, "[0, inf)")  # 0: no limit
    epochs: int = ranged(10, "[1, inf)")  # passes over the training data (fewer with early stopping)
    clip: float = ranged(5.0, "[0, inf)")  # global gradient-norm clipping; 0 to turn off
    weight_decay: float = ranged(0.0, "[0, inf)")  # L2 penalty added to the gradient (see also the adamw optimizer)
    patience: int = ranged(0, "[0, inf)")  # early stopping: evaluations without improvement (0: off)
    log_every: int = ranged(100, "[1, inf)")  # iterations between log lines
    eval_every: int = ranged(1, "[1, inf)")  # epochs between validations and snapshots
    snapshot_every: int = ranged(0, "[0, inf)")  # iterations between snapshots (0: at each validation)
    keep: int = ranged(3, "[1, inf)")  # numbered snapshots kept
    seed: int = ranged(1, "[0, inf)")  # initial weights, batch order and dropout
    device: str = "cpu"  # "cpu" or "cuda:N" (CuPy); `seqkit train --device` overrides it
    mixed_precision: bool = False  # float16 matrix products, float32 weights, dynamic loss scaling (for GPUs)


@dataclasses.dataclass
class DecodingOptions:
    """``[decoding]``: how validation BLEU, the test set and ``seqkit translate`` decode: the keys below, and
    the options of the strategy beside them, listed under each strategy."""

    strategy: str = "beam"  # a registered decoding strategy: greedy, beam, sampling, or a plugin's
    max_len_ratio: float = ranged(1.5, "[0, inf)")  # longest output: max_len_ratio x source length + max_len_offset
    max_len_offset: int = ranged(10, "[0, inf)")  # (see max_len_ratio)
    batch_size: int = ranged(64, "[1, inf)")  # sentences decoded together

    def __post_init__(self) -> None:
        if self.max_len_ratio == 0 and self.max_len_offset == 0:  # an output is at least one token
            raise ValueError("max_len_ratio and max_len_offset are both 0: every output would be one token long")


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
    dev_sentences: int = ranged(0, "[0, inf)")  # decode only the first N dev sentences for scoring (0: all)
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
        if (error := range_error(fields[key], value, where)) is not None:
            raise error
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
    except IsADirectoryError:
        raise UserError(f"{path}: a directory, not a recipe file (a .toml file)") from None
    except OSError as e:
        raise UserError(f"{path}: cannot read the recipe ({e.strerror or e})") from None
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
    name = raw.get("name", path.stem)
    if not isinstance(name, str) or not is_path_component(name):  # the default run directory is runs/NAME
        raise UserError(f"{where}: name {name!r}: expected one path component (the run directory runs/NAME): not "
                        "empty, '.' or '..', without '/' or '\\'")  # fmt: skip
    recipe = Recipe(
        name=name,
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
    rules = [
        (r.evaluation.dev_bleu or r.evaluation.monitor == LOSS, f"evaluation.monitor = {r.evaluation.monitor!r} "
         "needs evaluation.dev_bleu = true (the dev set is decoded and scored only then)"),
        (r.data.empty in ("skip", "error"), f"data.empty {r.data.empty!r}: expected 'skip' or 'error'"),
    ]  # fmt: skip
    _check_monitor(r.evaluation.monitor, where, registries)
    for ok, problem in rules:
        if not ok:
            raise UserError(f"{where}: {problem}")
    _check_model_size(r, where, registries)


#: the vocabulary size a model's parameters are estimated with before its tokenizer is trained: the smallest one
#: seqkit's tokenizers have (four specials and a few tokens), so that the estimate is a lower bound
CHECK_VOCAB = 8


def memory_limit() -> int:
    """The bytes of parameters no model may exceed: this machine's physical memory, where every model is built
    before it is moved to a device (else 1 TiB)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # no sysconf (Windows), or no such name
        return 1 << 40


def _check_model_size(r: Recipe, where: str, registries) -> None:
    """``UserError`` for a model whose float32 weights alone would not fit in this machine's memory. The model's
    class estimates its parameters from the options (``Translator.parameter_count``, None when it cannot), before
    anything is allocated: building the model to count them is what fails (MemoryError, or hours of swapping)."""
    entry = registries("model").entry(r.model["name"])
    count_of = getattr(entry.obj, "parameter_count", None)
    if count_of is None or entry.options is None:
        return
    options = entry.options(**{k: v for k, v in r.model.items() if k != "name"})
    count = count_of(options, source_vocab=CHECK_VOCAB, target_vocab=CHECK_VOCAB)
    limit = memory_limit()
    if count is not None and 4 * count > limit:
        sizes = ", ".join(f"model.{k} = {v}" for k, v in r.model.items() if type(v) is int)
        raise UserError(f"{where}: model: at least {count:.3g} parameters ({_bytes(4 * count)} of float32 weights) "
                        f"from {sizes}; more than this machine's {_bytes(limit)} of memory")  # fmt: skip


def _bytes(n: float) -> str:
    """``n`` bytes in the largest binary unit it reaches, up to TiB: ``"14.6 TiB"``."""
    units = ("bytes", "KiB", "MiB", "GiB", "TiB")
    power = min(int(math.log(max(n, 1), 1024)), len(units) - 1)
    return f"{n / 1024**power:.1f} {units[power]}" if power else f"{n:.0f} bytes"


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
