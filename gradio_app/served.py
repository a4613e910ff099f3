"""The published generation as the page reads it: the serving tables indexed per listener, the
listener directory, the seed artists and the health answer. No playlist is built here."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from musicrec_assets.core.generations import current_dir, run_info
from musicrec_assets.core.playlist import PLAYLIST_COLUMNS, artist_profiles

from .lookup import ListenerIndex
from .results import md_text
from .store import ArtifactError, ArtifactStore, Indexed, MissingArtifactError


def pinned(method: Callable) -> Callable:
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
SEED_CHOICES = 5000  # most-played artists offered as seeds; others can still be typed
SUGGESTIONS = 50  # listeners offered before a person types (the picker searches the rest)


def _utc(seconds: float | None) -> str | None:
    """A Unix time as the page and the API show times: ``2026-12-08 00:11:34 UTC``."""
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


class ServedGeneration:
    """Reads of the published generation that every page request shares, each pinned to one
    generation and cached by the store until a file changes."""

    def __init__(self, store: ArtifactStore) -> None:
        self.store = store

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

    @pinned
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

    @pinned
    def listeners(self, prefix: str = "", limit: int | None = None) -> list[str]:
        """Listeners whose name starts with ``prefix`` (case-insensitive), alphabetically; all
        of them without a limit (a search, not a table scan: 360k names stay fast)."""
        directory = self.store.directory()
        return directory.search(prefix, len(directory) if limit is None else limit)

    @pinned
    def recommendations(self, user: str, k: int) -> pd.DataFrame | None:
        """A listener's served top-``k`` artists (``reranked_topk``), or None if it has none."""
        self._require()
        rows = self._recs().rows([str(user)])
        return rows.head(k).reset_index(drop=True) if len(rows) else None

    @pinned
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

    @pinned
    def most_active(self) -> str | None:
        """The listener with most plays: who the page opens on."""
        return self.store.directory().most_active

    @pinned
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

    def _require(self) -> None:
        for name in REQUIRED:
            if self.store.version(name) is None:
                raise MissingArtifactError(name, self.store.path(name), self.store.build_hint)
