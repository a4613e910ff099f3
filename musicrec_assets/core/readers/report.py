"""What a reader saw and did: the `ReadReport` shown as asset metadata and the tally behind it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ..config import SourceConfig
from ..errors import InputError


@dataclass
class ReadReport:
    """What a reader saw and did, for asset metadata and for people debugging their files."""

    path: str  # file or glob/folder read
    format: str
    encoding: str  # what was used/detected (several files: distinct values joined by "+")
    rows_read: int  # data rows seen in the file(s)
    rows_out: int  # rows in the returned frame
    skipped: dict[str, int]  # reason -> count, for documented skips (e.g. "blank artist name": 3)
    files: int = 1
    notes: dict[str, int] = field(default_factory=dict)  # kept-but-changed things, reason -> count


class _Tally:
    """Collects skips/notes and encodings while a reader works through its files."""

    def __init__(self) -> None:
        self.skipped: Counter[str] = Counter()
        self.notes: Counter[str] = Counter()
        self.encodings: list[str] = []
        self.rows_read = 0

    def skip(self, reason: str, n: int) -> None:
        if n:
            self.skipped[reason] += int(n)

    def note(self, reason: str, n: int) -> None:
        if n:
            self.notes[reason] += int(n)

    def report(self, src: SourceConfig, rows_out: int, files: int) -> ReadReport:
        encoding = "+".join(dict.fromkeys(self.encodings)) or "n/a"
        return ReadReport(
            path=str(src.path),
            format=src.format,
            encoding=encoding,
            rows_read=self.rows_read,
            rows_out=rows_out,
            skipped=dict(self.skipped),
            files=files,
            notes=dict(self.notes),
        )


def _check_nonempty(src: SourceConfig, tally: _Tally, rows_out: int) -> None:
    """A source that yields nothing is an error: downstream would fail far from the cause."""
    if tally.rows_read == 0:
        raise InputError(src.path, "no data rows (the file has a header only)")
    if rows_out == 0:
        reasons = ", ".join(f"{k}: {v}" for k, v in tally.skipped.items())
        raise InputError(
            src.path, f"no usable rows: all {tally.rows_read} were skipped ({reasons})"
        )
