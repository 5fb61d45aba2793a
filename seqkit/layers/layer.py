"""The ``Layer`` base class: parameters and child layers registered by assignment, ``state_dict``, saving.

A layer is a tree. Assigning a ``Parameter`` or a ``Layer`` to an attribute registers it under that name
(assigning anything else to the name unregisters it); ``named_params()`` walks the tree depth-first in
registration order and gives flat dotted names (``"enc.rnn.W"``) that ``state_dict()``, ``save`` and
``load`` use. Training/evaluation mode is not per layer: it is the global ``config.train``.
"""

from __future__ import annotations

import copy
import json
import os
import zipfile
from collections.abc import Iterable, Iterator
from typing import Any

import numpy

from seqkit.backend import Device, get_device, to_device
from seqkit.core.autograd import Parameter
from seqkit.io import atomic_write


class Layer:
    """Base class of every layer. Subclasses call ``super().__init__()`` first, then assign attributes."""

    #: The names of this layer's own 2-D weights that its ops read transposed, as ``x @ W.T`` (the weight of
    #: ``F.linear``, a recurrent weight); ``for_decoding()`` stores them in the layout that product reads fastest.
    transposed_weights: tuple[str, ...] = ()
    _decoding_copy = False  # True in a copy made by for_decoding()

    def __init__(self) -> None:
        object.__setattr__(self, "_registry", {})  # name -> Parameter | Layer, in registration order
        object.__setattr__(self, "_device", Device("cpu"))

    def __setattr__(self, name: str, value: Any) -> None:
        registry = self.__dict__.get("_registry")
        if registry is None:
            raise RuntimeError(
                f"{type(self).__name__}: cannot set {name!r} before Layer.__init__() ran; "
                f"call super().__init__() at the start of {type(self).__name__}.__init__"
            )
        if isinstance(value, (Parameter, Layer)):
            if "." in name:
                raise ValueError(f"{type(self).__name__}: a parameter or layer name cannot contain '.': {name!r}")
            registry[name] = value
        else:
            registry.pop(name, None)
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        self.__dict__.get("_registry", {}).pop(name, None)
        object.__delattr__(self, name)

    # ---- walking the tree ---------------------------------------------------------------------------
    def _walk(self, prefix: str, seen: set[int]) -> Iterator[tuple[str, Parameter | Layer]]:
        for name, obj in self._registry.items():
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            yield prefix + name, obj
            if isinstance(obj, Layer):
                yield from obj._walk(f"{prefix}{name}.", seen)

    def named_params(self) -> Iterator[tuple[str, Parameter]]:
        """``(dotted_name, parameter)`` depth-first in registration order; a shared parameter once, first name."""
        return ((n, p) for n, p in self._walk("", {id(self)}) if isinstance(p, Parameter))

    def params(self) -> Iterator[Parameter]:
        """Every parameter of the tree, depth-first in registration order, each once."""
        return (p for _, p in self.named_params())

    def named_layers(self) -> Iterator[tuple[str, Layer]]:
        """``(dotted_name, layer)`` for every descendant layer (not ``self``), each once."""
        return ((n, c) for n, c in self._walk("", {id(self)}) if isinstance(c, Layer))

    def children(self) -> Iterator[Layer]:
        """The direct child layers in registration order, each once."""
        seen: set[int] = set()
        for obj in self._registry.values():
            if isinstance(obj, Layer) and id(obj) not in seen:
                seen.add(id(obj))
                yield obj

    def count_params(self) -> int:
        """The number of scalar parameters (shared ones counted once)."""
        return sum(p.size for p in self.params())

    # ---- gradients and devices ----------------------------------------------------------------------
    def zero_grads(self) -> None:
        """Clear the gradient of every parameter (``grad`` becomes ``None``; the next backward starts afresh)."""
        for p in self.params():
            p.zero_grad()

    def to_device(self, device: str | Device) -> Layer:
        """Move every parameter (data and grad) to ``device`` (``"cpu"``, ``"cuda:0"``) in place; returns self."""
        device = Device(device)
        for p in self.params():
            p.to_device(device)
        for layer in (self, *(c for _, c in self.named_layers())):
            object.__setattr__(layer, "_device", device)
        return self

    @property
    def device(self) -> Device:
        """Where the parameters live (the last ``to_device`` target for a layer without parameters)."""
        p = next(self.params(), None)
        return self._device if p is None else get_device(p.data)

    # ---- decoding -----------------------------------------------------------------------------------
    def for_decoding(self) -> Layer:
        """A copy of this layer tree for decoding: the same function of the same values, with every NumPy weight
        that a layer's ops read transposed (its ``transposed_weights``) stored transposed-contiguous, so that
        ``W.T`` is the C-contiguous matrix OpenBLAS multiplies fastest (a decoder step multiplies a few hundred
        rows by each weight; docs/performance.md has the figures). Other parameters are shared, not copied.

        The re-laid weights are copies that take no gradient: the copy is for inference, and must be made
        again after the weights change. CuPy weights stay as they are (cuBLAS reads either layout alike).
        Called on such a copy, it returns the copy itself."""
        return self if self._decoding_copy else self._copy_for_decoding({})

    def _copy_for_decoding(self, memo: dict[int, Any]) -> Layer:
        """The copy of ``for_decoding``, sharing one copy of a layer or weight that occurs twice (``memo``)."""
        twin = memo.get(id(self))
        if twin is not None:
            return twin
        twin = copy.copy(self)
        object.__setattr__(twin, "_registry", {})
        object.__setattr__(twin, "_decoding_copy", True)
        memo[id(self)] = twin
        for name, obj in self._registry.items():
            setattr(twin, name, obj._copy_for_decoding(memo) if isinstance(obj, Layer) else obj)
        for name, value in list(twin.__dict__.items()):  # lists of child layers (LayerList, Sequential)
            if type(value) is list and any(id(v) in memo for v in value):
                object.__setattr__(twin, name, [memo.get(id(v), v) for v in value])
        twin._relayout(memo)
        return twin

    def _relayout(self, memo: dict[int, Any]) -> None:
        """Replace this copy's ``transposed_weights`` by their decoding layout (``decoding_weight``)."""
        for name in self.transposed_weights:
            p = getattr(self, name)
            if p is not None:
                setattr(self, name, memo.setdefault(id(p), decoding_weight(p)))

    # ---- state --------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, numpy.ndarray]:
        """Flat dotted name -> a NumPy copy of the parameter (copied to the host from a GPU)."""
        state = {}
        for name, p in self.named_params():
            host = to_device(p.data, "cpu")
            state[name] = host.copy() if host is p.data else host
        return state

    def load_state_dict(self, state: dict[str, Any], strict: bool = True) -> tuple[list[str], list[str]]:
        """Copy arrays from ``state`` into the parameters in place, on each parameter's current device.

        Returns ``(missing, unexpected)`` keys (both empty when ``strict``). Raises a one-line ``ValueError``
        naming the key for a missing or unexpected key (when ``strict``) or a shape or dtype mismatch (always);
        when it raises, no parameter has changed.
        """
        params = dict(self.named_params())
        missing = [k for k in params if k not in state]
        unexpected = [k for k in state if k not in params]
        if strict and missing:
            p = params[missing[0]]
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise ValueError(f"missing key {missing[0]!r}{more}: expected shape {p.shape} {p.dtype}")
        if strict and unexpected:
            more = f" (and {len(unexpected) - 1} more)" if len(unexpected) > 1 else ""
            raise ValueError(f"unexpected key {unexpected[0]!r}{more}: no such parameter in {type(self).__name__}")
        ready = []
        for name, p in params.items():
            if name not in state:
                continue
            value = state[name]
            if not (hasattr(value, "shape") and hasattr(value, "dtype")):
                value = numpy.asarray(value)
            if tuple(value.shape) != p.shape:
                raise ValueError(f"shape mismatch for {name!r}: expected {p.shape}, got {tuple(value.shape)}")
            if value.dtype != p.dtype:
                raise ValueError(f"dtype mismatch for {name!r}: expected {p.dtype}, got {value.dtype}")
            ready.append((p, to_device(value, get_device(p.data))))
        for p, value in ready:
            p.data[...] = value  # in place: views of the parameter (optimizer state, flat buffers) stay valid
        return missing, unexpected

    # ---- printing -----------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """Settings to show in ``repr`` (``"ratio=0.1"``); subclasses override it."""
        return ""

    def __repr__(self) -> str:
        own = [f"{n}={p.shape}" for n, p in self._registry.items() if isinstance(p, Parameter)]
        head = f"{type(self).__name__}({', '.join(s for s in (self.extra_repr(), *own) if s)}"
        kids = [(n, c) for n, c in self._registry.items() if isinstance(c, Layer)]
        if not kids:
            return head + ")"
        lines = [f"  ({n}): " + repr(c).replace("\n", "\n  ") for n, c in kids]
        return "\n".join([head, *lines, ")"])


