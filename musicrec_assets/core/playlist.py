"""Context playlists: a listener's recommended artists → an ordered, explained list of tracks.

Small steps in the style of ListenBrainz troi, each a plain function over pandas frames that can be
tested alone, composed by :func:`build_playlists` (every listener × context; the batch asset) and
:func:`build_playlist` (one listener; the web page), so both always score the same way.

It replaces the seed notebook's playlist stage (docs/architecture.md, "What the seed project got
wrong"):

- tracks come from the recommended artist's *Spotify id* among each track's credited ids (a
  featured credit counts), never from a regex substring of names ("Gala" never finds Sigala);
- the listener's tempo/valence profile is play-weighted (log1p plays) over their own artists, so
  listeners differ, and a context moves that profile toward its own target instead of replacing it;
- the final score is always ``w_base·Base + w_tempo·Tempo_sim + w_valence·Valence_sim`` with Base
  min-max normalised per listener, and every playlist row carries its parts so the page shows the
  same numbers the batch asset stores.

Missing audio values: a track (or a listener target) without tempo or valence gets the neutral
similarity 0.5 for that part, neither rewarded nor punished, so it can still be chosen on its
recommendation score; the seed sorted such tracks last.
"""

from __future__ import annotations

import dataclasses
import re
import warnings
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd
from scipy import sparse

from .config import ContextConfig, PlaylistConfig
from .ids import sorted_codes
from .parallel import ordered_map

TEMPO_SCALE = 80.0  # BPM difference at which Tempo_sim reaches 0 (architecture: Playlist scoring)
NEUTRAL_SIM = 0.5  # similarity given when the track's or the target's value is unknown
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
CHUNK_USERS = 2000  # listeners per batch chunk (~600k candidate rows with the default config)
WORKERS = 2  # chunks built at once: the machine's cores (the kernels release the GIL)

PLAYLIST_COLUMNS: tuple[str, ...] = (
    "rank",
    "track_id",
    "track_name",
    "artist",
    "tempo",
    "valence",
    "base",
    "tempo_sim",
    "valence_sim",
    "base_part",
    "tempo_part",
    "valence_part",
    "final",
    "reason",
    "target_tempo",  # the playlist's targets, repeated per row so a reader needs nothing else
    "target_valence",
)
# Columns the batch table stores dictionary-encoded: few distinct values, repeated millions of times.
ENCODED_COLUMNS: tuple[str, ...] = ("user", "context", "track_id", "track_name", "artist")
TRACK_TABLE_COLUMNS: tuple[str, ...] = (
    "artist",
    "track_id",
    "track_name",
    "title_key",
    "popularity",
    "tempo",
    "valence",
    "track_rank",
)

# Version markers that make two titles the same song for a playlist ("- Remastered 2011",
# "(Live)", "(feat. X)", "- Radio Edit", "[Mono]"...). Remixes stay distinct songs.
_VERSION_WORDS = (
    r"remaster(?:ed)?|live|feat\.?|ft\.?|featuring|with|radio edit|edit|single version|"
    r"album version|version|mono|stereo|explicit|clean|bonus track|deluxe|anniversary"
)
_BRACKETED_VERSION = rf"\s*[\(\[][^\)\]]*\b(?:{_VERSION_WORDS})(?![\w])[^\)\]]*[\)\]]"
_DASHED_VERSION = rf"\s+[-–—]\s+.*\b(?:{_VERSION_WORDS})(?![\w]).*$"
_COMBINING = r"[\u0300-\u036f]"
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


# --------------------------------------------------------------------------- integer keys
# Batch frames have millions of rows keyed by strings. Every sort, join and de-duplication below
# works on integer codes in the strings' sort order instead, so the same steps stay fast on plain
# string columns (one hash per row) and on categoricals (no pass over the strings at all).


