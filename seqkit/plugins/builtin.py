"""seqkit's own components, registered through the same hooks as any third-party plugin."""

from __future__ import annotations

from seqkit.plugins import hookimpl


@hookimpl
def seqkit_register_layers(registry) -> None:
    import seqkit.layers as L

    registry.add("linear", L.Linear)
    registry.add("embedding", L.Embedding)
    registry.add("dropout", L.Dropout)
    registry.add("layer_norm", L.LayerNorm)
    registry.add("sequential", L.Sequential)
    registry.add("lstm", L.LSTM)
    registry.add("gru", L.GRU)
    registry.add("lstm_cell", L.LSTMCell)
    registry.add("gru_cell", L.GRUCell)
    registry.add("additive_attention", L.AdditiveAttention, aliases=("bahdanau",))
    registry.add("dot_attention", L.DotAttention, aliases=("luong_dot",))
    registry.add("general_attention", L.GeneralAttention, aliases=("luong_general",))
    registry.add("scaled_dot_attention", L.ScaledDotProductAttention)
    registry.add("multi_head_attention", L.MultiHeadAttention)


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

    registry.add("standard", T.StandardUpdater, options=T.StandardOptions)
    registry.add("accumulate", T.AccumulateUpdater, options=T.AccumulateOptions)


@hookimpl
def seqkit_register_commands(subparsers) -> None:
    from seqkit.cli import bleu, corpus, demo, plugins, report, tokenizer, train, translate

    demo.add_parser(subparsers)
    plugins.add_parser(subparsers)
    bleu.add_parser(subparsers)
    corpus.add_parser(subparsers)
    tokenizer.add_parser(subparsers)
    train.add_parser(subparsers)
    translate.add_parser(subparsers)
    report.add_parser(subparsers)


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
