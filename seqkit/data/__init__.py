"""The data pipeline: read parallel text (plain or gzip'd, streamed), validate, normalise, tokenise once
(cached), filter by length, batch by a token budget with length bucketing, shuffle with a seed, pad, and
resume exactly from a saved iterator state.

``load_parallel(src, tgt, source_tokenizer, target_tokenizer, max_len=..., cache_dir=...)`` ->
``ParallelData``; ``BatchIterator(data, max_tokens, seed=...)`` -> ``Batch`` objects whose ``src``/``tgt``
are lists of id arrays (``padded()`` gives ``(B, T)`` + lengths). ``Vocabulary`` and the special ids are
``seqkit.tokenizers``' (re-exported here): data uses tokenizers, never the other way round.
"""

from seqkit.data.batching import Batch, BatchIterator, pad
from seqkit.data.dataset import DataReport, ParallelData, load_parallel
from seqkit.data.text import ReadStats, decode_lines, normalize, open_binary, read_lines, read_parallel
from seqkit.tokenizers.vocab import BOS, EOS, PAD, SPECIALS, UNK, Vocabulary

__all__ = [
    "BOS", "Batch", "BatchIterator", "DataReport", "EOS", "PAD", "ParallelData", "ReadStats", "SPECIALS", "UNK",
    "Vocabulary", "decode_lines", "load_parallel", "normalize", "open_binary", "pad", "read_lines", "read_parallel",
]  # fmt: skip
