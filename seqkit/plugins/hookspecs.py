"""The hooks seqkit calls, grouped by when it calls them. Every hook takes keyword arguments, so a spec can
gain an argument later without breaking implementations that do not ask for it.

Component hooks run once per process, the first time a registry of that kind is needed; each receives a
``Registry`` and calls ``registry.add(name, obj, options=..., aliases=...)``.

The markers are defined here, beside the specs they mark (``seqkit.plugins`` re-exports them): ``hookspec``
marks a spec, ``hookimpl`` a plugin's implementation (``from seqkit.plugins import hookimpl``).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

import pluggy

from seqkit.registry import Registry

if TYPE_CHECKING:
    from seqkit.distributed import Communicator

hookspec = pluggy.HookspecMarker("seqkit")
hookimpl = pluggy.HookimplMarker("seqkit")

# ---- model building blocks ------------------------------------------------------------------------------


@hookspec
def seqkit_register_layers(registry: Registry) -> None:
    """Register layers: ``Layer`` subclasses or factories returning a ``Layer`` (an encoder RNN, attention, ...)."""


@hookspec
def seqkit_register_models(registry: Registry) -> None:
    """Register models: ``seqkit.models.Translator`` subclasses that a recipe builds by name (seq2seq, transformer)."""


# ---- data --------------------------------------------------------------------------------------------------


@hookspec
def seqkit_register_corpora(registry: Registry) -> None:
    """Register corpora: ``seqkit.corpora.Manifest`` objects (``load_manifest(path)``), under their own names."""


@hookspec
def seqkit_register_tokenizers(registry: Registry) -> None:
    """Register tokenizers: classes implementing ``encode``/``decode``/``save``/``load`` (and ``train``)."""


# ---- training ---------------------------------------------------------------------------------------------


@hookspec
def seqkit_register_optimizers(registry: Registry) -> None:
    """Register optimizers: classes that update a model's parameters from their gradients."""


@hookspec
def seqkit_register_updaters(registry: Registry) -> None:
    """Register updaters: ``seqkit.training.Updater`` subclasses that run one training step."""


@hookspec
def seqkit_register_schedules(registry: Registry) -> None:
    """Register learning-rate schedules: ``seqkit.optim.Schedule`` subclasses."""


# ---- evaluation ---------------------------------------------------------------------------------------------


@hookspec
def seqkit_register_decoding_strategies(registry: Registry) -> None:
    """Register decoding strategies: how hypotheses are searched for (greedy, beam, sampling, ...)."""


@hookspec
def seqkit_register_metrics(registry: Registry) -> None:
    """Register metrics: callables scoring hypotheses against references (BLEU, chrF, ...)."""


# ---- command line ---------------------------------------------------------------------------------------------


@hookspec
def seqkit_register_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add subcommands to ``seqkit``: ``p = subparsers.add_parser(...)``; ``p.set_defaults(run=function)``,
    where ``run(args) -> int | None`` raises ``seqkit.errors.UserError`` for bad input."""


# ---- several processes ----------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def seqkit_communicator() -> Communicator | None:
    """Return a ``seqkit.distributed.Communicator`` for this process, or ``None``. Called once, only when an MPI
    launcher started several processes; the first plugin that returns one wins."""
