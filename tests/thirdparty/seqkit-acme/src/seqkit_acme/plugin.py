"""The hooks of the 'acme' plugin: every import happens inside a hook, so loading the plugin stays cheap."""

from seqkit.plugins import hookimpl


@hookimpl
def seqkit_register_layers(registry):
    from seqkit_acme.layers import CosineAttention, IndRNN, IndRNNOptions

    registry.add("acme_indrnn", IndRNN, options=IndRNNOptions)
    registry.add("acme_cosine_attention", CosineAttention)


@hookimpl
def seqkit_register_models(registry):
    from seqkit_acme.model import CompactOptions, CompactTranslator

    registry.add("acme_compact", CompactTranslator, options=CompactOptions)


@hookimpl
def seqkit_register_tokenizers(registry):
    from seqkit_acme.tokenizer import BigramOptions, BigramTokenizer

    registry.add("acme_bigrams", BigramTokenizer, options=BigramOptions)


@hookimpl
def seqkit_register_corpora(registry):
    from seqkit.corpora import load_manifest
    from seqkit_acme.command import manifest_path

    manifest = load_manifest(manifest_path())
    registry.add(manifest.name, manifest)


@hookimpl
def seqkit_register_optimizers(registry):
    from seqkit_acme.optim import Adamax, AdamaxOptions

    registry.add("acme_adamax", Adamax, options=AdamaxOptions)


@hookimpl
def seqkit_register_updaters(registry):
    from seqkit_acme.updater import CentralizedOptions, CentralizedUpdater

    registry.add("acme_centralized", CentralizedUpdater, options=CentralizedOptions)


@hookimpl
def seqkit_register_schedules(registry):
    from seqkit_acme.optim import PolynomialDecay, PolynomialOptions

    registry.add("acme_poly", PolynomialDecay, options=PolynomialOptions)


@hookimpl
def seqkit_register_metrics(registry):
    from seqkit_acme.metric import CharAccuracy

    registry.add("acme_char_accuracy", CharAccuracy())


@hookimpl
def seqkit_register_commands(subparsers):
    from seqkit_acme.command import add_parser

    add_parser(subparsers)


@hookimpl
def seqkit_register_decoding_strategies(registry):
    from seqkit_acme.decoding import BestOfN, BestOfNOptions

    registry.add("acme_best_of_n", BestOfN, options=BestOfNOptions)
