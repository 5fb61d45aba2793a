"""The module the entry point names: seqkit imports it and calls its hooks.

Keep it cheap to import and free of side effects: each hook imports what it registers, so `seqkit --help`
does not pay for components nobody asked for. Names must not clash with other plugins' (a clash leaves this
plugin out with a warning), so prefer distinctive ones.
"""

from __future__ import annotations

from seqkit.plugins import Registry, hookimpl


@hookimpl
def seqkit_register_layers(registry: Registry) -> None:
    from seqkit_example.layers import MGU, MGUOptions

    registry.add("mgu", MGU, options=MGUOptions, aliases=("minimal_gated_unit",))


@hookimpl
def seqkit_register_tokenizers(registry: Registry) -> None:
    from seqkit_example.tokenizer import ByteTokenizer, ByteTokenizerOptions

    registry.add("utf8_bytes", ByteTokenizer, options=ByteTokenizerOptions)
