"""What the page does, as plain functions over the artifacts (no Gradio here).

Every request reads the current artifacts through :class:`~gradio_app.store.ArtifactStore` and
builds playlists with ``musicrec_assets.core.playlist.build_playlist``, the same function the batch
``playlists`` asset uses, so the page shows exactly what the pipeline would store. Names from the
data reach the page only as table cells or escaped Markdown, never as HTML.
"""

from __future__ import annotations

import functools
import hashlib
import html
import re
import shutil
import tempfile
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from musicrec_assets.core.config import PlaylistConfig
from musicrec_assets.core.evaluation.report import gate_sentence
from musicrec_assets.core.generations import current_dir, run_info
from musicrec_assets.core.playlist import (
    PLAYLIST_COLUMNS,
    artist_profiles,
    build_playlist,
    context_targets,
    listener_targets,
    to_csv,
    to_m3u,
    to_xspf,
)

from . import cold_start
from .lookup import ListenerIndex
from .store import ArtifactError, ArtifactStore, Indexed, MissingArtifactError


def _pinned(method: Callable) -> Callable:
    """Run a page request against one published generation of the artifacts."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        with self.store.pinned():
            return method(self, *args, **kwargs)

    return wrapper


REQUIRED = (
    "reranked_topk",
    "interaction_splits",
    "artist_catalog",
    "artist_vectors",
    "artist_tracks",
)
# What the page and the API call a cold-start listener; never a key to look rows up by.
NEW_LISTENER_LABEL = "new listener"
SEED_CHOICES = 5000  # most-played artists offered as seeds; others can still be typed
MAX_LENGTH = 100
SUGGESTIONS = 50  # listeners offered before a person types (the picker searches the rest)
KEEP_DOWNLOADS = 256  # download folders kept on disk (oldest removed first)
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


def _utc(seconds: float | None) -> str | None:
    """A Unix time as the page and the API show times: ``2026-12-08 00:11:34 UTC``."""
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _targets(playlist: pd.DataFrame) -> tuple[float, float]:
    """The tempo and valence a built playlist aimed at: every row carries them."""
    return tuple(float(playlist[c].iloc[0]) for c in ("target_tempo", "target_valence"))


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


class Downloads:
    """Playlist exports written to a private temp folder, one sub-folder per distinct content."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="musicrec-web-"))
        self._lock = threading.Lock()
        weakref.finalize(self, shutil.rmtree, self.root, ignore_errors=True)

    def write(self, label: str, context: str, playlist: pd.DataFrame) -> list[str]:
        """CSV, M3U and XSPF of ``playlist``; returns their paths (newest 256 builds kept)."""
        slug = re.sub(r"[^A-Za-z0-9_-]+", "_", f"{label}-{context}").strip("_")[:60] or "playlist"
        exports = {
            "csv": to_csv(playlist[list(PLAYLIST_COLUMNS)]),
            "m3u": to_m3u(playlist),
            "xspf": to_xspf(playlist, title=f"musicrec · {label} · {context}"),
        }
        digest = hashlib.sha256("\0".join(exports.values()).encode()).hexdigest()[:16]
        folder = self.root / digest
        with self._lock:  # concurrent requests: never prune a folder being written
            folder.mkdir(exist_ok=True)
            paths = []
            for ext, text in exports.items():
                path = folder / f"playlist-{slug}.{ext}"
                path.write_text(text, encoding="utf-8")
                paths.append(str(path))
            folders = sorted(self.root.iterdir(), key=lambda p: p.stat().st_mtime_ns)
            for old in folders[:-KEEP_DOWNLOADS]:
                shutil.rmtree(old, ignore_errors=True)
        return paths


