"""The data pipeline: reading and validating parallel text, the token cache, batching, iterator state."""

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import seqkit.layers as L
from seqkit import corpora
from seqkit.data import (
    PAD,
    BatchIterator,
    ParallelData,
    ReadStats,
    load_parallel,
    normalize,
    pad,
    read_lines,
    read_parallel,
)
from seqkit.errors import UserError
from seqkit.tokenizers import SentencePieceTokenizer, WhitespaceTokenizer

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpora"
needs_multi30k = pytest.mark.skipif(
    not (SHARED / "multi30k").is_dir(), reason=f"Multi30k is not in {SHARED / 'multi30k'} (it is never bundled)"
)


def write(path: Path, lines, *, gz=False, raw: bytes | None = None) -> Path:
    data = raw if raw is not None else "".join(f"{line}\n" for line in lines).encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@pytest.fixture
def whitespace():
    tok = WhitespaceTokenizer()
    tok.train(["a b c d e f g", "ein zwei drei vier"])
    return tok


# ---- reading and validating -------------------------------------------------------------------------------


def test_normalize_makes_nfc_and_single_spaces():
    assert normalize("  Cafe\u0301 \t au\u00a0lait\u2028 ok\r ") == "Café au lait ok"
    assert normalize("\n") == ""


def test_gzip_is_recognised_by_content_and_bom_and_line_ends_are_dropped(tmp_path):
    path = write(tmp_path / "plain-name.txt", [], gz=True, raw="\ufeffeins\r\nzwei\n\ndrei".encode())
    assert list(read_lines(path)) == ["eins", "zwei", "", "drei"]


def test_parallel_reading_normalises_and_skips_and_counts_empty_pairs(tmp_path):
    src = write(tmp_path / "s.gz", ["Hallo  Welt", "", "gut", "  "], gz=True)
    tgt = write(tmp_path / "t", ["hello world", "x", "", "y"])
    stats = ReadStats()
    assert list(read_parallel(src, tgt, stats=stats)) == [("Hallo Welt", "hello world")]
    assert stats == ReadStats(pairs=4, empty=3)
    with pytest.raises(UserError, match=rf"^{tmp_path / 's.gz'}:2: empty line"):
        list(read_parallel(src, tgt, empty="error"))
    with pytest.raises(UserError, match="empty must be one of skip, error"):
        list(read_parallel(src, tgt, empty="keep"))


@pytest.mark.parametrize("src_lines, tgt_lines", [(3, 5), (5, 3)])
def test_different_line_counts_name_both_files_and_both_counts(tmp_path, src_lines, tgt_lines):
    src = write(tmp_path / "train.de", [f"s{i}" for i in range(src_lines)])
    tgt = write(tmp_path / "train.en.gz", [f"t{i}" for i in range(tgt_lines)], gz=True)
    with pytest.raises(UserError) as info:
        list(read_parallel(src, tgt))
    assert str(info.value) == (
        f"source and target differ in length: {src} has {src_lines} lines, {tgt} has {tgt_lines}"
    )


def test_invalid_utf8_names_the_file_and_line(tmp_path):
    src = write(tmp_path / "s", [], raw=b"ok\nalso ok\nbad \xff byte\n")
    tgt = write(tmp_path / "t", ["a", "b", "c"])
    with pytest.raises(UserError, match=rf"^{src}:3: invalid UTF-8 \(byte 0xff at byte 5 of the line\)$"):
        list(read_parallel(src, tgt))


def test_missing_and_broken_files_are_user_errors(tmp_path):
    with pytest.raises(UserError, match=r"nope\.txt: cannot open it"):
        list(read_lines(tmp_path / "nope.txt"))
    broken = tmp_path / "broken.gz"
    broken.write_bytes(gzip.compress(b"a\nb\n" * 1000)[:-20])
    with pytest.raises(UserError, match=r"broken\.gz: unreadable after line"):
        list(read_lines(broken))


# ---- tokenising once, the cache, length filtering ---------------------------------------------------------


def test_load_filters_by_length_and_reports(tmp_path, whitespace):
    src = write(tmp_path / "s", ["a b", "a b c d e f g", "", "c"])
    tgt = write(tmp_path / "t", ["ein", "zwei", "drei", "vier zwei"])
    data = load_parallel(src, tgt, whitespace, whitespace, max_len=4)
    assert len(data) == 2
    a, b, c, ein, vier, zwei = (whitespace.vocab.id(w) for w in ("a", "b", "c", "ein", "vier", "zwei"))
    assert data[0][0].tolist() == [a, b] and data[0][1].tolist() == [ein]
    assert data[1][0].tolist() == [c] and data[1][1].tolist() == [vier, zwei]
    r = data.report
    assert (r.pairs, r.empty, r.too_long, r.kept, r.cache_hit) == (4, 1, 1, 2, False)
    assert str(r) == "4 pairs read, 1 with an empty side skipped, 1 over 4 tokens dropped, 2 kept (tokenised)"
    with pytest.raises(ValueError, match="read-only"):
        data.src_ids[0] = 5


