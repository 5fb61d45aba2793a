"""The plugin system: registries, get_plugin_manager (entry points, a plugins folder, env vars, tracing),
isolation and strict mode, `seqkit plugins`, and docs/plugins.md covering every hook."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import json
import re
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

import seqkit
import seqkit.layers as L
from seqkit.cli import main
from seqkit.errors import UserError
from seqkit.plugins import (
    Conflict,
    ContestedNameError,
    PluginConflict,
    PluginError,
    Registry,
    UnknownNameError,
    get_plugin_manager,
    hookimpl,
)  # fmt: skip
from seqkit.plugins import builtin as builtin_plugin
from seqkit.plugins.manager import KINDS, PluginWarning
from seqkit.training import Updater

ROOT = Path(__file__).resolve().parent.parent

# A valid plugin; ``{layer}`` is the name it registers.
GOOD = """
from seqkit.plugins import hookimpl
from seqkit.layers import Linear

class Toy(Linear):
    pass

class ToyMetric:
    higher_is_better = True

    def __call__(self, hypotheses, references):
        from seqkit.metrics import MetricResult

        return MetricResult(float(len(hypotheses)), "Lines")

@hookimpl
def seqkit_register_layers(registry):
    registry.add("{layer}", Toy)

@hookimpl
def seqkit_register_metrics(registry):
    registry.add("{layer}_metric", ToyMetric())
"""


@pytest.fixture
def dists(tmp_path, monkeypatch):
    """``add(dist, entry_points={name: module}, modules={module: source}, version="1.0")``: an installed
    distribution (a ``*.dist-info`` directory on ``sys.path``) with entry points in group ``seqkit``."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    added: list[str] = []

    def add(dist: str, entry_points: dict[str, str], modules: dict[str, str], version: str = "1.0") -> None:
        for module, source in modules.items():
            (site / f"{module}.py").write_text(textwrap.dedent(source))
            added.append(module)
        info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        lines = "".join(f"{name} = {value}\n" for name, value in entry_points.items())
        (info / "entry_points.txt").write_text(f"[seqkit]\n{lines}")
        importlib.invalidate_caches()

    add.site = site
    yield add
    for module in added:
        sys.modules.pop(module, None)


def manager(**env) -> object:
    """A manager that loads only the plugins named in ``SEQKIT_LOAD_PLUGINS`` (none by default) and ignores
    the real environment."""
    env.setdefault("SEQKIT_LOAD_PLUGINS", "")
    strict = env.pop("strict", False)
    plugins_dir = env.pop("plugins_dir", None)
    return get_plugin_manager(environ=env, strict=strict, plugins_dir=plugins_dir)


# ---- Registry -----------------------------------------------------------------------------------------------
def test_same_object_twice_is_harmless_another_object_contests_only_that_name():
    r = Registry("layer")
    r.plugin = "first"
    r.add("lstm", L.LSTM, aliases=("long_short",))
    r.add("gru", L.GRU)
    r.plugin = "second"
    r.add("lstm", L.LSTM)  # the same object: harmless
    assert len(r) == 2 and r.entry("lstm").plugin == "first" and r.conflicts() == []
    r.add("lstm", L.Linear, aliases=("lin",))  # another object: the name is contested, the alias is fine
    r.add("other", L.Dropout, aliases=("long_short",))  # an alias equal to another plugin's alias
    assert r.conflicts() == [
        Conflict("layer", "long_short", ("first", "second")),
        Conflict("layer", "lstm", ("first", "second")),
    ]
    with pytest.raises(ContestedNameError) as e:
        r.get("lstm")
    assert str(e.value) == (
        "layer 'lstm' is registered by plugin 'first' and plugin 'second' with different objects, so neither "
        "is used; uninstall one of them or leave one out with SEQKIT_DISABLE_PLUGINS=second "
        '(docs/plugins.md, "Choosing what loads")'
    )
    assert isinstance(e.value, UserError) and isinstance(e.value, KeyError)
    with pytest.raises(ContestedNameError, match=r"^layer 'long_short' is registered by plugin 'first' and plugin"):
        r.get("long_short")
    # every other name of both plugins stays usable, and contested names are not listed as usable
    assert r.get("gru") is L.GRU and r.get("lin") is L.Linear and r.get("other") is L.Dropout
    assert r.names() == ["gru", "other"] and [e.name for e in r.entries()] == ["gru", "other"]
    assert "lstm" not in r and "lin" in r
    r.remove_plugin("second")  # leaving one plugin out settles the contests it took part in
    assert r.get("lstm") is L.LSTM and r.get("long_short") is L.LSTM and r.conflicts() == [] and "lin" not in r


def test_a_contest_does_not_depend_on_the_order_plugins_load_in():
    def fill(order):
        r = Registry("layer")
        for plugin, obj in order:
            r.plugin = plugin
            r.add("shared", obj, aliases=(f"{plugin}_alias",))
            r.add(f"{plugin}_own", obj)
        return r

    a, b = fill([("a", L.LSTM), ("b", L.GRU)]), fill([("b", L.GRU), ("a", L.LSTM)])
    assert a.names() == b.names() == ["a_own", "b_own"]
    assert a.get("a_alias") is b.get("a_alias") is L.LSTM and a.get("b_alias") is b.get("b_alias") is L.GRU
    assert [c.name for c in a.conflicts()] == [c.name for c in b.conflicts()] == ["shared"]
    third = fill([("a", L.LSTM), ("b", L.GRU), ("c", L.Linear)])
    with pytest.raises(ContestedNameError, match=r"^layer 'shared' is registered by plugins 'a', 'b' and 'c' with"):
        third.get("shared")


