"""seqkit: a define-by-run deep learning toolkit for sequences (NumPy on the CPU, CuPy on the GPU)."""

from seqkit import functions
from seqkit._version import __version__
from seqkit.backend import Device, get_array_module, keep_freed_host_memory, to_device, using_device
from seqkit.config import config, global_config, no_grad, using_config
from seqkit.core import FunctionNode, Parameter, Variable, as_variable, grad

keep_freed_host_memory()

__all__ = [
    "Device", "FunctionNode", "Parameter", "Variable", "as_variable", "config", "functions", "get_array_module",
    "global_config", "grad", "no_grad", "to_device", "using_config", "using_device", "__version__",
]  # fmt: skip
