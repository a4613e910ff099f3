"""The batch: every listener × context, a chunk of listeners at a time; the page's one listener."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..config import ContextConfig, PlaylistConfig
from ..grouping import dense_rank, lexorder, pack, runs
from ..parallel import THREADS, ordered_map
from .keys import _categorize, codes_of, key_codes, with_columns
from .order import number_tracks, spread_artists, tempo_smooth
from .reasons import ArtistSpace, add_reasons, artist_space, because_artists
from .score import PARTS, base_scores, context_targets, listener_targets, score_tracks
from .select import GROUP_COLUMNS, cap_per_artist, dedupe, group_candidates, rank_by_score, take_top
from .tracks import TrackIndex, expand_tracks, top_artists, track_index

CHUNK_USERS = 2000  # listeners per batch chunk (~600k candidate rows with the default config)
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
    workers: int = THREADS,
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
    rec_cut = np.searchsorted(batch.recs["user"], edges)
    history_cut = np.searchsorted(batch.history["user"], edges)

    def build(i: int) -> dict[str, Any]:
        return _build_chunk(
            batch,
            range(edges[i], edges[i + 1]),
            slice(rec_cut[i], rec_cut[i + 1]),
            slice(history_cut[i], history_cut[i + 1]),
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
    """:func:`build_playlists`' inputs coded over sorted vocabularies (so code order is string
    order), grouped by listener once: each chunk is a contiguous slice of ``recs`` and
    ``history``, whose listener codes become the chunk's categoricals."""

    users: pd.Index  # listeners in recs, sorted: a chunk's listeners are a slice of it
    artists: pd.CategoricalDtype  # every artist in recs or history, sorted
    labels: dict[str, pd.api.extensions.ExtensionArray]  # user, artist... as output strings
    recs: dict[str, np.ndarray]  # user, artist codes and score, grouped by listener
    history: dict[str, np.ndarray]  # user, artist codes and plays, grouped by listener
    profiles: pd.DataFrame  # artist_profiles rows of those artists (artist: categorical)
    space: ArtistSpace  # their artist_space, for because_artists
    tracks: pd.DataFrame  # the track table rows of those artists, keys as categoricals
    track_index: TrackIndex


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
    hu, ha = hist_user.cat.codes.to_numpy(), hist_artist.cat.codes.to_numpy()
    kept = np.flatnonzero((hu >= 0) & (ha >= 0))
    kept = kept[runs([hu[kept]])[0]]

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
    song = dense_rank(pack([artist_code, pd.factorize(table["title_key"])[0] + 1]))
    first_song = np.full(len(artists.categories), len(song), dtype=np.int64)
    np.minimum.at(first_song, artist_code, song)
    tracks = pd.DataFrame(
        {
            "artist": pd.Categorical.from_codes(artist_code, dtype=artists),
            "track_id": track_id.array,
            "track_name": pd.Categorical.from_codes(name_code, categories=pd.Index(names)),
            "title_key": song - first_song[artist_code],  # numbered within the artist: few bits
            "tempo": table["tempo"].to_numpy(dtype=float),
            "valence": table["valence"].to_numpy(dtype=float),
        }
    )
    return _Batch(
        users=users.categories,
        artists=artists,
        recs={"user": u[rows], "artist": a[rows], "score": recs["score"].to_numpy(float)[rows]},
        history={"user": hu[kept], "artist": ha[kept], "plays": history["plays"].to_numpy()[kept]},
        profiles=prof,
        space=artist_space(prof),
        tracks=tracks,
        track_index=track_index(tracks),
        labels={  # once, not per chunk: 360k listeners, 3M track ids
            "user": _strings(users.categories),
            "artist": _strings(artists.categories),
            "track_id": _strings(tracks["track_id"].cat.categories),
            "track_name": _strings(tracks["track_name"].cat.categories),
        },
    )


# The keys the selection steps read besides ``final``: the batch selects on these alone, as
# integer codes in one block made once per chunk (4x faster to sort and filter than
# categoricals), then takes the chosen rows' other columns (a sort of every column of ~600k rows
# per context costs more).
_SELECTION_KEYS = ["row", "user", "artist", "track_id", *GROUP_COLUMNS]
# The columns the ordering and reason steps and the output need of a scored row.
_PLAYLIST_SOURCE = ["user", "artist", "track_id", "track_name", "tempo", "valence", "base"]


