"""Context playlists: a listener's recommended artists → an ordered, explained list of tracks.

Small steps in the style of ListenBrainz troi, each a plain function over pandas frames that can be
tested alone, composed by :func:`build_playlists` (every listener × context; the batch asset) and
:func:`build_playlist` (one listener; the web page), so both always score the same way.

It replaces the seed notebook's playlist stage (seed-system.md §12, §14 item 11):

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
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd
from scipy import sparse

from .config import ContextConfig, PlaylistConfig

TEMPO_SCALE = 80.0  # BPM difference at which Tempo_sim reaches 0 (design §4)
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
    Returns ``user, tempo, valence``.
    """
    users = pd.Index(history["user"].unique(), name="user").sort_values()
    joined = history[["user", "artist", "plays"]].merge(
        artist_audio[["artist", "tempo", "valence"]], on="artist", how="inner"
    )
    weight = np.log1p(joined["plays"].to_numpy(dtype=float))
    sums = {}
    for col in ("tempo", "valence"):
        values = joined[col].to_numpy(dtype=float)
        known = ~np.isnan(values)
        sums[f"{col}_num"] = np.where(known, weight * values, 0.0)
        sums[f"{col}_den"] = np.where(known, weight, 0.0)
    totals = pd.DataFrame(sums).groupby(joined["user"].to_numpy()).sum()
    out = pd.DataFrame(index=users)
    for col in ("tempo", "valence"):
        den = totals[f"{col}_den"]
        out[col] = (totals[f"{col}_num"] / den.where(den > 0)).reindex(users)
    return out.reset_index()


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

    Rows keep the order of ``recs``; later steps order by score with explicit tie-breaks.
    """
    cands = recs[["user", "artist", "score"]].merge(track_table, on="artist", how="inner")
    return cands.reset_index(drop=True)


# --------------------------------------------------------------------------- scoring


def score_tracks(cands: pd.DataFrame, targets: pd.DataFrame, ctx: ContextConfig) -> pd.DataFrame:
    """Add Base, Tempo_sim, Valence_sim, their weighted parts and ``final`` (their exact sum).

    ``targets``: ``user, target_tempo, target_valence``. Base is the artist score min-max
    normalised per listener (1.0 when all of a listener's scores are equal), so the context
    weights mean the same thing for every listener. Unknown values give :data:`NEUTRAL_SIM`.
    """
    df = cands.copy()
    row = _positions(df["user"], pd.Index(targets["user"]))
    for col in ("target_tempo", "target_valence"):
        values = targets[col].to_numpy(dtype=float)
        df[col] = np.where(row >= 0, values[np.maximum(row, 0)], np.nan)
    score = df["score"].astype(float)
    by_user = score.groupby(df["user"])
    low, high = by_user.transform("min"), by_user.transform("max")
    span = high - low
    df["base"] = ((score - low) / span.where(span > 0)).fillna(1.0)
    tempo_gap = (df["tempo"] - df["target_tempo"]).abs() / TEMPO_SCALE
    df["tempo_sim"] = (1.0 - tempo_gap).clip(lower=0.0).fillna(NEUTRAL_SIM)
    valence_gap = (df["valence"] - df["target_valence"]).abs()
    df["valence_sim"] = (1.0 - valence_gap).clip(lower=0.0).fillna(NEUTRAL_SIM)
    df["base_part"] = ctx.w_base * df["base"]
    df["tempo_part"] = ctx.w_tempo * df["tempo_sim"]
    df["valence_part"] = ctx.w_valence * df["valence_sim"]
    df["final"] = df["base_part"] + df["tempo_part"] + df["valence_part"]
    return df


def _positions(keys: pd.Series, index: pd.Index) -> np.ndarray:
    """Row of each key in ``index`` (-1 when absent); categorical keys are looked up once each."""
    if isinstance(keys.dtype, pd.CategoricalDtype):
        per_category = index.get_indexer(keys.cat.categories)
        codes = keys.cat.codes.to_numpy()
        return np.where(codes >= 0, per_category[np.maximum(codes, 0)], -1)
    return index.get_indexer(keys)


def _by_score(df: pd.DataFrame) -> pd.DataFrame:
    """Best first within each listener; track id, then artist, break ties reproducibly."""
    return df.sort_values(
        ["user", "final", "track_id", "artist"], ascending=[True, False, True, True], kind="stable"
    ).reset_index(drop=True)


def dedupe(cands: pd.DataFrame, *, ranked: bool = False) -> pd.DataFrame:
    """Keep one row per song per listener: same track id, or same artist + normalised title.

    The best-scored version survives (a track featured under two recommended artists, or a
    remaster next to its original). ``ranked=True``: ``cands`` is already in score order (the
    output of this step and the next two is), which saves a sort over millions of batch rows.
    """
    df = cands if ranked else _by_score(cands)
    if "title_key" not in df.columns:
        df["title_key"] = normalise_titles(df["track_name"]).fillna(df["track_id"])
    df = df.drop_duplicates(["user", "track_id"])
    return df.drop_duplicates(["user", "artist", "title_key"]).reset_index(drop=True)


def cap_per_artist(cands: pd.DataFrame, cap: int = 2, *, ranked: bool = False) -> pd.DataFrame:
    """At most ``cap`` tracks per artist per listener, keeping each artist's best-scored ones."""
    df = cands if ranked else _by_score(cands)
    return df[df.groupby(["user", "artist"]).cumcount() < cap].reset_index(drop=True)


def take_top(cands: pd.DataFrame, length: int, *, ranked: bool = False) -> pd.DataFrame:
    """The ``length`` best-scored tracks per listener: the playlist's content, before ordering."""
    df = cands if ranked else _by_score(cands)
    return df[df.groupby("user").cumcount() < length].reset_index(drop=True)


# --------------------------------------------------------------------------- ordering


def _layout(df: pd.DataFrame) -> np.ndarray:
    """Row numbers of each listener's tracks as a (listeners × longest) matrix; -1 pads.

    Ordering steps work on all playlists at once, one position per numpy step, instead of a
    Python loop per listener.
    """
    group = df.groupby("user", sort=False).ngroup().to_numpy()
    pos = df.groupby("user", sort=False).cumcount().to_numpy()
    layout = np.full((int(group.max()) + 1, int(pos.max()) + 1), -1, dtype=np.int64)
    layout[group, pos] = np.arange(len(df))
    return layout


def _apply_order(df: pd.DataFrame, layout: np.ndarray, order: np.ndarray) -> pd.DataFrame:
    """Rows in the new order: ``order[p, t]`` is the column of ``layout`` placed at position t."""
    picked = order >= 0
    rows = np.take_along_axis(layout, np.where(picked, order, 0), axis=1)[picked]
    return df.iloc[rows].reset_index(drop=True)


def tempo_smooth(playlist: pd.DataFrame) -> pd.DataFrame:
    """Order each playlist to avoid tempo jumps: start at the track nearest the median tempo, then
    always go to the nearest remaining tempo (ties: the better-placed track).

    Tracks without tempo count as the playlist's median tempo.
    """
    if playlist.empty:
        return playlist.reset_index(drop=True)
    layout = _layout(playlist)
    valid = layout >= 0
    tempo = np.where(valid, playlist["tempo"].to_numpy(dtype=float)[layout], np.nan)
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
    return _apply_order(playlist, layout, order)


def spread_artists(playlist: pd.DataFrame) -> pd.DataFrame:
    """Reorder so no two consecutive tracks share an artist whenever that is possible.

    Greedy over the current order: take the first remaining track whose artist differs from the
    previous one, unless an artist holds more than half of what remains (then it must go now or
    the rest cannot alternate). When no alternation exists (one artist left), order is kept.
    Deterministic: the current order is the only preference.
    """
    if playlist.empty:
        return playlist.reset_index(drop=True)
    layout = _layout(playlist)
    valid = layout >= 0
    pairs = playlist.groupby(["user", "artist"], sort=True).ngroup()
    local = (pairs - pairs.groupby(playlist["user"]).transform("min")).to_numpy()
    code = np.where(valid, local[np.where(valid, layout, 0)], -1)
    n_groups, width = layout.shape
    rows = np.arange(n_groups)
    remaining = np.zeros((n_groups, width), dtype=np.int64)
    np.add.at(remaining, (np.nonzero(valid)[0], code[valid]), 1)
    avail = valid.copy()
    prev = np.full(n_groups, -1, dtype=np.int64)
    order = np.full(layout.shape, -1, dtype=np.int64)
    for step in range(width):
        left = avail.sum(axis=1)
        same_artist_left = np.take_along_axis(remaining, np.where(valid, code, 0), axis=1)
        other = avail & (code != prev[:, None])
        forced = other & (2 * same_artist_left > left[:, None])
        choice = np.where(
            forced.any(axis=1)[:, None], forced, np.where(other.any(axis=1)[:, None], other, avail)
        )
        pick = choice.argmax(axis=1)
        has = choice[rows, pick]
        order[has, step] = pick[has]
        avail[rows[has], pick[has]] = False
        picked_code = code[rows, pick]
        remaining[rows[has], picked_code[has]] -= 1
        prev = np.where(has, picked_code, prev)
    return _apply_order(playlist, layout, order)


# --------------------------------------------------------------------------- reasons


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
    top = history.sort_values(["user", "plays", "artist"], ascending=[True, False, True])
    top = top[top.groupby("user").cumcount() < top_k][["user", "artist", "plays"]]
    cross = pairs[["user", "artist"]].merge(
        top.rename(columns={"artist": "because"}), on="user", how="inner"
    )
    cross = cross[cross["artist"] != cross["because"]].reset_index(drop=True)
    if cross.empty:
        return pd.DataFrame({"user": [], "artist": [], "because": []}, dtype=object)

    involved = pd.unique(np.concatenate([cross["artist"].to_numpy(), cross["because"].to_numpy()]))
    prof = profiles[profiles["artist"].isin(involved)].drop_duplicates("artist")
    prof = prof.set_index("artist")
    index = pd.Index(prof.index)
    a = index.get_indexer(cross["artist"])
    b = index.get_indexer(cross["because"])
    both = (a >= 0) & (b >= 0)
    sim = np.zeros(len(cross))

    features = [c for c in SIMILARITY_FEATURES if c in prof.columns]
    if features and both.any():
        scales = np.array([SIMILARITY_SCALES[c] for c in features])
        z = prof[features].to_numpy(dtype=float) / scales
        diff = z[a[both]] - z[b[both]]
        usable = ~np.isnan(diff)
        dist = np.sqrt(np.where(usable, diff**2, 0.0).sum(axis=1) / np.maximum(usable.sum(1), 1))
        sim[both] += (1.0 - GENRE_WEIGHT) * np.where(usable.any(axis=1), 1.0 / (1.0 + dist), 0.0)

    if "genres" in prof.columns and "genre_shares" in prof.columns and both.any():
        genres = prof[["genres", "genre_shares"]].reset_index(drop=True)
        flat = genres.explode(["genres", "genre_shares"]).dropna(subset=["genres"])
        if not flat.empty:
            codes, vocab = pd.factorize(flat["genres"])
            matrix = sparse.csr_matrix(
                (flat["genre_shares"].to_numpy(dtype=float), (flat.index.to_numpy(), codes)),
                shape=(len(prof), len(vocab)),
            )
            norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
            matrix = sparse.diags(1.0 / np.where(norms > 0, norms, 1.0)) @ matrix
            cosine = np.asarray(matrix[a[both]].multiply(matrix[b[both]]).sum(axis=1)).ravel()
            sim[both] += GENRE_WEIGHT * cosine

    cross["sim"] = sim
    cross = cross.sort_values(
        ["user", "artist", "sim", "plays", "because"], ascending=[True, True, False, False, True]
    )
    return cross.drop_duplicates(["user", "artist"])[["user", "artist", "because"]].reset_index(
        drop=True
    )


def _fmt(values: pd.Series, pattern: str, missing: str, decimals: int) -> pd.Series:
    """Format a numeric column, NaN → ``missing``.

    Each distinct rounded value is formatted once, so millions of batch rows cost a lookup each.
    """
    rounded = values.astype(float).round(decimals)
    text = {v: pattern.format(v) for v in rounded.dropna().unique()}
    return rounded.map(text).astype(object).where(rounded.notna(), missing)


def add_reasons(playlist: pd.DataFrame, context: str) -> pd.DataFrame:
    """Add a short ``reason`` a person can read, from ``because`` and the targets, e.g.
    "Because you play Radiohead · 128 BPM, valence 0.71 for workout (target 148 BPM, 0.75)".
    """
    df = playlist.copy()
    because = df["because"] if "because" in df.columns else pd.Series(np.nan, index=df.index)
    head = ("Because you play " + because.astype(object)).where(
        because.notna(), "Recommended for you"
    )
    fit = (
        _fmt(df["tempo"], "{:.0f} BPM", "tempo unknown", 0)
        + ", "
        + _fmt(df["valence"], "valence {:.2f}", "valence unknown", 2)
    )
    label = "your usual" if context == "default" else context
    target = _fmt(df["target_tempo"], "{:.0f} BPM", "any tempo", 0) + _fmt(
        df["target_valence"], ", {:.2f}", "", 2
    )
    df["reason"] = head + " · " + fit + " for " + label + " (target " + target + ")"
    return df


# --------------------------------------------------------------------------- composition


def _context(cfg: PlaylistConfig, name: str) -> ContextConfig:
    if name not in cfg.contexts:
        known = ", ".join(cfg.contexts)
        raise ValueError(f"unknown context {name!r}; known contexts: {known}")
    return cfg.contexts[name]


def _empty_playlists() -> pd.DataFrame:
    return pd.DataFrame({c: [] for c in ("user", "context", *PLAYLIST_COLUMNS)})


def build_playlists(
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
) -> pd.DataFrame:
    """Playlists for every listener in ``recs`` × every context: the batch asset's one call.

    ``recs``: ``user, artist, score`` (e.g. reranked_topk); ``history``: ``user, artist, plays``
    (all interactions); ``profiles``: :func:`artist_profiles`; ``track_table``:
    :func:`artist_tracks`. ``length``, ``weights`` (w_base, w_tempo, w_valence) and ``cap``
    override the config. Vectorised over listeners; the loops are over contexts and over chunks
    of ``chunk_users`` listeners (bounding memory: each has ~artists_per_user × tracks_per_artist
    candidate rows). Returns ``user, context`` + :data:`PLAYLIST_COLUMNS`, ordered by user,
    context, rank.
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
    users = np.sort(recs["user"].unique())
    parts = []
    for start in range(0, len(users), max(1, chunk_users)):
        some = users[start : start + chunk_users]
        mine, hist = recs[recs["user"].isin(some)], history[history["user"].isin(some)]
        part = _build_chunk(mine, hist, profiles, track_table, cfg, chosen, length, cap)
        if not part.empty:
            parts.append(part)
    return pd.concat(parts, ignore_index=True) if parts else _empty_playlists()


def _build_chunk(
    recs: pd.DataFrame,
    history: pd.DataFrame,
    profiles: pd.DataFrame,
    track_table: pd.DataFrame,
    cfg: PlaylistConfig,
    chosen: dict[str, ContextConfig],
    length: int,
    cap: int,
) -> pd.DataFrame:
    """:func:`build_playlists` for one chunk of listeners (all of their rows)."""
    top = recs.sort_values(["user", "score", "artist"], ascending=[True, False, True])
    top = top[top.groupby("user").cumcount() < cfg.artists_per_user]
    # Millions of candidate rows: carry keys as categoricals (integer codes) so sorts, joins and
    # de-duplication never touch the strings; categories are sorted, so the order is lexical.
    artist = pd.CategoricalDtype(np.union1d(top["artist"].unique(), track_table["artist"].unique()))
    top = top.astype({"user": "category", "artist": artist})
    top["user"] = top["user"].cat.remove_unused_categories()  # inputs may be sliced categoricals
    table = track_table.astype(
        {
            "artist": artist,
            "track_id": "category",
            "track_name": "category",
            "title_key": "category",
        }
    )
    cands = expand_tracks(top, table)
    if cands.empty or length <= 0 or cap <= 0:
        return _empty_playlists()
    own = listener_targets(history, profiles).set_index("user")
    own = own.reindex(pd.Index(cands["user"].cat.categories, name="user"))

    out = []
    for name, ctx in chosen.items():
        tempo, valence = context_targets(own["tempo"], own["valence"], ctx)
        targets = pd.DataFrame(
            {"user": own.index, "target_tempo": tempo, "target_valence": valence}
        )
        ranked = dedupe(score_tracks(cands, targets, ctx))
        playlist = take_top(cap_per_artist(ranked, cap, ranked=True), length, ranked=True)
        if cfg.tempo_smooth:
            playlist = tempo_smooth(playlist)
        playlist = spread_artists(playlist)
        playlist["rank"] = playlist.groupby("user").cumcount() + 1
        playlist["context"] = name
        out.append(playlist)

    # Reasons only for the rows that made it into a playlist (a small share of the candidates).
    result = pd.concat(out, ignore_index=True)
    for col in ("user", "artist", "track_id", "track_name"):
        result[col] = result[col].astype(str)
    pairs = result[["user", "artist"]].drop_duplicates()
    result = result.merge(
        because_artists(pairs, history, profiles), on=["user", "artist"], how="left"
    )
    result = pd.concat(
        [add_reasons(part, str(name)) for name, part in result.groupby("context", sort=False)],
        ignore_index=True,
    )
    result = result.sort_values(["user", "context", "rank"], kind="stable")
    result = result[["user", "context", *PLAYLIST_COLUMNS]].reset_index(drop=True)
    text = ("user", "context", "track_id", "track_name", "artist", "reason")
    return result.astype(dict.fromkeys(text, "str"))


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


def playlist_summary(playlists: pd.DataFrame) -> dict[str, Any]:
    """Per-context means for asset metadata: tempo/valence vs target, length, artist diversity."""
    summary: dict[str, Any] = {
        "playlists": int(playlists[["user", "context"]].drop_duplicates().shape[0]),
        "listeners": int(playlists["user"].nunique()),
        "contexts": {},
    }
    for name, part in playlists.groupby("context", sort=True):
        per = part.groupby("user")
        lengths = per.size()
        summary["contexts"][str(name)] = {
            "playlists": len(lengths),
            "tracks": len(part),
            "mean_length": round(float(lengths.mean()), 2),
            "mean_tempo": round(float(part["tempo"].mean()), 2),
            "mean_valence": round(float(part["valence"].mean()), 3),
            "mean_target_tempo": round(float(part["target_tempo"].mean()), 2),
            "mean_target_valence": round(float(part["target_valence"].mean()), 3),
            "mean_final": round(float(part["final"].mean()), 4),
            "artist_diversity": round(float((per["artist"].nunique() / lengths).mean()), 3),
            "distinct_artists": int(part["artist"].nunique()),
        }
    return summary


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
