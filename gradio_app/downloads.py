"""Playlist exports (CSV, M3U, XSPF) written where the page can offer them as downloads."""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
import threading
import weakref
from pathlib import Path

import pandas as pd

from musicrec_assets.core.playlist import PLAYLIST_COLUMNS, to_csv, to_m3u, to_xspf

KEEP_DOWNLOADS = 256  # download folders kept on disk (oldest removed first)


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
