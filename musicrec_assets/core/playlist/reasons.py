"""The "because" artist and the reason text of every playlist row."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import sparse

from ..grouping import coded, cumcount, dense_rank, first_rows, lexorder, pack
from .keys import _categorize, _positions, codes_of, labelled_codes, with_columns

# Audio features compared for the "because" artist, each divided by a fixed typical spread so
# the result does not depend on which artists happen to be in the table (page == batch).
SIMILARITY_SCALES = {
    "tempo": 30.0,
    "valence": 0.25,
    "energy": 0.25,
    "danceability": 0.2,
    "acousticness": 0.3,
}
SIMILARITY_FEATURES = tuple(SIMILARITY_SCALES)
BECAUSE_TOP_K = 5  # the listener's most-played artists considered as the "because" artist
GENRE_WEIGHT = 0.7  # share of genre cosine (vs audio closeness) in the "because" similarity


@dataclasses.dataclass(frozen=True)
class ArtistSpace:
    """Artist profiles as :func:`because_artists` compares them; the batch builds it once."""

    index: pd.Index  # artist → row of the arrays below
    audio: np.ndarray | None  # SIMILARITY_FEATURES in units of SIMILARITY_SCALES
    genres: sparse.csr_matrix | None  # genre shares scaled to unit length


def artist_space(profiles: pd.DataFrame) -> ArtistSpace:
    """The :class:`ArtistSpace` of ``profiles`` (first row per artist)."""
    prof = profiles.drop_duplicates("artist").reset_index(drop=True)
    features = [c for c in SIMILARITY_FEATURES if c in prof.columns]
    audio = None
    if features:
        scales = np.array([SIMILARITY_SCALES[c] for c in features])
        audio = prof[features].to_numpy(dtype=float) / scales
    genres = None
    if "genres" in prof.columns and "genre_shares" in prof.columns:
        flat = prof[["genres", "genre_shares"]].explode(["genres", "genre_shares"])
        flat = flat.dropna(subset=["genres"])
        if not flat.empty:
            # Genres numbered by name, so each artist's sums run in one order in every batch.
            codes, vocab = pd.factorize(flat["genres"], sort=True)
            matrix = sparse.csr_matrix(
                (flat["genre_shares"].to_numpy(dtype=float), (flat.index.to_numpy(), codes)),
                shape=(len(prof), len(vocab)),
            )
            norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
            genres = sparse.diags(1.0 / np.where(norms > 0, norms, 1.0)) @ matrix
    return ArtistSpace(pd.Index(prof["artist"]), audio, genres)


def _similarity_between(space: ArtistSpace, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``0.7·genre cosine + 0.3·audio closeness`` of the artists at rows ``a`` and ``b``."""
    sim = np.zeros(len(a))
    if space.audio is not None and len(a):
        # Feature by feature, summed left to right as ``.sum(axis=1)`` does over a few columns
        # (its per-row overhead dominated the batch's reason step).
        total, usable = np.zeros(len(a)), np.zeros(len(a), dtype=np.int64)
        for k in range(space.audio.shape[1]):
            column = space.audio[:, k]
            diff = column[a] - column[b]
            known = ~np.isnan(diff)
            total = total + np.where(known, diff**2, 0.0)
            usable += known
        dist = np.sqrt(total / np.maximum(usable, 1))
        sim += (1.0 - GENRE_WEIGHT) * np.where(usable > 0, 1.0 / (1.0 + dist), 0.0)
    if space.genres is not None and len(a):
        cosine = np.asarray(space.genres[a].multiply(space.genres[b]).sum(axis=1)).ravel()
        sim += GENRE_WEIGHT * cosine
    return sim