def test_token_cache_hits_and_is_invalidated_by_a_new_corpus_or_tokenizer(tmp_path, whitespace):
    src = write(tmp_path / "s", ["a b", "c d e"])
    tgt = write(tmp_path / "t", ["ein", "zwei drei"])
    cache = tmp_path / "cache"
    first = load_parallel(src, tgt, whitespace, whitespace, cache_dir=cache)
    second = load_parallel(src, tgt, whitespace, whitespace, cache_dir=cache, max_len=2)
    assert not first.report.cache_hit and second.report.cache_hit and second.report.too_long == 1
    assert load_parallel(src, tgt, whitespace, whitespace, cache_dir=cache).fingerprint() == first.fingerprint()
    write(tmp_path / "t", ["ein", "vier drei"])  # corpus changed
    changed = load_parallel(src, tgt, whitespace, whitespace, cache_dir=cache)
    assert not changed.report.cache_hit and changed[1][1].tolist()[0] == whitespace.vocab.id("vier")
    retrained = WhitespaceTokenizer()
    retrained.train(["vier drei zwei ein a b c d e"])  # same words, other ids
    again = load_parallel(src, tgt, retrained, retrained, cache_dir=cache)
    assert not again.report.cache_hit and again[0][0].tolist() == [retrained.vocab.id("a"), retrained.vocab.id("b")]
    assert len(list(cache.iterdir())) == 3


def test_a_damaged_cache_file_is_rebuilt(tmp_path, whitespace):
    src, tgt = write(tmp_path / "s", ["a b"]), write(tmp_path / "t", ["ein"])
    first = load_parallel(src, tgt, whitespace, whitespace, cache_dir=tmp_path / "cache")
    (cache_file,) = (tmp_path / "cache").iterdir()
    cache_file.write_bytes(b"garbage")
    again = load_parallel(src, tgt, whitespace, whitespace, cache_dir=tmp_path / "cache")
    assert not again.report.cache_hit and again.fingerprint() == first.fingerprint()
    assert load_parallel(src, tgt, whitespace, whitespace, cache_dir=tmp_path / "cache").report.cache_hit


# ---- batching ---------------------------------------------------------------------------------------------


def toy_data(src_lengths, tgt_lengths) -> ParallelData:
    """Pair i's sequences are filled with i, so a batch shows which pairs it holds."""
    return ParallelData.from_sequences([[i] * n for i, n in enumerate(src_lengths)],
                                       [[i] * n for i, n in enumerate(tgt_lengths)])  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 30), st.integers(1, 30)), min_size=1, max_size=120),
    st.integers(30, 400),
    st.one_of(st.none(), st.integers(1, 16)),
    st.integers(0, 2**32 - 1),
    st.booleans(),
)
def test_every_pair_once_per_epoch_and_no_batch_over_the_budget(lengths, max_tokens, max_sentences, seed, shuffle):
    data = toy_data(*zip(*lengths))
    it = BatchIterator(data, max_tokens, max_sentences=max_sentences, seed=seed, shuffle=shuffle)
    for epoch in range(2):
        seen = []
        for _ in range(len(it)):
            batch = next(it)
            assert batch.cost <= max_tokens and (max_sentences is None or len(batch) <= max_sentences)
            for i, s, t in zip(batch.indices.tolist(), batch.src, batch.tgt):
                assert set(s.tolist()) == {i} and set(t.tolist()) == {i}
            seen.extend(batch.indices.tolist())
        assert sorted(seen) == list(range(len(data)))
        assert it.epoch == epoch + 1 and it.position == 0 and it.is_new_epoch