def test_unknown_name_suggests_the_closest_and_lists_known_names():
    r = Registry("layer")
    r.add("lstm", L.LSTM)
    r.add("gru", L.GRU, aliases=("gated",))
    with pytest.raises(UnknownNameError) as e:
        r.get("lstn")
    assert str(e.value) == "unknown layer 'lstn'; did you mean 'lstm'? known: gru, lstm"
    assert isinstance(e.value, UserError) and isinstance(e.value, KeyError)
    with pytest.raises(UnknownNameError, match=r"^unknown layer 'zzz'; known: gru, lstm$"):
        r.get("zzz")
    with pytest.raises(UnknownNameError, match="did you mean 'gated'"):
        r.get("gatd")
    with pytest.raises(UnknownNameError, match=r"^unknown metric 'bleu'; known: \(none\)$"):
        Registry("metric").get("bleu")


def test_entries_options_aliases_and_removal():
    @dataclasses.dataclass
    class Options:
        hidden_size: int = 8

    r = Registry("layer")
    r.plugin = "p"
    r.add("gru", L.GRU, options=Options, aliases=("g",))
    entry = r.entry("g")
    assert (entry.name, entry.obj, entry.plugin, entry.options, entry.aliases) == ("gru", L.GRU, "p", Options, ("g",))
    assert r.names() == ["gru"] and "g" in r and 3 not in r and repr(r) == "Registry('layer', ['gru'])"
    with pytest.raises(PluginError, match=r"^plugin 'p': options of layer 'x' must be a dataclass class"):
        r.add("x", L.LSTM, options=Options())
    with pytest.raises(PluginError, match=r"must be a dataclass class, got <class 'dict'>"):
        r.add("x", L.LSTM, options=dict)
    with pytest.raises(PluginError, match=r"^plugin 'p': a layer name must be a non-empty string, got ''$"):
        r.add("", L.LSTM)
    with pytest.raises(PluginError, match="must be a tuple of names, got the string 'ab'"):
        r.add("x", L.LSTM, aliases="ab")
    r.remove_plugin("p")
    assert len(r) == 0 and "g" not in r


@pytest.mark.parametrize(
    ("obj", "problem"),
    [
        (dict, "is the class dict, which is not a Layer subclass"),
        (L.Linear(2, 3), "is a Linear instance; register the class (or a factory), not an instance"),
        (42, "is a int object, neither a Layer subclass nor a factory"),
    ],
)
def test_a_layer_registry_rejects_what_is_not_a_layer_class_or_factory(obj, problem):
    r = Registry("layer", KINDS["layer"][1])
    r.plugin = "p"
    with pytest.raises(PluginError, match=f"^plugin 'p': layer 'x' {re.escape(problem)}$"):
        r.add("x", obj)
    r.add("factory", lambda in_size: L.Linear(in_size, 2))  # a factory is fine

@pytest.mark.parametrize(
    ("kind", "obj", "problem"),
    [
        ("tokenizer", "nope", "is a str object, not a subclass of seqkit's Tokenizer"),
        ("optimizer", dict, "is the class dict, not a subclass of seqkit's Optimizer"),
        ("updater", type("Half", (Updater,), {}), "is the class Half, which does not implement update"),
        ("schedule", 42, "is a int object, not a subclass of seqkit's Schedule"),
    ],
)
def test_each_registry_takes_concrete_subclasses_of_its_kinds_base(kind, obj, problem):
    r = Registry(kind, KINDS[kind][1])
    r.plugin = "p"
    with pytest.raises(PluginError, match=f"^plugin 'p': {kind} 'x' {re.escape(problem)}$"):
        r.add("x", obj)


@pytest.mark.parametrize(
    ("obj", "problem"),
    [
        (len, "is missing higher_is_better = True or False (which way a better score goes)"),
        (type("Exact", (), {"higher_is_better": True, "__call__": lambda self, h, r: None}), "is the class Exact; "
         "register an instance (seqkit calls the registered object as it is)"),
        (type("Exact", (), {"higher_is_better": True})(), "is a Exact object, which is not callable"),
    ],
)  # fmt: skip
def test_a_metric_registry_checks_the_metric_contract(obj, problem):
    r = Registry("metric", KINDS["metric"][1])
    r.plugin = "p"
    with pytest.raises(PluginError, match=f"^plugin 'p': metric 'x' {re.escape(problem)}$"):
        r.add("x", obj)
    from seqkit.metrics import bleu

    r.add("bleu", bleu)
    assert r.get("bleu") is bleu


def test_a_plugin_registering_a_bad_metric_is_left_out(dists):
    source = """
    from seqkit.plugins import hookimpl

    @hookimpl
    def seqkit_register_metrics(registry):
        registry.add("lines", len)
    """
    dists("seqkit-badmetric", {"badmetric": "badmetric_mod"}, {"badmetric_mod": source})
    pm = manager(SEQKIT_LOAD_PLUGINS="badmetric")
    with pytest.warns(PluginWarning, match="^plugin 'badmetric' .* metric 'lines' is missing higher_is_better"):
        metrics = pm.registry("metric")
    assert "lines" not in metrics and "bleu" in metrics and [b.name for b in pm.broken] == ["badmetric"]


