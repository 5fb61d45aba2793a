"""seqkit-acme: a third-party seqkit plugin with one component of every kind."""

__version__ = "0.1.0"
