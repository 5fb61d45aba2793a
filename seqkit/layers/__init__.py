"""Layers: the ``Layer`` base class (parameters by assignment, ``state_dict``, ``save``/``load``)."""

from seqkit.layers.layer import Layer, LayerList, load, save, sidecar_path

__all__ = ["Layer", "LayerList", "load", "save", "sidecar_path"]
