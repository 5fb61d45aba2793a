"""Greedy search, beam search and sampling over the decoding interface (``encode``, ``initial_state``, ``step``,
``for_decoding``).

All are batched over sentences: one ``step`` call per time step for the whole batch (``B * beam`` rows, or
``B * nbest`` samples), and sentences that are done leave the batch (``DecoderState.select``). Only the
bookkeeping of finished hypotheses touches Python per event. Beam search compares finished hypotheses with
the best score any open one could still reach under the length penalty, so it stops exactly when no open
hypothesis can win.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy

from seqkit.backend import get_array_module, to_device
from seqkit.config import no_grad, using_config
from seqkit.core.autograd import as_variable
from seqkit.decoding.state import EnsembleState

LENGTH_PENALTIES = ("none", "gnmt", "normalize")


@dataclasses.dataclass
class Hypothesis:
    """One output: ``tokens`` (no BOS/EOS), ``score`` (length-penalised), ``log_prob`` (sum), and the
    attention weights ``(steps, S)`` when they were kept: one row per decoder step, so ``len(tokens) + 1`` rows
    (the last for EOS) when the hypothesis ended at EOS, ``len(tokens)`` when it reached its maximum length."""

    tokens: list[int]
    score: float
    log_prob: float
    attention: numpy.ndarray | None = None


def length_penalty(kind: str, alpha: float, length: numpy.ndarray | int) -> Any:
    """The divisor of a hypothesis' log-probability: 1 (``none``), ``((5 + L) / 6) ** alpha`` (``gnmt``,
    Wu et al. 2016), or ``L`` (``normalize``)."""
    if kind == "gnmt":
        return ((5.0 + numpy.asarray(length, dtype=float)) / 6.0) ** alpha
    if kind == "normalize":
        return numpy.asarray(length, dtype=float)
    if kind == "none":
        return numpy.ones_like(numpy.asarray(length, dtype=float))
    raise ValueError(f"length_penalty must be one of {LENGTH_PENALTIES}, got {kind!r}")


def max_lengths(src: Sequence, ratio: float, offset: int) -> numpy.ndarray:
    """The longest output of each source sentence: ``int(len(source) * ratio + offset)``, at least 1 token."""
    return (numpy.array([len(s) for s in src], dtype=float) * ratio + offset).astype(int).clip(min=1)


#: Decoder rows (hypotheses x steps, at most) from which a search decodes with ``model.for_decoding()``: deriving
#: the weight layouts takes about as long as a few dozen rows of decoding win back (docs/performance.md).
PREPARE_ROWS = 64


def for_search(model, src: Sequence, beam: int, max_len_ratio: float, max_len_offset: int):
    """``model.for_decoding()`` when a search of ``src`` with ``beam`` hypotheses per sentence may run at least
    ``PREPARE_ROWS`` decoder rows; ``model`` itself otherwise."""
    rows = int(max_lengths(src, max_len_ratio, max_len_offset).sum()) * beam
    return model.for_decoding() if rows >= PREPARE_ROWS else model


def _host(a) -> numpy.ndarray:
    return to_device(getattr(a, "data", a), "cpu")


def _argmax(logp, rows: numpy.ndarray, t: int) -> tuple[numpy.ndarray, numpy.ndarray]:
    best = logp.argmax(axis=1)
    return _host(best), _host(logp[get_array_module(logp).arange(len(best)), best])


def _sequential(model, src: Sequence, n: int, choose, max_len_ratio: float, max_len_offset: int,
                keep_attention: bool) -> list[list[Hypothesis]]:  # fmt: skip
    """``n`` hypotheses per sentence, each a row of its own that takes one token per step: the token
    ``choose(logp, rows, t)`` picks (``logp`` the step's log-probabilities on the model's device, one line per
    active row, ``rows`` the numbers of those rows, ``r // n`` their sentence; it returns the tokens and their
    log-probabilities, on the host). A row ends at EOS or at its sentence's maximum length."""
    if len(src) == 0:
        return []
    with no_grad(), using_config("train", False):
        R = len(src) * n
        max_len = numpy.repeat(max_lengths(src, max_len_ratio, max_len_offset), n)
        state = model.initial_state(model.encode(src))
        if n > 1:
            state = state.select(numpy.repeat(numpy.arange(len(src)), n))
        active = numpy.arange(R)
        prev = numpy.full(R, model.bos_id)
        tokens = [[] for _ in range(R)]
        scores = numpy.zeros(R)
        attention = [[] for _ in range(R)]
        results: list[Hypothesis | None] = [None] * R
        for t in range(int(max_len.max(initial=0))):
            logp, state = model.step(state, prev)
            best, best_lp = choose(logp.data, active, t)
            weights = _host(state.attention) if keep_attention and state.attention is not None else None
            done = numpy.zeros(len(active), dtype=bool)
            for i, b in enumerate(active):
                scores[b] += best_lp[i]
                if weights is not None:
                    attention[b].append(weights[i])
                if best[i] == model.eos_id or t + 1 >= max_len[b]:
                    done[i] = True
                    if best[i] != model.eos_id:
                        tokens[b].append(int(best[i]))
                    att = numpy.stack(attention[b])[:, : len(src[b // n])] if weights is not None else None
                    results[b] = Hypothesis(tokens[b], float(scores[b]), float(scores[b]), att)
                else:
                    tokens[b].append(int(best[i]))
            if done.all():
                break
            keep = numpy.nonzero(~done)[0]
            if done.any():
                state = state.select(keep)
            active, prev = active[keep], best[keep]
        return [results[i * n : (i + 1) * n] for i in range(len(src))]


def greedy_search(
    model, src: Sequence, *, max_len_ratio: float = 2.0, max_len_offset: int = 10, keep_attention: bool = False
) -> list[Hypothesis]:
    """The most probable token at every step, for each source sentence (a list of id arrays)."""
    model = for_search(model, src, 1, max_len_ratio, max_len_offset)
    found = _sequential(model, src, 1, _argmax, max_len_ratio, max_len_offset, keep_attention)
    return [hyps[0] for hyps in found]


def beam_search(
    model,
    src: Sequence,
    *,
    beam: int = 5,
    nbest: int = 1,
    length_penalty_kind: str = "gnmt",
    alpha: float = 0.6,
    max_len_ratio: float = 2.0,
    max_len_offset: int = 10,
    keep_attention: bool = False,
) -> list[list[Hypothesis]]:
    """The ``nbest`` best hypotheses per source sentence (best first) under a beam of ``beam``; a beam of 1 is
    exactly ``greedy_search``.

    Scores are ``log_prob / length_penalty(length)``, length counting EOS. A sentence stops when its
    ``nbest``-th finished hypothesis beats the best score an open one could still reach (its log-probability
    can only fall; the penalty is largest at the maximum length ``len(src) * max_len_ratio + max_len_offset``),
    or at that maximum length.
    """
    if beam < 1 or not 1 <= nbest <= beam:
        raise ValueError(f"need beam >= 1 and 1 <= nbest <= beam, got beam={beam}, nbest={nbest}")
    length_penalty(length_penalty_kind, alpha, 1)  # validates the kind
    if len(src) == 0:
        return []
    if beam == 1:  # exactly greedy search; the score is penalised for the hypothesis' steps (EOS counted)
        found = greedy_search(model, src, max_len_ratio=max_len_ratio, max_len_offset=max_len_offset,
                              keep_attention=keep_attention)  # fmt: skip
        steps = numpy.minimum([len(h.tokens) + 1 for h in found], max_lengths(src, max_len_ratio, max_len_offset))
        for h, lp in zip(found, length_penalty(length_penalty_kind, alpha, steps)):
            h.score = h.log_prob / float(lp)
        return [[h] for h in found]
    model = for_search(model, src, beam, max_len_ratio, max_len_offset)
    with no_grad(), using_config("train", False):
        xp = model.xp
        B, K = len(src), beam
        max_len = max_lengths(src, max_len_ratio, max_len_offset)
        best_possible_lp = length_penalty(length_penalty_kind, alpha, max_len)
        state = model.initial_state(model.encode(src))
        scores = numpy.zeros((B, 1))  # one hypothesis per sentence at first; up to K after the first step
        history = numpy.zeros((B, 1, 0), dtype=numpy.int64)
        att_history = None
        active = numpy.arange(B)
        prev = numpy.full(B, model.bos_id)
        finished: list[list[Hypothesis]] = [[] for _ in range(B)]
        kth_best = numpy.full(B, -numpy.inf)  # the nbest-th best finished score per sentence
        ranks = numpy.arange(2 * K)
        for t in range(int(max_len.max())):
            logp, state = model.step(state, prev)
            n, k = scores.shape  # k: open hypotheses per sentence
            V = logp.shape[1]
            total = xp.asarray(scores, dtype=logp.dtype)[:, :, None] + logp.data.reshape(n, k, V)
            width = min(2 * K, k * V)
            top, top_scores = _top(total, width, xp)
            parent, token = top // V, top % V
            is_eos = token == model.eos_id
            at_limit = t + 1 >= max_len[active]
            weights = None
            if keep_attention and state.attention is not None:
                weights = _host(state.attention).reshape(n, k, -1)
                step_att = numpy.take_along_axis(weights, parent[:, :, None], axis=1)  # (n, 2K, S)
            # finished hypotheses: EOS within the first K candidates; every first-K candidate at the limit
            ends = (is_eos | at_limit[:, None]) & (ranks[:width] < K) & numpy.isfinite(top_scores)
            for i, j in zip(*numpy.nonzero(ends)):
                b = active[i]
                toks = history[i, parent[i, j]].tolist() + ([] if is_eos[i, j] else [int(token[i, j])])
                raw = float(top_scores[i, j])
                score = raw / float(length_penalty(length_penalty_kind, alpha, t + 1))
                att = None
                if weights is not None:
                    past = numpy.zeros((0, weights.shape[2])) if att_history is None else att_history[i, parent[i, j]]
                    att = numpy.concatenate([past, step_att[i, j][None]], axis=0)[:, : len(src[b])]
                finished[b].append(Hypothesis(toks, score, raw, att))
                if len(finished[b]) >= nbest:
                    kth_best[b] = sorted((h.score for h in finished[b]), reverse=True)[nbest - 1]
            # open hypotheses: the best K candidates that are not EOS (there are at least K of them)
            open_scores = numpy.where(is_eos, -numpy.inf, top_scores)
            pick = numpy.argsort(-open_scores, axis=1, kind="stable")[:, :K]
            new_scores = numpy.take_along_axis(open_scores, pick, axis=1)
            new_parent = numpy.take_along_axis(parent, pick, axis=1)
            new_token = numpy.take_along_axis(token, pick, axis=1)
            bound = new_scores.max(axis=1)
            current_lp = length_penalty(length_penalty_kind, alpha, t + 1)
            bound = bound / numpy.where(bound < 0, best_possible_lp[active], current_lp)
            done = at_limit | (kth_best[active] >= bound)
            if done.all():
                break
            keep = numpy.nonzero(~done)[0]
            rows = (keep[:, None] * k + new_parent[keep]).ravel()
            state = state.select(rows)
            history = numpy.concatenate(
                [numpy.take_along_axis(history, new_parent[:, :, None], axis=1), new_token[:, :, None]], axis=2
            )[keep]
            if weights is not None:
                moved = numpy.take_along_axis(weights, new_parent[:, :, None], axis=1)[:, :, None]
                if att_history is None:
                    att_history = moved
                else:
                    att_history = numpy.concatenate(
                        [numpy.take_along_axis(att_history, new_parent[:, :, None, None], axis=1), moved], axis=2
                    )
                att_history = att_history[keep]
            scores, active, prev = new_scores[keep], active[keep], new_token[keep].ravel()
        return [sorted(f, key=lambda h: -h.score)[:nbest] for f in finished]


def sample_search(
    model,
    src: Sequence,
    *,
    nbest: int = 1,
    seed: int = 0,
    truncate: Callable[[numpy.ndarray], numpy.ndarray] | None = None,
    temperature: float = 1.0,
    max_len_ratio: float = 2.0,
    max_len_offset: int = 10,
    keep_attention: bool = False,
) -> list[list[Hypothesis]]:
    """``nbest`` samples per source sentence, most probable first: at every step a token drawn from the model's
    distribution divided by ``temperature`` and cut by ``truncate`` (host log-probabilities ``(rows, V)`` to the
    same with the excluded tokens at ``-inf``). ``score`` and ``log_prob`` are the model's own log-probability.

    Sample ``j`` of a sentence draws its numbers from ``source_generator(seed, sentence, j)``, so the same seed
    gives the same samples, whatever else is in the batch.
    """
    if nbest < 1 or temperature <= 0:
        raise ValueError(f"need nbest >= 1 and temperature > 0, got nbest={nbest}, temperature={temperature}")
    model = for_search(model, src, nbest, max_len_ratio, max_len_offset)
    max_len = max_lengths(src, max_len_ratio, max_len_offset)
    uniform = numpy.zeros((len(src) * nbest, int(max_len.max(initial=0))))
    for r in range(len(uniform)):
        n = max_len[r // nbest]
        uniform[r, :n] = source_generator(seed, src[r // nbest], r % nbest).random(n)

    def draw(logp, rows: numpy.ndarray, t: int) -> tuple[numpy.ndarray, numpy.ndarray]:
        logp = _host(logp).astype(numpy.float64)
        cut = logp / temperature
        if truncate is not None:
            cut = truncate(cut)
        cdf = numpy.cumsum(numpy.exp(cut - cut.max(axis=1, keepdims=True)), axis=1)
        token = (cdf <= uniform[rows, t, None] * cdf[:, -1:]).sum(axis=1)
        return token, logp[numpy.arange(len(token)), token]

    found = _sequential(model, src, nbest, draw, max_len_ratio, max_len_offset, keep_attention)
    return [sorted(hyps, key=lambda h: -h.score) for hyps in found]


def force_decode(model, src: Sequence, tgt: Sequence) -> list[numpy.ndarray]:
    """The model's log-probability of each token of ``tgt[b]`` and of EOS after it, given ``src[b]`` (arrays of
    token ids, no source empty): one array of ``len(tgt[b]) + 1`` per sentence, in the model's dtype. The tokens
    are fed one step at a time as the searches feed theirs, so ``numpy.cumsum(lp)[-1]`` (a sum in that dtype,
    step by step) is the ``log_prob`` beam search reports for the same output."""
    if len(src) == 0:
        return []
    with no_grad(), using_config("train", False):
        xp, B = model.xp, len(src)
        steps = max(len(t) for t in tgt) + 1
        forced = numpy.full((B, steps), model.eos_id, dtype=numpy.int64)  # rows past their EOS go on with EOS
        for b, t in enumerate(tgt):
            forced[b, : len(t)] = t
        state = model.initial_state(model.encode(src))
        prev = numpy.full(B, model.bos_id)
        rows = xp.arange(B)
        found = []
        for t in range(steps):
            logp, state = model.step(state, prev)
            prev = forced[:, t]
            found.append(_host(logp.data[rows, xp.asarray(prev)]))
        logps = numpy.stack(found, axis=1)
        return [logps[b, : len(t) + 1] for b, t in enumerate(tgt)]


def source_generator(seed: int, source, sample: int = 0) -> numpy.random.Generator:
    """A NumPy generator for sample ``sample`` of the sentence ``source`` (its token ids) under ``seed``: a
    function of those alone, so a sentence draws the same numbers in any batch and any order."""
    return numpy.random.default_rng([seed, sample, len(source), *(int(t) for t in source)])


def _top(total, width: int, xp) -> tuple[numpy.ndarray, numpy.ndarray]:
    """The ``width`` best of each row's ``K * V`` candidates ``total`` (n, K, V), best first, on the host:
    ``(flat indices, scores)``, ties broken by the lower index.

    A full partition of every row is the slow part of beam search, so the candidates are first cut down by a
    threshold that keeps all of the best ``width``: the smallest of the maxima of each beam's two halves (those
    ``2K >= width`` values all reach it; one pass over the candidates). Where that does not hold (a row with a
    dead beam, ``-inf``; fewer than ``width / 2`` beams, as at the first step) the threshold is the exact
    ``width``-th value.
    """
    n, K, V = total.shape
    flat = total.reshape(n, K * V)
    if V > 1 and width <= 2 * K:
        half = (V + 1) // 2
        threshold = _host(xp.minimum(total[:, :, :half].max(axis=2), total[:, :, half:].max(axis=2)).min(axis=1))
    else:
        threshold = numpy.full(n, -numpy.inf, dtype=total.dtype)
    dead = ~numpy.isfinite(threshold)
    if dead.any():  # the width-th best of each beam's best width: partitions of V values, not of K * V
        sub = _host(total[xp.asarray(numpy.nonzero(dead)[0])])  # (NumPy's partition crawls over many -infs)
        w = min(width, V)
        best = numpy.partition(sub, V - w, axis=2)[:, :, V - w :].reshape(len(sub), K * w)
        threshold[dead] = numpy.partition(best, K * w - width, axis=1)[:, K * w - width]
    hits = _host(xp.flatnonzero(flat >= xp.asarray(threshold, dtype=flat.dtype)[:, None]))  # flat: no 2-D index pairs
    rows, cols = numpy.divmod(hits, K * V)
    vals = _host(flat[xp.asarray(rows), xp.asarray(cols)])
    order = numpy.lexsort((cols, -vals, rows))
    rows, cols, vals = rows[order], cols[order], vals[order]
    rank = numpy.arange(len(rows)) - numpy.searchsorted(rows, rows)
    keep = rank < width
    index = numpy.empty((n, width), dtype=numpy.int64)
    values = numpy.empty((n, width), dtype=vals.dtype)
    index[rows[keep], rank[keep]] = cols[keep]
    values[rows[keep], rank[keep]] = vals[keep]
    return index, values


class Ensemble:
    """Several models decoded as one: at every step the average of their next-token probabilities (a mixture,
    itself a distribution), as log-probabilities. The models must share vocabularies and BOS/EOS ids;
    attention weights are the first model's."""

    def __init__(self, models: Sequence) -> None:
        if not models:
            raise ValueError("an ensemble needs at least one model")
        ids = {(m.bos_id, m.eos_id) for m in models}
        if len(ids) != 1:
            raise ValueError(f"ensemble members disagree on BOS/EOS ids: {sorted(ids)}")
        self.models = list(models)
        self.bos_id, self.eos_id = models[0].bos_id, models[0].eos_id

    @property
    def xp(self):
        return self.models[0].xp

    def for_decoding(self) -> Ensemble:
        """The ensemble of the members' ``for_decoding()``."""
        return Ensemble([m.for_decoding() for m in self.models])

    def encode(self, src):
        return [m.encode(src) for m in self.models]

    def initial_state(self, encoded) -> EnsembleState:
        return EnsembleState([m.initial_state(e) for m, e in zip(self.models, encoded)])

    def step(self, state: EnsembleState, prev_tokens):
        outputs = [m.step(s, prev_tokens) for m, s in zip(self.models, state.members)]
        xp = self.xp
        logps = xp.stack([o[0].data for o in outputs])
        top = logps.max(axis=0)
        top = xp.where(xp.isfinite(top), top, 0)  # a token every member rules out stays at -inf
        with numpy.errstate(divide="ignore"):  # log(0): -inf for a token every member rules out
            logp = top + xp.log(xp.exp(logps - top).mean(axis=0))
        return as_variable(logp), EnsembleState([o[1] for o in outputs])



@dataclasses.dataclass
class PrefixState:
    """A ``Prefixed`` model's state: its model's, and each row's forced tokens ``(rows, P)`` (-1 past the
    prefix) with the number of steps taken ``t``."""

    inner: Any
    forced: numpy.ndarray
    t: int = 0

    @property
    def attention(self) -> Any:
        return self.inner.attention

    def select(self, index) -> PrefixState:
        return PrefixState(self.inner.select(index), self.forced[numpy.asarray(index)], self.t)


class Prefixed:
    """``model`` with each source's output forced to begin with a given prefix: while a row's prefix lasts,
    every token but the prefix's next one gets log-probability ``-inf`` (the prefix's keeps the model's own),
    so any search continues the prefix and scores it as the model does. ``prefixes[b]`` (token ids, may be
    empty) belongs to the ``b``-th source of the batch ``encode`` gets."""

    def __init__(self, model, prefixes: Sequence) -> None:
        self.model, self.prefixes = model, prefixes
        self.bos_id, self.eos_id = model.bos_id, model.eos_id
        width = max((len(p) for p in prefixes), default=0)
        self.forced = numpy.full((len(prefixes), width), -1, dtype=numpy.int64)
        for b, p in enumerate(prefixes):
            self.forced[b, : len(p)] = p

    @property
    def xp(self):
        return self.model.xp

    def for_decoding(self) -> Prefixed:
        return Prefixed(self.model.for_decoding(), self.prefixes)

    def encode(self, src):
        if len(src) != len(self.forced):
            raise ValueError(f"{len(self.forced)} prefixes for {len(src)} sources")
        return self.model.encode(src)

    def initial_state(self, encoded) -> PrefixState:
        return PrefixState(self.model.initial_state(encoded), self.forced)

    def step(self, state: PrefixState, prev_tokens):
        logp, inner = self.model.step(state.inner, prev_tokens)
        if state.t < state.forced.shape[1]:
            xp = self.xp
            token = xp.asarray(state.forced[:, state.t])
            forcing = token >= 0
            keep = xp.arange(logp.shape[1])[None, :] == token[:, None]
            logp = as_variable(xp.where(forcing[:, None] & ~keep, -numpy.inf, logp.data).astype(logp.dtype))
        return logp, PrefixState(inner, state.forced, state.t + 1)

__all__ = [
    "Ensemble", "Hypothesis", "LENGTH_PENALTIES", "PrefixState", "Prefixed", "beam_search", "for_search",
    "force_decode", "greedy_search", "length_penalty", "max_lengths", "sample_search", "source_generator",
]  # fmt: skip
