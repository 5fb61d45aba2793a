"""Processes that train together: the communicator seqkit's training code talks to.

seqkit itself knows one process. A plugin (``plugins/seqkit-mpi``) supplies a communicator for several
processes through the ``seqkit_communicator`` hook; ``get_communicator`` asks for one only when a launcher
(``mpirun``/``mpiexec``) started more than one process, so a plain run never imports an MPI library.

The training code is written against ``Communicator`` and never branches on MPI: rank 0 writes the run
directory, logs and checkpoints; every rank takes its share of each batch and of validation; results are
summed (``allreduce``) or gathered (``allgather``).
"""

from __future__ import annotations

import os
import sys
from typing import Any

from seqkit.errors import UserError

#: Environment variables in which MPI launchers (MPICH's Hydra, Open MPI, PMIx, Slurm) give the world size.
SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS")


class Communicator:
    """One process: rank 0 of 1. Every collective returns at once. Subclasses implement them for real.

    ``allreduce(array)`` sums ``array`` over the ranks in place (NumPy or CuPy), ``allgather(obj)`` gives the
    list of every rank's ``obj``, ``bcast(obj)`` rank 0's ``obj``, ``bcast_array(array)`` copies rank 0's array
    into ``array`` in place.
    """

    rank = 0
    size = 1
    local_rank = 0  # the rank among the processes on this machine: with GPUs, process r uses GPU r

    @property
    def is_primary(self) -> bool:
        """Rank 0: the process that writes the run directory, logs and checkpoints."""
        return self.rank == 0

    def allreduce(self, array: Any) -> Any:
        return array

    def allgather(self, obj: Any) -> list[Any]:
        return [obj]

    def bcast(self, obj: Any) -> Any:
        return obj

    def bcast_array(self, array: Any) -> Any:
        return array

    def barrier(self) -> None:
        pass

    def any(self, flag: bool) -> bool:
        """True on every rank when ``flag`` is true on some rank."""
        return bool(flag)

    def fail(self, message: str, code: int) -> int:
        """Report an error that ends this process and give its exit code; with several processes, end them all
        (``message`` shown once)."""
        print(message, file=sys.stderr)
        return code

    def check_same(self, what: dict[str, str]) -> None:
        """Raise ``UserError`` on every rank when some rank's ``what`` (e.g. the seqkit version and the recipe)
        differs from rank 0's, naming the first differing key and ranks."""
        every = self.allgather(what)
        for key, mine in every[0].items():
            differ = [r for r, other in enumerate(every) if other.get(key) != mine]
            if differ:
                ranks = ", ".join(map(str, differ))
                raise UserError(f"{key} differs between rank 0 and rank(s) {ranks}: every process must run the same")


_current: Communicator = Communicator()


def launched_size(environ: dict[str, str] | None = None) -> int:
    """How many processes the MPI launcher started (1 when not started by one)."""
    environ = os.environ if environ is None else environ
    for name in SIZE_VARIABLES:
        value = environ.get(name, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return 1


def get_communicator(pm) -> Communicator:
    """The communicator of this process: a plugin's when a launcher started several processes, else the
    one-process ``Communicator``. The first call decides; later calls return the same object."""
    global _current
    size = launched_size()
    if size > 1 and _current.size == 1:
        found = pm.hook.seqkit_communicator()
        if found is None:
            raise UserError(
                f"started as one of {size} processes, but no plugin provides a communicator: install the MPI "
                "plugin (pip install ./plugins/seqkit-mpi) or run without mpirun"
            )
        _current = found
    return _current


def current() -> Communicator:
    """The communicator ``get_communicator`` chose (the one-process one before any call)."""
    return _current


__all__ = ["Communicator", "SIZE_VARIABLES", "current", "get_communicator", "launched_size"]