# ---- the manager ----------------------------------------------------------------------------------------------
def test_builtins_come_through_the_hooks():
    pm = manager()
    layers = pm.registry("layer")
    assert layers.get("lstm") is L.LSTM and layers.entry("gru").plugin == "seqkit"
    impls = pm.hook.seqkit_register_layers.get_hookimpls()
    assert builtin_plugin in [impl.plugin for impl in impls]
    assert pm.plugin_names() == ["seqkit"] and pm.broken == []
    pm.check_pending()
    bare = manager()
    bare.unregister(name="seqkit")  # no side door: without the built-in plugin, nothing is registered
    assert len(bare.registry("layer")) == 0
    assert bare.get_plugin("seqkit") is None and builtin_plugin.seqkit_register_layers.seqkit_impl is not None
    with pytest.raises(ValueError, match="no registry of kind 'layers'; kinds: layer, model"):
        pm.registry("layers")


def test_entry_point_plugins_are_loaded_with_their_origin(dists):
    dists("seqkit-good", {"good": "good_mod"}, {"good_mod": GOOD.format(layer="toy")}, version="2.3")
    pm = manager(SEQKIT_LOAD_PLUGINS="good")
    assert pm.plugin_names() == ["seqkit", "good"]
    assert pm.origins["good"] == {
        "distribution": "seqkit-good",
        "version": "2.3",
        "source": "good_mod",
        "via": "entry point",
    }
    entry = pm.registry("layer").entry("toy")
    assert entry.plugin == "good" and issubclass(entry.obj, L.Layer)
    toy_metric = pm.registry("metric").get("toy_metric")
    assert type(toy_metric).__name__ == "ToyMetric" and toy_metric(["a", "b"], [["a", "c"]]).value == 2.0
    assert "lstm" in pm.registry("layer")  # the built-ins are still there


def test_a_plugin_that_fails_to_import_is_one_line_and_the_rest_works(dists):
    dists("seqkit-bad", {"bad": "bad_mod"}, {"bad_mod": "import not_a_module_anywhere\n"})
    dists("seqkit-good", {"good": "good_mod"}, {"good_mod": GOOD.format(layer="toy")})
    with pytest.warns(PluginWarning) as caught:
        pm = manager(SEQKIT_LOAD_PLUGINS="bad,good")
    (message,) = [str(w.message) for w in caught]
    assert message == (
        "plugin 'bad' (distribution seqkit-bad 1.0, entry point bad = bad_mod) is left out: importing it raised "
        "ModuleNotFoundError: No module named 'not_a_module_anywhere'"
    )
    assert pm.plugin_names() == ["seqkit", "good"] and "toy" in pm.registry("layer")
    (broken,) = pm.broken
    assert (broken.name, broken.distribution, broken.version, broken.source) == ("bad", "seqkit-bad", "1.0", "bad_mod")
    with pytest.raises(
        PluginError,
        match=r"^plugin 'bad' \(distribution seqkit-bad 1.0, entry point bad = bad_mod\) "
        "failed: importing it raised ModuleNotFoundError",
    ):
        manager(SEQKIT_LOAD_PLUGINS="bad", strict=True)


def test_a_hook_that_raises_is_left_out_with_everything_it_registered(dists):
    source = """
    from seqkit.plugins import hookimpl
    from seqkit.layers import Linear

    @hookimpl
    def seqkit_register_layers(registry):
        registry.add("half_done", Linear)
        raise RuntimeError("boom\\nsecond line")

    class Never:
        higher_is_better = True

        def __call__(self, hypotheses, references):
            raise AssertionError("a metric of a plugin that was left out is never called")

    @hookimpl
    def seqkit_register_metrics(registry):
        registry.add("never", Never())
    """
    dists("seqkit-raises", {"raises": "raises_mod"}, {"raises_mod": source})
    dists("seqkit-good", {"good": "good_mod"}, {"good_mod": GOOD.format(layer="toy")})
    pm = manager(SEQKIT_LOAD_PLUGINS="raises,good")
    with pytest.warns(
        PluginWarning,
        match="^plugin 'raises' .* is left out: its hook seqkit_register_layers raised RuntimeError: boom second line$",
    ):
        layers = pm.registry("layer")
    assert "half_done" not in layers and "toy" in layers and "lstm" in layers
    assert "never" not in pm.registry("metric") and "toy_metric" in pm.registry("metric")
    assert pm.plugin_names() == ["seqkit", "good"] and [b.name for b in pm.broken] == ["raises"]
    strict = manager(SEQKIT_LOAD_PLUGINS="raises", strict=True)
    with pytest.raises(PluginError, match="failed: its hook seqkit_register_layers raised RuntimeError: boom"):
        strict.registry("layer")
    with pytest.raises(PluginError):  # not cached half-filled
        strict.registry("layer")


