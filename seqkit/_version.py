"""The version of seqkit, a leaf: any module may import it (``seqkit.__version__`` re-exports it)."""

__version__ = "0.1.0"
