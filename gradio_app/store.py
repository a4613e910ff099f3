"""Read-only, self-refreshing access to the materialized artifacts the page serves from.

Files are loaded on first use and re-read when their modification time or size changes, so a
scheduled refresh (atomic rename of a new artifact) shows up on the next request without a
restart. Tables derived from artifacts (per-listener slices, the artist → tracks table) are cached
against the versions of the files they came from. One lock guards loading; requests that find
everything current only pay a few ``stat`` calls.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from musicrec_assets.core.artifacts import artifact_path, read_artifact
from musicrec_assets.core.generations import current_dir
from musicrec_assets.core.playlist import PLAYLIST_COLUMNS

from .lookup import ListenerDirectory, ListenerIndex

# Parquet artifacts the page reads: (required, optional) columns. Reading only these keeps memory
# and reload time down; a missing required column is reported like a missing file.
COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "reranked_topk": (("user", "rank", "artist", "score"), ()),
    "interaction_splits": (("user", "artist", "plays"), ()),
    "artist_catalog": (("artist", "spotify_id"), ("plays",)),
    "artist_vectors": (
        ("artist_id", "tempo", "valence"),
        ("energy", "danceability", "acousticness", "genres", "genre_shares", "top_genres"),
    ),
    "playlists": (("user", "context", *PLAYLIST_COLUMNS), ()),
    "artist_tracks": (
        ("artist", "track_id", "track_name", "title_key", "popularity", "tempo", "valence"),
        ("track_rank",),
    ),
}
# Read only by the cold-start adapter (whole files).
COLD_START = ("generator_models", "reranker", "reranker_validation", "item_features")
# Every artifact the page uses, in the order the Model tab lists them.
PAGE_ARTIFACTS = (*COLUMNS, "evaluation_report", *COLD_START)

Version = tuple[int, int] | None  # (mtime_ns, size) of a file; None when it is missing


class ArtifactError(Exception):
    """An artifact the page needs is missing or unusable; the message says how to rebuild it."""

    def __init__(self, name: str, path: Path, message: str) -> None:
        self.name = name
        self.path = path
        super().__init__(message)


class MissingArtifactError(ArtifactError):
    """The artifact file has not been built."""

    def __init__(self, name: str, path: Path, build_hint: str) -> None:
        super().__init__(
            name,
            path,
            f"Missing artifact {path.name} (expected at {path}). Build it with: {build_hint}",
        )


class ArtifactSchemaError(ArtifactError):
    """The artifact exists but lacks columns the page needs (built by another version)."""

    def __init__(self, name: str, path: Path, missing: list[str], build_hint: str) -> None:
        super().__init__(
            name,
            path,
            f"Artifact {path.name} lacks column(s) {', '.join(missing)}. Rebuild it with: "
            f"{build_hint}",
        )


@dataclass(frozen=True)
class Indexed:
    """A table plus the row positions of each value of one key column, for O(1) slicing."""

    frame: pd.DataFrame
    positions: dict[Any, np.ndarray]

    @classmethod
    def of(cls, frame: pd.DataFrame, key: str) -> Indexed:
        frame = frame.reset_index(drop=True)
        return cls(frame, frame.groupby(key, sort=False).indices)

    def rows(self, keys: Sequence[Any]) -> pd.DataFrame:
        """Rows whose key is in ``keys`` (unknown keys are ignored), in ``keys`` order."""
        parts = [self.positions[k] for k in keys if k in self.positions]
        if not parts:
            return self.frame.iloc[0:0]
        return self.frame.iloc[np.concatenate(parts)]

    def __contains__(self, key: object) -> bool:
        return key in self.positions


class ArtifactStore:
    """Lazily loaded artifacts of one storage folder, reloaded when a file changes."""

    def __init__(self, storage_dir: Path, config_path: Path | None = None) -> None:
        self.storage_dir = Path(storage_dir)
        config = f" --config {config_path}" if config_path else ""
        self.build_hint = f"uv run musicrec materialize{config}"
        self._lock = threading.RLock()
        self._files: dict[str, tuple[Version, Any]] = {}
        self._derived: dict[str, tuple[tuple[Version, ...], Any]] = {}
        self._pin = threading.local()

    @contextmanager
    def pinned(self) -> Iterator[Path]:
        """Read every artifact of this block from one published generation (the one current
        at entry), so a request never mixes files of two runs while a refresh publishes.
        Re-entrant: an inner block keeps the outer one's generation."""
        if getattr(self._pin, "dir", None) is not None:
            yield self._pin.dir
            return
        self._pin.dir = current_dir(self.storage_dir)
        try:
            yield self._pin.dir
        finally:
            self._pin.dir = None

    def path(self, name: str) -> Path:
        folder = getattr(self._pin, "dir", None) or current_dir(self.storage_dir)
        return artifact_path(folder, name)

    def version(self, name: str) -> Version:
        """(mtime_ns, size) of the artifact file, or None when it does not exist."""
        try:
            st = self.path(name).stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def missing(self, names: Sequence[str]) -> list[str]:
        return [n for n in names if self.version(n) is None]

    def load(self, name: str) -> Any:
        """The artifact's content: DataFrame, JSON value, dict of arrays (npz) or text.

        Raises MissingArtifactError when the file does not exist and ArtifactSchemaError when
        a table lacks a column the page needs. The file is opened once and parsed from that
        handle, so a refresh that renames a new file into place mid-read cannot mix two
        versions (pyarrow opening a path twice can); the version cached is that of the inode
        actually read. Cache hits take no lock, so a reload never stalls unrelated requests.
        """
        version = self.version(name)
        if version is None:
            raise MissingArtifactError(name, self.path(name), self.build_hint)
        cached = self._files.get(name)
        if cached is not None and cached[0] == version:
            return cached[1]
        with self._lock:
            cached = self._files.get(name)
            if cached is not None and cached[0] == version:
                return cached[1]
            path = self.path(name)
            try:
                fh = open(path, "rb")  # noqa: SIM115 - closed below, after fstat and parse
            except FileNotFoundError:
                raise MissingArtifactError(name, path, self.build_hint) from None
            with fh:
                st = os.fstat(fh.fileno())
                value = read_artifact(fh, name, self._page_columns(name, path, fh))
            self._files[name] = ((st.st_mtime_ns, st.st_size), value)
            return value

    def index(self, name: str, *, sort: Sequence[str] = ()) -> ListenerIndex:
        """A listener index over a table artifact (``gradio_app.lookup``), one per version of the
        file: requests read one row group, not the table. Checks the columns the page needs."""

        def build() -> ListenerIndex:
            path = self.path(name)
            required, optional = COLUMNS[name]
            present = set(pq.read_schema(path).names)
            missing = [c for c in required if c not in present]
            if missing:
                raise ArtifactSchemaError(name, path, missing, self.build_hint)
            columns = [*required, *(c for c in optional if c in present)]
            return ListenerIndex(path, columns=columns, sort=sort)

        return self.derived(f"index:{name}", [name], build)

    def directory(self) -> ListenerDirectory:
        """Every listener, searchable by prefix, and the most active one (per splits version)."""
        return self.derived(
            "directory",
            ["interaction_splits"],
            lambda: ListenerDirectory(self.path("interaction_splits")),
        )

    def _page_columns(self, name: str, path: Path, fh: BinaryIO) -> list[str] | None:
        """The columns of a table the page reads (None: all, or not a table); raises
        ArtifactSchemaError when the file lacks one it needs."""
        if name not in COLUMNS:
            return None
        required, optional = COLUMNS[name]
        present = set(pq.read_schema(fh).names)
        fh.seek(0)
        missing = [c for c in required if c not in present]
        if missing:
            raise ArtifactSchemaError(name, path, missing, self.build_hint)
        return [*required, *optional]

    def derived(self, key: str, sources: Sequence[str], build: Callable[[], Any]) -> Any:
        """A value computed from ``sources``, rebuilt only when one of them changed on disk."""
        versions = tuple(self.version(s) for s in sources)
        for name, version in zip(sources, versions, strict=True):
            if version is None:
                raise MissingArtifactError(name, self.path(name), self.build_hint)
        cached = self._derived.get(key)
        if cached is not None and cached[0] == versions:
            return cached[1]
        with self._lock:
            cached = self._derived.get(key)
            if cached is not None and cached[0] == versions:
                return cached[1]
            value = build()
            self._derived[key] = (versions, value)
            return value

    def built_at(self) -> pd.DataFrame:
        """When each artifact file was written (UTC) and its size: the Model tab's table."""
        rows = []
        for name in PAGE_ARTIFACTS:
            path = artifact_path(self.storage_dir, name)  # the documented path, as users see it
            version = self.version(name)
            built = (
                datetime.fromtimestamp(version[0] / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
                if version
                else "missing"
            )
            size = f"{version[1] / 1024:,.1f} KiB" if version else ""
            rows.append({"artifact": path.name, "built": built, "size": size})
        return pd.DataFrame(rows)
