"""Content fingerprints of the source files, so a refresh runs when data really changed.

A file's stat (size, mtime) is only a hint: when it moved, the content is hashed again and a
refresh is due only if the hash differs, so `touch` or a copy of the same bytes starts nothing.
"""

from __future__ import annotations

import glob
import hashlib
from pathlib import Path

from .config import Config

_CHUNK = 1 << 20


def source_files(cfg: Config) -> list[Path]:
    """Every file the configured sources read (folders and globs expanded), sorted."""
    files: set[Path] = set()
    for src in (cfg.sources.listens, cfg.sources.tracks, cfg.sources.artists):
        if src is None:
            continue
        for path in (src.path, src.genres_path):
            if path is None:
                continue
            if path.is_dir():
                files.update(
                    p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")
                )
            elif any(ch in str(path) for ch in "*?["):
                files.update(Path(p) for p in glob.glob(str(path)))
            else:
                files.add(path)
    return sorted(files)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def fingerprint(cfg: Config, previous: dict[str, list] | None = None) -> dict[str, list]:
    """``{path: [size, mtime_ns, sha256]}``; hashes are reused from ``previous`` when stat matches."""
    previous = previous or {}
    out: dict[str, list] = {}
    for path in source_files(cfg):
        try:
            st = path.stat()
        except FileNotFoundError:
            continue
        old = previous.get(str(path))
        if old and old[0] == st.st_size and old[1] == st.st_mtime_ns:
            out[str(path)] = old
        else:
            out[str(path)] = [st.st_size, st.st_mtime_ns, file_sha256(path)]
    return out


def changed_files(old: dict[str, list], new: dict[str, list]) -> list[str]:
    """Files added, removed or with different content (stat-only changes do not count)."""
    keys = set(old) | set(new)
    return sorted(k for k in keys if (old.get(k) or [None] * 3)[2] != (new.get(k) or [None] * 3)[2])
