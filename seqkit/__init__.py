"""seqkit: a define-by-run deep learning toolkit for sequences (NumPy on the CPU, CuPy on the GPU).

This module is the facade: it re-exports names from the packages below and has no effects of its own on the
process (``keep_freed_host_memory`` is for a long-running job to call; the command line and ``Trainer.run``
do). The names are loaded on first use (PEP 562), so that ``import seqkit`` alone loads no NumPy: the
``seqkit`` command starts by taking charge of Ctrl-C before anything slow is loaded (``seqkit.__main__``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from seqkit._version import __version__
from seqkit.config import config, global_config, no_grad, using_config  # light; ``seqkit.config`` is the object

#: name -> the module it comes from
_EXPORTS = {
    "functions": "seqkit.functions",
    **dict.fromkeys(["Device", "get_array_module", "keep_freed_host_memory", "to_device", "using_device"],
                    "seqkit.backend"),
    **dict.fromkeys(["FunctionNode", "Parameter", "Variable", "as_variable", "grad"], "seqkit.core"),
}  # fmt: skip

if TYPE_CHECKING:
    from seqkit import functions
    from seqkit.backend import Device, get_array_module, keep_freed_host_memory, to_device, using_device
    from seqkit.core import FunctionNode, Parameter, Variable, as_variable, grad


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'seqkit' has no attribute {name!r}")
    module = importlib.import_module(_EXPORTS[name])
    value = module if name == "functions" else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


__all__ = [
    "Device", "FunctionNode", "Parameter", "Variable", "as_variable", "config", "functions", "get_array_module",
    "global_config", "grad", "keep_freed_host_memory", "no_grad", "to_device", "using_config", "using_device",
    "__version__",
]  # fmt: skip