class PlaylistPage:
    """The page's behaviour over one storage folder and one playlist configuration."""

    def __init__(
        self,
        store: ArtifactStore,
        cfg: PlaylistConfig,
        cold_start_fn: cold_start.ColdStart | None = None,
    ) -> None:
        self.store = store
        self.cfg = cfg
        self.cold_start = cold_start_fn or cold_start.recommend_for_seeds
        self.downloads = Downloads()

    # ------------------------------------------------------------------ cached serving tables

    def _recs(self) -> ListenerIndex:
        return self.store.index("reranked_topk", sort=["rank"])

    def _history(self) -> ListenerIndex:
        return self.store.index("interaction_splits")

    def _profiles(self) -> Indexed:
        def build() -> Indexed:
            prof = artist_profiles(
                self.store.load("artist_catalog"), self.store.load("artist_vectors")
            )
            return Indexed.of(prof, "artist")

        return self.store.derived("profiles", ["artist_catalog", "artist_vectors"], build)

    def _tracks(self) -> Indexed:
        def build() -> Indexed:
            return Indexed.of(self.store.load("artist_tracks"), "artist")

        return self.store.derived("tracks", ["artist_tracks"], build)

    def _stored(self, user: str, context: str) -> pd.DataFrame | None:
        """The ``playlists`` asset's rows for a default-settings request, if it has them.

        That asset ran the same ``build_playlists`` over the same artifacts, so reading it gives
        the identical playlist without recomputing it (what keeps the page and the API fast
        under many clients); any other setting, or a missing asset, is built on the spot.
        """
        try:  # a missing playlists asset is an ArtifactError too
            index = self.store.index("playlists", sort=["rank"])
            rows = index.rows([user], where={"context": context}, columns=PLAYLIST_COLUMNS)
        except ArtifactError:
            return None
        return rows if len(rows) else None

    # ------------------------------------------------------------------ choices and defaults

    @_pinned
    def page_state(self) -> tuple[str, list[str], list[str]]:
        """Status line, listeners and seed artists for a freshly opened page."""
        missing = self.store.missing(REQUIRED)
        if missing:
            names = ", ".join(md_text(self.store.path(n).name) for n in missing)
            return (
                f"**Missing artifacts:** {names} in {md_text(self.store.storage_dir)}. "
                f"Build them with: {md_text(self.store.build_hint)}",
                [],
                [],
            )
        return "", self.listeners("", SUGGESTIONS), self.seed_artists()

    @_pinned
    def listeners(self, prefix: str = "", limit: int | None = None) -> list[str]:
        """Listeners whose name starts with ``prefix`` (case-insensitive), alphabetically; all
        of them without a limit (a search, not a table scan: 360k names stay fast)."""
        directory = self.store.directory()
        return directory.search(prefix, len(directory) if limit is None else limit)

    @_pinned
    def recommendations(self, user: str, k: int) -> pd.DataFrame | None:
        """A listener's served top-``k`` artists (``reranked_topk``), or None if it has none."""
        self._require()
        rows = self._recs().rows([str(user)])
        return rows.head(k).reset_index(drop=True) if len(rows) else None

    @_pinned
    def served(self) -> dict[str, Any]:
        """Which run's artifacts are served and when each was written (the API's health)."""
        folder = current_dir(self.store.storage_dir)
        info = run_info(folder) if folder != self.store.storage_dir else {}
        built = {row["artifact"]: row["built"] for row in self.store.built_at().to_dict("records")}
        missing = self.store.missing(REQUIRED)
        return {
            "status": "ok" if not missing else "missing artifacts",
            "missing": missing,
            "run_id": info.get("run_id"),
            "generation_started": _utc(info.get("started")),
            "storage": str(self.store.storage_dir),
            "artifacts": built,
        }

    @_pinned
    def most_active(self) -> str | None:
        """The listener with most plays: who the page opens on."""
        return self.store.directory().most_active

    @_pinned
    def seed_artists(self) -> list[str]:
        """The most-played known artists (up to SEED_CHOICES), alphabetical, for the seed picker."""

        def build() -> list[str]:
            cat = self.store.load("artist_catalog")
            if "plays" in cat.columns:
                per = cat.groupby("artist", sort=False)["plays"].sum()
                top = per.sort_values(ascending=False, kind="stable").index[:SEED_CHOICES]
            else:  # an older catalogue without play counts: any artists, alphabetically
                top = pd.Index(cat["artist"].dropna().unique()).sort_values()[:SEED_CHOICES]
            return sorted(top, key=lambda a: (str(a).casefold(), str(a)))

        return self.store.derived("seed_artists", ["artist_catalog"], build)

    def context_defaults(self, context: str) -> tuple[float, float, float, str]:
        """The context's weights and a one-line description (for the sliders)."""
        ctx = self.cfg.contexts.get(context)
        if ctx is None:
            return 0.6, 0.2, 0.2, f"Unknown context {md_text(context)}."
        where = []
        if ctx.tempo is not None:
            where.append(f"tempo → {ctx.tempo:.0f} BPM")
        if ctx.valence is not None:
            where.append(f"valence → {ctx.valence:.2f}")
        pulled = f" (pull {ctx.pull:.0%}: {', '.join(where)})" if where and ctx.pull else ""
        text = f"**{md_text(context)}**: {md_text(ctx.description or 'no description')}{pulled}"
        return ctx.w_base, ctx.w_tempo, ctx.w_valence, text

    # ------------------------------------------------------------------ playlists

    @_pinned
    def make_playlist(
        self,
        user: str | None,
        context: str = "default",
        length: float | None = None,
        w_base: float | None = None,
        w_tempo: float | None = None,
        w_valence: float | None = None,
        cap: float | None = None,
        extras: bool = True,
    ) -> PageResult:
        """Playlist for a known listener from their reranked_topk rows and listening history.
        ``extras``: the page's plot and download files too (the API does without them)."""
        if user is None or not str(user).strip():
            return PageResult(
                message="Pick a listener first (or use the New listener tab).", error="no_user"
            )
        user = str(user)
        try:
            self._require()
            if not extras:  # the API: a stored playlist is the whole answer
                quick = self._stored_result(
                    user, context, length, (w_base, w_tempo, w_valence), cap
                )
                if quick is not None:
                    return quick
            recs, history = self._recs(), self._history()
            mine, heard = recs.rows([user]), history.rows([user])
            if not len(mine) and not len(heard):
                return PageResult(
                    message=f"Unknown listener **{md_text(user)}**. Pick one from the list, "
                    "or use the New listener tab with a few seed artists.",
                    error="unknown_listener",
                )
            if not len(mine):
                return PageResult(
                    message=f"No recommendations for **{md_text(user)}** in reranked_topk.parquet "
                    "(not in the serving model, e.g. too little history). Try the New listener "
                    "tab with their favourite artists.",
                    error="no_recommendations",
                )
            return self._build(
                user, mine, heard, context, length, (w_base, w_tempo, w_valence), cap, extras
            )
        except ArtifactError as exc:
            return PageResult(message=self._artifact_message(exc), error="artifact")

    @_pinned
    def stored_playlist(
        self,
        user: str,
        context: str = "default",
        length: float | None = None,
        w_base: float | None = None,
        w_tempo: float | None = None,
        w_valence: float | None = None,
        cap: float | None = None,
    ) -> PageResult | None:
        """``make_playlist(..., extras=False)`` when the ``playlists`` asset holds the answer
        (default settings, a known listener), else None: one cached row-group read, no
        history, recommendations or build."""
        try:
            self._require()
            return self._stored_result(
                str(user), context, length, (w_base, w_tempo, w_valence), cap
            )
        except ArtifactError:
            return None

    @_pinned
    def new_listener_playlist(
        self,
        seeds: list[str] | str | None,
        context: str = "default",
        length: float | None = None,
        w_base: float | None = None,
        w_tempo: float | None = None,
        w_valence: float | None = None,
        cap: float | None = None,
        extras: bool = True,
    ) -> PageResult:
        """Playlist for someone the model has never seen, from seed artists (cold start)."""
        picked = [seeds] if isinstance(seeds, str) else list(seeds or [])
        picked = list(dict.fromkeys(s for s in picked if str(s).strip()))
        if not picked:
            return PageResult(message="Pick at least one seed artist.", error="no_seeds")
        try:
            self._require()
            try:
                recs = self.cold_start(self.store, picked, self.cfg.artists_per_user)
            except (KeyError, ValueError) as exc:  # e.g. the model rejects the seeds
                return PageResult(
                    message=f"Cannot recommend from these seeds: {md_text(exc)}",
                    error="bad_seeds",
                )
            unknown = [s for s in recs.attrs.get("unknown_seeds", []) if s in picked]
            if recs.empty or len(unknown) == len(picked):
                return PageResult(
                    message="None of these seed artists is known to the model.",
                    error="unknown_seeds",
                )
            recs = recs.assign(user=NEW_LISTENER_LABEL)
            history = pd.DataFrame({"user": NEW_LISTENER_LABEL, "artist": picked, "plays": 1})
            weights = (w_base, w_tempo, w_valence)
            result = self._build(
                NEW_LISTENER_LABEL,
                recs,
                history,
                context,
                length,
                weights,
                cap,
                extras,
                known=False,
            )
        except ArtifactError as exc:
            return PageResult(message=self._artifact_message(exc), error="artifact")
        except cold_start.ColdStartUnavailableError as exc:
            return PageResult(message=md_text(exc), error="unavailable")
        if unknown:
            ignored = ", ".join(md_text(s) for s in unknown)
            result.message += f"\n\nNot known to the model (ignored): {ignored}."
        return result

    def _require(self) -> None:
        for name in REQUIRED:
            if self.store.version(name) is None:
                raise MissingArtifactError(name, self.store.path(name), self.store.build_hint)

    def _artifact_message(self, exc: ArtifactError) -> str:
        if not isinstance(exc, MissingArtifactError):
            return f"**Unusable artifact:** {md_text(exc)}"
        return (
            f"**Missing artifact {md_text(exc.path.name)}** (expected in "
            f"{md_text(exc.path.parent)}). Build it with: {md_text(self.store.build_hint)}"
        )

    def _build(
        self,
        label: str,
        recs: pd.DataFrame,
        history: pd.DataFrame,
        context: str,
        length: float | None,
        weights: tuple[float | None, float | None, float | None],
        cap: float | None,
        extras: bool = True,
        known: bool = True,
    ) -> PageResult:
        """The playlist for ``label``: read from the ``playlists`` asset for a ``known``
        listener at default settings (never for a new listener, whatever their label), else
        built now."""
        settings = self._settings(context, length, weights, cap)
        if isinstance(settings, PageResult):
            return settings
        ctx, n, cap_n, w, default = settings
        artists = list(dict.fromkeys([*recs["artist"], *history["artist"]]))
        profiles = self._profiles().rows(artists)
        playlist = self._stored(label, context) if default and known else None
        stored = playlist is not None
        if playlist is None:
            tracks = self._tracks().rows(list(dict.fromkeys(recs["artist"])))
            playlist = build_playlist(
                label,
                recs,
                history,
                profiles,
                tracks,
                self.cfg,
                context,
                length=n,
                weights=(w[0], w[1], w[2]),
                cap=cap_n,
            )
        if not extras and len(playlist):  # the API: the rows carry their targets
            message = self._summary(label, context, playlist, _targets(playlist), w, n, cap_n)
            return PageResult(message=message, playlist=playlist, stored=stored)
        own = listener_targets(history, profiles)
        own_tempo = float(own["tempo"].iloc[0]) if len(own) else float("nan")
        own_valence = float(own["valence"].iloc[0]) if len(own) else float("nan")
        target = context_targets(own_tempo, own_valence, ctx)

        message = self._summary(label, context, playlist, target, w, n, cap_n)
        if playlist.empty or not extras:
            return PageResult(message=message, playlist=playlist, stored=stored)
        table = playlist[list(TABLE_COLUMNS)].rename(columns=TABLE_COLUMNS)
        decimals = {"tempo (BPM)": 0, "valence": 2, "final": 3}
        decimals |= {part: 3 for part in ("base part", "tempo part", "valence part")}
        table = table.round(decimals)
        return PageResult(
            table=table.reset_index(drop=True),
            message=message,
            plot=self._figure(history, profiles, playlist, (own_tempo, own_valence), target),
            files=self.downloads.write(label, context, playlist),
            playlist=playlist,
            stored=stored,
        )

    def _settings(
        self,
        context: str,
        length: float | None,
        weights: tuple[float | None, float | None, float | None],
        cap: float | None,
    ) -> PageResult | tuple[Any, int, int, tuple[float, ...], bool]:
        """The context, length, per-artist cap and weights a request resolves to, and whether
        they are the defaults the ``playlists`` asset was built with (or the error to show)."""
        if context not in self.cfg.contexts:
            known = ", ".join(self.cfg.contexts)
            return PageResult(
                message=f"Unknown context {md_text(context)}; known: {known}.",
                error="unknown_context",
            )
        ctx = self.cfg.contexts[context]
        n = int(np.clip(round(length if length is not None else self.cfg.length), 1, MAX_LENGTH))
        cap_n = max(1, round(cap if cap is not None else self.cfg.per_artist_cap))
        w = tuple(
            float(v if v is not None else d)
            for v, d in zip(weights, (ctx.w_base, ctx.w_tempo, ctx.w_valence), strict=True)
        )
        defaults = (
            self.cfg.length,
            self.cfg.per_artist_cap,
            (ctx.w_base, ctx.w_tempo, ctx.w_valence),
        )
        return ctx, n, cap_n, w, (n, cap_n, w) == defaults

    def _stored_result(
        self,
        user: str,
        context: str,
        length: float | None,
        weights: tuple[float | None, float | None, float | None],
        cap: float | None,
    ) -> PageResult | None:
        """A default-settings playlist straight from the ``playlists`` asset: one row-group read,
        no history or recommendations needed (the rows carry their targets). None otherwise."""
        settings = self._settings(context, length, weights, cap)
        if isinstance(settings, PageResult) or not settings[4]:
            return None
        _, n, cap_n, w, _ = settings
        playlist = self._stored(user, context)
        if playlist is None:
            return None
        message = self._summary(user, context, playlist, _targets(playlist), w, n, cap_n)
        return PageResult(message=message, playlist=playlist, stored=True)

    def _summary(
        self,
        label: str,
        context: str,
        playlist: pd.DataFrame,
        target: tuple[float, float],
        weights: tuple[float, ...],
        length: int,
        cap: int,
    ) -> str:
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

    def _figure(
        self,
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
                    for r, t, a in zip(
                        songs["rank"], songs["track_name"], songs["artist"], strict=True
                    )
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

    # ------------------------------------------------------------------ Listener and Model tabs

    @_pinned
    def listener_view(self, user: str | None) -> ListenerView:
        """A known listener's top artists and genre shares."""
        empty = ListenerView("", pd.DataFrame(), pd.DataFrame())
        if user is None or not str(user).strip():
            return empty
        try:
            history = self._history()
            if user not in history:
                return ListenerView(
                    f"Unknown listener **{md_text(user)}**.", pd.DataFrame(), pd.DataFrame()
                )
            return self._profile_view(str(user), history.rows([user]))
        except ArtifactError as exc:
            return ListenerView(self._artifact_message(exc), pd.DataFrame(), pd.DataFrame())

    @_pinned
    def seeds_view(self, seeds: list[str] | None) -> ListenerView:
        """The seed artists of a new listener, shown like a listening history of one play each."""
        picked = list(dict.fromkeys(seeds or []))
        if not picked:
            return ListenerView("", pd.DataFrame(), pd.DataFrame())
        history = pd.DataFrame({"user": NEW_LISTENER_LABEL, "artist": picked, "plays": 1})
        try:
            return self._profile_view(NEW_LISTENER_LABEL, history)
        except ArtifactError as exc:
            return ListenerView(self._artifact_message(exc), pd.DataFrame(), pd.DataFrame())

    def _profile_view(self, label: str, history: pd.DataFrame) -> ListenerView:
        profiles = self._profiles().rows(list(history["artist"]))
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

    @_pinned
    def model_report(self) -> tuple[str, pd.DataFrame, pd.DataFrame]:
        """What is served and why (the gate), per-system test metrics beside each system's
        validation NDCG, and the artifacts' build times."""
        built = self.store.built_at()
        try:
            report = self.store.load("evaluation_report")
        except ArtifactError as exc:
            return self._artifact_message(exc), pd.DataFrame(), built
        try:
            validation = self.store.load("reranker_validation")
        except ArtifactError:
            validation = report.get("validation", {})
        on_validation = dict(validation.get("generators_val_ndcg", {}))
        gate = validation.get("gate", {})
        if "reranked_ndcg" in gate:
            on_validation["reranked"] = gate["reranked_ndcg"]
        served = report.get("chosen", {}).get("served")
        if served in on_validation:
            on_validation["served"] = on_validation[served]
        rows = []
        for system, m in report.get("systems", {}).items():
            ci = m.get("ndcg_ci95") or [np.nan, np.nan]
            rows.append(
                {
                    "system": system,
                    "precision": m.get("precision"),
                    "recall": m.get("recall"),
                    "map": m.get("map"),
                    "ndcg": m.get("ndcg"),
                    "ndcg 95% CI": f"[{ci[0]:.4f}, {ci[1]:.4f}]",
                    "hit_rate": m.get("hit_rate"),
                    "coverage": m.get("coverage"),
                    "validation ndcg": on_validation.get(system, np.nan),
                }
            )
        table = pd.DataFrame(rows).round(4) if rows else pd.DataFrame()
        k = report.get("k", "?")
        message = (
            f"Offline evaluation at K = {md_text(k)} on {md_text(report.get('users_evaluated', '?'))}"
            f" listeners (test split, models that never saw it). "
            f"{md_text(gate_sentence(report.get('chosen', {}), validation, k))}"
        )
        recall = {}  # per stage: the union's share of held-out pairs
        for stage, value in report.get("candidate_recall", {}).items():
            value = value.get("union", value) if isinstance(value, dict) else value
            value = value.get("micro") if isinstance(value, dict) else value
            if isinstance(value, int | float):
                recall[stage] = value
        if recall:
            bound = ", ".join(f"{md_text(k)} = {v:.3f}" for k, v in recall.items())
            message += f" Candidate recall (bounds the reranker): {bound}."
        return message, table, built
