"""The hooks: the ``mpi`` updater, and the communicator seqkit asks for when mpirun started several processes.

Cheap to import: mpi4py (which initialises MPI) is imported only when a communicator is asked for.
"""

from __future__ import annotations

from seqkit.plugins import hookimpl


@hookimpl
def seqkit_register_updaters(registry) -> None:
    from seqkit_mpi.updater import MPIUpdater

    registry.add("mpi", MPIUpdater)


@hookimpl
def seqkit_communicator():
    from seqkit_mpi.communicator import MPICommunicator

    return MPICommunicator()
