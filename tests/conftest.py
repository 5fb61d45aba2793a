import importlib.util

import pytest


def cuda_available() -> bool:
    if importlib.util.find_spec("cupy") is None:
        return False
    import cupy

    try:
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # CuPy installed without a driver or device
        return False


def pytest_addoption(parser):
    parser.addoption("--device", default="cpu", help="where the gradient checks of tests/helpers.py run: cpu or cuda:N")


def pytest_configure(config):
    import helpers

    helpers.DEVICE = config.getoption("--device")


def pytest_collection_modifyitems(config, items):
    if cuda_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA and CuPy")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
