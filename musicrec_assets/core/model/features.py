"""Content and popularity features per artist and per listener, keyed like everything else.

Fixes the seed (docs/architecture.md, "What the seed project got wrong"): item features are keyed by
the ``artist`` key through the catalogue's ``artist → spotify_id`` map (the seed joined ALS integers
to Spotify ids and got all zeros); audio attributes are z-scored so tempo and loudness do not
dominate distances; missing content stays NaN instead of 0. Only the stage's fit interactions feed
popularity and profiles.

The op ``content_features`` builds both assets (``user_profiles``, ``item_features``) with
``build_content_features``: one ``content_features`` per stage, each from that stage's fit rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from ..errors import InputError
from ..evaluation.protocol import STAGES, stage_data
from ..ids import codes_in, factorize_sorted
from ..parallel import THREADS, ordered_map
from ..schema import AUDIO_FEATURES

# The mean musical key of an artist's tracks means nothing, so it is left out of the profile.
PROFILE_FEATURES: tuple[str, ...] = tuple(f for f in AUDIO_FEATURES if f != "key")
Z_COLUMNS: tuple[str, ...] = tuple(f"z_{f}" for f in PROFILE_FEATURES)
RAW_PROFILE: tuple[str, ...] = ("tempo", "valence", "explicit")


def artist_spotify_ids(artist_catalog: pd.DataFrame) -> pd.Series:
    """``artist`` → ``spotify_id`` (NaN when unmatched); raises when the map is not a function."""
    pairs = artist_catalog[["artist", "spotify_id"]].dropna().drop_duplicates()
    dup = pairs["artist"].duplicated()
    if dup.any():
        pos = int(np.flatnonzero(dup.to_numpy())[0])
        name = pairs["artist"].iloc[pos]
        row = int(np.flatnonzero((artist_catalog["artist"] == name).to_numpy())[-1])
        raise InputError(
            "artist_catalog",
            f"artist {name!r} maps to more than one spotify_id",
            column="spotify_id",
            row=row + 2,
        )
    ids = pairs.set_index("artist")["spotify_id"]
    everyone = pd.Index(np.unique(artist_catalog["artist"].dropna().to_numpy().astype(str)))
    return ids.reindex(everyone)


def _list_array(values: pd.Series, value_type: pa.DataType) -> pa.Array:
    """List-valued cells (lists, arrays or null) as one Arrow list array, built in C++."""
    arr = pa.array(values.to_numpy(), type=pa.large_list(value_type), from_pandas=True)
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def explode_lists(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(row position, element) for list-valued numeric cells (lists, arrays or null)."""
    arr = _list_array(values, pa.float64())
    flat = pc.list_flatten(arr)
    rows = pc.list_parent_indices(arr).to_numpy()
    ok = flat.is_valid().to_numpy(zero_copy_only=False)
    return rows[ok], flat.to_numpy(zero_copy_only=False)[ok]


def _dictionary(values: pd.Series) -> tuple[np.ndarray, pd.Index, np.ndarray]:
    """(row position, distinct elements, index into them) of list-valued text cells; null
    elements are dropped."""
    arr = _list_array(values, pa.string())
    rows = pc.list_parent_indices(arr).to_numpy()
    enc = pc.dictionary_encode(pc.list_flatten(arr))
    distinct = pd.Index(enc.dictionary.to_numpy(zero_copy_only=False).astype(str))
    idx = enc.indices.fill_null(-1).to_numpy()
    return rows[idx >= 0], distinct, idx[idx >= 0]


