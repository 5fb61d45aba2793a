"""seqkit's pytest plugin (entry point ``pytest11``, name ``seqkit``; ``-p no:seqkit`` turns it off).

Fixtures for plugin authors: ``seqkit_plugin_manager`` (one strict manager per session: a broken plugin is an
error) and ``seqkit_layer_check`` (``seqkit_layer_check(name, shapes, kwargs=...)`` runs every check of
``seqkit.testing`` on a registered layer). The test header lists the seqkit plugins that are installed.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def seqkit_plugin_manager():
    """A plugin manager with every installed plugin, strict: a plugin that fails raises ``PluginError``."""
    from seqkit.plugins import get_plugin_manager

    return get_plugin_manager(strict=True)


@pytest.fixture
def seqkit_layer_check(seqkit_plugin_manager, tmp_path: Path) -> Callable[..., None]:
    """``check(name, shapes, kwargs=None)``: every check of ``seqkit.testing`` on the registered layer ``name``."""
    from seqkit.testing import check_layer

    def check(name: str, shapes: Any, *, kwargs: dict[str, Any] | None = None) -> None:
        registry = seqkit_plugin_manager.registry("layer")
        check_layer(name, shapes, kwargs=kwargs, registry=registry, directory=tmp_path)

    return check


def pytest_report_header(config: pytest.Config) -> list[str]:
    """``seqkit 0.1.0, plugins: example (seqkit-example 0.1.0)``, and a line per broken plugin."""
    from seqkit._version import __version__
    from seqkit.plugins import get_plugin_manager

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pm = get_plugin_manager()
    loaded = []
    for name in pm.plugin_names()[1:]:
        origin = pm.origins.get(name, {})
        dist = origin.get("distribution")
        loaded.append(f"{name} ({dist} {origin.get('version')})" if dist else name)
    lines = [f"seqkit {__version__}, plugins: {', '.join(loaded) or '(none)'}"]
    lines += [f"seqkit: broken plugin {b.name!r}: {b.reason}" for b in pm.broken]
    return lines