class LayerList(Layer):
    """A list of layers, registered under ``"0"``, ``"1"``, ... (``state_dict`` names ``"layers.0.W"``)."""

    def __init__(self, layers: Iterable[Layer] = ()) -> None:
        super().__init__()
        self._layers: list[Layer] = []
        self.extend(layers)

    def append(self, layer: Layer) -> None:
        """Add ``layer`` at the end. Raises ``TypeError`` for anything but a Layer."""
        if not isinstance(layer, Layer):
            raise TypeError(f"LayerList holds Layers, got {type(layer).__name__}")
        setattr(self, str(len(self._layers)), layer)
        self._layers.append(layer)

    def extend(self, layers: Iterable[Layer]) -> None:
        for layer in layers:
            self.append(layer)

    def __getitem__(self, index: int) -> Layer:
        return self._layers[index]

    def __len__(self) -> int:
        return len(self._layers)

    def __iter__(self) -> Iterator[Layer]:
        return iter(self._layers)


def decoding_weight(p: Parameter) -> Parameter:
    """A copy of the 2-D NumPy weight ``p`` stored transposed-contiguous (Fortran order: ``W.T`` is C-contiguous),
    which takes no gradient; ``p`` itself for any other parameter."""
    if type(p.data) is not numpy.ndarray or p.ndim != 2:
        return p
    return frozen_parameter(transposed_copy(p.data).T, p.name)