def because_artists(
    playlist: pd.DataFrame,
    history: pd.DataFrame,
    profiles: pd.DataFrame,
    top_k: int = BECAUSE_TOP_K,
    *,
    space: ArtistSpace | None = None,
) -> pd.DataFrame:
    """Add ``because``: for each recommended (user, artist), the listener's artist that best
    explains it (missing where there is none).

    Candidates are the listener's ``top_k`` most-played artists; the winner is the most similar
    by ``0.7·genre cosine + 0.3·audio closeness`` (genre shares from artist_vectors; closeness
    = 1/(1 + RMS distance) over tempo, valence, energy, danceability, acousticness, each in units
    of :data:`SIMILARITY_SCALES`), ties to the more played. Cheap (k comparisons per pair, all
    vectorised), needs no model file, and reads well: a person sees why the two belong together
    (ALS item-item similarity would need the model and explain less). Without any profile the
    listener's most-played artist is named. Each distinct (user, artist) is explained once, for
    all its rows. ``space``: :func:`artist_space` of ``profiles``, when the batch built it once.
    """
    pair = dense_rank(pack(codes_of(playlist, "user", "artist")))
    first = first_rows([pair])
    pairs = playlist[["user", "artist"]].take(np.flatnonzero(first)).reset_index(drop=True)
    if space is None:
        involved = pd.concat([pairs["artist"].astype(object), history["artist"].astype(object)])
        space = artist_space(profiles[profiles["artist"].isin(involved)])
    because = _because(pairs, history, space, top_k)
    slot = np.empty(len(pairs), dtype=np.int64)
    slot[pair[first]] = np.arange(len(pairs))  # pair number → its row in ``pairs``
    return with_columns(playlist, because=because.array.take(slot[pair]))


def _because(
    pairs: pd.DataFrame, history: pd.DataFrame, space: ArtistSpace, top_k: int
) -> pd.Series:
    """:func:`because_artists` for each row of ``pairs`` (missing where there is none).

    The listener's top artists are laid out best first (plays, then name), so the first of the
    most similar is the one the tie-break picks: one argmax over ``top_k`` columns.
    """
    user, artist = codes_of(history, "user", "artist")
    plays = history["plays"].to_numpy(dtype=float)
    order = lexorder([user, dense_rank(-plays), artist])
    order = order[cumcount([user[order]]) < top_k]
    nth = cumcount([user[order]])
    start = np.flatnonzero(nth == 0)
    count = np.diff(np.append(start, len(order)))
    listener = _positions(pairs["user"], pd.Index(history["user"].array.take(order[start])))
    candidates = history["artist"].take(order)
    rec_code, top_code = (
        s.cat.codes.to_numpy() for s in _categorize([pairs["artist"], candidates])
    )
    # Every (pair, j-th top artist of its listener), the artist itself left out.
    per = np.append(count, 0)[listener]  # listener -1 (no history) reads the appended 0
    p = np.repeat(np.arange(len(pairs)), per)
    j = np.arange(len(p)) - np.repeat(np.cumsum(per) - per, per)
    c = start[listener[p]] + j
    other = top_code[c] != rec_code[p]
    p, j, c = p[other], j[other], c[other]
    a = _positions(pairs["artist"], space.index)[p]
    b = _positions(candidates, space.index)[c]
    both = (a >= 0) & (b >= 0)
    sim = np.zeros(len(p))
    sim[both] = _similarity_between(space, a[both], b[both])
    sims = np.full((len(pairs), int(count.max(initial=0))), -np.inf)  # -inf: no candidate
    sims[p, j] = np.where(np.isnan(sim), -np.finfo(float).max, sim)  # NaN: last resort
    row = np.full(len(pairs), -1)
    if sims.shape[1]:
        found = sims.max(axis=1) > -np.inf
        best = start[np.maximum(listener, 0)] + sims.argmax(axis=1)
        row = np.where(found, order[np.minimum(best, len(order) - 1)], -1)
    because = history["artist"].array.take(row, allow_fill=True)
    return pd.Series(because, index=pairs.index)


