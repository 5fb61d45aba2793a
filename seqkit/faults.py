"""Named points where a test stops the program, as a kill, a Ctrl-C, a SIGTERM or a full disk would stop it.

``SEQKIT_FAULTS="POINT[@N][:ACTION],..."`` in the environment of a seqkit process: when the process passes
``fault_point(POINT)`` at ``N`` (the training iteration, for the points of the training loop; otherwise the
number of the pass, from 1; default 1), ``ACTION`` happens there:

- ``kill`` (the default): SIGKILL, as a power cut or the OOM killer would end the process;
- ``sigint``, ``sigterm``: the signal, sent to the process itself and handled as if a user had sent it at that
  moment (the handler runs at once: ``signal.raise_signal``);
- ``enospc``: ``OSError(ENOSPC)``, as a full disk answers a write.

Several entries act in order at the same point (``update@3:sigint,update@3:sigint`` is a double Ctrl-C in
the middle of the update that makes iteration 3). The points:

- ``update@N``: inside the update to iteration N, after the parameters changed and before the iteration counts;
- ``checkpoint@N``: ``snapshot_N.npz`` written, before ``best.npz`` and ``last.npz`` are linked to it;
- ``snapshot@N``: ``snapshot_N.npz`` complete: linked as ``last.npz`` (and ``best.npz`` when it is the best);
- ``log@N``: half of iteration N's ``log.jsonl`` line written and flushed;
- ``tokenizer``: the tokenizer's model written, before its ``tokenizer.json``.

Without the variable ``fault_point`` returns at once.
"""

from __future__ import annotations

import errno
import os
import signal

ACTIONS = ("kill", "sigint", "sigterm", "enospc")


def _parse(spec: str) -> dict[str, list[tuple[int, str]]]:
    plan: dict[str, list[tuple[int, str]]] = {}
    for entry in filter(None, (e.strip() for e in spec.split(","))):
        where, _, action = entry.partition(":")
        point, _, count = where.partition("@")
        action = action or "kill"
        if action not in ACTIONS or (count and not count.isdigit()):
            raise ValueError(f"SEQKIT_FAULTS: {entry!r} is not POINT[@N][:ACTION] with ACTION one of {ACTIONS}")
        plan.setdefault(point, []).append((int(count or 1), action))
    return plan


_plan = _parse(os.environ.get("SEQKIT_FAULTS", ""))
_passes: dict[str, int] = {}


def planned(point: str) -> bool:
    """Whether ``SEQKIT_FAULTS`` names ``point`` (for a point that must shape the work around it)."""
    return point in _plan


def fault_point(point: str, at: int | None = None) -> None:
    """Act as ``SEQKIT_FAULTS`` says for ``point`` at ``at`` (default: the number of this pass of ``point``)."""
    if not _plan or point not in _plan:
        return
    _passes[point] = _passes.get(point, 0) + 1
    for count, action in _plan[point]:
        if count != (_passes[point] if at is None else at):
            continue
        if action == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        elif action == "enospc":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        else:
            signal.raise_signal(signal.SIGINT if action == "sigint" else signal.SIGTERM)


__all__ = ["fault_point", "planned"]
