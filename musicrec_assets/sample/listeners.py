"""Listeners: names, activity (scrobbles, library size by Heaps' law) and drifting taste."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .draws import _SD, _allocate, _rng, _s, _words
from .params import (
    _ALPHA_TASTE,
    _DRIFT,
    _EXPLORE_BETA,
    _F,
    _GENRE_MEAN,
    _HEAPS_EXP,
    _HEAPS_K,
    _MIN_SCROBBLES,
    _PREVALENCE,
)


@dataclass
class Listeners:
    """Per listener: name, activity and the (drifting) taste that generated the log."""

    name: np.ndarray
    scrobbles: np.ndarray
    library: np.ndarray  # target number of distinct artists
    theta0: np.ndarray  # (n, G) genre taste at the start of the year
    theta1: np.ndarray  # at the end
    tempo0: np.ndarray
    tempo1: np.ndarray
    valence0: np.ndarray
    valence1: np.ndarray
    explore: np.ndarray


def _heaps_library(scrobbles: np.ndarray, k: float, cap: int) -> np.ndarray:
    """Distinct artists per listener for a Heaps' law constant ``k``."""
    n = np.ceil(k * scrobbles.astype(np.float64) ** _HEAPS_EXP).astype(np.int64)
    return np.maximum(1, np.minimum(np.minimum(n, scrobbles), cap))


def _build_listeners(
    users: int, scrobbles: int, pairs: int | None, n_playable: int, seed: int
) -> Listeners:
    """Listener tastes, activity and library sizes."""
    rng = _rng(seed, "listeners")
    alpha = _ALPHA_TASTE * _PREVALENCE
    theta0 = rng.dirichlet(alpha, size=users)
    theta1 = (1 - _DRIFT) * theta0 + _DRIFT * rng.dirichlet(alpha, size=users)
    tempo_g = _GENRE_MEAN[:, _F["tempo"]]
    valence_g = _GENRE_MEAN[:, _F["valence"]]
    t_own = rng.normal(0, 10, users)
    v_own = rng.normal(0, 0.08, users)
    tempo0 = np.clip(theta0 @ tempo_g + t_own, 62.0, 188.0)
    tempo1 = np.clip(theta1 @ tempo_g + t_own + rng.normal(0, 5, users), 62.0, 188.0)
    valence0 = np.clip(theta0 @ valence_g + v_own, 0.02, 0.98)
    valence1 = np.clip(theta1 @ valence_g + v_own + rng.normal(0, 0.05, users), 0.02, 0.98)
    explore = rng.beta(*_EXPLORE_BETA, users)

    minimum = min(_MIN_SCROBBLES, scrobbles // users)
    activity = _allocate(scrobbles, rng.lognormal(0.0, 1.1, users), minimum)
    cap = max(1, int(0.9 * n_playable))
    if pairs is None:
        library = _heaps_library(activity, _HEAPS_K, cap)
    else:
        most = int(np.minimum(activity, cap).sum())
        if not users <= pairs <= most:
            raise ValueError(f"pairs must be between users ({users}) and {most}, got {pairs}")
        lo, hi = 0.0, 1.0
        while _heaps_library(activity, hi, cap).sum() < pairs:
            hi *= 2
        for _ in range(60):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if _heaps_library(activity, mid, cap).sum() < pairs else (lo, mid)
        library = _heaps_library(activity, hi, cap)

    names = _user_names(rng, users)
    return Listeners(
        name=names,
        scrobbles=activity,
        library=library,
        theta0=theta0,
        theta1=theta1,
        tempo0=tempo0,
        tempo1=tempo1,
        valence0=valence0,
        valence1=valence1,
        explore=explore,
    )


def _user_names(rng: np.random.Generator, n: int) -> np.ndarray:
    """Unique (case-insensitively) Last.fm-like user names: ``Babs_05``, ``eartle``, ``Knapster01``."""
    out = np.full(n, "", dtype=_SD)
    todo = np.arange(n)
    for _ in range(100):
        m = len(todo)
        w1, _, _ = _words(rng, m)
        w2, _, _ = _words(rng, m)
        digits = np.char.zfill(rng.integers(0, 100, m).astype(str), 2).astype(_SD)
        form = rng.integers(0, 5, m)
        out[todo] = np.select(
            [form == 0, form == 1, form == 2, form == 3],
            [
                _s(w1, "_", digits),
                _s(w1, digits),
                np.strings.lower(w1),
                np.strings.lower(_s(w1, w2)),
            ],
            _s(w1, np.strings.lower(w2)),
        )
        dup = pd.Series(np.strings.lower(out), dtype=object).duplicated(keep="first").to_numpy()
        todo = np.flatnonzero(dup)
        if not len(todo):
            return out
    raise RuntimeError("could not make unique user names")  # pragma: no cover
