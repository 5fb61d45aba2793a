"""argparse helpers that the verbs share (a module of its own: ``seqkit.cli`` imports the verbs)."""

from __future__ import annotations

import argparse


def number(kind: type, low: float | None = None, high: float | None = None):
    """An argparse ``type=`` for a flag's range: a finite ``kind`` (``int`` or ``float``) in ``[low, high]``, an
    end that is None being open (``type=number(int, 1)``: an integer at least 1). Anything else is refused while
    the command line is parsed, before the verb runs, by argparse's error naming the flag (exit status 2)."""
    what = "an integer" if kind is int else "a number"
    if low is not None and high is not None:
        what += f" in [{low}, {high}]"
    elif low is not None:
        what += f" >= {low}"
    elif high is not None:
        what += f" <= {high}"

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        inside = (low is None or value >= low) and (high is None or value <= high)
        if not (inside and abs(value) < float("inf")):  # NaN fails every comparison: only finite numbers pass
            raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
        return value

    return parse