def test_a_misspelled_hook_is_caught_with_a_suggestion(dists):
    source = """
    from seqkit.plugins import hookimpl

    @hookimpl
    def seqkit_register_layer(registry):
        pass
    """
    dists("seqkit-typo", {"typo": "typo_mod"}, {"typo_mod": source})
    with pytest.warns(
        PluginWarning,
        match=r"^plugin 'typo' \(distribution seqkit-typo 1.0, entry point typo = "
        r"typo_mod\) is left out: it implements seqkit_register_layer, which is not "
        r"a seqkit hook; did you mean seqkit_register_layers\?$",
    ):
        pm = manager(SEQKIT_LOAD_PLUGINS="typo")
    assert pm.plugin_names() == ["seqkit"]
    pm.check_pending()
    with pytest.raises(PluginError, match="which is not a seqkit hook"):
        manager(SEQKIT_LOAD_PLUGINS="typo", strict=True)


def test_a_hook_with_an_unknown_argument_is_one_line(dists):
    source = """
    from seqkit.plugins import hookimpl

    @hookimpl
    def seqkit_register_layers(registy):
        pass
    """
    dists("seqkit-arg", {"arg": "arg_mod"}, {"arg_mod": source})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pm = manager(SEQKIT_LOAD_PLUGINS="arg")
    (message,) = [str(w.message) for w in caught]
    assert "\n" not in message and "registering it raised PluginValidationError" in message and "registy" in message
    assert pm.plugin_names() == ["seqkit"] and not pm.has_plugin("arg")


@pytest.mark.parametrize(
    ("registration", "problem"),
    [
        ('registry.add("plain", dict)', "layer 'plain' is the class dict, which is not a Layer subclass"),
        ('registry.add("inst", Linear(2, 2))', "layer 'inst' is a Linear instance"),
    ],
)
def test_wrong_kinds_leave_the_plugin_out(dists, registration, problem):
    source = f"""
    from seqkit.plugins import hookimpl
    from seqkit.layers import Linear

    @hookimpl
    def seqkit_register_layers(registry):
        {registration}
    """
    dists("seqkit-wrong", {"wrong": "wrong_mod"}, {"wrong_mod": source})
    pm = manager(SEQKIT_LOAD_PLUGINS="wrong")
    with pytest.warns(PluginWarning) as caught:
        layers = pm.registry("layer")
    (message,) = [str(w.message) for w in caught]
    assert message.startswith(
        f"plugin 'wrong' (distribution seqkit-wrong 1.0, entry point wrong = wrong_mod) is left out: {problem}"
    )
    assert layers.get("lstm") is L.LSTM and pm.plugin_names() == ["seqkit"]


def test_registering_a_builtin_object_again_is_harmless(dists):
    source = """
    from seqkit.plugins import hookimpl
    from seqkit.layers import LSTM

    @hookimpl
    def seqkit_register_layers(registry):
        registry.add("lstm", LSTM)
        registry.add("my_lstm", LSTM)
    """
    dists("seqkit-same", {"same": "same_mod"}, {"same_mod": source})
    pm = manager(SEQKIT_LOAD_PLUGINS="same")
    layers = pm.registry("layer")
    assert layers.entry("lstm").plugin == "seqkit" and layers.entry("my_lstm").plugin == "same" and not pm.broken


# Two plugins that both register "shared" (a layer, and a metric alias), each with names of its own.
CLASHING = """
from seqkit.plugins import hookimpl
from seqkit.layers import {cls}

class Own({cls}):
    pass

@hookimpl
def seqkit_register_layers(registry):
    registry.add("shared", Own)
    registry.add("{name}_own", Own)

class Zero:
    higher_is_better = True

    def __call__(self, hypotheses, references):
        from seqkit.metrics import MetricResult

        return MetricResult(0.0, "Zero")

@hookimpl
def seqkit_register_metrics(registry):
    registry.add("{name}_metric", Zero(), aliases=("shared_metric",))
"""


@pytest.fixture
def clashing(dists):
    dists("seqkit-aaa", {"aaa": "aaa_mod"}, {"aaa_mod": CLASHING.format(cls="Linear", name="aaa")})
    dists("seqkit-zzz", {"zzz": "zzz_mod"}, {"zzz_mod": CLASHING.format(cls="Dropout", name="zzz")})


AAA = "plugin 'aaa' (distribution seqkit-aaa 1.0, entry point aaa = aaa_mod)"
ZZZ = "plugin 'zzz' (distribution seqkit-zzz 1.0, entry point zzz = zzz_mod)"
RESOLUTION = (
    'uninstall one of them or leave one out with SEQKIT_DISABLE_PLUGINS=zzz (docs/plugins.md, "Choosing what loads")'
)


def test_a_conflict_refuses_only_the_contested_name_and_names_both_plugins(clashing):
    pm = manager(SEQKIT_LOAD_PLUGINS="aaa,zzz")
    with pytest.warns(PluginConflict) as caught:
        layers = pm.registry("layer")
    (message,) = [str(w.message) for w in caught]
    assert message == (
        f"layer name 'shared' is registered by {AAA} and by {ZZZ} with different objects, so neither is used; "
        f"{RESOLUTION}"
    )
    assert pm.plugin_names() == ["seqkit", "aaa", "zzz"] and pm.broken == []  # both plugins stay
    assert layers.entry("aaa_own").plugin == "aaa" and layers.entry("zzz_own").plugin == "zzz" and "lstm" in layers
    with pytest.raises(ContestedNameError, match=r"^layer 'shared' is registered by plugin 'aaa' and plugin 'zzz'"):
        layers.get("shared")
    with pytest.warns(PluginConflict, match="^metric name 'shared_metric' is registered by plugin 'aaa' "):
        metrics = pm.registry("metric")
    assert {"aaa_metric", "zzz_metric"} <= set(metrics.names()) and "shared_metric" not in metrics
    assert manager(SEQKIT_LOAD_PLUGINS="aaa,zzz", SEQKIT_DISABLE_PLUGINS="zzz").registry("layer").entry(
        "shared").plugin == "aaa"  # fmt: skip


