"""seqkit: a define-by-run deep learning toolkit for sequences (NumPy on the CPU, CuPy on the GPU).

This module is the facade: it re-exports names from the packages below and has no effects of its own on the
process (``keep_freed_host_memory`` is for a long-running job to call; the command line and ``Trainer.run``
do).
"""

from seqkit import functions
from seqkit._version import __version__
from seqkit.backend import Device, get_array_module, keep_freed_host_memory, to_device, using_device
from seqkit.config import config, global_config, no_grad, using_config
from seqkit.core import FunctionNode, Parameter, Variable, as_variable, grad

__all__ = [
    "Device", "FunctionNode", "Parameter", "Variable", "as_variable", "config", "functions", "get_array_module",
    "global_config", "grad", "keep_freed_host_memory", "no_grad", "to_device", "using_config", "using_device",
    "__version__",
]  # fmt: skip
