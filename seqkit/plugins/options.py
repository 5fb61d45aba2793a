"""What a component's options dataclass offers: each field's name, type, default and meaning, the meaning being
the comment written beside the field. ``seqkit plugins`` lists it and ``python -m seqkit.docgen`` tabulates it,
both from here, so the listing and the references agree."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import io
import textwrap
import tokenize
from typing import Any


def field_comments(cls: type) -> dict[str, str]:
    """The comment written beside each field of a dataclass (on the lines of its definition), by field name;
    fields inherited from a dataclass base class included. A class whose source cannot be read (defined in an
    interactive session, shipped without its ``.py``) has none."""
    comments: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass) or klass is object:
            continue
        try:
            source = textwrap.dedent(inspect.getsource(klass))
        except (OSError, TypeError):
            continue
        by_line = {tok.start[0]: tok.string.lstrip("# ").strip() for tok in
                   tokenize.generate_tokens(io.StringIO(source).readline) if tok.type == tokenize.COMMENT}  # fmt: skip
        for node in ast.parse(source).body[0].body:
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                lines = range(node.lineno, (node.end_lineno or node.lineno) + 1)
                comments[node.target.id] = " ".join(by_line[n] for n in lines if n in by_line)
    return comments


def type_name(f: dataclasses.Field) -> str:
    """The field's annotation as written (``int``, ``str | None``)."""
    return f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))


REQUIRED = dataclasses.MISSING


def default(f: dataclasses.Field) -> Any:
    """The field's default value (its factory called), or ``REQUIRED`` when it has none."""
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return REQUIRED


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return repr(value)


def describe_options(cls: type | None) -> list[dict[str, Any]]:
    """One record per field of an options dataclass (none for ``None``): ``name``, ``type``, ``default`` (a
    JSON value; ``None`` when required or none), ``required`` and ``help`` (the comment beside it, or "")."""
    if cls is None:
        return []
    comments = field_comments(cls)
    records = []
    for f in dataclasses.fields(cls):
        value = default(f)
        required = value is REQUIRED
        records.append({"name": f.name, "type": type_name(f), "default": None if required else _jsonable(value),
                        "required": required, "help": comments.get(f.name, "")})  # fmt: skip
    return records
