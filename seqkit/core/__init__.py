"""The define-by-run core: Variable, Parameter, FunctionNode, the ops behind Variable's operators, backprop and
gradient checking.

``Variable`` (``autograd.py``) is the data structure; its operators and ``backward()`` are functions of
``ops.py`` and ``backward.py``, which are built on it, so they are attached to the class here, once. Any import
of a module of ``seqkit.core`` runs this file first, so every Variable has them.
"""

from seqkit.core import backward, ops
from seqkit.core.autograd import FunctionNode, Parameter, RemovableHandle, Variable, as_variable
from seqkit.core.backward import backprop, grad


def _swap(f):
    return lambda self, other: f(other, self)


def _shape_args(shape):
    return shape[0] if len(shape) == 1 and not isinstance(shape[0], int) else shape


Variable.backward = backward.backward
Variable.__add__ = ops.add
Variable.__radd__ = ops.add
Variable.__sub__ = ops.sub
Variable.__rsub__ = _swap(ops.sub)
Variable.__mul__ = ops.mul
Variable.__rmul__ = ops.mul
Variable.__truediv__ = ops.div
Variable.__rtruediv__ = _swap(ops.div)
Variable.__pow__ = ops.pow
Variable.__rpow__ = _swap(ops.pow)
Variable.__neg__ = ops.neg
Variable.__matmul__ = ops.matmul
Variable.__rmatmul__ = _swap(ops.matmul)
Variable.__getitem__ = ops.getitem
Variable.T = property(ops.transpose, doc="The transpose (all axes reversed).")
Variable.reshape = lambda self, *shape: ops.reshape(self, _shape_args(shape))
Variable.transpose = lambda self, *axes: ops.transpose(self, _shape_args(axes) if axes else None)
Variable.sum = ops.sum
Variable.mean = ops.mean
Variable.max = ops.max

__all__ = ["FunctionNode", "Parameter", "RemovableHandle", "Variable", "as_variable", "backprop", "grad"]
