"""Vectorised helpers of the generator: seeded streams, weighted draws, ids, fake words, strings.

Each part of the world draws from its own seeded stream, so one part's draws never shift another's.
"""

from __future__ import annotations

import itertools

import numpy as np

_STREAM = {"artists": 1, "names": 2, "tracks": 3, "listeners": 4, "scrobbles": 5}

_ONSETS = ("b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w")
_ONSETS += ("z", "br", "ch", "dr", "tr")  # no "st"/"sh": "bas"+"ta" would equal "ba"+"sta"
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ou")
_CODAS = ("", "n", "r", "l", "s")
_SYLLABLES = np.array(
    ["".join(p) for p in itertools.product(_ONSETS, _VOWELS, _CODAS)], dtype=np.dtypes.StringDType()
)
_N_SYL = len(_SYLLABLES)

_BASE62 = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", np.uint8)
_SD = np.dtypes.StringDType()


def _rng(seed: int, stream: str, *extra: int) -> np.random.Generator:
    """An independent generator per part, so one part's draws never shift another's."""
    return np.random.default_rng(np.random.SeedSequence([seed, _STREAM[stream], *extra]))


def _weighted_pick(rng: np.random.Generator, weights: np.ndarray, k: int) -> np.ndarray:
    """Indices of ``k`` items drawn without replacement with probability ~ weights (Gumbel top-k)."""
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    keys = np.log(np.maximum(weights, 1e-300)) + rng.gumbel(size=len(weights))
    top = np.argpartition(-keys, k - 1)[:k]
    return np.sort(top)


def _allocate(total: int, weights: np.ndarray, minimum: int) -> np.ndarray:
    """Integer counts >= minimum summing exactly to total, proportional to weights (largest rest)."""
    n = len(weights)
    extra = total - minimum * n
    if extra < 0:
        raise ValueError(f"cannot give {n} items at least {minimum} out of {total}")
    raw = weights / weights.sum() * extra
    counts = np.floor(raw).astype(np.int64)
    rest = extra - int(counts.sum())
    if rest:
        order = np.argsort(-(raw - counts), kind="stable")
        counts[order[:rest]] += 1
    return counts + minimum


def _segment_cdf(weights: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Cumulative table for sampling inside contiguous segments of ``weights``.

    ``np.searchsorted(cdf, seg + u, side="right")`` with ``u`` uniform in [0, 1) returns an index in
    segment ``seg`` drawn with probability proportional to its weight. Every segment needs a positive
    total.
    """
    seg_of = np.repeat(np.arange(len(lengths)), lengths)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    totals = np.add.reduceat(weights, starts)
    if np.any(totals <= 0):
        raise ValueError("a sampling segment has no positive weight")
    norm = weights / totals[seg_of]
    cs = np.cumsum(norm)
    local = cs - (cs[starts] - norm[starts])[seg_of]
    local = np.clip(local, 0.0, 1.0)
    local[starts + lengths - 1] = 1.0
    return seg_of + local


def _draw(cdf: np.ndarray, seg: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One weighted draw per entry of ``seg`` from a :func:`_segment_cdf` table."""
    query = seg + rng.random(len(seg)) * (1.0 - 1e-8)  # stays below seg + 1 after rounding
    if len(query) < 10_000:
        idx = np.searchsorted(cdf, query, side="right")
    else:  # sorted queries make the binary searches cache-friendly (5x faster on big tables)
        order = np.argsort(query)
        idx = np.empty(len(query), dtype=np.int64)
        idx[order] = np.searchsorted(cdf, query[order], side="right")
    return np.minimum(idx, len(cdf) - 1)


def _base62_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` random 22-character base62 ids (Spotify's shape)."""
    codes = rng.integers(0, 62, size=(n, 22), dtype=np.uint8)
    raw = np.ascontiguousarray(_BASE62[codes]).view("S22").ravel()
    return raw.astype("U22").astype(_SD)


def _words(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` capitalised two-syllable fake words, plus their syllables."""
    a = _SYLLABLES[rng.integers(0, _N_SYL, n)]
    b = _SYLLABLES[rng.integers(0, _N_SYL, n)]
    return np.strings.capitalize(np.strings.add(a, b)), a, b


def _s(*parts: np.ndarray | str) -> np.ndarray:
    """Element-wise string concatenation."""
    out = np.asarray(parts[0], dtype=_SD)
    for part in parts[1:]:
        out = np.strings.add(out, np.asarray(part, dtype=_SD))
    return out
