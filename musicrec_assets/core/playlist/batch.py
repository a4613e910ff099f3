"""The batch: every listener × context, a chunk of listeners at a time; the page's one listener."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..config import ContextConfig, PlaylistConfig
from ..grouping import (
    cumcount,
    dense_rank,
    first_rows,
    lexorder,
    minmax_per_group,
    pack,
    runs,
)
from ..parallel import ordered_map
from .keys import _categorize
from .order import _smooth_order, _spread_order
from .reasons import BECAUSE_TOP_K, _artist_space, _ArtistSpace, _because, _reasons
from .score import _parts, context_targets, listener_targets
from .select import _select, _song_groups
from .tracks import _artist_groups, _expand

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
    rows = rows[runs([u[rows]])[0]]  # grouped by listener (free when recs already are)
    hu = hist_user.cat.codes.to_numpy()
    kept = np.flatnonzero((hu >= 0) & (hist_artist.cat.codes.to_numpy() >= 0))
    kept = kept[runs([hu[kept]])[0]]
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
    song = dense_rank(pack([artist_code, pd.factorize(table["title_key"])[0] + 1]))
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
            "tie": dense_rank(pack([track_code, artist_code])),  # the score sort's tie-break
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
    top = lexorder([user, dense_rank(-score), artist])
    top = top[cumcount([user[top]]) < cfg.artists_per_user]
    user, score, artist = user[top], score[top], artist[top]
    rec_row, table_row = _expand(artist, batch.track_groups)
    if not len(rec_row):
        return {}
    user, score, artist = user[rec_row], score[rec_row], artist[rec_row]
    # (listener, track id, artist) order: the score sort's tie-break is then the row order.
    order = lexorder([user, batch.tracks["tie"][table_row]])
    user, artist, score, table_row = user[order], artist[order], score[order], table_row[order]
    track, title, tempo, valence = (
        batch.tracks[c][table_row] for c in ("track", "title", "tempo", "valence")
    )
    base = minmax_per_group(score, user, constant=1.0, missing=1.0)
    songs = _song_groups(user, artist, track, title)
    pair = dense_rank(pack([user, artist]))
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
            "rank": cumcount([user[rows]]) + 1,
            "base": base[rows],
            **{c: v[rows] for c, v in parts.items()},
            "target_tempo": target_tempo[rows],
            "target_valence": target_valence[rows],
        }
        for c, v in columns.items():
            picked.setdefault(c, []).append(v)
    out = {c: np.concatenate(v) for c, v in picked.items()}
    rows = out.pop("row")
    order = lexorder([user[rows], out["context"], out["rank"]])
    out = {c: v[order] for c, v in out.items()}
    rows = rows[order]
    who, what = user[rows], artist[rows]

    # Reasons only for the rows that made it into a playlist (a small share of the candidates),
    # each distinct (listener, artist) explained once for all contexts.
    pair = dense_rank(pack([who, what]))
    first = first_rows([pair])
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
