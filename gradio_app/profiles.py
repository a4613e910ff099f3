"""A listener's taste as the page draws it: the tempo/valence figure beside a playlist and the
Listener tab's tables, both from the same artist profiles the playlist is scored with."""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pandas as pd

from musicrec_assets.core.playlist import listener_targets

from .results import ListenerView, md_text


def playlist_figure(
    history: pd.DataFrame,
    profiles: pd.DataFrame,
    playlist: pd.DataFrame,
    own: tuple[float, float],
    target: tuple[float, float],
) -> dict[str, Any]:
    """Plotly figure: the listener's artists (size = plays), the playlist, own and target."""
    hist = history.merge(profiles[["artist", "tempo", "valence"]], on="artist", how="inner")
    hist = hist.dropna(subset=["tempo", "valence"])
    size = 8 + 22 * np.sqrt(hist["plays"] / max(float(hist["plays"].max()), 1.0))
    hover = "%{text}<br>%{x:.0f} BPM, valence %{y:.2f}<extra></extra>"
    songs = playlist.dropna(subset=["tempo", "valence"])
    traces: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "markers",
            "name": "your artists (size = plays)",
            "x": hist["tempo"].round(1).tolist(),
            "y": hist["valence"].round(3).tolist(),
            "text": [
                f"{html.escape(str(a))} · {p} plays"
                for a, p in zip(hist["artist"], hist["plays"], strict=True)
            ],
            "marker": {"size": size.round(1).tolist(), "opacity": 0.45, "color": "#6b7280"},
            "hovertemplate": hover,
        },
        {
            "type": "scatter",
            "mode": "markers",
            "name": "playlist",
            "x": songs["tempo"].round(1).tolist(),
            "y": songs["valence"].round(3).tolist(),
            "text": [
                f"{r}. {html.escape(str(t))} — {html.escape(str(a))}"
                for r, t, a in zip(songs["rank"], songs["track_name"], songs["artist"], strict=True)
            ],
            "marker": {"size": 11, "color": "#ea580c"},
            "hovertemplate": hover,
        },
    ]
    for name, (x, y), symbol, colour in (
        ("your usual", own, "diamond", "#2563eb"),
        ("target", target, "star", "#16a34a"),
    ):
        if not (np.isnan(x) or np.isnan(y)):
            traces.append(
                {
                    "type": "scatter",
                    "mode": "markers",
                    "name": name,
                    "x": [round(x, 1)],
                    "y": [round(y, 3)],
                    "text": [name],
                    "marker": {"size": 18, "symbol": symbol, "color": colour},
                    "hovertemplate": hover,
                }
            )
    return {
        "data": traces,
        "layout": {
            "xaxis": {"title": {"text": "tempo (BPM)"}},
            "yaxis": {"title": {"text": "valence"}, "range": [-0.05, 1.05]},
            "legend": {"orientation": "h", "y": -0.2},
            "margin": {"l": 50, "r": 20, "t": 20, "b": 40},
            "height": 420,
        },
    }


def profile_view(label: str, history: pd.DataFrame, profiles: pd.DataFrame) -> ListenerView:
    """A listening history (artists, plays) as the Listener tab shows it: top artists with their
    tempo, valence and genres, play-weighted genre shares, the usual tempo and valence."""
    cols = ["artist", "tempo", "valence", "top_genres", "genres", "genre_shares"]
    df = history.merge(profiles[[c for c in cols if c in profiles]], on="artist", how="left")
    total = float(df["plays"].sum())
    df = df.sort_values(["plays", "artist"], ascending=[False, True])
    top = pd.DataFrame(
        {
            "artist": df["artist"],
            "plays": df["plays"],
            "share": (df["plays"] / total).round(3),
            "tempo (BPM)": df["tempo"].round(0),
            "valence": df["valence"].round(2),
            "genres": df.get("top_genres", pd.Series("", index=df.index)).fillna(""),
        }
    ).head(25)
    genres = pd.DataFrame({"genre": [], "share": []})
    if "genres" in df.columns:
        flat = df[["plays", "genres", "genre_shares"]].dropna(subset=["genres"])
        flat = flat.explode(["genres", "genre_shares"]).dropna(subset=["genres"])
        if not flat.empty:
            mass = flat["plays"] * flat["genre_shares"].astype(float)
            per = mass.groupby(flat["genres"]).sum().sort_values(ascending=False)
            genres = pd.DataFrame(
                {"genre": per.index, "share": (per / per.sum()).round(3).to_numpy()}
            ).head(15)
    own = listener_targets(history, profiles)
    usual = ""
    if len(own) and not own[["tempo", "valence"]].isna().any(axis=None):
        tempo, valence = own["tempo"].iloc[0], own["valence"].iloc[0]
        usual = f" · usual {tempo:.0f} BPM, valence {valence:.2f}"
    message = (
        f"**{md_text(label)}**: {len(df)} artists, {int(total):,} plays{usual} "
        f"(profiles are play-weighted, log1p)"
    )
    return ListenerView(message, top.reset_index(drop=True), genres)
