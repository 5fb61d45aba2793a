"""The module the entry point names: seqkit imports it and calls its hooks.

Keep it cheap to import and free of side effects: each hook imports what it registers, so `seqkit --help`
does not pay for components nobody asked for. A name that another plugin registers too is refused for both
(an error naming both plugins; every other name stays usable), so prefer distinctive ones.
"""

from __future__ import annotations

from seqkit.plugins import Registry, hookimpl


@hookimpl
def seqkit_register_layers(registry: Registry) -> None:
    from seqkit_example.layers import MGU, MGUOptions
    from seqkit_example.positions import ALiBi

    registry.add("mgu", MGU, options=MGUOptions, aliases=("minimal_gated_unit",))
    registry.add("alibi", ALiBi)  # a position scheme: a Transformer recipe's model.positions = "alibi"


@hookimpl
def seqkit_register_models(registry: Registry) -> None:
    from seqkit_example.model import RNNEncDec, RNNEncDecOptions

    registry.add("rnn_encdec", RNNEncDec, options=RNNEncDecOptions)


@hookimpl
def seqkit_register_tokenizers(registry: Registry) -> None:
    from seqkit_example.tokenizer import ByteTokenizer, ByteTokenizerOptions

    registry.add("utf8_bytes", ByteTokenizer, options=ByteTokenizerOptions)


@hookimpl
def seqkit_register_optimizers(registry: Registry) -> None:
    from seqkit_example.optimizer import Lion, LionOptions

    registry.add("lion", Lion, options=LionOptions)


@hookimpl
def seqkit_register_metrics(registry: Registry) -> None:
    from seqkit_example.metric import TokenF1

    registry.add("token_f1", TokenF1())


@hookimpl
def seqkit_register_updaters(registry: Registry) -> None:
    from seqkit_example.updater import Lookahead, LookaheadOptions

    registry.add("lookahead", Lookahead, options=LookaheadOptions)


@hookimpl
def seqkit_register_schedules(registry: Registry) -> None:
    from seqkit_example.schedule import CosineRestarts, CosineRestartsOptions

    registry.add("cosine_restarts", CosineRestarts, options=CosineRestartsOptions)


@hookimpl
def seqkit_register_corpora(registry: Registry) -> None:
    from pathlib import Path

    from seqkit.corpora import load_manifest

    manifest = load_manifest(Path(__file__).with_name("corpora") / "numbers-de-en.toml")  # files bundled beside it
    registry.add(manifest.name, manifest)


@hookimpl
def seqkit_register_commands(subparsers) -> None:
    from seqkit_example.cli import add_parser

    add_parser(subparsers)


@hookimpl
def seqkit_register_decoding_strategies(registry: Registry) -> None:
    from seqkit_example.strategy import TypicalOptions, TypicalSampling

    registry.add("typical_sampling", TypicalSampling, options=TypicalOptions)
