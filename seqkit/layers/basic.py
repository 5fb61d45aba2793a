"""Basic layers: ``Linear``, ``Embedding``, ``Dropout``, ``LayerNorm`` and the ``Sequential`` container.

Parameters are created on the CPU with dtype ``config.dtype`` unless a layer's ``dtype`` argument says
otherwise; ``initialW`` / ``initial_bias`` take anything ``initializers.create`` takes (an initialiser, a
number, or an array of the right shape). Sizes are checked at construction (``ValueError`` for a size <= 0)
and inputs on every call (``ValueError`` naming the layer and both sizes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy

import seqkit.functions as F
from seqkit import initializers
from seqkit.backend import get_array_module
from seqkit.core.autograd import Parameter, Variable
from seqkit.layers.layer import Layer

Array = Any  # a NumPy or CuPy array


def _check_size(layer: str, name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{layer}: {name} must be a positive integer, got {value!r}")


def _check_last_axis(layer: Layer, x: Variable | Array, expected: int) -> None:
    shape = x.shape
    if not shape or shape[-1] != expected:
        got = f"last axis of size {shape[-1]}" if shape else "a 0-d input"
        raise ValueError(f"{layer!r}: expected an input of shape (..., {expected}), got {got} (shape {shape})")


class Linear(Layer):
    """Affine map ``y = x @ W.T + b`` with ``W`` of shape ``(out_size, in_size)`` and ``b`` of ``(out_size,)``.

    ``W`` defaults to Glorot uniform, ``b`` to zeros; ``bias=False`` leaves ``b`` as ``None``. With
    ``in_size=None`` the weight is created on the first call, from the input's last axis and on its device.
    """

    transposed_weights = ("W",)

    def __init__(
        self,
        in_size: int | None,
        out_size: int,
        bias: bool = True,
        initialW: Any = None,
        initial_bias: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if in_size is not None:
            _check_size("Linear", "in_size", in_size)
        _check_size("Linear", "out_size", out_size)
        self.in_size, self.out_size = in_size, out_size
        self._initialW = initializers.glorot_uniform if initialW is None else initialW
        self._dtype = initializers.float_dtype(dtype)  # config.dtype now, not at a lazy first call
        self.W: Parameter | None = None
        if in_size is not None:
            self._create_W(in_size, numpy)
        self.b = None
        if bias:
            initial_bias = 0.0 if initial_bias is None else initial_bias
            self.b = Parameter(initializers.create(initial_bias, out_size, self._dtype))

    def _create_W(self, in_size: int, xp: Any) -> None:
        b = self.__dict__.get("b")
        if b is not None:
            del self.b  # re-registered below, so that W comes before b in params() and state_dict()
        self.in_size = in_size
        self.W = Parameter(initializers.create(self._initialW, (self.out_size, in_size), self._dtype, xp))
        if b is not None:
            self.b = b

    def __call__(self, x: Variable | Array) -> Variable:
        """``x`` ``(..., in_size)`` -> ``(..., out_size)``."""
        if self.W is None:
            if not x.shape:
                raise ValueError(f"{self!r}: expected an input of shape (..., in_size), got a 0-d input")
            _check_size("Linear", "the input's last axis", x.shape[-1])
            self._create_W(x.shape[-1], get_array_module(x))
        _check_last_axis(self, x, self.in_size)
        return F.linear(x, self.W, self.b)

    def extra_repr(self) -> str:
        return f"{self.in_size}, {self.out_size}"


class Embedding(Layer):
    """A lookup table ``W`` of shape ``(vocab_size, dim)``: integer ids of any shape -> their rows.

    ``W`` defaults to N(0, 1) (as Chainer's ``EmbedID`` and PyTorch's ``Embedding``). With ``padding_idx`` that
    row starts at zero, and ids equal to it always give a zero vector and pass no gradient to ``W``.
    """

    def __init__(
        self, vocab_size: int, dim: int, padding_idx: int | None = None, initialW: Any = None, dtype: Any = None
    ) -> None:
        super().__init__()
        _check_size("Embedding", "vocab_size", vocab_size)
        _check_size("Embedding", "dim", dim)
        if padding_idx is not None and not 0 <= padding_idx < vocab_size:
            raise ValueError(f"Embedding: padding_idx must be in [0, {vocab_size}), got {padding_idx}")
        self.vocab_size, self.dim, self.padding_idx = vocab_size, dim, padding_idx
        W = initializers.create(initializers.normal(1.0) if initialW is None else initialW, (vocab_size, dim), dtype)
        if padding_idx is not None:
            W[padding_idx] = 0
        self.W = Parameter(W)

    def __call__(self, ids: Variable | Array) -> Variable:
        """Integer ``ids`` of any shape -> ``ids.shape + (dim,)``. Raises ``TypeError`` for non-integer ids."""
        if not hasattr(ids, "dtype"):  # a list of ids
            ids = get_array_module(self.W).asarray(ids)
        if ids.dtype.kind not in "iu":
            raise TypeError(f"{self!r}: ids must be integers, got dtype {ids.dtype}")
        return F.embed_id(ids, self.W, ignore_label=self.padding_idx)

    def extra_repr(self) -> str:
        pad = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.vocab_size}, {self.dim}{pad}"


class Dropout(Layer):
    """``F.dropout`` as a layer (no parameters): active only while ``config.train`` is True."""

    def __init__(self, ratio: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= ratio < 1.0:
            raise ValueError(f"Dropout: ratio must be in [0, 1), got {ratio}")
        self.ratio = ratio

    def __call__(self, x: Variable | Array) -> Variable:
        """Any shape -> the same shape."""
        return F.dropout(x, self.ratio)

    def extra_repr(self) -> str:
        return f"ratio={self.ratio}"


class LayerNorm(Layer):
    """Layer normalisation over the last axis, with ``gamma`` (ones) and ``beta`` (zeros) of shape ``(size,)``."""

    def __init__(self, size: int, eps: float = 1e-5, dtype: Any = None) -> None:
        super().__init__()
        _check_size("LayerNorm", "size", size)
        self.size, self.eps = size, eps
        self.gamma = Parameter(initializers.create(1.0, size, dtype))
        self.beta = Parameter(initializers.create(0.0, size, dtype))

    def __call__(self, x: Variable | Array) -> Variable:
        """``x`` ``(..., size)`` -> the same shape."""
        _check_last_axis(self, x, self.size)
        return F.layer_norm(x, self.gamma, self.beta, self.eps)

    def extra_repr(self) -> str:
        return f"{self.size}, eps={self.eps}"


class Sequential(Layer):
    """Calls its items in turn: ``Sequential(Linear(3, 4), F.tanh, Linear(4, 2))(x)``.

    Items are Layers or plain callables of one argument (``F.tanh``). Layers are registered under their
    position (``state_dict`` names ``"0.W"``, ``"2.W"``); other callables hold no parameters and are not
    registered. Raises ``TypeError`` for an item that is not callable.
    """

    def __init__(self, *items: Layer | Callable[[Any], Any]) -> None:
        super().__init__()
        self._items: list[Layer | Callable[[Any], Any]] = []
        for item in items:
            self.append(item)

    def append(self, item: Layer | Callable[[Any], Any]) -> None:
        """Add ``item`` at the end."""
        if not callable(item):
            raise TypeError(f"Sequential items must be Layers or callables, got {type(item).__name__}")
        if isinstance(item, Layer):
            setattr(self, str(len(self._items)), item)
        self._items.append(item)

    def __call__(self, x: Any) -> Any:
        """``x`` through every item in order; shapes are whatever the items make of them."""
        for item in self._items:
            x = item(x)
        return x

    def __getitem__(self, index: int) -> Layer | Callable[[Any], Any]:
        return self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Layer | Callable[[Any], Any]]:
        return iter(self._items)

    def __repr__(self) -> str:
        lines = []
        for i, item in enumerate(self._items):
            text = repr(item) if isinstance(item, Layer) else getattr(item, "__qualname__", repr(item))
            lines.append(f"  ({i}): " + text.replace("\n", "\n  "))
        return "\n".join(["Sequential(", *lines, ")"]) if lines else "Sequential()"


__all__ = ["Dropout", "Embedding", "LayerNorm", "Linear", "Sequential"]
