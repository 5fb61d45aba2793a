"""Declared ranges of numeric options.

A field of an options dataclass declares the values it accepts in its metadata, as an interval in the usual
notation: ``metadata={"range": "[1, inf)"}`` (at least 1), ``"[0, 1)"``, ``"(0, inf)"``; ``ranged(default,
interval)`` writes such a field. The declaration is plain data, so any options dataclass may make it without
importing seqkit (a plugin's, or one in a package that cannot import this one). Recipes check every declared
range when they are read (``seqkit.recipes.build_options``), before anything is written; seqkit's models check
theirs again when built from Python (``check_ranges``), so both give the same one-line ``UserError``.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any

from seqkit.errors import UserError

#: the most hypotheses per sentence a beam keeps (``decoding.beam``, ``--beam``, ``--nbest``): each is a decoder
#: row at every step, so a batch of 64 sentences already decodes 64000 rows at once; more would take hours or fail
#: for memory
MAX_BEAM = 1000

_INTERVAL = re.compile(r"([\[(])\s*([^,\s]+)\s*,\s*([^,\s]+)\s*([\])])")


def ranged(default: Any, interval: str) -> Any:
    """A dataclass field with ``default`` that accepts the values in ``interval`` (``"[1, inf)"``)."""
    return dataclasses.field(default=default, metadata={"range": interval})


def expected(interval: str, integer: bool) -> str:
    """What ``interval`` asks for, in words: ``"an integer >= 1"``, ``"a number > 0"``, ``"in [0, 1)"``."""
    low, high, low_closed, high_closed = _bounds(interval)
    kind = "an integer" if integer else "a number"
    if math.isinf(low) and math.isinf(high):
        return kind
    if math.isinf(high):
        return f"{kind} {'>=' if low_closed else '>'} {low:g}"
    if math.isinf(low):
        return f"{kind} {'<=' if high_closed else '<'} {high:g}"
    return f"in {interval}"


def contains(interval: str, value: float) -> bool:
    """Whether ``value`` lies in ``interval``."""
    low, high, low_closed, high_closed = _bounds(interval)
    above = value >= low if low_closed else value > low
    below = value <= high if high_closed else value < high
    return above and below


def _bounds(interval: str) -> tuple[float, float, bool, bool]:
    match = _INTERVAL.fullmatch(interval.strip())
    try:
        low, high = float(match[2]), float(match[3])  # float() reads "inf" and "-inf"
    except (TypeError, ValueError):  # no match, or a bound that is no number: the declaration is wrong
        raise ValueError(f"range {interval!r} is not an interval such as '[1, inf)' or '[0, 1)'") from None
    return low, high, match[1] == "[", match[4] == "]"


def range_error(f: dataclasses.Field, value: Any, where: str) -> UserError | None:
    """The ``UserError`` for ``value`` of field ``f`` when ``f`` declares a range that ``value`` is outside
    (``where.NAME must be an integer >= 1, got 0``), else None. A field annotated ``int`` takes ints only; None
    and booleans are never checked (a field that allows None declares the range of its numbers)."""
    interval = f.metadata.get("range")
    if interval is None or value is None or isinstance(value, bool):
        return None
    # the annotation, a string under `from __future__ import annotations`: "int", "int | None"
    integer = f.type is int or "int" in str(f.type).replace(" ", "").split("|")
    if contains(interval, value) and (isinstance(value, int) or not integer):
        return None
    return UserError(f"{where}.{f.name} must be {expected(interval, integer)}, got {value!r}")


def check_ranges(options: Any, where: str) -> None:
    """``UserError`` naming the first field of the dataclass instance ``options`` whose value is outside its
    declared range (``where``: what the message names it under, e.g. ``"model"``)."""
    for f in dataclasses.fields(options):
        if (error := range_error(f, getattr(options, f.name), where)) is not None:
            raise error
