"""``MPICommunicator``: seqkit's ``Communicator`` on mpi4py, with NCCL (through CuPy) for arrays on GPUs.

NumPy arrays travel through MPI's buffer interface (no pickling, no copies): ``Allreduce`` in place and
``Bcast``. CuPy arrays go through one NCCL communicator, made on first use from a unique id that rank 0
broadcasts over MPI, on the current CUDA stream, so a GPU step never waits for the host. Python objects
(``allgather``, ``bcast``) are pickled by mpi4py.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy
from seqkit.distributed import Communicator

#: Seconds a rank other than 0 waits before reporting its error: when rank 0 fails too (the same bad input
#: everywhere), rank 0's report is the one shown and its abort ends this rank first.
GRACE = 5.0
#: Seconds a failing rank waits between writing its report and aborting: MPICH's launcher tears its output
#: forwarding down on an abort, and without the wait lost everything a rank had written (stdout and stderr)
#: in 2 of 30 runs of a refused start (0 of 60 with it).
FORWARD = 0.2

_NCCL_TYPES = {"float16": "NCCL_FLOAT16", "float32": "NCCL_FLOAT32", "float64": "NCCL_FLOAT64",
               "int32": "NCCL_INT32", "int64": "NCCL_INT64"}  # fmt: skip


class MPICommunicator(Communicator):
    """The processes of ``comm`` (``MPI.COMM_WORLD`` by default)."""

    def __init__(self, comm: Any = None) -> None:
        from mpi4py import MPI

        self.MPI = MPI
        self.comm = MPI.COMM_WORLD if comm is None else comm
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self.local_rank = self.comm.Split_type(MPI.COMM_TYPE_SHARED).Get_rank()
        self._nccl = None

    def allreduce(self, array: Any) -> Any:
        if isinstance(array, numpy.ndarray):
            self.comm.Allreduce(self.MPI.IN_PLACE, array, op=self.MPI.SUM)
        else:
            from cupy.cuda import nccl

            count, kind, stream = self._nccl_args(array)
            self._nccl_comm().allReduce(array.data.ptr, array.data.ptr, count, kind, nccl.NCCL_SUM, stream)
        return array

    def bcast_array(self, array: Any) -> Any:
        if isinstance(array, numpy.ndarray):
            self.comm.Bcast(array, root=0)
        else:
            count, kind, stream = self._nccl_args(array)
            self._nccl_comm().bcast(array.data.ptr, count, kind, 0, stream)
        return array

    def allgather(self, obj: Any) -> list[Any]:
        return self.comm.allgather(obj)

    def bcast(self, obj: Any) -> Any:
        return self.comm.bcast(obj, root=0)

    def barrier(self) -> None:
        self.comm.Barrier()

    def any(self, flag: bool) -> bool:
        return bool(self.comm.allreduce(bool(flag), op=self.MPI.LOR))

    def fail(self, message: str, code: int) -> int:
        """Show ``message`` once and end every process with ``code`` (``MPI_Abort``): a failing rank never
        leaves the others waiting in a collective."""
        if self.rank != 0:
            time.sleep(GRACE)
            message = f"[rank {self.rank}] {message}"
        print(message, file=sys.stderr, flush=True)
        sys.stdout.flush()
        time.sleep(FORWARD)
        self.comm.Abort(code)
        return code  # not reached

    # ---- NCCL -------------------------------------------------------------------------------------------------
    def _nccl_comm(self):
        if self._nccl is None:
            from cupy.cuda import nccl

            uid = self.comm.bcast(nccl.get_unique_id() if self.rank == 0 else None, root=0)
            self._nccl = nccl.NcclCommunicator(self.size, uid, self.rank)
        return self._nccl

    @staticmethod
    def _nccl_args(array: Any) -> tuple[int, int, int]:
        import cupy
        from cupy.cuda import nccl

        if not array.flags.c_contiguous or array.dtype.name not in _NCCL_TYPES:
            raise TypeError(f"NCCL collectives take contiguous {', '.join(_NCCL_TYPES)} arrays, got {array.dtype}")
        return array.size, getattr(nccl, _NCCL_TYPES[array.dtype.name]), cupy.cuda.get_current_stream().ptr