def test_batches_are_bucketed_by_length_and_shuffled_by_seed():
    rng = np.random.default_rng(0)
    data = toy_data(rng.integers(1, 40, 500), rng.integers(1, 40, 500))
    it = BatchIterator(data, 400, seed=1)
    epoch0 = [b.indices.tolist() for b in (next(it) for _ in range(len(it)))]
    epoch1 = [b.indices.tolist() for b in (next(it) for _ in range(len(it)))]
    assert epoch0 != epoch1
    assert epoch0 == [b.tolist() for b in BatchIterator(data, 400, seed=1).epoch_batches(0)]
    assert epoch0 != [b.tolist() for b in BatchIterator(data, 400, seed=2).epoch_batches(0)]
    costs = np.maximum(data.src_lengths, data.tgt_lengths)
    assert sum(len(b) * costs[b].max() for b in map(np.array, epoch0)) < 1.1 * costs.sum()  # little padding
    ordered = BatchIterator(data, 400, shuffle=False, repeat=False)
    in_order = [costs[i] for b in ordered for i in b.indices]
    assert in_order == sorted(in_order) and ordered.epoch == 1
    with pytest.raises(StopIteration):
        next(ordered)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 60), st.integers(0, 2**16))
def test_iterator_state_round_trips_with_identical_following_batches(steps, seed):
    rng = np.random.default_rng(7)
    data = toy_data(rng.integers(1, 20, 200), rng.integers(1, 20, 200))
    original = BatchIterator(data, 120, seed=seed)
    for _ in range(steps):
        next(original)
    state = json.loads(json.dumps(original.state_dict()))
    resumed = BatchIterator(data, 120, seed=12345)  # the seed comes from the state
    resumed.load_state_dict(state)
    assert resumed.epoch_detail == original.epoch_detail
    for _ in range(len(original) + 3):  # across an epoch boundary
        a, b = next(original), next(resumed)
        assert a.indices.tolist() == b.indices.tolist()
        assert all(np.array_equal(x, y) for x, y in zip(a.src + a.tgt, b.src + b.tgt))


def test_state_for_other_data_or_settings_is_refused():
    data = toy_data([1, 2, 3], [3, 2, 1])
    state = BatchIterator(data, 10).state_dict()
    with pytest.raises(ValueError, match="max_tokens=10, but this iterator has 20"):
        BatchIterator(data, 20).load_state_dict(state)
    with pytest.raises(ValueError, match="data="):
        BatchIterator(toy_data([1, 2, 4], [3, 2, 1]), 10).load_state_dict(state)
    with pytest.raises(ValueError, match="bad epoch/position"):
        BatchIterator(data, 10).load_state_dict({**state, "position": 99})


def test_budget_below_the_longest_pair_and_empty_data_are_user_errors():
    with pytest.raises(UserError, match=r"max_tokens 5 is less than the longest pair \(7 tokens\)"):
        BatchIterator(toy_data([7, 2], [1, 2]), 5)
    with pytest.raises(UserError, match="no sentence pairs"):
        BatchIterator(toy_data([], []), 5)


def test_padded_batches_feed_embedding_and_lstm_in_both_forms():
    data = toy_data([3, 1, 2], [2, 4, 1])
    batch = next(BatchIterator(data, 100, shuffle=False))
    ids, lengths = batch.padded("tgt")
    assert ids.dtype == np.int32 and ids.shape == (3, 4) and lengths.tolist() == [len(t) for t in batch.tgt]
    assert all((row[n:] == PAD).all() for row, n in zip(ids, lengths))
    assert pad([])[0].shape == (0, 0)
    embed, lstm = L.Embedding(10, 6, padding_idx=PAD), L.LSTM(6, 5)
    ys_padded, _ = lstm(embed(ids), lengths=lengths)
    ys_list, _ = lstm([embed(t) for t in batch.tgt])
    assert ys_padded.shape == (3, 4, 5)
    for row, y, n in zip(ys_padded.array, ys_list, lengths):
        np.testing.assert_allclose(row[:n], y.array, rtol=1e-5, atol=1e-6)


# ---- Multi30k end to end ----------------------------------------------------------------------------------


@needs_multi30k
def test_multi30k_train_tokenised_cached_and_batched(tmp_path):
    m = {m.name: m for m in corpora.builtin_manifests()}["multi30k"]
    src, tgt = corpora.split_paths(m, "train", data=SHARED, download=False)
    tok = SentencePieceTokenizer(vocab_size=2000, model_type="bpe")
    tok.train([s for pair in read_parallel(src, tgt) for s in pair])
    data = load_parallel(src, tgt, tok, tok, max_len=60, cache_dir=tmp_path)
    assert data.report.pairs == 29000 and data.report.kept + data.report.too_long == 29000
    assert load_parallel(src, tgt, tok, tok, max_len=60, cache_dir=tmp_path).report.cache_hit
    it = BatchIterator(data, 3000, seed=0)
    seen = np.concatenate([next(it).indices for _ in range(len(it))])
    assert np.array_equal(np.sort(seen), np.arange(len(data)))
    first = next(read_parallel(src, tgt))
    assert tok.decode(data[0][0]) == first[0] and tok.decode(data[0][1]) == first[1]
