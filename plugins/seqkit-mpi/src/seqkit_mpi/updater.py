"""The ``mpi`` updater: synchronous data-parallel SGD, ChainerMN's design.

Every process holds the whole model and the same batch iterator (same data, seed and position), whose
batches seqkit sizes at ``max_tokens`` per process. Each step, process ``r`` of ``n`` takes every ``n``-th
sentence pair of the batch from the ``r``-th on (the batch is sorted by length, so the shares are alike),
backpropagates the mean loss over its target tokens, weights that gradient by its share of the batch's
tokens, and the gradients are summed over the processes in one all-reduce of the optimizer's packed gradient
buffer (one call per step, not one per parameter), giving the gradient of the batch's mean loss. Every
process then applies the same update to the same parameters: the update one process would make on the whole
batch, to floating-point rounding.

Because the shares are a function of the shared iterator and the rank, the iterator's state is the same
on every rank and a snapshot written by rank 0 resumes every rank exactly; the number of processes is
saved with it, and resuming with another number is refused (it would change the batches).
"""

from __future__ import annotations

import time
from typing import Any

import numpy
from seqkit import distributed
from seqkit.errors import UserError
from seqkit.training import Updater


class MPIUpdater(Updater):
    """One batch per step, shared out over the processes of ``comm`` (the process's communicator by default)."""

    data_parallel = True

    def __init__(self, iterator, model, optimizer, schedule=None, *, comm: distributed.Communicator | None = None):
        super().__init__(iterator, model, optimizer, schedule)
        self.comm = comm or distributed.current()
        self.allreduce_seconds = 0.0  # time spent in the gradient all-reduce, for benchmarks/mpi.py
        for group in optimizer.flat.groups:  # every rank starts from rank 0's parameters
            self.comm.bcast_array(group.data)

    def update(self) -> dict[str, Any]:
        batch = next(self.iterator)
        rank, size = self.comm.rank, self.comm.size
        src, tgt = batch.src[rank::size], batch.tgt[rank::size]
        optimizer = self.optimizer
        optimizer.zero_grads()  # gradients accumulate straight into the packed buffer
        xp = optimizer.flat.groups[0].xp
        loss_sum, counts = xp.zeros(1, numpy.float64), numpy.zeros(2, numpy.int64)  # counts: tokens, sentences
        if src:  # a batch of fewer pairs than processes leaves some without a share
            loss, n = self.model.loss(src, tgt)
            (loss if self.scaler is None else loss * self.scaler.scale).backward()
            loss_sum += loss.data * n
            counts[:] = n, len(src)
        optimizer.flat.gather_grads()
        start = time.perf_counter()
        local_tokens = int(counts[0])
        self.comm.allreduce(counts)
        tokens, sentences = int(counts[0]), int(counts[1])
        for group in optimizer.flat.groups:
            if local_tokens != tokens:  # this share's mean gradient, weighted by its share of the tokens
                group.grad *= local_tokens / tokens
            self.comm.allreduce(group.grad)
        self.comm.allreduce(loss_sum)
        self.allreduce_seconds += time.perf_counter() - start
        self.finish_step()  # the gradients, hence the loss scaler's answer, are the same on every rank
        return {"loss": loss_sum[0] / tokens, "tokens": tokens, "sentences": sentences}

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "processes": self.comm.size}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        saved = state.get("processes", 1)
        if saved != self.comm.size:
            raise UserError(
                f"the snapshot was written by a run of {saved} process(es); resume it with mpirun -n {saved} "
                f"(this run has {self.comm.size}), or start a new run directory"
            )
        super().load_state_dict(state)
