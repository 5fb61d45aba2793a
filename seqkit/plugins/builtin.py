"""seqkit's own components, registered through the same hooks as any third-party plugin.

Each hook imports what it registers, so building a registry of one kind imports only that kind's package.
The command line's verbs are not here: ``seqkit.cli`` adds its own, and plugins add theirs by hook.
"""

from __future__ import annotations

from seqkit.plugins.hookspecs import hookimpl


@hookimpl
def seqkit_register_layers(registry) -> None:
    from seqkit.layers import BUILTIN_LAYERS

    for name, (cls, aliases) in BUILTIN_LAYERS.items():
        registry.add(name, cls, aliases=aliases)


@hookimpl
def seqkit_register_metrics(registry) -> None:
    from seqkit import metrics

    registry.add("bleu", metrics.bleu)
    registry.add("chrf", metrics.chrf)
    registry.add("ter", metrics.ter)


@hookimpl
def seqkit_register_corpora(registry) -> None:
    from seqkit.corpora import builtin_manifests

    for manifest in builtin_manifests():
        registry.add(manifest.name, manifest)


@hookimpl
def seqkit_register_tokenizers(registry) -> None:
    import seqkit.tokenizers as T

    registry.add("sentencepiece", T.SentencePieceTokenizer, options=T.SentencePieceOptions, aliases=("spm",))
    registry.add("whitespace", T.WhitespaceTokenizer, options=T.VocabularyOptions)
    registry.add("char", T.CharTokenizer, options=T.VocabularyOptions)


@hookimpl
def seqkit_register_updaters(registry) -> None:
    import seqkit.training as T

    registry.add("standard", T.StandardUpdater)
    registry.add("accumulate", T.AccumulateUpdater, options=T.AccumulateOptions)


@hookimpl
def seqkit_register_schedules(registry) -> None:
    import seqkit.optim as O

    registry.add("constant", O.Constant)
    registry.add("inverse_sqrt", O.InverseSqrt, options=O.InverseSqrtOptions)
    registry.add("cosine", O.Cosine, options=O.CosineOptions)
    registry.add("exponential", O.ExponentialDecay, options=O.DecayOptions)
    registry.add("step", O.StepDecay, options=O.DecayOptions)
    registry.add("plateau", O.ReduceOnPlateau, options=O.PlateauOptions)


@hookimpl
def seqkit_register_optimizers(registry) -> None:
    import seqkit.optim as O

    registry.add("sgd", O.SGD, options=O.SGDOptions)
    registry.add("momentum_sgd", O.MomentumSGD, options=O.MomentumSGDOptions)
    registry.add("adam", O.Adam, options=O.AdamOptions)
    registry.add("adamw", O.AdamW, options=O.AdamWOptions)


@hookimpl
def seqkit_register_models(registry) -> None:
    from seqkit import models

    registry.add("seq2seq", models.Seq2Seq, options=models.Seq2SeqOptions)
    registry.add("rnnlm", models.RNNLM, options=models.RNNLMOptions)
    registry.add("transformer", models.Transformer, options=models.TransformerOptions)
    registry.add("transformer_lm", models.TransformerLM, options=models.TransformerLMOptions)


@hookimpl
def seqkit_register_decoding_strategies(registry) -> None:
    import seqkit.decoding as D

    registry.add("greedy", D.Greedy)
    registry.add("beam", D.Beam, options=D.BeamOptions)
    registry.add("sampling", D.Sampling, options=D.SamplingOptions)
