"""Listener and context targets, and the score step: Base, the similarities, their parts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..config import ContextConfig
from ..grouping import coded, minmax_per_group
from .keys import _positions, _sorted_codes, key_codes, with_columns
from .reasons import SIMILARITY_FEATURES

TEMPO_SCALE = 80.0  # BPM difference at which Tempo_sim reaches 0 (architecture: Playlist scoring)
NEUTRAL_SIM = 0.5  # similarity given when the track's or the target's value is unknown
# The columns :func:`score_tracks` adds besides the targets.
PARTS = ("tempo_sim", "valence_sim", "base_part", "tempo_part", "valence_part", "final")
BASE_IF_EQUAL = 1.0  # Base of a listener whose scores are all equal: every track is their best


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
    present, group = coded(codes)  # missing users (code len(labels)) come last
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


def base_scores(cands: pd.DataFrame) -> pd.DataFrame:
    """Add Base: the artist score min-max normalised per listener (1.0 when all of a listener's
    scores are equal, or unknown), so the context weights mean the same thing for every listener.
    It does not depend on the context: the batch computes it once per chunk."""
    base = minmax_per_group(
        cands["score"].to_numpy(dtype=float),
        key_codes(cands["user"]),
        constant=BASE_IF_EQUAL,
        missing=BASE_IF_EQUAL,
    )
    return with_columns(cands, base=base)


def score_tracks(cands: pd.DataFrame, targets: pd.DataFrame, ctx: ContextConfig) -> pd.DataFrame:
    """Add the targets, Tempo_sim, Valence_sim, the weighted parts of Base (:func:`base_scores`)
    and of both similarities, and ``final``, their exact sum.

    ``targets``: ``user, target_tempo, target_valence``. Unknown values give
    :data:`NEUTRAL_SIM`.
    """
    row = _positions(cands["user"], pd.Index(targets["user"]))
    target = {  # row -1 (listener without targets) reads the appended NaN
        col: np.append(targets[col].to_numpy(dtype=float), np.nan)[row]
        for col in ("target_tempo", "target_valence")
    }
    parts = _parts(
        cands["base"].to_numpy(dtype=float),
        cands["tempo"].to_numpy(dtype=float),
        cands["valence"].to_numpy(dtype=float),
        target["target_tempo"],
        target["target_valence"],
        ctx,
    )
    return with_columns(cands, **target, **parts)


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