def test_a_conflict_is_an_error_when_strict(clashing):
    pm = manager(SEQKIT_LOAD_PLUGINS="aaa,zzz", strict=True)
    with pytest.raises(PluginError) as e:
        pm.registry("layer")
    assert str(e.value) == (
        f"layer name 'shared' is registered by {AAA} and by {ZZZ} with different objects, so neither is used; "
        f"{RESOLUTION}"
    )


def test_a_builtin_name_is_not_taken_over_silently(dists):
    source = """
    from seqkit.plugins import hookimpl
    from seqkit.layers import Linear

    @hookimpl
    def seqkit_register_layers(registry):
        registry.add("lstm", Linear)
        registry.add("mine", Linear, aliases=("gru",))
    """
    dists("seqkit-taker", {"taker": "taker_mod"}, {"taker_mod": source})
    pm = manager(SEQKIT_LOAD_PLUGINS="taker")
    with pytest.warns(PluginConflict) as caught:
        layers = pm.registry("layer")
    assert [str(w.message) for w in caught] == [
        f"layer name '{name}' is registered by plugin 'seqkit' (distribution seqkit {seqkit.__version__}, "
        "built-in) and by plugin 'taker' (distribution seqkit-taker 1.0, entry point taker = taker_mod) with "
        "different objects, so neither is used; uninstall one of them or leave one out with "
        'SEQKIT_DISABLE_PLUGINS=taker (docs/plugins.md, "Choosing what loads")'
        for name in ("gru", "lstm")
    ]
    assert layers.get("mine") is not L.LSTM and layers.get("lstm_cell") is L.LSTMCell
    for name in ("lstm", "gru"):
        with pytest.raises(ContestedNameError, match=f"^layer '{name}' is registered by plugin 'seqkit' and plugin"):
            layers.get(name)


def test_two_plugins_of_one_name_the_first_stays(dists, tmp_path):
    dists("seqkit-first", {"twin": "twin_a"}, {"twin_a": GOOD.format(layer="from_a")})
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "twin.py").write_text(GOOD.format(layer="from_b"))
    with pytest.warns(
        PluginWarning,
        match=r"^plugin 'twin' \(file .*twin.py\) is left out: its name is taken by "
        r"plugin 'twin' \(distribution seqkit-first 1.0, entry point twin = "
        r"twin_a\)$",
    ):
        pm = manager(SEQKIT_LOAD_PLUGINS="twin", plugins_dir=folder)
    assert "from_a" in pm.registry("layer") and "from_b" not in pm.registry("layer")
    assert pm.origins["twin"]["source"] == "twin_a" and pm.broken[0].via == "file"


# ---- environment variables -----------------------------------------------------------------------------------
@pytest.fixture
def three(dists):
    for name in ("alpha", "beta", "gamma"):
        dists(f"seqkit-{name}", {name: f"{name}_mod"}, {f"{name}_mod": GOOD.format(layer=f"{name}_layer")})


@pytest.mark.parametrize(
    ("env", "loaded"),
    [
        ({"SEQKIT_LOAD_PLUGINS": "alpha,gamma"}, ["alpha", "gamma"]),
        ({"SEQKIT_LOAD_PLUGINS": " beta , "}, ["beta"]),
        ({"SEQKIT_LOAD_PLUGINS": "Seqkit_Beta"}, ["beta"]),  # a distribution name, compared as PEP 503 does
        ({"SEQKIT_LOAD_PLUGINS": ""}, []),
        ({"SEQKIT_LOAD_PLUGINS": "alpha,beta", "SEQKIT_DISABLE_PLUGINS": "beta"}, ["alpha"]),
        ({"SEQKIT_LOAD_PLUGINS": "alpha,beta,gamma", "SEQKIT_DISABLE_PLUGINS": "seqkit-gamma,alpha"}, ["beta"]),
    ],
)
def test_load_and_disable_plugins(three, env, loaded):
    pm = manager(**env)
    assert pm.plugin_names() == ["seqkit", *loaded]
    assert sorted(n for n in pm.registry("layer").names() if n.endswith("_layer")) == [f"{n}_layer" for n in loaded]


def test_disable_alone_keeps_every_other_installed_plugin(three):
    pm = get_plugin_manager(environ={"SEQKIT_DISABLE_PLUGINS": "beta"})
    names = pm.plugin_names()
    assert names[0] == "seqkit" and {"alpha", "gamma"} <= set(names) and "beta" not in names


