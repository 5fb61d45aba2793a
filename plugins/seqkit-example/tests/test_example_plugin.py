"""The plugin as seqkit sees it once the distribution is installed: found through its entry point, its three
components listed by `seqkit plugins`."""

import importlib.metadata

from seqkit.cli import main


def test_entry_point_is_installed():
    (ep,) = [ep for ep in importlib.metadata.entry_points(group="seqkit") if ep.name == "example"]
    assert ep.value == "seqkit_example.plugin" and ep.dist.name == "seqkit-example"


def test_seqkit_plugins_lists_the_three_components(capsys):
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    block = out[out.index("example (seqkit-example") :]
    assert "  layer: mgu\n" in block and "  tokenizer: utf8_bytes\n" in block