def frozen_parameter(data, name: str | None = None) -> Parameter:
    """A Parameter over ``data`` that takes no gradient (a weight laid out for decoding)."""
    q = Parameter(data, name=name)
    q.requires_grad = False
    return q


def transposed_copy(W: numpy.ndarray) -> numpy.ndarray:
    """``W.T`` as a C-contiguous array, copied in blocks of 16 rows, so that each block's reads and writes stay
    in cache (``numpy.ascontiguousarray(W.T)`` strides over the whole weight for every row it writes)."""
    out = numpy.empty(W.shape[::-1], dtype=W.dtype)
    for i in range(0, W.shape[0], 16):
        out[:, i : i + 16] = W[i : i + 16].T
    return out


# ---- files ------------------------------------------------------------------------------------------
def sidecar_path(path: str | os.PathLike) -> str:
    """The JSON metadata file that goes with ``path``: ``model.npz`` -> ``model.json`` (else ``path + ".json"``)."""
    path = os.fspath(path)
    return (path[:-4] if path.endswith(".npz") else path) + ".json"


def save(layer: Layer, path: str | os.PathLike, metadata: dict[str, Any] | None = None) -> None:
    """Write ``layer``'s parameters to ``path`` (``.npz``, no pickle) and a JSON sidecar (``sidecar_path``)
    holding the seqkit version, each parameter's name, shape and dtype, and ``metadata``. Both files are
    written atomically; the ``.npz`` goes first. Raises ``TypeError`` (before writing anything) when
    ``metadata`` is not JSON-serialisable."""
    from seqkit._version import __version__

    state = layer.state_dict()
    info = {
        "format": "seqkit.layer/1",
        "seqkit_version": __version__,
        "layer": type(layer).__name__,
        "params": {n: {"shape": list(a.shape), "dtype": str(a.dtype)} for n, a in state.items()},
        "metadata": metadata or {},
    }
    try:
        text = json.dumps(info, indent=1)
    except (TypeError, ValueError) as e:
        raise TypeError(f"save({os.fspath(path)!r}): metadata is not JSON-serialisable: {e}") from None
    with atomic_write(path, "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, array in state.items():  # what numpy.savez does, minus its reserved keyword names
            with zf.open(name + ".npy", "w", force_zip64=True) as entry:
                numpy.lib.format.write_array(entry, array, allow_pickle=False)
    with atomic_write(sidecar_path(path), "w") as f:
        f.write(text + "\n")


def load(layer: Layer, path: str | os.PathLike, strict: bool = True) -> dict[str, Any]:
    """Load parameters saved by ``save`` into ``layer`` (in place); returns the sidecar's contents (``{}`` when
    there is none; the user's metadata is under ``"metadata"``). Raises ``FileNotFoundError`` or a one-line
    ``ValueError`` naming the file when it is missing, unreadable, or does not match ``layer``; when it raises,
    ``layer`` is unchanged."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file")
    try:
        with numpy.load(path, allow_pickle=False) as npz:
            state = {name: npz[name] for name in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"{path}: not a readable .npz file ({_one_line(e)})") from None
    info: dict[str, Any] = {}
    meta = sidecar_path(path)
    if os.path.isfile(meta):
        try:
            with open(meta, encoding="utf-8") as f:
                info = json.load(f)
            names = set(info["params"])
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ValueError(f"{meta}: not a seqkit metadata file ({_one_line(e)})") from None
        if names != set(state):
            raise ValueError(f"{meta}: lists other parameters than {path} (written by a different save?)")
    try:
        layer.load_state_dict(state, strict=strict)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None
    return info


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__
