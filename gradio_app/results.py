"""What a page or API request gets back, and the text it shows.

Shared by the service, the Listener and Model tabs, app.py and api.py. Names from the data reach
the page only as table cells or through :func:`md_text`, never as HTML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .store import ArtifactError, MissingArtifactError

TABLE_COLUMNS = {
    "rank": "rank",
    "track_name": "track",
    "artist": "artist",
    "tempo": "tempo (BPM)",
    "valence": "valence",
    "base_part": "base part",
    "tempo_part": "tempo part",
    "valence_part": "valence part",
    "final": "final",
    "reason": "reason",
}
_MD_ESCAPES = {ord(c): "\\" + c for c in "\\`*_{}[]()#+-.!|~"}
_MD_ESCAPES.update({ord("<"): "&lt;", ord(">"): "&gt;", ord("&"): "&amp;", ord('"'): "&quot;"})


def md_text(value: Any) -> str:
    """``value`` as literal Markdown text: no markup, no HTML, one line."""
    return " ".join(str(value).split()).translate(_MD_ESCAPES)


def empty_table() -> pd.DataFrame:
    return pd.DataFrame({label: [] for label in TABLE_COLUMNS.values()})


_EMPTY_TABLE = empty_table()  # shared by results without a table (only ever read)


@dataclass
class PageResult:
    """Everything one build shows: table, message, plot (a Plotly figure dict), download paths."""

    table: pd.DataFrame = field(default_factory=lambda: _EMPTY_TABLE)
    message: str = ""
    plot: dict[str, Any] | None = None
    files: list[str] = field(default_factory=list)
    playlist: pd.DataFrame | None = None  # the raw playlist (PLAYLIST_COLUMNS), for callers
    error: str | None = None  # why there is no playlist: what an API client acts on (see api.py)
    stored: bool = False  # read from the playlists asset (default settings) or built now


@dataclass
class ListenerView:
    """The Listener tab: summary line, top artists, play-weighted genre shares."""

    message: str
    top_artists: pd.DataFrame
    genres: pd.DataFrame


def playlist_table(playlist: pd.DataFrame) -> pd.DataFrame:
    """A built playlist as the page's table: labelled columns, rounded for reading."""
    table = playlist[list(TABLE_COLUMNS)].rename(columns=TABLE_COLUMNS)
    decimals = {"tempo (BPM)": 0, "valence": 2, "final": 3}
    decimals |= {part: 3 for part in ("base part", "tempo part", "valence part")}
    return table.round(decimals).reset_index(drop=True)


def playlist_message(
    label: str,
    context: str,
    playlist: pd.DataFrame,
    target: tuple[float, float],
    weights: tuple[float, ...],
    length: int,
    cap: int,
) -> str:
    """The summary above a playlist: who, context, target, weights, and why it is short."""
    t_tempo, t_valence = target
    tgt = (
        f"target {t_tempo:.0f} BPM, valence {t_valence:.2f}"
        if not (np.isnan(t_tempo) or np.isnan(t_valence))
        else "no audio target (no artist with audio features)"
    )
    head = (
        f"**{md_text(label)}** · {md_text(context)} · {tgt} · weights base "
        f"{weights[0]:.2f} / tempo {weights[1]:.2f} / valence {weights[2]:.2f}"
    )
    if playlist.empty:
        return head + "\n\nNo tracks: none of the recommended artists has matched tracks."
    got = len(playlist)
    line = f"{got} tracks from {playlist['artist'].nunique()} artists."
    if got < length:
        line = (
            f"Only {got} of {length} tracks: the recommended artists have no more distinct "
            f"tracks within the cap of {cap} per artist (raise the cap for more)."
        )
    return f"{head}\n\n{line}"


def artifact_message(exc: ArtifactError, build_hint: str) -> str:
    """What the page says about an artifact it cannot use, and how to build a missing one."""
    if not isinstance(exc, MissingArtifactError):
        return f"**Unusable artifact:** {md_text(exc)}"
    return (
        f"**Missing artifact {md_text(exc.path.name)}** (expected in "
        f"{md_text(exc.path.parent)}). Build it with: {md_text(build_hint)}"
    )