def _rounded(values: np.ndarray, decimals: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values rounded to ``decimals`` (NaN last) and each row's index into them.

    ``round(x, d)`` is ``rint(x·10^d) / 10^d``, so the integers ``rint(x·10^d)`` code the
    rounded values exactly and are counted rather than sorted.
    """
    rounded = values.round(decimals)
    steps = np.rint(rounded * 10.0**decimals)
    known = ~np.isnan(steps)
    if not (np.abs(steps[known]) < 2**52).all():  # infinite or huge: sort the floats
        return coded(rounded)
    key = np.where(known, steps, steps[known].max(initial=0) + 1).astype(np.int64)
    distinct, codes = coded(key)
    sample = np.zeros(len(distinct), dtype=np.int64)
    sample[codes] = np.arange(len(codes))  # any row of each value: they all round alike
    return rounded[sample], codes


def _joined(parts: Sequence[tuple[np.ndarray, Sequence[str] | pd.Series]]) -> pd.Series:
    """Per row, ``texts[codes[row]]`` of every ``(codes, texts)`` part, concatenated.

    Each distinct combination of codes is joined once, so a row costs one take: batch rows
    repeat few combinations (rounded tempo and valence, a listener's targets).
    """
    combined = np.zeros(len(parts[0][0]), dtype=np.int64)
    for codes, texts in parts:  # mixed radix: dense enough to count rather than sort
        combined = combined * len(texts) + codes
    combos, row = coded(combined)
    sample = np.zeros(len(combos), dtype=np.int64)
    sample[row] = np.arange(len(row))  # any row of each combination: they share every code
    text = pd.Series("", index=range(len(combos)), dtype="str")
    for codes, texts in parts:
        text = text + pd.array(texts, dtype="str").take(codes[sample])
    return pd.Series(text.array.take(row))


def _texts(
    values: np.ndarray, decimals: int, pattern: str, missing: str, after: str = ""
) -> tuple[np.ndarray, list[str]]:
    """Codes of the rounded values and the text of each (``missing`` for NaN)."""
    distinct, codes = _rounded(values, decimals)
    texts = [(missing if np.isnan(v) else pattern.format(v)) + after for v in distinct]
    return codes, texts


def add_reasons(playlist: pd.DataFrame, context: str | None = None) -> pd.DataFrame:
    """Add a short ``reason`` a person can read, from ``because`` and the targets, e.g.
    "Because you play Radiohead · 128 BPM, valence 0.71 for workout (target 148 BPM, 0.75)".

    ``context`` names the playlists' context; None reads each row's ``context`` column (the
    batch explains all contexts of a chunk at once, in their final row order).
    """
    df = playlist
    because = df["because"] if "because" in df.columns else pd.Series(np.nan, index=df.index)
    if context is None:
        context_code, contexts = labelled_codes(df["context"])
    else:
        context_code, contexts = np.zeros(len(df), dtype=np.int64), pd.Index([context])
    reason = _reasons(
        because,
        *(df[c].to_numpy(dtype=float) for c in ("tempo", "valence")),
        context_code,
        contexts,
        *(df[c].to_numpy(dtype=float) for c in ("target_tempo", "target_valence")),
    )
    reason.index = df.index
    return with_columns(df, reason=reason)


def _reasons(
    because: pd.Series,
    tempo: np.ndarray,
    valence: np.ndarray,
    context: np.ndarray,
    contexts: pd.Index,
    target_tempo: np.ndarray,
    target_valence: np.ndarray,
) -> pd.Series:
    """:func:`add_reasons`' text: each piece made once per distinct value, then two joins."""
    who, names = labelled_codes(because)  # missing: len(names), the last distinct code
    used, who = coded(who)
    heads = "Because you play " + pd.Series(names.take(used[used < len(names)]), dtype="str")
    if len(used) and used[-1] == len(names):
        heads = pd.concat([heads, pd.Series(["Recommended for you"], dtype="str")])
    labels = ["your usual" if name == "default" else str(name) for name in contexts]
    fit = _joined(
        [
            _texts(tempo, 0, " · {:.0f} BPM", " · tempo unknown"),
            _texts(valence, 2, ", valence {:.2f}", ", valence unknown"),
            (context, [f" for {label} (target " for label in labels]),
        ]
    )
    target = _joined(
        [
            _texts(target_tempo, 0, "{:.0f} BPM", "any tempo"),
            _texts(target_valence, 2, ", {:.2f}", "", ")"),
        ]
    )
    return pd.Series(heads.array.take(who)) + fit + target
