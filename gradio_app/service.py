"""What the page does, as plain functions over the artifacts (no Gradio here).

Every request reads the current artifacts through :class:`~gradio_app.store.ArtifactStore` and
builds playlists with ``musicrec_assets.core.playlist.build_playlist``, the same function the batch
``playlists`` asset uses, so the page shows exactly what the pipeline would store. Names from the
data reach the page only as table cells or escaped Markdown, never as HTML.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from musicrec_assets.core.config import PlaylistConfig
from musicrec_assets.core.playlist import build_playlist, context_targets, listener_targets

from . import cold_start, evaluation
from .downloads import Downloads
from .profiles import playlist_figure, profile_view
from .results import (
    ListenerView,
    PageResult,
    artifact_message,
    md_text,
    playlist_message,
    playlist_table,
)
from .served import ServedGeneration, pinned
from .store import ArtifactError, ArtifactStore

# What the page and the API call a cold-start listener; never a key to look rows up by.
NEW_LISTENER_LABEL = "new listener"
MAX_LENGTH = 100


def _targets(playlist: pd.DataFrame) -> tuple[float, float]:
    """The tempo and valence a built playlist aimed at: every row carries them."""
    return tuple(float(playlist[c].iloc[0]) for c in ("target_tempo", "target_valence"))


class PlaylistPage(ServedGeneration):
    """The page's behaviour over one storage folder and one playlist configuration: the
    published generation's reads (:class:`ServedGeneration`) plus playlists and the tabs."""

    def __init__(
        self,
        store: ArtifactStore,
        cfg: PlaylistConfig,
        cold_start_fn: cold_start.ColdStart | None = None,
    ) -> None:
        super().__init__(store)
        self.cfg = cfg
        self.cold_start = cold_start_fn or cold_start.recommend_for_seeds
        self.downloads = Downloads()

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

    @pinned
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
            return PageResult(
                message=artifact_message(exc, self.store.build_hint), error="artifact"
            )

    @pinned
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

    @pinned
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
            return PageResult(
                message=artifact_message(exc, self.store.build_hint), error="artifact"
            )
        except cold_start.ColdStartUnavailableError as exc:
            return PageResult(message=md_text(exc), error="unavailable")
        if unknown:
            ignored = ", ".join(md_text(s) for s in unknown)
            result.message += f"\n\nNot known to the model (ignored): {ignored}."
        return result

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
            message = playlist_message(label, context, playlist, _targets(playlist), w, n, cap_n)
            return PageResult(message=message, playlist=playlist, stored=stored)
        own = listener_targets(history, profiles)
        own_tempo = float(own["tempo"].iloc[0]) if len(own) else float("nan")
        own_valence = float(own["valence"].iloc[0]) if len(own) else float("nan")
        target = context_targets(own_tempo, own_valence, ctx)

        message = playlist_message(label, context, playlist, target, w, n, cap_n)
        if playlist.empty or not extras:
            return PageResult(message=message, playlist=playlist, stored=stored)
        return PageResult(
            table=playlist_table(playlist),
            message=message,
            plot=playlist_figure(history, profiles, playlist, (own_tempo, own_valence), target),
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
        message = playlist_message(user, context, playlist, _targets(playlist), w, n, cap_n)
        return PageResult(message=message, playlist=playlist, stored=True)

    # ------------------------------------------------------------------ Listener and Model tabs

    @pinned
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
            return ListenerView(
                artifact_message(exc, self.store.build_hint), pd.DataFrame(), pd.DataFrame()
            )

    @pinned
    def seeds_view(self, seeds: list[str] | None) -> ListenerView:
        """The seed artists of a new listener, shown like a listening history of one play each."""
        picked = list(dict.fromkeys(seeds or []))
        if not picked:
            return ListenerView("", pd.DataFrame(), pd.DataFrame())
        history = pd.DataFrame({"user": NEW_LISTENER_LABEL, "artist": picked, "plays": 1})
        try:
            return self._profile_view(NEW_LISTENER_LABEL, history)
        except ArtifactError as exc:
            return ListenerView(
                artifact_message(exc, self.store.build_hint), pd.DataFrame(), pd.DataFrame()
            )

    @pinned
    def model_report(self) -> tuple[str, pd.DataFrame, pd.DataFrame]:
        """What is served and why (the gate), per-system test metrics beside each system's
        validation NDCG, and the artifacts' build times."""
        return evaluation.model_report(self.store)

    def _profile_view(self, label: str, history: pd.DataFrame) -> ListenerView:
        return profile_view(label, history, self._profiles().rows(list(history["artist"])))
