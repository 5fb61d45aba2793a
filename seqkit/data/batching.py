"""Batches by token budget with length bucketing, seeded shuffling, padding, and resumable iteration."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from seqkit.data.dataset import ParallelData
from seqkit.errors import UserError
from seqkit.tokenizers.vocab import PAD

STATE_FORMAT = 1


def pad(seqs: Sequence[np.ndarray], pad_id: int = PAD) -> tuple[np.ndarray, np.ndarray]:
    """``B`` id sequences -> a ``(B, T)`` ``int32`` array padded with ``pad_id`` and their lengths ``(B,)``
    ``int64``, ``T`` being the longest length: the padded form ``L.LSTM``/``L.GRU`` take with ``lengths``
    (after ``L.Embedding``, whose ``padding_idx`` keeps ``PAD`` rows at zero)."""
    lengths = np.fromiter(map(len, seqs), np.int64, len(seqs))
    out = np.full((len(seqs), int(lengths.max(initial=0))), pad_id, np.int32)
    for row, seq in zip(out, seqs):
        row[: len(seq)] = seq
    return out, lengths


@dataclass(frozen=True)
class Batch:
    """Sentence pairs of one batch: ``indices`` ``(B,)`` into the data, and the id arrays themselves.

    ``src`` and ``tgt`` are lists of ``B`` read-only ``int32`` arrays of shape ``(S_i,)`` / ``(T_i,)`` (the
    list form the recurrent layers take, after an embedding); ``padded`` gives the ``(B, T)`` + lengths form.
    """

    indices: np.ndarray
    src: list[np.ndarray]
    tgt: list[np.ndarray]

    def __len__(self) -> int:
        return len(self.indices)

    def padded(self, side: str = "src", pad_id: int = PAD) -> tuple[np.ndarray, np.ndarray]:
        """``side`` (``"src"`` or ``"tgt"``) as ``(B, T)`` ids and ``(B,)`` lengths (see ``pad``)."""
        if side not in ("src", "tgt"):
            raise ValueError(f"Batch.padded: side must be 'src' or 'tgt', got {side!r}")
        return pad(self.src if side == "src" else self.tgt, pad_id)

    @property
    def cost(self) -> int:
        """The batch's size against the token budget: ``B`` times its longest sequence on either side."""
        return len(self) * max(max(map(len, self.src)), max(map(len, self.tgt)))


def _bounds(costs: np.ndarray, max_tokens: int, max_sentences: int | None) -> list[int]:
    """Greedy cuts of a cost sequence into batches of ``len * max(cost) <= max_tokens`` (and at most
    ``max_sentences`` each): the start of every batch after the first."""
    bounds, start, longest = [], 0, 0
    limit = max_sentences or len(costs)
    for i, c in enumerate(costs.tolist()):
        longest = max(longest, c)
        if (i - start + 1) * longest > max_tokens or i - start == limit:
            bounds.append(i)
            start, longest = i, c
    return bounds