def test_plugins_dir_loads_python_files(tmp_path):
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "local.py").write_text(
        "from __future__ import annotations\n"
        + GOOD.format(layer="local_layer")
        + textwrap.dedent("""
        import dataclasses
        from seqkit.training import StandardUpdater

        @dataclasses.dataclass
        class Options:
            size: int = 3

        @hookimpl
        def seqkit_register_updaters(registry):
            registry.add("local_updater", StandardUpdater, options=Options)
        """)
    )
    (folder / "broken.py").write_text("raise ValueError('no good')\n")
    (folder / "notes.txt").write_text("not a plugin")
    with pytest.warns(
        PluginWarning,
        match=r"^plugin 'broken' \(file .*broken.py\) is left out: importing it raised "
        "ValueError: no good$",
    ):
        pm = manager(SEQKIT_PLUGINS_DIR=str(folder), SEQKIT_LOAD_PLUGINS="local,broken")
    assert pm.plugin_names() == ["seqkit", "local"]
    assert pm.origins["local"] == {
        "distribution": None,
        "version": None,
        "source": str(folder / "local.py"),
        "via": "file",
    }
    assert "local_layer" in pm.registry("layer") and pm.registry("updater").entry("local_updater").options.__name__
    assert manager(plugins_dir=folder, SEQKIT_LOAD_PLUGINS="local").plugin_names() == ["seqkit", "local"]
    only_local = manager(plugins_dir=folder, SEQKIT_LOAD_PLUGINS="local,broken", SEQKIT_DISABLE_PLUGINS="broken")
    assert only_local.plugin_names() == ["seqkit", "local"] and not only_local.broken


def test_a_missing_plugins_dir_warns_or_fails_when_strict(tmp_path):
    with pytest.warns(PluginWarning, match="^plugins directory .*nowhere does not exist or is not a directory$"):
        manager(plugins_dir=tmp_path / "nowhere")
    with pytest.raises(PluginError, match="nowhere does not exist"):
        manager(plugins_dir=tmp_path / "nowhere", strict=True)


def test_trace_prints_every_hook_call(dists, capsys):
    source = """
    from seqkit.plugins import hookimpl

    @hookimpl
    def seqkit_register_layers(registry):
        raise RuntimeError("traced")
    """
    dists("seqkit-good", {"good": "good_mod"}, {"good_mod": GOOD.format(layer="toy")})
    dists("seqkit-raises", {"raises": "raises_mod"}, {"raises_mod": source})
    pm = manager(SEQKIT_LOAD_PLUGINS="good,raises", SEQKIT_TRACE_PLUGINS="1")
    with pytest.warns(PluginWarning):
        pm.registry("layer")
    assert capsys.readouterr().err.splitlines() == [
        "seqkit: hook seqkit_register_layers(registry) -> seqkit",
        "seqkit: hook seqkit_register_layers(registry) -> good",
        "seqkit: hook seqkit_register_layers(registry) -> raises",
        "seqkit: hook seqkit_register_layers raised RuntimeError: traced",
    ]
    manager(SEQKIT_LOAD_PLUGINS="good", SEQKIT_TRACE_PLUGINS="0").registry("layer")
    assert capsys.readouterr().err == ""


# ---- seqkit plugins ---------------------------------------------------------------------------------------------
@pytest.fixture
def installed(dists, monkeypatch):
    dists("seqkit-good", {"good": "good_mod"}, {"good_mod": GOOD.format(layer="toy")}, version="2.0")
    dists("seqkit-bad", {"bad": "bad_mod"}, {"bad_mod": "raise ImportError('cannot import this')\n"})
    for name in ("SEQKIT_PLUGINS_DIR", "SEQKIT_DISABLE_PLUGINS", "SEQKIT_TRACE_PLUGINS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SEQKIT_LOAD_PLUGINS", "good,bad")