def list_codes(values: pd.Series, vocab: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    """(row position, code into ``vocab``, -1 when not in it) for list-valued text cells.
    Strings are matched once per distinct value (dictionary encoding), not once per element:
    5M genre entries at 360K scale."""
    rows, distinct, idx = _dictionary(values)
    return rows, vocab.get_indexer(distinct)[idx]


def coded_matrix(
    rows: np.ndarray, cols: np.ndarray, data: np.ndarray, shape: tuple[int, int]
) -> sp.csr_matrix:
    """CSR of (row, col, value) triples, entries with col -1 (outside the vocabulary) dropped."""
    ok = cols >= 0
    mat = sp.csr_matrix((data[ok], (rows[ok], cols[ok])), shape=shape, dtype=np.float64)
    mat.sum_duplicates()
    return mat


def list_column(rows: np.ndarray, values: np.ndarray, n_rows: int, pa_type: pa.DataType) -> list:
    """Inverse of ``explode_lists`` for row-sorted input: one array per row (empty if none)."""
    offsets = np.r_[0, np.cumsum(np.bincount(rows, minlength=n_rows))].astype(np.int64)
    flat = pa.array(values, type=pa_type)
    if isinstance(flat, pa.ChunkedArray):  # pyarrow splits very large inputs into chunks
        flat = flat.combine_chunks()
    arr = pa.LargeListArray.from_arrays(pa.array(offsets), flat)
    return arr.to_pandas()


def genre_matrix(genres: pd.Series, shares: pd.Series | None, vocab: pd.Index) -> sp.csr_matrix:
    """rows × ``vocab`` CSR of genre shares (or 1 for presence when ``shares`` is None)."""
    rows, cols = list_codes(genres, vocab)
    data = np.ones(len(rows)) if shares is None else explode_lists(shares)[1].astype(np.float64)
    return coded_matrix(rows, cols, data, (len(genres), len(vocab)))


def genre_vocab(*series: pd.Series) -> pd.Index:
    """Sorted union of the genre names in some list columns."""
    names = [_dictionary(s)[1].to_numpy() for s in series]
    return pd.Index(np.unique(np.concatenate(names))) if names else pd.Index([])


def _take(values: np.ndarray, idx: np.ndarray, fill: float = np.nan) -> np.ndarray:
    out = np.full(len(idx), fill, dtype=np.float64)
    ok = idx >= 0
    out[ok] = np.asarray(values, dtype=np.float64)[idx[ok]]
    return out


def item_features(
    interactions: pd.DataFrame, artist_vectors: pd.DataFrame, artist_catalog: pd.DataFrame
) -> pd.DataFrame:
    """One row per ``artist`` key (catalogue ∪ fit artists): content, genres and fit popularity.

    ``z_<attr>`` are z-scored over the Spotify artists the catalogue links to. That uses no
    listening data, so the statistics are the same in every stage and carry no label
    information. ``has_spotify`` = matched to a Spotify artist with a vector. Popularity
    (``pop_listeners``, ``pop_plays`` and their log1p) comes from ``interactions`` only.
    """
    ids = artist_spotify_ids(artist_catalog)
    a, fit_artists = factorize_sorted(interactions["artist"])
    artists = pd.Index(np.union1d(ids.index.to_numpy().astype(str), fit_artists.astype(str)))
    sid = ids.reindex(artists)
    av = artist_vectors.drop_duplicates("artist_id").set_index("artist_id")
    row = av.index.get_indexer(sid.to_numpy())
    row[sid.isna().to_numpy()] = -1
    linked = av.iloc[np.unique(row[row >= 0])]

    out = pd.DataFrame({"artist": artists.to_numpy(), "spotify_id": sid.to_numpy()})
    out["has_spotify"] = row >= 0
    for f in PROFILE_FEATURES:
        raw = _take(av[f].to_numpy(), row)
        mean, std = linked[f].mean(), linked[f].std(ddof=0)
        std = std if np.isfinite(std) and std > 0 else 1.0
        mean = mean if np.isfinite(mean) else 0.0
        out[f"z_{f}"] = ((raw - mean) / std).astype(np.float32)
    out["has_audio"] = out[["z_tempo", "z_valence"]].notna().all(axis=1)
    for f in ("tempo", "valence", "explicit", "popularity", "n_tracks"):
        out[f] = _take(av[f].to_numpy(), row) if f in av else np.nan
    empty = np.empty(0, dtype=object)
    for col in ("genres", "genre_shares"):
        cells = av[col].to_numpy() if col in av else np.full(len(av), None, dtype=object)
        taken = np.empty(len(row), dtype=object)
        taken[:] = [empty] * len(row)
        taken[row >= 0] = cells[row[row >= 0]]
        out[col] = taken
    out["top_genres"] = _take_str(av["top_genres"].to_numpy(), row) if "top_genres" in av else ""

    at = artists.get_indexer(fit_artists.astype(str))
    listeners = np.zeros(len(artists), dtype=np.int64)
    listeners[at] = np.bincount(a, minlength=len(fit_artists))
    plays = np.zeros(len(artists), dtype=np.float64)
    plays[at] = np.bincount(
        a, weights=interactions["plays"].to_numpy(np.float64), minlength=len(at)
    )
    out["pop_listeners"] = listeners
    out["pop_plays"] = plays
    out["log_pop_listeners"] = np.log1p(out["pop_listeners"].to_numpy(dtype=np.float64))
    out["log_pop_plays"] = np.log1p(out["pop_plays"].to_numpy())
    return out


def _take_str(values: np.ndarray, idx: np.ndarray) -> np.ndarray:
    out = np.full(len(idx), "", dtype=object)
    ok = idx >= 0
    got = values[idx[ok]]
    out[ok] = np.where(pd.isna(got), "", got)
    return out


def user_profiles(
    interactions: pd.DataFrame,
    item_features: pd.DataFrame,
    *,
    n_genres: int = 20,
    n_top: int = 3,
) -> pd.DataFrame:
    """Per listener: play-weighted content profile, genre distribution and activity stats.

    Weights are log1p(plays) so one obsessively played artist does not own the profile; each
    attribute averages over the listener's artists that have it (NaN if none). ``genres`` /
    ``genre_shares`` keep the ``n_genres`` largest shares (for overlap features), ``top_genres``
    the first ``n_top`` joined like the artist table, ``genre_entropy`` uses the full
    distribution (bits).
    """
    u, users = factorize_sorted(interactions["user"])
    n_users = len(users)
    items = pd.Index(item_features["artist"].to_numpy().astype(str))
    i = codes_in(items, interactions["artist"])
    plays = interactions["plays"].to_numpy(dtype=np.float64)
    known = i >= 0
    w = sp.csr_matrix((np.log1p(plays[known]), (u[known], i[known])), shape=(n_users, len(items)))

    out = pd.DataFrame({"user": users})
    n_artists = np.bincount(u, minlength=n_users).astype(np.float64)
    total = np.bincount(u, weights=plays, minlength=n_users)
    out["n_artists"] = n_artists
    out["total_plays"] = total
    out["mean_plays"] = total / np.maximum(n_artists, 1)
    out["log_total_plays"] = np.log1p(total)
    has_audio = item_features["has_audio"].to_numpy(dtype=np.float64)
    out["feature_share"] = np.bincount(
        u[known], weights=has_audio[i[known]], minlength=n_users
    ) / np.maximum(n_artists, 1)
    logpop = item_features["log_pop_listeners"].to_numpy(dtype=np.float64)
    out["mean_log_pop"] = np.bincount(
        u[known], weights=logpop[i[known]], minlength=n_users
    ) / np.maximum(np.bincount(u[known], minlength=n_users), 1)

    cols = [*Z_COLUMNS, *RAW_PROFILE]
    values = item_features[cols].to_numpy(dtype=np.float64)
    have = np.isfinite(values)
    num = np.asarray(w @ np.where(have, values, 0.0))
    den = np.asarray(w @ have.astype(np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        prof = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    for j, c in enumerate(cols):
        out[c] = prof[:, j].astype(np.float32 if c.startswith("z_") else np.float64)

    vocab = genre_vocab(item_features["genres"])
    g = w @ genre_matrix(item_features["genres"], item_features["genre_shares"], vocab)
    g = sp.csr_matrix(g)
    sums = np.asarray(g.sum(axis=1)).ravel()
    g = sp.csr_matrix(sp.diags(1.0 / np.where(sums > 0, sums, 1.0)) @ g)
    coo = g.tocoo()
    with np.errstate(divide="ignore"):
        plogp = np.where(coo.data > 0, coo.data * np.log2(coo.data), 0.0)
    out["genre_entropy"] = -np.bincount(coo.row, weights=plogp, minlength=n_users)
    order = np.lexsort((coo.col, -coo.data, coo.row))
    r, c, v = coo.row[order], coo.col[order], coo.data[order]
    start = np.r_[0, np.cumsum(np.bincount(r, minlength=n_users))[:-1]]
    rank = np.arange(len(r)) - start[r]
    keep = rank < n_genres
    names = vocab.to_numpy()[c[keep]].astype(str)
    out["genres"] = list_column(r[keep], names, n_users, pa.large_string())
    out["genre_shares"] = list_column(r[keep], v[keep], n_users, pa.float64())
    out["top_genres"] = join_top(r[keep], rank[keep], names, n_users, n_top)
    return out


def join_top(
    rows: np.ndarray, rank: np.ndarray, names: np.ndarray, n_rows: int, n_top: int
) -> np.ndarray:
    """ "a, b, c" strings of each row's first ``n_top`` names (one vectorised pass per position)."""
    joined = pd.Series("", index=np.arange(n_rows), dtype=object)
    for pos in range(n_top):
        sel = rank == pos
        part = pd.Series(names[sel], index=rows[sel], dtype=object).reindex(joined.index)
        sep = "" if pos == 0 else ", "
        joined = joined.where(part.isna(), joined + sep + part.fillna(""))
    return joined.to_numpy()


def content_features(
    fit: pd.DataFrame, artist_vectors: pd.DataFrame, artist_catalog: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(user profiles, item features) of one set of fit rows (a stage's or a validation fold's)."""
    items = item_features(fit, artist_vectors, artist_catalog)
    return user_profiles(fit, items), items


def build_content_features(
    splits: pd.DataFrame,
    artist_vectors: pd.DataFrame,
    artist_catalog: pd.DataFrame,
    *,
    stages: tuple[str, ...] = STAGES,
    workers: int = THREADS,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(user_profiles, item_features) with a ``stage`` column, each from that stage's fit rows.

    Stages are independent, so two are built at once (threads; same result as one by one).
    """

    def build(stage: str) -> tuple[pd.DataFrame, pd.DataFrame]:
        profiles, items = content_features(
            stage_data(splits, stage, validate=False).fit, artist_vectors, artist_catalog
        )
        return profiles.assign(stage=stage), items.assign(stage=stage)

    profiles, items = zip(*ordered_map(build, stages, workers=workers), strict=True)
    up = pd.concat(profiles, ignore_index=True)
    it = pd.concat(items, ignore_index=True)
    return _stage_first(up), _stage_first(it)


def _stage_first(df: pd.DataFrame) -> pd.DataFrame:
    return df[["stage", *[c for c in df.columns if c != "stage"]]]


def stage_rows(df: pd.DataFrame, stage: str) -> pd.DataFrame:
    """One stage's rows of ``user_profiles`` / ``item_features``, without the ``stage`` column."""
    return df[(df["stage"] == stage).to_numpy()].drop(columns="stage").reset_index(drop=True)