class BatchIterator:
    """Batches of ``data`` whose padded size (``Batch.cost``: pairs times the longest sequence, source or target)
    stays within ``max_tokens``, at most ``max_sentences`` pairs each.

    Each epoch, the pairs are sorted by their cost (the longer of their two sides), then source length, then
    target length, with ties broken at random; the sorted pairs are cut greedily into batches, and the batches
    are shuffled; the randomness of epoch ``e`` comes from a generator seeded with
    ``(seed, e)``, so the iterator's whole state is ``(seed, epoch, position)`` (``state_dict``), and a restored
    iterator yields exactly the batches the original would have. Without ``shuffle`` the batches come in
    length order. Every pair appears exactly once per epoch. With ``repeat`` the iterator never ends (``epoch``
    counts the epochs done); without, it stops after one epoch.

    Raises ``UserError`` when there is no data or a pair alone exceeds ``max_tokens``.
    """

    def __init__(
        self,
        data: ParallelData,
        max_tokens: int,
        *,
        max_sentences: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        repeat: bool = True,
    ) -> None:
        if len(data) == 0:
            raise UserError("BatchIterator: no sentence pairs to batch")
        if max_sentences is not None and max_sentences < 1:
            raise UserError(f"max_sentences must be a positive integer or None, got {max_sentences}")
        costs = np.maximum(data.src_lengths, data.tgt_lengths)
        if max_tokens < costs.max():
            raise UserError(
                f"max_tokens {max_tokens} is less than the longest pair ({int(costs.max())} tokens); "
                f"raise max_tokens or lower max_len"
            )
        self.data, self.max_tokens, self.max_sentences = data, max_tokens, max_sentences
        self.shuffle, self.seed, self.repeat = shuffle, seed, repeat
        self.epoch = 0
        self.position = 0
        self.is_new_epoch = False
        self._keys = (data.tgt_lengths, data.src_lengths, costs)  # np.lexsort sorts by the last key first
        self._bounds = _bounds(costs[np.lexsort(self._keys)], max_tokens, max_sentences)
        self._plan: tuple[int, list[np.ndarray]] | None = None

    def __len__(self) -> int:
        """Batches per epoch."""
        return len(self._bounds) + 1

    @property
    def epoch_detail(self) -> float:
        """Epochs done, with the fraction of the current one."""
        return self.epoch + self.position / len(self)

    def epoch_batches(self, epoch: int) -> list[np.ndarray]:
        """The pair indices of every batch of ``epoch``, in the order they are yielded."""
        if self._plan is None or self._plan[0] != epoch:
            if self.shuffle:
                rng = np.random.default_rng((self.seed, epoch))
                batches = np.split(np.lexsort((rng.random(len(self.data)), *self._keys)), self._bounds)
                batches = [batches[i] for i in rng.permutation(len(batches))]
            else:
                batches = np.split(np.lexsort(self._keys), self._bounds)
            self._plan = (epoch, batches)
        return self._plan[1]

    def __iter__(self) -> BatchIterator:
        return self

    def __next__(self) -> Batch:
        if not self.repeat and self.epoch >= 1:
            raise StopIteration
        indices = self.epoch_batches(self.epoch)[self.position]
        self.position += 1
        self.is_new_epoch = self.position == len(self)
        if self.is_new_epoch:
            self.epoch, self.position = self.epoch + 1, 0
        d = self.data
        so, to = d.src_offsets, d.tgt_offsets
        src = [d.src_ids[so[i] : so[i + 1]] for i in indices.tolist()]
        tgt = [d.tgt_ids[to[i] : to[i + 1]] for i in indices.tolist()]
        return Batch(indices, src, tgt)

    def state_dict(self) -> dict:
        """The iterator's state as a JSON-ready dict: epoch, position, seed, and what must match on restore."""
        return {
            "format": STATE_FORMAT, "epoch": self.epoch, "position": self.position, "seed": self.seed,
            "shuffle": self.shuffle, "max_tokens": self.max_tokens, "max_sentences": self.max_sentences,
            "data": self.data.fingerprint(),
        }  # fmt: skip

    def load_state_dict(self, state: dict) -> None:
        """Continue from ``state`` (from ``state_dict``), seed included. Raises ``ValueError`` naming the key when
        the state is for other data or other batching settings, or is malformed."""
        if state.get("format") != STATE_FORMAT:
            raise ValueError(f"iterator state format {state.get('format')!r}, expected {STATE_FORMAT}")
        for key, mine in (("data", self.data.fingerprint()), ("shuffle", self.shuffle),
                          ("max_tokens", self.max_tokens), ("max_sentences", self.max_sentences)):  # fmt: skip
            if state.get(key) != mine:
                raise ValueError(f"iterator state has {key}={state.get(key)!r}, but this iterator has {mine!r}")
        epoch, position, seed = state.get("epoch"), state.get("position"), state.get("seed")
        if not all(isinstance(v, int) for v in (epoch, position, seed)) or epoch < 0 or not 0 <= position < len(self):
            raise ValueError(f"iterator state: bad epoch/position/seed {epoch!r}/{position!r}/{seed!r}")
        self.epoch, self.position, self.seed = epoch, position, seed
        self.is_new_epoch = False
        self._plan = None


__all__ = ["Batch", "BatchIterator", "STATE_FORMAT", "pad"]
