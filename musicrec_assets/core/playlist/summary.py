"""Per-context summary figures of the playlists table, accumulated chunk by chunk."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import pandas as pd

from ..grouping import (
    first_rows,
)
from .batch import empty_playlists
from .keys import _sorted_codes

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
            first = first_rows([users, artist[rows]])
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