def _sorted_codes(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """``ids.sorted_codes`` with missing values coded ``len(labels)``: they sort last and group
    together, as in pandas."""
    codes, labels = sorted_codes(values)
    if len(codes) and codes.min() < 0:
        codes = np.where(codes >= 0, codes, len(labels))
    return codes, labels


def _categorize(
    columns: Sequence[pd.Series], dtype: pd.CategoricalDtype | None = None
) -> list[pd.Series]:
    """The columns as categoricals sharing one sorted vocabulary (default: all their values).

    Shared sorted categories make codes comparable across frames and ordered like the strings,
    so sorts, joins and de-duplication never touch a string; each column is hashed once.
    Values outside a given ``dtype``'s categories become missing.
    """
    dtypes = {id(col.dtype): col.dtype for col in columns}
    if dtype is None and len(dtypes) == 1:
        (only,) = dtypes.values()
        if isinstance(only, pd.CategoricalDtype) and only.categories.is_monotonic_increasing:
            return list(columns)  # already shared sorted categories (the batch's own frames)
    parts = []
    for col in columns:
        if isinstance(col.dtype, pd.CategoricalDtype):
            codes = col.cat.codes.to_numpy()
            used = np.bincount(codes[codes >= 0], minlength=len(col.cat.categories)) > 0
            parts.append((codes, col.cat.categories, used))
        else:
            codes, uniques = pd.factorize(col)
            parts.append((codes, pd.Index(uniques), np.ones(len(uniques), dtype=bool)))
    if dtype is None:
        pool = [uniques[used] for _, uniques, used in parts]
        at, distinct = pd.factorize(pool[0].append(pool[1:]), sort=True)
        dtype = pd.CategoricalDtype(pd.Index(distinct))
        bounds = np.cumsum([0] + [len(p) for p in pool])
        wheres = []
        for i, (_, uniques, used) in enumerate(parts):
            where = np.full(len(uniques), -1, dtype=np.int64)
            where[used] = at[bounds[i] : bounds[i + 1]]
            wheres.append(where)
    else:
        wheres = [dtype.categories.get_indexer(uniques) for _, uniques, _ in parts]
    return [
        pd.Series(  # code -1 (missing) reads the appended -1
            pd.Categorical.from_codes(np.append(where, -1)[codes], dtype=dtype),
            index=col.index,
            name=col.name,
        )
        for col, (codes, _, _), where in zip(columns, parts, wheres, strict=True)
    ]


def _coded(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values (sorted, NaN last) and each row's index into them.

    Integers spanning not much more than the row count are counted in linear time; anything
    else takes one argsort.
    """
    n = len(values)
    if values.dtype.kind in "iu" and n:
        low = int(values.min())
        span = int(values.max()) - low + 1
        if span <= 2 * n + 1024:
            shifted = values - low
            present = np.bincount(shifted, minlength=span) > 0
            return np.flatnonzero(present) + low, np.cumsum(present)[shifted] - 1
    order = np.argsort(values)
    ordered = values[order]
    new = np.ones(n, dtype=bool)
    new[1:] = ordered[1:] != ordered[:-1]
    if values.dtype.kind == "f":
        new[1:] &= ~(np.isnan(ordered[1:]) & np.isnan(ordered[:-1]))  # one NaN group
    codes = np.empty(n, dtype=np.int64)
    codes[order] = np.cumsum(new) - 1
    return ordered[new], codes


def _dense_rank(values: np.ndarray) -> np.ndarray:
    """0, 1, 2... in ascending order of value, equal values sharing a rank (NaN last)."""
    return _coded(values)[1]


def _pack(keys: Sequence[np.ndarray], spare_bits: int = 0) -> np.ndarray:
    """One int64 per row, ordered like the rows' non-negative integer keys (first most
    significant), with ``spare_bits`` free low bits. Keys are shifted side by side; when the next
    one does not fit, the combination so far (or the key) is replaced by its dense rank."""
    n = len(keys[0])
    packed = np.zeros(n, dtype=np.int64)
    used = 0
    for key in keys:
        key = np.asarray(key, dtype=np.int64)
        width = int(key.max()).bit_length() if n else 0
        if used + width + spare_bits > 63:
            packed = _dense_rank(packed)
            used = int(packed.max()).bit_length()
        if used + width + spare_bits > 63:
            key = _dense_rank(key)
            width = int(key.max()).bit_length()
        if used + width + spare_bits > 63:
            packed = _dense_rank((packed << width) | key)
            used = int(packed.max()).bit_length()
        else:
            packed = (packed << width) | key
            used += width
    return packed


def _lexorder(keys: Sequence[np.ndarray]) -> np.ndarray:
    """Stable argsort of the rows by non-negative integer keys, most significant first.

    Keys and row number are packed into one int64 and sorted as plain integers: one vectorised
    sort instead of one stable pass per key (np.lexsort, DataFrame.sort_values).
    """
    n = len(keys[0])
    packed = _pack(keys)
    if n and packed.max() < 2**16:  # a stable sort of 16-bit keys is a linear radix sort
        return np.argsort(packed.astype(np.uint16), kind="stable")
    row_bits = max(n - 1, 0).bit_length()
    if n and int(packed.max()).bit_length() + row_bits > 63:
        packed = _pack(keys, row_bits)
    return np.sort((packed << row_bits) | np.arange(n)) & ((1 << row_bits) - 1)


def _runs(keys: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """A stable order grouping equal keys together, and where each group starts in it.

    Sorting packed integers is several times faster than hashing them (pandas' duplicated,
    groupby); keys already grouped skip the sort.
    """
    key = _pack(keys)
    n = len(key)
    grouped = n == 0 or bool((key[1:] >= key[:-1]).all())
    order = np.arange(n) if grouped else _lexorder([key])
    runs = key[order]
    start = np.ones(n, dtype=bool)
    start[1:] = runs[1:] != runs[:-1]
    return order, start


def _cumcount(keys: Sequence[np.ndarray]) -> np.ndarray:
    """Each row's position among the rows with the same keys (``groupby(keys).cumcount()``)."""
    order, start = _runs(keys)
    step = np.arange(len(order))
    out = np.empty(len(order), dtype=np.int64)
    out[order] = step - np.maximum.accumulate(np.where(start, step, 0))
    return out


def _first_rows(keys: Sequence[np.ndarray]) -> np.ndarray:
    """True on the first row of each distinct key combination (``drop_duplicates`` keeps it)."""
    order, start = _runs(keys)
    first = np.zeros(len(order), dtype=bool)
    first[order[start]] = True  # the order is stable
    return first


def _positions(keys: pd.Series, index: pd.Index) -> np.ndarray:
    """Row of each key in ``index`` (-1 when absent); categorical keys are looked up once per
    category, and by code alone when ``index`` holds the same categories."""
    if isinstance(keys.dtype, pd.CategoricalDtype):
        if isinstance(index.dtype, pd.CategoricalDtype) and index.dtype == keys.dtype:
            per_category = np.full(len(keys.dtype.categories) + 1, -1, dtype=np.int64)
            per_category[np.asarray(index.codes)] = np.arange(len(index))  # index is unique
            per_category[-1] = -1  # where a missing index entry (code -1) landed
        else:
            per_category = np.append(index.get_indexer(keys.cat.categories), -1)
        return per_category[keys.cat.codes.to_numpy()]
    return index.get_indexer(keys)


# --------------------------------------------------------------------------- profiles and targets


def artist_profiles(catalog: pd.DataFrame, vectors: pd.DataFrame) -> pd.DataFrame:
    """Audio and genre profile per artist key: ``artist_catalog`` key → Spotify id → vector.

    Output columns: ``artist, spotify_id`` and the available :data:`SIMILARITY_FEATURES`, plus
    ``genres, genre_shares, top_genres``. Artists without a Spotify match have no row.
    """
    ids = catalog[["artist", "spotify_id"]].dropna(subset=["spotify_id"]).drop_duplicates("artist")
    keep = ["artist_id", *[c for c in SIMILARITY_FEATURES if c in vectors.columns]]
    keep += [c for c in ("genres", "genre_shares", "top_genres") if c in vectors.columns]
    out = ids.merge(
        vectors[keep].drop_duplicates("artist_id"),
        left_on="spotify_id",
        right_on="artist_id",
        how="inner",
    )
    return out.drop(columns="artist_id").reset_index(drop=True)


def listener_targets(history: pd.DataFrame, artist_audio: pd.DataFrame) -> pd.DataFrame:
    """Each listener's own tempo/valence: log1p(plays)-weighted mean over their artists with audio.

    Serving uses all interactions: this is the listener's profile, not an evaluation input.
    log1p keeps one obsessively replayed artist from defining the whole profile. Listeners with no
    audio-matched artist get NaN (their contexts then use the context's own target).
    ``artist_audio`` has one row per artist (as :func:`artist_profiles`). Returns ``user, tempo,
    valence``, one row per listener in sorted order.
    """
    codes, labels = _sorted_codes(history["user"])
    present, group = _coded(codes)  # missing users (code len(labels)) come last
    sample = np.zeros(len(present), dtype=np.int64)
    sample[group] = np.arange(len(group))  # a row of each listener, to read its value
    listeners = int((present < len(labels)).sum())
    users = history["user"].array.take(sample[:listeners])
    row = _positions(history["artist"], pd.Index(artist_audio["artist"]))
    joined = row >= 0
    weight = np.log1p(history["plays"].to_numpy(dtype=float)[joined])
    sums = {}
    for col in ("tempo", "valence"):
        values = artist_audio[col].to_numpy(dtype=float)[row[joined]]
        known = ~np.isnan(values)
        sums[f"{col}_num"] = np.where(known, weight * values, 0.0)
        sums[f"{col}_den"] = np.where(known, weight, 0.0)
    totals = pd.DataFrame(sums).groupby(group[joined]).sum()  # compensated sums, in row order
    out = pd.DataFrame({"user": users})
    for col in ("tempo", "valence"):
        den = totals[f"{col}_den"]
        out[col] = (totals[f"{col}_num"] / den.where(den > 0)).reindex(range(listeners)).to_numpy()
    return out


def context_targets(own_tempo: Any, own_valence: Any, ctx: ContextConfig) -> tuple[Any, Any]:
    """Move the listener's own targets toward the context's: ``own + pull·(context − own)``.

    Works on scalars or arrays. A context value of None keeps the listener's own; an unknown own
    value (NaN) takes the context's value, since that is the only target there is.
    """

    def pull(own: Any, target: float | None) -> Any:
        own_arr = np.asarray(own, dtype=float)
        if target is None:
            moved = own_arr
        else:
            moved = np.where(np.isnan(own_arr), target, own_arr + ctx.pull * (target - own_arr))
        return moved.item() if moved.ndim == 0 else moved

    return pull(own_tempo, ctx.tempo), pull(own_valence, ctx.valence)


# --------------------------------------------------------------------------- artist → tracks


def normalise_titles(titles: pd.Series) -> pd.Series:
    """Song key of each title: version markers, case, accents and punctuation removed.

    "Karma Police - Remastered 2011", "Karma Police (Live)" and "karma police!" share one key.
    Computed once per distinct title; a title that would become empty keeps its folded spelling.
    """
    uniques = pd.Series(titles.dropna().unique(), dtype=object)
    if uniques.empty:
        return pd.Series(pd.NA, index=titles.index, dtype=object)
    text = uniques.astype(str)
    stripped = text.str.replace(_BRACKETED_VERSION, "", regex=True, flags=re.IGNORECASE)
    stripped = stripped.str.replace(_DASHED_VERSION, "", regex=True, flags=re.IGNORECASE)
    folded = stripped.str.normalize("NFKD").str.replace(_COMBINING, "", regex=True).str.casefold()
    key = folded.str.replace(r"[\W_]+", " ", regex=True).str.strip()
    key = key.where(key.str.len() > 0, text.str.casefold().str.strip())
    return titles.map(dict(zip(uniques, key, strict=True)))


def artist_tracks(
    catalog_ids: pd.DataFrame,
    tracks: pd.DataFrame,
    per_artist: int,
    *,
    credits: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Candidate tracks per artist key, matched by Spotify artist id on every credit.

    ``catalog_ids``: ``artist, spotify_id`` (artist_catalog); ``tracks``: the spotify_tracks
    canonical table; ``credits``: its ``track_id, artist_id`` pairs as ``catalog.track_credits``
    resolves them (default: the ids listed on each track). A track counts for each credited id
    (featured credits too). Per artist, one version per song (most popular), then the
    ``per_artist`` most popular songs; ties go to the smaller track id so the choice never depends
    on file order. This is the ``artist_tracks`` asset, which the web page reads.
    """
    ids = catalog_ids[["artist", "spotify_id"]].dropna().drop_duplicates("artist")
    cols = ["track_id", "track_name", "popularity", "tempo", "valence"]
    if credits is None:
        credits = tracks[["track_id", "artist_ids"]].explode("artist_ids", ignore_index=True)
        credits = credits.rename(columns={"artist_ids": "artist_id"})
    credits = credits[["track_id", "artist_id"]].dropna().drop_duplicates()
    pairs = credits.merge(ids, left_on="artist_id", right_on="spotify_id", how="inner")
    pairs = pairs.merge(tracks[cols], on="track_id", how="inner")
    pairs["title_key"] = normalise_titles(pairs["track_name"]).fillna(pairs["track_id"])
    pairs = pairs.sort_values(
        ["artist", "popularity", "track_id"], ascending=[True, False, True], na_position="last"
    )
    pairs = pairs.drop_duplicates(["artist", "title_key"])
    pairs["track_rank"] = pairs.groupby("artist").cumcount() + 1
    pairs = pairs[pairs["track_rank"] <= per_artist]
    return pairs[list(TRACK_TABLE_COLUMNS)].reset_index(drop=True)


def expand_tracks(recs: pd.DataFrame, track_table: pd.DataFrame) -> pd.DataFrame:
    """Each recommended (user, artist, score) → its artist's candidate tracks (exact key join).

    Rows keep the order of ``recs``, each artist's tracks in table order (an inner merge's
    order); later steps order by score with explicit tie-breaks.
    """
    rec_artist, table_artist = _categorize([recs["artist"], track_table["artist"]])
    rec_row, table_row = _expand(
        rec_artist.cat.codes.to_numpy(),
        _artist_groups(table_artist.cat.codes.to_numpy(), len(rec_artist.cat.categories)),
    )
    left = recs[["user", "artist", "score"]].iloc[rec_row].reset_index(drop=True)
    right = track_table.drop(columns="artist").iloc[table_row].reset_index(drop=True)
    return pd.concat([left, right], axis=1)


def _artist_groups(table_artist: np.ndarray, n_artists: int) -> tuple[np.ndarray, ...]:
    """Table rows grouped by artist code (table order within each), and where each code's
    group starts in that order and how long it is. Missing codes (-1) join nothing."""
    rows = np.flatnonzero(table_artist >= 0)
    order = rows[_lexorder([table_artist[rows]])]
    count = np.bincount(table_artist[rows], minlength=n_artists)
    return order, np.cumsum(count) - count, count


def _expand(rec_artist: np.ndarray, groups: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    """(rec row, table row) of every match on artist code, in inner-merge order."""
    order, first, count = groups
    per = np.where(rec_artist >= 0, count[np.maximum(rec_artist, 0)], 0)
    rec_row = np.repeat(np.arange(len(rec_artist)), per)
    start = np.repeat(first[np.maximum(rec_artist, 0)] - (np.cumsum(per) - per), per)
    return rec_row, order[start + np.arange(len(rec_row))]


# --------------------------------------------------------------------------- scoring


def score_tracks(cands: pd.DataFrame, targets: pd.DataFrame, ctx: ContextConfig) -> pd.DataFrame:
    """Add Base, Tempo_sim, Valence_sim, their weighted parts and ``final`` (their exact sum).

    ``targets``: ``user, target_tempo, target_valence``. Base is the artist score min-max
    normalised per listener (1.0 when all of a listener's scores are equal), so the context
    weights mean the same thing for every listener. Unknown values give :data:`NEUTRAL_SIM`.
    """
    row = _positions(cands["user"], pd.Index(targets["user"]))
    target = {  # row -1 (listener without targets) reads the appended NaN
        col: np.append(targets[col].to_numpy(dtype=float), np.nan)[row]
        for col in ("target_tempo", "target_valence")
    }
    base = _base(_sorted_codes(cands["user"])[0], cands["score"].to_numpy(dtype=float))
    parts = _parts(
        base,
        cands["tempo"].to_numpy(dtype=float),
        cands["valence"].to_numpy(dtype=float),
        target["target_tempo"],
        target["target_valence"],
        ctx,
    )
    return cands.assign(**target, base=base, **parts)


def _base(user: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Score min-max normalised per listener code; 1.0 where a listener's scores are all equal."""
    low = np.full(int(user.max(initial=0)) + 1, np.nan)
    high = low.copy()
    np.fmin.at(low, user, score)  # fmin/fmax skip NaN scores, as pandas' grouped min/max do
    np.fmax.at(high, user, score)
    low, span = low[user], high[user] - low[user]
    with np.errstate(invalid="ignore", divide="ignore"):
        base = np.where(span > 0, (score - low) / span, np.nan)
    return np.where(np.isnan(base), 1.0, base)


def _parts(
    base: np.ndarray,
    tempo: np.ndarray,
    valence: np.ndarray,
    target_tempo: np.ndarray,
    target_valence: np.ndarray,
    ctx: ContextConfig,
) -> dict[str, np.ndarray]:
    """Tempo_sim, Valence_sim, the three weighted parts and ``final``, their exact sum."""
    tempo_sim = _similarity(np.abs(tempo - target_tempo) / TEMPO_SCALE)
    valence_sim = _similarity(np.abs(valence - target_valence))
    parts = {
        "tempo_sim": tempo_sim,
        "valence_sim": valence_sim,
        "base_part": ctx.w_base * base,
        "tempo_part": ctx.w_tempo * tempo_sim,
        "valence_part": ctx.w_valence * valence_sim,
    }
    parts["final"] = parts["base_part"] + parts["tempo_part"] + parts["valence_part"]
    return parts


def _similarity(gap: np.ndarray) -> np.ndarray:
    """``1 − gap`` floored at 0; :data:`NEUTRAL_SIM` where the gap is unknown."""
    sim = 1.0 - gap
    sim = np.where(sim < 0.0, 0.0, sim)
    return np.where(np.isnan(sim), NEUTRAL_SIM, sim)


def _keys(df: pd.DataFrame, *cols: str) -> list[np.ndarray]:
    """The columns' :func:`_sorted_codes`: the kernels below take integer keys."""
    return [_sorted_codes(df[c])[0] for c in cols]


def _score_order(
    user: np.ndarray, final: np.ndarray, track: np.ndarray, artist: np.ndarray
) -> np.ndarray:
    """Best first within each listener; track id, then artist, break ties reproducibly.

    Rows already in (listener, track id, artist) order, as the batch keeps its candidates, are
    sorted by score, then stably by listener, and only runs of equal scores are put back in row
    order; other rows are ranked on all four keys.
    """
    tie = _pack([user, track, artist])
    if not (len(tie) and (tie[1:] >= tie[:-1]).all()):
        return _lexorder([user, _dense_rank(-final), track, artist])
    order = np.argsort(-final)
    listener = user[order]
    if len(listener) and listener.max() < 2**16:
        listener = listener.astype(np.uint16)  # a stable sort of 16-bit keys is a radix sort
    order = order[np.argsort(listener, kind="stable")]
    ranked, listener = final[order], user[order]
    tied = (listener[1:] == listener[:-1]) & (
        (ranked[1:] == ranked[:-1]) | (np.isnan(ranked[1:]) & np.isnan(ranked[:-1]))
    )
    if tied.any():  # positions i and i + 1 tie: sort each run of ties by row number
        in_run = np.zeros(len(order), dtype=bool)
        in_run[:-1] |= tied
        in_run[1:] |= tied
        starts = in_run.copy()
        starts[1:] &= ~tied
        at = np.flatnonzero(in_run)
        run = np.cumsum(starts)[at]
        order[at] = order[at][_lexorder([run, order[at]])]
    return order


def _by_score(df: pd.DataFrame) -> pd.DataFrame:
    """The rows in :func:`_score_order`."""
    user, track, artist = _keys(df, "user", "track_id", "artist")
    order = _score_order(user, df["final"].to_numpy(dtype=float), track, artist)
    return df.take(order).reset_index(drop=True)


def dedupe(cands: pd.DataFrame, *, ranked: bool = False) -> pd.DataFrame:
    """Keep one row per song per listener: same track id, or same artist + normalised title.

    The best-scored version survives (a track featured under two recommended artists, or a
    remaster next to its original). ``ranked=True``: ``cands`` is already in score order (the
    output of this step and the next two is), which saves a sort over millions of batch rows.
    """
    df = cands if ranked else _by_score(cands)
    if "title_key" not in df.columns:
        df = df.assign(title_key=normalise_titles(df["track_name"]).fillna(df["track_id"]))
    groups = _song_groups(*_keys(df, "user", "artist", "track_id", "title_key"))
    return df[_unique_songs(groups, np.arange(len(df)))].reset_index(drop=True)


def _song_groups(
    user: np.ndarray, artist: np.ndarray, track: np.ndarray, title: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The rows :func:`dedupe` may drop: those sharing (listener, track), then those sharing
    (listener, artist, title), each as (rows grouped, group number). They do not depend on the
    scores, so the batch finds them once for all contexts."""
    groups = []
    for keys in ([user, track], [user, artist, title]):
        order, start = _runs(keys)
        size = np.diff(np.append(np.flatnonzero(start), len(order)))
        shared = np.repeat(size > 1, size)
        groups.append((order[shared], (np.cumsum(start) - 1)[shared]))
    return groups


def _unique_songs(groups: list[tuple[np.ndarray, np.ndarray]], rank: np.ndarray) -> np.ndarray:
    """:func:`dedupe`'s rows to keep: in each group of :func:`_song_groups`, the row of lowest
    ``rank`` (score order), the second grouping among the first's survivors."""
    keep = np.ones(len(rank), dtype=bool)
    for rows, group in groups:
        alive = keep[rows]
        rows, group = rows[alive], group[alive]
        best = np.full(int(group.max(initial=-1)) + 1, len(rank))
        np.minimum.at(best, group, rank[rows])
        keep[rows[rank[rows] > best[group]]] = False
    return keep


def cap_per_artist(cands: pd.DataFrame, cap: int = 2, *, ranked: bool = False) -> pd.DataFrame:
    """At most ``cap`` tracks per artist per listener, keeping each artist's best-scored ones."""
    df = cands if ranked else _by_score(cands)
    return df[_capped(_keys(df, "user", "artist"), cap)].reset_index(drop=True)


def _capped(keys: Sequence[np.ndarray], cap: int) -> np.ndarray:
    """:func:`cap_per_artist`'s rows to keep, over rows in score order."""
    return _cumcount(keys) < cap


def take_top(cands: pd.DataFrame, length: int, *, ranked: bool = False) -> pd.DataFrame:
    """The ``length`` best-scored tracks per listener: the playlist's content, before ordering."""
    df = cands if ranked else _by_score(cands)
    return df[_topped(*_keys(df, "user"), length)].reset_index(drop=True)


def _topped(user: np.ndarray, length: int) -> np.ndarray:
    """:func:`take_top`'s rows to keep, over rows in score order."""
    return _cumcount([user]) < length


def _select(
    user: np.ndarray,
    track: np.ndarray,
    artist: np.ndarray,
    final: np.ndarray,
    songs: list[tuple[np.ndarray, np.ndarray]],
    pair: np.ndarray,
    cap: int,
    length: int,
) -> np.ndarray:
    """Rows of each playlist's content in score order: :func:`dedupe` (``songs``: its
    :func:`_song_groups`), then :func:`cap_per_artist` (``pair``: a listener-artist number),
    then :func:`take_top`, on arrays."""
    rows = _score_order(user, final, track, artist)
    rank = np.empty(len(rows), dtype=np.int64)
    rank[rows] = np.arange(len(rows))
    rows = rows[_unique_songs(songs, rank)[rows]]
    rows = rows[_capped([pair[rows]], cap)]
    return rows[_topped(user[rows], length)]


# --------------------------------------------------------------------------- ordering


def _layout(user: np.ndarray) -> np.ndarray:
    """Row numbers of each listener's tracks as a (listeners × longest) matrix; -1 pads.

    Listeners in order of first appearance. Ordering steps work on all playlists at once, one
    position per numpy step, instead of a Python loop per listener.
    """
    order, start = _runs([user])
    first = order[start]  # each listener's first row (the order is stable)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first)] = np.arange(len(first))
    group = np.empty(len(user), dtype=np.int64)
    group[order] = rank[np.cumsum(start) - 1]
    pos = _cumcount([group])
    layout = np.full((len(first), int(pos.max()) + 1), -1, dtype=np.int64)
    layout[group, pos] = np.arange(len(user))
    return layout


def _reordered(layout: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Rows in the new order: ``order[p, t]`` is the column of ``layout`` placed at position t."""
    picked = order >= 0
    return np.take_along_axis(layout, np.where(picked, order, 0), axis=1)[picked]


def tempo_smooth(playlist: pd.DataFrame) -> pd.DataFrame:
    """Order each playlist to avoid tempo jumps: start at the track nearest the median tempo, then
    always go to the nearest remaining tempo (ties: the better-placed track).

    Tracks without tempo count as the playlist's median tempo.
    """
    order = _smooth_order(_keys(playlist, "user")[0], playlist["tempo"].to_numpy(dtype=float))
    return playlist.take(order).reset_index(drop=True)


def _smooth_order(user: np.ndarray, tempo: np.ndarray) -> np.ndarray:
    """:func:`tempo_smooth`'s row order."""
    if not len(user):
        return np.arange(0)
    layout = _layout(user)
    valid = layout >= 0
    tempo = np.where(valid, tempo[layout], np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: no known tempo at all
        median = np.nanmedian(tempo, axis=1)
    median = np.where(np.isnan(median), 0.0, median)
    tempo = np.where(np.isnan(tempo), median[:, None], tempo)
    avail = valid.copy()
    order = np.full(layout.shape, -1, dtype=np.int64)
    rows = np.arange(layout.shape[0])
    last = median
    for step in range(layout.shape[1]):
        gap = np.where(avail, np.abs(tempo - last[:, None]), np.inf)
        pick = gap.argmin(axis=1)
        has = avail[rows, pick]
        order[has, step] = pick[has]
        avail[rows[has], pick[has]] = False
        last = np.where(has, tempo[rows, pick], last)
    return _reordered(layout, order)


def spread_artists(playlist: pd.DataFrame) -> pd.DataFrame:
    """Reorder so no two consecutive tracks share an artist whenever that is possible.

    Greedy over the current order: take the first remaining track whose artist differs from the
    previous one, unless an artist holds more than half of what remains (then it must go now or
    the rest cannot alternate). When no alternation exists (one artist left), order is kept.
    Deterministic: the current order is the only preference.
    """
    order = _spread_order(*_keys(playlist, "user", "artist"))
    return playlist.take(order).reset_index(drop=True)


def _spread_order(user: np.ndarray, artist: np.ndarray) -> np.ndarray:
    """:func:`spread_artists`' row order."""
    if not len(user):
        return np.arange(0)
    layout = _layout(user)
    valid = layout >= 0
    pairs = _dense_rank(_pack([user, artist]))
    first = np.full(int(user.max()) + 1, len(pairs), dtype=np.int64)
    np.minimum.at(first, user, pairs)
    local = pairs - first[user]  # the artist's number within its listener's playlist
    # Positions × playlists: every step's reductions run across all playlists at once.
    width, n_groups = layout.shape[1], layout.shape[0]
    small = np.min_scalar_type(-4 * width)  # artist numbers, counts, keys: less memory to stream
    valid = valid.T
    code = np.where(valid, local[np.where(valid, layout.T, 0)], 0).astype(small)
    groups = np.arange(n_groups)
    cell = code.astype(np.int64) * n_groups + groups  # (artist number, playlist) → counter
    remaining = np.bincount(cell[valid], minlength=width * n_groups).astype(small)
    avail = valid.copy()
    left = valid.sum(axis=0)
    prev = np.full(n_groups, -1, dtype=small)
    later = np.arange(width - 1, -1, -1, dtype=small)[:, None]  # earlier position, larger key
    order = np.full((n_groups, width), -1, dtype=np.int64)
    for step in range(width):
        other = avail & (code != prev)
        forced = other & (remaining[cell] > left // 2)  # its artist holds over half the rest
        # The first forced track, else the first of another artist, else the first left.
        priority = avail.view(np.int8) + other.view(np.int8) + forced.view(np.int8)
        best = (priority.astype(small) * width + later).max(axis=0)
        pick = (width - 1) - best % width
        has = best >= width
        order[has, step] = pick[has]
        avail[pick[has], groups[has]] = False
        picked = cell[pick, groups][has]
        remaining[picked] -= 1
        left -= has
        prev = np.where(has, code[pick, groups], prev)
    return _reordered(layout, order)


# --------------------------------------------------------------------------- reasons


@dataclasses.dataclass(frozen=True)
class _ArtistSpace:
    """Artist profiles as :func:`because_artists` compares them; the batch builds it once."""

    index: pd.Index  # artist → row of the arrays below
    audio: np.ndarray | None  # SIMILARITY_FEATURES in units of SIMILARITY_SCALES
    genres: sparse.csr_matrix | None  # genre shares scaled to unit length


def _artist_space(profiles: pd.DataFrame) -> _ArtistSpace:
    """The :class:`_ArtistSpace` of ``profiles`` (first row per artist)."""
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
    return _ArtistSpace(pd.Index(prof["artist"]), audio, genres)


def _similarity_between(space: _ArtistSpace, a: np.ndarray, b: np.ndarray) -> np.ndarray:
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
    pairs: pd.DataFrame,
    history: pd.DataFrame,
    profiles: pd.DataFrame,
    top_k: int = BECAUSE_TOP_K,
) -> pd.DataFrame:
    """For each recommended (user, artist): the listener's artist that best explains it.

    Candidates are the listener's ``top_k`` most-played artists; the winner is the most similar
    by ``0.7·genre cosine + 0.3·audio closeness`` (genre shares from artist_vectors; closeness
    = 1/(1 + RMS distance) over tempo, valence, energy, danceability, acousticness, each in units
    of :data:`SIMILARITY_SCALES`), ties to the more played. Cheap (k comparisons per pair, all
    vectorised), needs no model file, and reads well: a person sees why the two belong together
    (ALS item-item similarity would need the model and explain less). Without any profile the
    listener's most-played artist is named. Returns ``user, artist, because``.
    """
    pairs = pairs[["user", "artist"]].drop_duplicates()
    involved = pd.concat([pairs["artist"].astype(object), history["artist"].astype(object)])
    space = _artist_space(profiles[profiles["artist"].isin(involved)])
    out = pairs.assign(because=_because(pairs, history, space, top_k))
    out = out[out["because"].notna()]
    order = _lexorder([_sorted_codes(out["user"])[0], _sorted_codes(out["artist"])[0]])
    return out.take(order).reset_index(drop=True)


def _because(
    pairs: pd.DataFrame, history: pd.DataFrame, space: _ArtistSpace, top_k: int
) -> pd.Series:
    """:func:`because_artists` for each row of ``pairs`` (missing where there is none).

    The listener's top artists are laid out best first (plays, then name), so the first of the
    most similar is the one the tie-break picks: one argmax over ``top_k`` columns.
    """
    user = _sorted_codes(history["user"])[0]
    plays = history["plays"].to_numpy(dtype=float)
    order = _lexorder([user, _dense_rank(-plays), _sorted_codes(history["artist"])[0]])
    order = order[_cumcount([user[order]]) < top_k]
    nth = _cumcount([user[order]])
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
        return _coded(rounded)
    key = np.where(known, steps, steps[known].max(initial=0) + 1).astype(np.int64)
    distinct, codes = _coded(key)
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
    combos, row = _coded(combined)
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
        context_code, contexts = _sorted_codes(df["context"])
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
    return df.assign(reason=reason)


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
    who, names = _sorted_codes(because)  # missing: len(names), the last distinct code
    used, who = _coded(who)
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


# --------------------------------------------------------------------------- composition


def _context(cfg: PlaylistConfig, name: str) -> ContextConfig:
    if name not in cfg.contexts:
        known = ", ".join(cfg.contexts)
        raise ValueError(f"unknown context {name!r}; known contexts: {known}")
    return cfg.contexts[name]


def empty_playlists() -> pd.DataFrame:
    """The playlists table with no rows (its columns in order)."""
    return pd.DataFrame({c: [] for c in ("user", "context", *PLAYLIST_COLUMNS)})


def build_playlists(*args: Any, **kwargs: Any) -> pd.DataFrame:
    """:func:`iter_playlists` (same arguments) as one frame: the page's one listener, tests."""
    parts = list(iter_playlists(*args, **kwargs))
    return pd.concat(parts, ignore_index=True) if parts else empty_playlists()


def iter_playlists(
    recs: pd.DataFrame,
    history: pd.DataFrame,
    profiles: pd.DataFrame,
    track_table: pd.DataFrame,
    cfg: PlaylistConfig,
    contexts: Sequence[str] | None = None,
    *,
    length: int | None = None,
    weights: tuple[float, float, float] | None = None,
    cap: int | None = None,
    chunk_users: int = CHUNK_USERS,
    workers: int = WORKERS,
) -> Iterator[pd.DataFrame]:
    """Playlists for every listener in ``recs`` × every context, a chunk of listeners at a time.

    ``recs``: ``user, artist, score`` (e.g. reranked_topk); ``history``: ``user, artist, plays``
    (all interactions); ``profiles``: :func:`artist_profiles`; ``track_table``:
    :func:`artist_tracks`. Keys may be strings or categoricals. ``length``, ``weights`` (w_base,
    w_tempo, w_valence) and ``cap`` override the config. Vectorised over listeners; the loops are
    over contexts and over chunks of ``chunk_users`` listeners, ``workers`` chunks at a time
    (threads; the output does not depend on it). Yields non-empty frames of
    ``user, context`` + :data:`PLAYLIST_COLUMNS` ordered by user, context, rank, each holding
    whole playlists of listeners no other chunk has: the batch asset writes them as they come,
    because 360k listeners' playlists (36M rows) do not fit the memory budget at once.
    """
    names = list(contexts) if contexts is not None else list(cfg.contexts)
    chosen = {name: _context(cfg, name) for name in names}
    length = cfg.length if length is None else int(length)
    cap = cfg.per_artist_cap if cap is None else int(cap)
    if weights is not None:
        w_base, w_tempo, w_valence = (float(w) for w in weights)
        chosen = {
            name: dataclasses.replace(ctx, w_base=w_base, w_tempo=w_tempo, w_valence=w_valence)
            for name, ctx in chosen.items()
        }
    if length <= 0 or cap <= 0:
        return
    batch = _prepare(recs, history, profiles, track_table)
    listeners = len(batch.users)
    edges = np.append(np.arange(0, listeners, max(1, chunk_users)), listeners)
    rec_cut = np.searchsorted(batch.rec_user, edges)
    history_cut = np.searchsorted(batch.history["user"].cat.codes.to_numpy(), edges)

    def build(i: int) -> dict[str, Any]:
        return _build_chunk(
            batch,
            range(edges[i], edges[i + 1]),
            slice(rec_cut[i], rec_cut[i + 1]),
            batch.history.iloc[history_cut[i] : history_cut[i + 1]],
            cfg,
            chosen,
            length,
            cap,
        )

    chunks = len(edges) - 1
    for part in ordered_map(build, range(chunks), workers=workers if chunks > 1 else 0):
        if len(part.get("rank", ())):
            yield pd.DataFrame(part, copy=False)


@dataclasses.dataclass(frozen=True)
class _Batch:
    """:func:`build_playlists`' inputs as integer codes over sorted vocabularies (so code order
    is string order), grouped by listener once: each chunk is a contiguous slice."""

    users: pd.api.extensions.ExtensionArray  # listeners in recs, sorted (as str): codes index it
    artists: pd.api.extensions.ExtensionArray  # every artist in recs or history, sorted
    rec_user: np.ndarray  # recs rows, grouped by listener
    rec_artist: np.ndarray
    rec_score: np.ndarray
    history: pd.DataFrame  # user, artist (categoricals over the above), plays; by listener
    profiles: pd.DataFrame  # artist_profiles rows of those artists
    space: _ArtistSpace
    track_groups: tuple[np.ndarray, ...]  # :func:`_artist_groups` of the track table
    tracks: dict[str, np.ndarray]  # per table row: track, tie-break, name, title codes; audio
    track_ids: pd.api.extensions.ExtensionArray  # sorted track ids (track codes index it)
    track_names: pd.api.extensions.ExtensionArray


def _prepare(
    recs: pd.DataFrame,
    history: pd.DataFrame,
    profiles: pd.DataFrame,
    track_table: pd.DataFrame,
) -> _Batch:
    """The :class:`_Batch` of the inputs."""
    (user,) = _categorize([recs["user"]])
    rec_artist, hist_artist = _categorize([recs["artist"], history["artist"]])
    users, artists = user.dtype, rec_artist.dtype
    (hist_user,) = _categorize([history["user"]], users)

    u, a = user.cat.codes.to_numpy(), rec_artist.cat.codes.to_numpy()
    rows = np.flatnonzero((u >= 0) & (a >= 0))
    rows = rows[_runs([u[rows]])[0]]  # grouped by listener (free when recs already are)
    hu = hist_user.cat.codes.to_numpy()
    kept = np.flatnonzero((hu >= 0) & (hist_artist.cat.codes.to_numpy() >= 0))
    kept = kept[_runs([hu[kept]])[0]]
    hist = pd.DataFrame(
        {
            "user": hist_user.array.take(kept),
            "artist": hist_artist.array.take(kept),
            "plays": history["plays"].iloc[kept].to_numpy(),
        }
    )

    (prof_artist,) = _categorize([profiles["artist"]], artists)
    known = (prof_artist.cat.codes >= 0).to_numpy()
    prof = profiles[known].assign(artist=prof_artist[known]).reset_index(drop=True)

    (table_artist,) = _categorize([track_table["artist"]], artists)
    wanted = np.zeros(len(artists.categories) + 1, dtype=bool)  # last slot: code -1
    wanted[a[rows]] = True
    keep = wanted[table_artist.cat.codes.to_numpy()]
    table = track_table[keep]
    (track_id,) = _categorize([table["track_id"]])  # sorted: ids break score ties
    name_code, names = pd.factorize(table["track_name"])  # names and titles: equality only
    artist_code = table_artist.cat.codes.to_numpy()[keep]
    track_code = track_id.cat.codes.to_numpy()
    song = _dense_rank(_pack([artist_code, pd.factorize(table["title_key"])[0] + 1]))
    first_song = np.full(len(artists.categories), len(song), dtype=np.int64)
    np.minimum.at(first_song, artist_code, song)
    return _Batch(
        users=_strings(users.categories),
        artists=_strings(artists.categories),
        rec_user=u[rows],
        rec_artist=a[rows],
        rec_score=recs["score"].to_numpy(dtype=float)[rows],
        history=hist,
        profiles=prof,
        space=_artist_space(prof),
        track_groups=_artist_groups(artist_code, len(artists.categories)),
        tracks={
            "track": track_code,
            "tie": _dense_rank(_pack([track_code, artist_code])),  # the score sort's tie-break
            "name": name_code,
            "title": song - first_song[artist_code],  # numbered within the artist: few bits
            "tempo": table["tempo"].to_numpy(dtype=float),
            "valence": table["valence"].to_numpy(dtype=float),
        },
        track_ids=_strings(track_id.cat.categories),
        track_names=_strings(pd.Index(names)),
    )


def _build_chunk(
    batch: _Batch,
    listeners: range,
    recs: slice,
    history: pd.DataFrame,
    cfg: PlaylistConfig,
    chosen: dict[str, ContextConfig],
    length: int,
    cap: int,
) -> dict[str, Any]:
    """:func:`build_playlists` for one chunk of listeners: the steps' array kernels over the
    chunk's candidates. Returns the output columns' arrays ({} without any candidate)."""
    first_user = listeners.start
    user = batch.rec_user[recs] - first_user  # listener number within the chunk
    score = batch.rec_score[recs]
    artist = batch.rec_artist[recs]
    # Each listener's best artists by score (ties: artist name), as the playlist expands.
    top = _lexorder([user, _dense_rank(-score), artist])
    top = top[_cumcount([user[top]]) < cfg.artists_per_user]
    user, score, artist = user[top], score[top], artist[top]
    rec_row, table_row = _expand(artist, batch.track_groups)
    if not len(rec_row):
        return {}
    user, score, artist = user[rec_row], score[rec_row], artist[rec_row]
    # (listener, track id, artist) order: the score sort's tie-break is then the row order.
    order = _lexorder([user, batch.tracks["tie"][table_row]])
    user, artist, score, table_row = user[order], artist[order], score[order], table_row[order]
    track, title, tempo, valence = (
        batch.tracks[c][table_row] for c in ("track", "title", "tempo", "valence")
    )
    base = _base(user, score)
    songs = _song_groups(user, artist, track, title)
    pair = _dense_rank(_pack([user, artist]))
    own = listener_targets(history, batch.profiles)
    own_tempo, own_valence = np.full((2, len(listeners)), np.nan)
    local = own["user"].cat.codes.to_numpy() - first_user
    own_tempo[local] = own["tempo"].to_numpy()
    own_valence[local] = own["valence"].to_numpy()

    names = sorted(chosen)
    picked: dict[str, list[np.ndarray]] = {}
    for name, ctx in chosen.items():
        target_tempo, target_valence = (
            t[user] for t in context_targets(own_tempo, own_valence, ctx)
        )
        parts = _parts(base, tempo, valence, target_tempo, target_valence, ctx)
        rows = _select(user, track, artist, parts["final"], songs, pair, cap, length)
        if cfg.tempo_smooth:
            rows = rows[_smooth_order(user[rows], tempo[rows])]
        rows = rows[_spread_order(user[rows], artist[rows])]
        columns = {
            "row": rows,
            "context": np.full(len(rows), names.index(name)),
            "rank": _cumcount([user[rows]]) + 1,
            "base": base[rows],
            **{c: v[rows] for c, v in parts.items()},
            "target_tempo": target_tempo[rows],
            "target_valence": target_valence[rows],
        }
        for c, v in columns.items():
            picked.setdefault(c, []).append(v)
    out = {c: np.concatenate(v) for c, v in picked.items()}
    rows = out.pop("row")
    order = _lexorder([user[rows], out["context"], out["rank"]])
    out = {c: v[order] for c, v in out.items()}
    rows = rows[order]
    who, what = user[rows], artist[rows]

    # Reasons only for the rows that made it into a playlist (a small share of the candidates),
    # each distinct (listener, artist) explained once for all contexts.
    pair = _dense_rank(_pack([who, what]))
    first = _first_rows([pair])
    pairs = pd.DataFrame(
        {
            "user": pd.Categorical.from_codes(who[first] + first_user, dtype=history["user"].dtype),
            "artist": pd.Categorical.from_codes(what[first], dtype=history["artist"].dtype),
        }
    )
    because = _because(pairs, history, batch.space, BECAUSE_TOP_K)
    slot = np.empty(len(pairs), dtype=np.int64)
    slot[pair[first]] = np.arange(len(pairs))  # pair id → its row in ``pairs``
    reason = _reasons(
        pd.Series(because.array.take(slot[pair])),
        tempo[rows],
        valence[rows],
        out["context"],
        pd.Index(names),
        out["target_tempo"],
        out["target_valence"],
    )
    text = {
        "user": _labels(batch.users, who + first_user),
        "context": _labels(_strings(pd.Index(names)), out["context"]),
        "track_id": _labels(batch.track_ids, track[rows]),
        "track_name": _labels(batch.track_names, batch.tracks["name"][table_row[rows]]),
        "artist": _labels(batch.artists, what),
        "reason": reason.array,
    }
    values = {**out, "tempo": tempo[rows], "valence": valence[rows], **text}
    return {c: values[c] for c in ("user", "context", *PLAYLIST_COLUMNS)}


def _strings(labels: pd.Index) -> pd.api.extensions.ExtensionArray:
    """Labels as a ``str`` array, the output's text dtype, to take from by code."""
    return labels.astype("str").array


def _labels(labels: pd.api.extensions.ExtensionArray, codes: np.ndarray) -> Any:
    """The strings at ``codes`` (-1: missing)."""
    return labels.take(codes, allow_fill=True)


def build_playlist(
    user: str,
    recs: pd.DataFrame,
    history: pd.DataFrame,
    profiles: pd.DataFrame,
    track_table: pd.DataFrame,
    cfg: PlaylistConfig,
    context: str = "default",
    *,
    length: int | None = None,
    weights: tuple[float, float, float] | None = None,
    cap: int | None = None,
) -> pd.DataFrame:
    """One listener's playlist in one context: exactly the batch computation, for one row group.

    The web page calls this (for a known listener with their reranked_topk rows and history, or
    for a new listener with cold-start recommendations and their seed artists as history), so it
    can never drift from the ``playlists`` asset. Returns :data:`PLAYLIST_COLUMNS`.
    """
    mine = build_playlists(
        recs[recs["user"] == user],
        history[history["user"] == user],
        profiles,
        track_table,
        cfg,
        [context],
        length=length,
        weights=weights,
        cap=cap,
    )
    return mine[list(PLAYLIST_COLUMNS)].reset_index(drop=True)


_MEANS = ("tempo", "valence", "target_tempo", "target_valence", "final")


class PlaylistSummary:
    """Per-context means for asset metadata (tempo/valence vs target, length, artist diversity),
    accumulated over chunks of whole playlists (:func:`iter_playlists`), so the batch asset can
    summarise a table it never holds at once. Chunks must not share a (listener, context) pair.
    """

    def __init__(self) -> None:
        self.listeners = 0
        self.head = empty_playlists()  # the first rows seen, for a preview
        self._sums: defaultdict[str, defaultdict[str, float]] = defaultdict(
            lambda: defaultdict(float)
        )
        self._artists: defaultdict[str, set[str]] = defaultdict(set)

    def add(self, playlists: pd.DataFrame) -> None:
        """Count one chunk in (grouping on integer codes: chunks have ~100k rows)."""
        if not len(playlists):
            return
        if self.head.empty:
            self.head = playlists.head(10)
        user = _sorted_codes(playlists["user"])[0]
        artist, artists = _sorted_codes(playlists["artist"])
        context, names = _sorted_codes(playlists["context"])
        self.listeners += int(np.count_nonzero(np.bincount(user)))
        for k, name in enumerate(names):
            rows = np.flatnonzero(context == k)
            users = user[rows]
            lengths = np.bincount(users)
            present = lengths > 0
            first = _first_rows([users, artist[rows]])
            distinct = np.bincount(users[first], minlength=len(lengths))[present]
            sums = self._sums[str(name)]
            sums["playlists"] += int(present.sum())
            sums["tracks"] += len(rows)
            sums["diversity"] += float((distinct / lengths[present]).sum())
            for col in _MEANS:
                values = playlists[col].to_numpy(dtype=float)[rows]
                known = ~np.isnan(values)
                sums[col] += float(values[known].sum())
                sums[f"{col}_n"] += int(known.sum())
            seen = np.unique(artist[rows])
            self._artists[str(name)].update(artists[seen[seen < len(artists)]].astype(str))

    def observe(self, chunks: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        """Pass ``chunks`` through, counting each in on the way (to wrap a streaming write)."""
        for chunk in chunks:
            self.add(chunk)
            yield chunk

    def result(self) -> dict[str, Any]:
        """``listeners``, ``playlists`` ((listener, context) pairs) and per-context figures."""
        contexts: dict[str, Any] = {}
        for name in sorted(self._sums):
            s = self._sums[name]
            mean = {c: s[c] / s[f"{c}_n"] if s[f"{c}_n"] else float("nan") for c in _MEANS}
            contexts[name] = {
                "playlists": int(s["playlists"]),
                "tracks": int(s["tracks"]),
                "mean_length": round(s["tracks"] / s["playlists"], 2),
                "mean_tempo": round(mean["tempo"], 2),
                "mean_valence": round(mean["valence"], 3),
                "mean_target_tempo": round(mean["target_tempo"], 2),
                "mean_target_valence": round(mean["target_valence"], 3),
                "mean_final": round(mean["final"], 4),
                "artist_diversity": round(s["diversity"] / s["playlists"], 3),
                "distinct_artists": len(self._artists[name]),
            }
        return {
            "playlists": sum(c["playlists"] for c in contexts.values()),
            "listeners": self.listeners,
            "contexts": contexts,
        }


def playlist_summary(playlists: pd.DataFrame) -> dict[str, Any]:
    """:class:`PlaylistSummary` of one frame."""
    summary = PlaylistSummary()
    summary.add(playlists)
    return summary.result()


# --------------------------------------------------------------------------- exports


def _one_line(value: Any) -> str:
    """Text safe for one line of a line-based format (no line breaks, no control characters)."""
    return _XML_INVALID.sub("", " ".join(str(value).split()))


def track_uri(track_id: str) -> str:
    """The playlist location of a track: ``spotify:track:<id>`` (id percent-encoded if odd)."""
    return "spotify:track:" + quote(str(track_id), safe="")


def to_csv(df: pd.DataFrame) -> str:
    """The playlist as CSV text (UTF-8, header row, no index)."""
    return df.to_csv(index=False, lineterminator="\n")


def to_m3u(df: pd.DataFrame) -> str:
    """Extended M3U: ``#EXTINF:-1,Artist - Title`` then the track's Spotify URI per track."""
    lines = ["#EXTM3U"]
    for artist, title, track_id in zip(df["artist"], df["track_name"], df["track_id"], strict=True):
        lines.append(f"#EXTINF:-1,{_one_line(artist)} - {_one_line(title)}")
        lines.append(track_uri(track_id))
    return "\n".join(lines) + "\n"


def to_xspf(df: pd.DataFrame, title: str = "musicrec playlist") -> str:
    """XSPF (XML Shareable Playlist Format); all text escaped by ElementTree."""
    ns = "http://xspf.org/ns/0/"
    ET.register_namespace("", ns)
    root = ET.Element(f"{{{ns}}}playlist", version="1")
    ET.SubElement(root, f"{{{ns}}}title").text = _one_line(title)
    tracks = ET.SubElement(root, f"{{{ns}}}trackList")
    for i, row in enumerate(df.itertuples(index=False), start=1):
        track = ET.SubElement(tracks, f"{{{ns}}}track")
        ET.SubElement(track, f"{{{ns}}}location").text = track_uri(row.track_id)
        ET.SubElement(track, f"{{{ns}}}title").text = _one_line(row.track_name)
        ET.SubElement(track, f"{{{ns}}}creator").text = _one_line(row.artist)
        if "reason" in df.columns:
            ET.SubElement(track, f"{{{ns}}}annotation").text = _one_line(row.reason)
        ET.SubElement(track, f"{{{ns}}}trackNum").text = str(i)
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"
