"""Data-parallel training for seqkit over MPI: the ``mpi`` updater and an mpi4py communicator."""

from seqkit_mpi.communicator import MPICommunicator
from seqkit_mpi.updater import MPIUpdater

__all__ = ["MPICommunicator", "MPIUpdater"]