def test_seqkit_plugins_text(installed, capsys):
    assert main(["plugins"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0] == f"seqkit (seqkit {seqkit.__version__})"
    assert lines[1].startswith("  command: ") and "  layer: additive_attention" in lines
    at = lines.index("  tokenizer: sentencepiece")
    assert lines[at + 1 : at + 3] == [
        "    aliases: spm",
        "    option vocab_size: int = 8000  pieces, counting the 4 specials (and byte_fallback's 256 bytes)",
    ]
    assert lines[-4:] == [
        "good (seqkit-good 2.0)",
        "  layer: toy",
        "  metric: toy_metric",
        "bad (seqkit-bad 1.0)  BROKEN: importing it raised ImportError: cannot import this",
    ]
    assert captured.err == (
        "seqkit: warning: plugin 'bad' (distribution seqkit-bad 1.0, entry point bad = bad_mod) "
        "is left out: importing it raised ImportError: cannot import this\n"
    )


def test_seqkit_plugins_json(installed, capsys):
    assert main(["plugins", "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in records] == ["seqkit", "good", "bad"]
    builtin, good, bad = records
    assert builtin["via"] == "built-in" and "lstm" in builtin["provides"]["layer"] and builtin["error"] is None
    toy = {"name": "toy", "aliases": [], "options": []}
    toy_metric = {"name": "toy_metric", "aliases": [], "options": []}
    assert good == {
        "name": "good",
        "distribution": "seqkit-good",
        "version": "2.0",
        "source": "good_mod",
        "via": "entry point",
        "provides": {"layer": ["toy"], "metric": ["toy_metric"]},
        "components": {"layer": [toy], "metric": [toy_metric]},
        "conflicts": [],
        "error": None,
    }
    assert bad["provides"] == {} and bad["error"] == "importing it raised ImportError: cannot import this"
    (spm,) = [c for c in builtin["components"]["tokenizer"] if c["name"] == "sentencepiece"]
    assert spm["aliases"] == ["spm"] and spm["options"][0] == {
        "name": "vocab_size", "type": "int", "default": 8000, "required": False,
        "help": "pieces, counting the 4 specials (and byte_fallback's 256 bytes)",
    }  # fmt: skip


def test_seqkit_plugins_shows_aliases_and_options_from_their_comments(tmp_path, monkeypatch, capsys):
    (tmp_path / "opts.py").write_text(
        textwrap.dedent("""
        from __future__ import annotations

        import dataclasses

        from seqkit.layers import Linear
        from seqkit.plugins import hookimpl


        @dataclasses.dataclass
        class PeepOptions:
            depth: int  # how deep
            gates: list[str] = dataclasses.field(default_factory=lambda: ["i", "f"])  # which gates peep
            scale: float | None = None


        class Peep(Linear):
            pass


        @hookimpl
        def seqkit_register_layers(registry):
            registry.add("peep", Peep, options=PeepOptions, aliases=("peephole", "pp"))
        """)
    )
    monkeypatch.setenv("SEQKIT_LOAD_PLUGINS", "opts")
    assert main(["--plugins-dir", str(tmp_path), "plugins"]) == 0
    assert capsys.readouterr().out.endswith(
        f"opts ({tmp_path / 'opts.py'})\n"
        "  layer: peep\n"
        "    aliases: peephole, pp\n"
        "    option depth: int = (required)  how deep\n"
        '    option gates: list[str] = ["i", "f"]  which gates peep\n'
        "    option scale: float | None = null\n"
    )
    assert main(["--plugins-dir", str(tmp_path), "plugins", "--json"]) == 0
    (opts,) = [r for r in json.loads(capsys.readouterr().out) if r["name"] == "opts"]
    assert opts["components"] == {"layer": [{"name": "peep", "aliases": ["peephole", "pp"], "options": [
        {"name": "depth", "type": "int", "default": None, "required": True, "help": "how deep"},
        {"name": "gates", "type": "list[str]", "default": ["i", "f"], "required": False, "help": "which gates peep"},
        {"name": "scale", "type": "float | None", "default": None, "required": False, "help": ""},
    ]}]}  # fmt: skip


def test_seqkit_plugins_reports_a_conflict_under_both_plugins(clashing, monkeypatch, capsys):
    monkeypatch.setenv("SEQKIT_LOAD_PLUGINS", "aaa,zzz")
    monkeypatch.delenv("SEQKIT_DISABLE_PLUGINS", raising=False)
    error = (
        f"layer name 'shared' is registered by {AAA} and by {ZZZ} with different objects, so neither is used; "
        f"{RESOLUTION}"
    )
    assert main(["plugins"]) == 0
    captured = capsys.readouterr()
    assert f"seqkit: error: {error}\n" in captured.err and "Traceback" not in captured.err
    metric_error = error.replace("layer name 'shared'", "metric name 'shared_metric'")
    assert (
        f"aaa (seqkit-aaa 1.0)\n  layer: aaa_own\n  metric: aaa_metric\n  CONFLICT: {error}\n"
        f"  CONFLICT: {metric_error}\nzzz (seqkit-zzz 1.0)\n"
    ) in captured.out
    assert captured.out.count(f"  CONFLICT: {error}\n") == 2 and captured.out.endswith(f"CONFLICT: {metric_error}\n")
    assert main(["plugins", "--json"]) == 0
    records = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    contested = {"kind": "layer", "name": "shared", "plugins": ["aaa", "zzz"], "error": error}
    assert contested in records["aaa"]["conflicts"] and contested in records["zzz"]["conflicts"]
    assert records["aaa"]["provides"]["layer"] == ["aaa_own"] and records["seqkit"]["conflicts"] == []
    assert main(["--strict-plugins", "plugins"]) == 1
    assert capsys.readouterr().err == f"seqkit plugins: error: {error}\n"


def test_a_recipe_naming_a_contested_name_fails_with_one_line(clashing, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("SEQKIT_LOAD_PLUGINS", "aaa,zzz")
    monkeypatch.delenv("SEQKIT_DISABLE_PLUGINS", raising=False)
    recipe, run_dir = str(ROOT / "recipes" / "toy-reverse.toml"), tmp_path / "run"
    argv = ["train", recipe, "--run-dir", str(run_dir), "--set", "model.encoder=shared"]
    assert main(argv) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == (
        f"seqkit train: error: {recipe}: layer 'shared' is registered by plugin 'aaa' and plugin 'zzz' with "
        f"different objects, so neither is used; {RESOLUTION}"
    )
    assert (
        f"seqkit: error: layer name 'shared' is registered by {AAA} and by {ZZZ} with different "
        f"objects, so neither is used; {RESOLUTION}"
    ) in err[:-1]  # loading reports the conflict too
    assert not run_dir.exists()
    assert main(["train", recipe, "--run-dir", str(run_dir), "--set", "updater.name=shared_metric"]) == 2
    with pytest.raises(ContestedNameError), pytest.warns(PluginConflict):
        main(["--debug", *argv])


def test_strict_plugins_flag_is_a_one_line_error(installed, capsys):
    assert main(["--strict-plugins", "plugins"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("seqkit: error: plugin 'bad' (distribution seqkit-bad 1.0")
    with pytest.raises(PluginError):
        main(["--debug", "--strict-plugins", "plugins"])


def test_plugins_dir_flag_and_trace_env_in_the_cli(tmp_path, monkeypatch, capsys):
    (tmp_path / "flagged.py").write_text(GOOD.format(layer="flagged_layer"))
    monkeypatch.setenv("SEQKIT_LOAD_PLUGINS", "flagged")
    monkeypatch.setenv("SEQKIT_TRACE_PLUGINS", "1")
    assert main(["--plugins-dir", str(tmp_path), "plugins"]) == 0
    captured = capsys.readouterr()
    assert f"flagged ({tmp_path / 'flagged.py'})\n  layer: flagged_layer\n" in captured.out
    assert "seqkit_register_commands" not in captured.err  # no plugin adds a verb; the CLI's own take no hook
    assert "seqkit: hook seqkit_register_layers(registry) -> flagged\n" in captured.err


def test_a_plugin_can_add_a_command(tmp_path, monkeypatch, capsys):
    (tmp_path / "hello.py").write_text(
        textwrap.dedent("""
        from seqkit.plugins import hookimpl

        def run(args):
            print(f"hello {args.who}")

        @hookimpl
        def seqkit_register_commands(subparsers):
            p = subparsers.add_parser("hello", help="say hello")
            p.add_argument("who")
            p.set_defaults(run=run)
    """)
    )
    monkeypatch.setenv("SEQKIT_LOAD_PLUGINS", "hello")
    assert main(["--plugins-dir", str(tmp_path), "hello", "world"]) == 0
    assert capsys.readouterr().out == "hello world\n"
    assert main(["--plugins-dir", str(tmp_path), "plugins"]) == 0
    assert "hello (" in capsys.readouterr().out.split("\n\n")[0]


def test_hookimpl_is_the_marker_plugins_use():
    assert hookimpl.project_name == "seqkit"


# ---- docs/plugins.md ---------------------------------------------------------------------------------------------
def hook_signatures() -> dict[str, str]:
    """Every hook spec in hookspecs.py as written there: ``def name(args) -> return``."""
    tree = ast.parse((ROOT / "seqkit" / "plugins" / "hookspecs.py").read_text())
    specs = {}
    for node in tree.body:
        decorators = [ast.unparse(d) for d in node.decorator_list] if isinstance(node, ast.FunctionDef) else []
        if any(d.startswith("hookspec") for d in decorators):
            returns = f" -> {ast.unparse(node.returns)}" if node.returns else ""
            specs[node.name] = f"def {node.name}({ast.unparse(node.args)}){returns}"
    return specs


def test_every_hook_is_documented_with_its_exact_signature():
    doc = (ROOT / "docs" / "plugins.md").read_text()
    specs = hook_signatures()
    assert len(specs) >= 8
    from seqkit.plugins import hookspecs

    assert set(specs) == {n for n in vars(hookspecs) if n.startswith("seqkit_")}
    missing = [signature for signature in specs.values() if signature not in doc]
    assert not missing, f"docs/plugins.md lacks these hook signatures: {missing}"
    documented = set(re.findall(r"def (seqkit_\w+)\(", doc))
    assert documented <= set(specs), f"docs/plugins.md documents hooks that do not exist: {documented - set(specs)}"
    assert all(getattr(hookspecs, name).__doc__ for name in specs)


def test_the_docs_python_examples_compile():
    doc = (ROOT / "docs" / "plugins.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", doc, flags=re.S)
    assert blocks
    for block in blocks:
        compile(block, "docs/plugins.md", "exec")


# ---- the example plugin, installed from its own directory -----------------------------------------------------------
@pytest.mark.slow
def test_the_example_plugin_builds_installs_and_is_listed(tmp_path):
    """Build and install plugins/seqkit-example into an empty target folder and list plugins from there (the
    copy in the folder shadows one installed in this environment)."""
    import shutil

    source = tmp_path / "seqkit-example"
    shutil.copytree(ROOT / "plugins" / "seqkit-example", source, ignore=shutil.ignore_patterns("*.egg-info", "build"))
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(source)],
        check=True,
        capture_output=True,
        text=True,
    )
    script = (
        "import importlib.metadata, seqkit_example, sys\n"
        "(ep,) = [e for e in importlib.metadata.entry_points(group='seqkit') if e.name == 'example']\n"
        "assert seqkit_example.__file__.startswith(sys.argv[1]), seqkit_example.__file__\n"
        "from seqkit.cli import main\n"
        "sys.exit(main(['plugins']))\n"
    )
    env = {"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin", "SEQKIT_LOAD_PLUGINS": "example"}
    out = subprocess.run(
        [sys.executable, "-c", script, str(target)], env=env, check=True, capture_output=True, text=True
    ).stdout
    block = out[out.index("example (seqkit-example 0.1.0)\n") :]
    assert "\n  layer: mgu\n    aliases: minimal_gated_unit\n" in block
    lowercase = "    option lowercase: bool = false  lowercase the text before taking its bytes\n"
    assert f"\n  tokenizer: utf8_bytes\n{lowercase}" in block and "\n  command: numbers-corpus\n" in block
