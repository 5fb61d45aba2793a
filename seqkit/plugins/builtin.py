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
def seqkit_register_commands(subparsers) -> None:
    from seqkit.cli import demo, plugins

    demo.add_parser(subparsers)
    plugins.add_parser(subparsers)
