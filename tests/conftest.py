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
    parser.addoption("--emulate-cuda-kernels", action="store_true",
                     help="run the fused CUDA kernels' bodies compiled as C++ on NumPy arrays (no GPU)")  # fmt: skip


def pytest_configure(config):
    import helpers

    helpers.DEVICE = config.getoption("--device")
    if config.getoption("--emulate-cuda-kernels"):
        from seqkit.testing import kernel_emulator

        kernel_emulator.activate(pytest.MonkeyPatch())  # for the whole session


def pytest_collection_modifyitems(config, items):
    if cuda_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA and CuPy")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