def _build_chunk(
    batch: _Batch,
    listeners: range,
    recs: slice,
    history: slice,
    cfg: PlaylistConfig,
    chosen: dict[str, ContextConfig],
    length: int,
    cap: int,
) -> dict[str, Any]:
    """:func:`build_playlists` for one chunk of listeners: the steps, in the order the package
    docstring lists them, over the chunk's frames. Returns the output columns' arrays ({}
    without any candidate)."""
    users = pd.CategoricalDtype(batch.users[listeners.start : listeners.stop])

    def chunk_frame(part: dict[str, np.ndarray], rows: slice, values: str) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "user": pd.Categorical.from_codes(
                    part["user"][rows] - listeners.start, dtype=users
                ),
                "artist": pd.Categorical.from_codes(part["artist"][rows], dtype=batch.artists),
                values: part[values][rows],
            },
            copy=False,
        )

    recs_chunk = chunk_frame(batch.recs, recs, "score")
    history_chunk = chunk_frame(batch.history, history, "plays")
    top = top_artists(recs_chunk, cfg.artists_per_user)
    cands = expand_tracks(top, batch.tracks, index=batch.track_index)
    if cands.empty:
        return {}
    cands = with_columns(group_candidates(base_scores(cands)), row=np.arange(len(cands)))
    keys = _coded(cands, _SELECTION_KEYS)  # the selection's keys, the same in every context
    own = listener_targets(history_chunk, batch.profiles)
    own_tempo, own_valence = np.full((2, len(listeners)), np.nan)
    local = own["user"].array.codes
    own_tempo[local] = own["tempo"].to_numpy()
    own_valence[local] = own["valence"].to_numpy()
    everyone = pd.Categorical.from_codes(np.arange(len(listeners)), dtype=users)

    names = sorted(chosen)
    contexts = pd.CategoricalDtype(pd.Index(names))
    playlists = []
    for ctx in chosen.values():
        target_tempo, target_valence = context_targets(own_tempo, own_valence, ctx)
        targets = pd.DataFrame(
            {"user": everyone, "target_tempo": target_tempo, "target_valence": target_valence},
            copy=False,
        )
        scored = score_tracks(cands, targets, ctx)
        picked = rank_by_score(keys.assign(final=scored["final"].to_numpy()))
        picked = dedupe(picked, ranked=True)
        picked = cap_per_artist(picked, cap, ranked=True)
        picked = take_top(picked, length, ranked=True)
        source = [*_PLAYLIST_SOURCE, "target_tempo", "target_valence", *PARTS]
        playlist = _view(scored, source).take(picked["row"].to_numpy())
        if cfg.tempo_smooth:
            playlist = tempo_smooth(playlist)
        playlists.append(number_tracks(spread_artists(playlist)))
    context = np.repeat([names.index(name) for name in chosen], [len(p) for p in playlists])
    out = pd.concat(playlists, ignore_index=True)
    out = with_columns(out, context=pd.Categorical.from_codes(context, dtype=contexts))
    out = out.take(lexorder(codes_of(out, "user", "context", "rank")))
    out = because_artists(out, history_chunk, batch.profiles, space=batch.space)
    out = add_reasons(out)

    strings = {**batch.labels, "context": _strings(contexts.categories)}
    text = {
        col: _labels(strings[col], out[col].array.codes.astype(np.int64) + offset)
        for col, offset in (
            ("user", listeners.start),
            ("context", 0),
            ("track_id", 0),
            ("track_name", 0),
            ("artist", 0),
        )
    }
    text["reason"] = out["reason"].array
    values = {c: out[c].to_numpy() for c in PLAYLIST_COLUMNS if c not in text}
    values.update(text)
    return {c: values[c] for c in ("user", "context", *PLAYLIST_COLUMNS)}


def _view(df: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """``df[columns]`` without copying (a column list copies every column)."""
    return pd.DataFrame({c: df[c].array for c in columns}, copy=False)


def _coded(df: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """The columns with categoricals as their codes (sorted categories: same order), copied into
    one int32 block: pandas reorders an int32 block 3x faster than an int64 one (8 vs 28 ms for
    600k rows × 7 columns), and the selection steps reorder and filter it per context. Codes,
    row numbers and group numbers of a chunk stay far below 2**31."""
    return pd.DataFrame(
        {
            c: (key_codes(df[c]) if df[c].dtype == "category" else df[c].to_numpy()).astype(
                np.int32
            )
            for c in columns
        }
    )


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
