"""Differentiable functions (``import seqkit.functions as F``), each a FunctionNode with its backward.

Importing this package also gives ``Variable`` its Python operators (``+ - * / @ ** -x``, indexing, ``.T``,
``reshape``, ``sum``, ...), which are thin calls into the functions below.
"""

from seqkit.core.autograd import Variable
from seqkit.functions.activation import gelu, log_softmax, relu, sigmoid, softmax, softplus, tanh
from seqkit.functions.array import (
    broadcast_to,
    cast,
    concat,
    expand_dims,
    getitem,
    pad,
    reshape,
    separate,
    split_axis,
    squeeze,
    stack,
    sum_to,
    transpose,
    where,
)
from seqkit.functions.attention import masked_softmax
from seqkit.functions.connection import embed_id
from seqkit.functions.loss import softmax_cross_entropy
from seqkit.functions.math import (
    add,
    div,
    exp,
    linear,
    log,
    matmul,
    max,
    mean,
    mul,
    neg,
    pow,
    sqrt,
    sub,
    sum,
)
from seqkit.functions.noise import dropout
from seqkit.functions.normalization import layer_norm
from seqkit.functions.rnn import bilstm_recurrence, gather_rows, gru_recurrence, lstm, lstm_recurrence, scatter_rows


def _swap(f):
    return lambda self, other: f(other, self)


def _shape_args(shape):
    return shape[0] if len(shape) == 1 and not isinstance(shape[0], int) else shape


Variable.__add__ = add
Variable.__radd__ = add
Variable.__sub__ = sub
Variable.__rsub__ = _swap(sub)
Variable.__mul__ = mul
Variable.__rmul__ = mul
Variable.__truediv__ = div
Variable.__rtruediv__ = _swap(div)
Variable.__pow__ = pow
Variable.__rpow__ = _swap(pow)
Variable.__neg__ = neg
Variable.__matmul__ = matmul
Variable.__rmatmul__ = _swap(matmul)
Variable.__getitem__ = getitem
Variable.T = property(transpose, doc="The transpose (all axes reversed).")
Variable.reshape = lambda self, *shape: reshape(self, _shape_args(shape))
Variable.transpose = lambda self, *axes: transpose(self, _shape_args(axes) if axes else None)
Variable.sum = sum
Variable.mean = mean
Variable.max = max

__all__ = [
    "add", "bilstm_recurrence", "broadcast_to", "cast", "concat", "div", "dropout", "embed_id", "exp",
    "expand_dims", "gather_rows", "gelu", "getitem", "gru_recurrence", "layer_norm", "linear", "log", "log_softmax",
    "lstm", "lstm_recurrence", "masked_softmax", "matmul", "max", "mean", "mul", "neg", "pad", "pow", "relu",
    "reshape", "scatter_rows", "separate", "sigmoid", "softmax", "softmax_cross_entropy", "softplus", "split_axis",
    "sqrt", "squeeze", "stack", "sub", "sum", "sum_to", "tanh", "transpose", "where",
]  # fmt: skip
