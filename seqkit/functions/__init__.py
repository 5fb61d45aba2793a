"""Differentiable functions (``import seqkit.functions as F``), each a FunctionNode with its backward.

The ops behind ``Variable``'s operators (``add`` ... ``neg``, ``matmul``, ``getitem``, ``reshape``,
``transpose``, ``sum``, ``mean``, ``max``, ``broadcast_to``, ``sum_to``, ``cast``, ``log``) live in the core
(``seqkit/core/ops.py``), which attaches the operators; they are re-exported here with the rest.
"""

from seqkit.core.ops import (
    add,
    broadcast_to,
    cast,
    div,
    getitem,
    log,
    matmul,
    max,
    mean,
    mul,
    neg,
    pow,
    reshape,
    sub,
    sum,
    sum_to,
    transpose,
)
from seqkit.functions.activation import gelu, log_softmax, relu, sigmoid, softmax, softplus, tanh
from seqkit.functions.array import concat, expand_dims, pad, separate, split_axis, squeeze, stack, where
from seqkit.functions.attention import masked_softmax
from seqkit.functions.connection import embed_id
from seqkit.functions.loss import softmax_cross_entropy
from seqkit.functions.math import exp, linear, sqrt
from seqkit.functions.noise import dropout
from seqkit.functions.normalization import layer_norm
from seqkit.functions.rnn import bilstm_recurrence, gather_rows, gru_recurrence, lstm, lstm_recurrence, scatter_rows

__all__ = [
    "add", "bilstm_recurrence", "broadcast_to", "cast", "concat", "div", "dropout", "embed_id", "exp",
    "expand_dims", "gather_rows", "gelu", "getitem", "gru_recurrence", "layer_norm", "linear", "log", "log_softmax",
    "lstm", "lstm_recurrence", "masked_softmax", "matmul", "max", "mean", "mul", "neg", "pad", "pow", "relu",
    "reshape", "scatter_rows", "separate", "sigmoid", "softmax", "softmax_cross_entropy", "softplus", "split_axis",
    "sqrt", "squeeze", "stack", "sub", "sum", "sum_to", "tanh", "transpose", "where",
]  # fmt: skip
