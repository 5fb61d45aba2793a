"""The plugin as seqkit sees it once the distribution is installed: found through its entry point, one
component of every kind listed by `seqkit plugins`."""

import importlib.metadata
import json

from seqkit.cli import main


def test_entry_point_is_installed():
    (ep,) = [ep for ep in importlib.metadata.entry_points(group="seqkit") if ep.name == "example"]
    assert ep.value == "seqkit_example.plugin" and ep.dist.name == "seqkit-example"


def test_seqkit_plugins_lists_one_component_of_every_kind(capsys):
    from seqkit.plugins.manager import KINDS

    assert main(["plugins", "--json"]) == 0
    (mine,) = [r for r in json.loads(capsys.readouterr().out) if r["name"] == "example"]
    assert mine["error"] is None and not mine["conflicts"]
    assert mine["provides"] == {
        "layer": ["mgu", "alibi"], "model": ["rnn_encdec"], "corpus": ["numbers-de-en"], "tokenizer": ["utf8_bytes"],
        "optimizer": ["lion"], "updater": ["lookahead"], "schedule": ["cosine_restarts"],
        "decoding_strategy": ["typical_sampling"], "metric": ["token_f1"], "command": ["numbers-corpus"],
    }  # fmt: skip
    assert set(mine["provides"]) == {*KINDS, "command"}
