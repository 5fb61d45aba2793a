"""The define-by-run core: Variable, Parameter, FunctionNode, backprop and gradient checking."""

from seqkit.core.autograd import (
    FunctionNode,
    Parameter,
    RemovableHandle,
    Variable,
    as_variable,
    backprop,
    grad,
)

__all__ = ["FunctionNode", "Parameter", "RemovableHandle", "Variable", "as_variable", "backprop", "grad"]
