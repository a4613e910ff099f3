"""Finding and decoding source files: paths, folders, globs, encodings, plain text lines.

Every failure becomes an `InputError` that names the file and, where there is one, the (1-based,
header = line 1) line, so a person can open the file and look.

Encoding (`auto`): the whole file is decoded incrementally as UTF-8 (a BOM is stripped and
reported as `utf-8-sig`); if that fails, cp1252; if that fails too (it has five undefined bytes),
latin-1, which never fails. An explicit encoding is honoured as given; a byte it cannot decode is
an error naming the line.
"""

from __future__ import annotations

import codecs
import glob as globlib
import re
from pathlib import Path

import pandas as pd

from ..errors import InputError

AUTO = "auto"
_CHUNK = 1 << 22  # bytes per incremental decode step
_GLOB_CHARS = re.compile(r"[*?\[]")


def resolve_files(path: str | Path, *, default_glob: str = "*.csv") -> list[Path]:
    """Expand a file, a folder (its `default_glob` members) or a glob pattern to sorted files.

    Sorted so that multi-file sources are read (and deduplicated) in a reproducible order.
    """
    text = str(path)
    p = Path(text)
    if p.is_dir():
        files = sorted(f for f in p.glob(default_glob) if f.is_file())
        if not files:
            raise InputError(p, f"folder has no files matching {default_glob!r}")
        return files
    if _GLOB_CHARS.search(p.name) or _GLOB_CHARS.search(str(p.parent)):
        files = sorted(Path(f) for f in globlib.glob(text) if Path(f).is_file())
        if not files:
            raise InputError(p, "no files match this pattern")
        return files
    if not p.exists():
        raise InputError(p, "file not found")
    if not p.is_file():
        raise InputError(p, "not a regular file")
    return [p]


def _single_file(path: Path, what: str) -> Path:
    """The one file a single-file format reads; a glob or folder matching several is an error."""
    files = resolve_files(path)
    if len(files) > 1:
        names = ", ".join(f.name for f in files[:5]) + (" ..." if len(files) > 5 else "")
        raise InputError(path, f"{what} reads one file but {len(files)} match ({names})")
    return files[0]


def find_member(folder: Path, pattern: str, what: str) -> Path:
    """The one file in `folder` matching `pattern` (several or none is an error, never a guess)."""
    matches = sorted(f for f in folder.glob(pattern) if f.is_file())
    if not matches:
        raise InputError(folder / pattern, f"missing file: {what} needs {pattern!r} in {folder}")
    if len(matches) > 1:
        names = ", ".join(m.name for m in matches)
        raise InputError(folder, f"several files match {pattern!r} ({names}); keep exactly one")
    return matches[0]


def require_folder(path: str | Path, fmt: str) -> Path:
    """The source folder of a folder format, or an InputError saying what was expected."""
    p = Path(path)
    if not p.exists():
        raise InputError(p, f"folder not found ({fmt} reads a folder)")
    if not p.is_dir():
        raise InputError(p, f"not a folder: {fmt} reads a folder of files, not a single file")
    return p


def check_not_empty(path: Path) -> None:
    """A 0-byte data file is a mistake (an interrupted download or copy): say so plainly."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc}") from exc
    if size == 0:
        raise InputError(path, "file is empty (0 bytes)")


# --------------------------------------------------------------------------- encodings


def _normalise_codec(path: Path, encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError as exc:
        raise InputError(path, f"unknown encoding {encoding!r} in the source config") from exc


def first_decode_error(path: Path, encoding: str) -> tuple[int, int, bytes] | None:
    """(byte offset, 1-based line, bad bytes) of the first undecodable byte, or None if clean."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    offset, line = 0, 1
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            state = decoder.getstate()
            pending = len(state[0]) if isinstance(state, tuple) and state else 0
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                start = max(exc.start - pending, 0)
                bad = exc.object[exc.start : exc.end]
                return offset + start, line + chunk[:start].count(b"\n"), bytes(bad)
            offset += len(chunk)
            line += chunk.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            return offset, line, bytes(exc.object[exc.start : exc.end])
    return None


def detect_encoding(path: Path, declared: str = AUTO) -> str:
    """The codec to read `path` with: the declared one, or for `auto` UTF-8 > cp1252 > latin-1.

    A UTF-8 BOM turns `utf-8` into `utf-8-sig` so the first column name never starts with it.
    """
    with open(path, "rb") as fh:
        has_bom = fh.read(3) == codecs.BOM_UTF8
    if declared and declared.lower() != AUTO:
        name = _normalise_codec(path, declared)
        return "utf-8-sig" if name == "utf-8" and has_bom else name
    if first_decode_error(path, "utf-8") is None:
        return "utf-8-sig" if has_bom else "utf-8"
    if first_decode_error(path, "cp1252") is None:
        return "cp1252"
    return "latin-1"


def decode_error(path: Path, encoding: str, declared: str) -> InputError:
    """An InputError for a file that does not decode under `encoding`, naming the line."""
    found = first_decode_error(path, encoding)
    hint = (
        "set encoding = 'auto' (detects UTF-8, cp1252, latin-1) or the file's real encoding"
        if declared.lower() != AUTO
        else "the file mixes encodings"
    )
    if found is None:  # pragma: no cover - pandas and codecs disagree
        return InputError(path, f"cannot decode as {encoding}; {hint}")
    offset, line, bad = found
    return InputError(
        path,
        f"cannot decode as {encoding}: byte(s) {bad.hex(' ')} at offset {offset}; {hint}",
        row=line,
    )


def read_text_lines(path: Path, encoding: str, declared: str = AUTO) -> pd.Series:
    """All lines of a small-ish text file (no CSV quoting rules), as a str Series indexed 0..n-1.

    Used for tab-separated tables whose names contain quote characters (Audioscrobbler, HetRec),
    where a CSV parser would swallow lines.
    """
    check_not_empty(path)
    try:
        text = path.read_bytes().decode(encoding)
    except UnicodeDecodeError:
        raise decode_error(path, encoding, declared) from None
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc}") from exc
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return pd.Series(lines, dtype="str").str.removesuffix("\r")
