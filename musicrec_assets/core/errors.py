"""One error type for bad input, so every message names the file, the column and the row."""

from __future__ import annotations

from pathlib import Path


class InputError(ValueError):
    """Raised when a source file cannot be read as its declared format.

    The message always names the file; it names the column and the (1-based, header = line 1) row
    when the problem is that precise, so a person can open the file and look.
    """

    def __init__(
        self,
        path: str | Path | None,
        message: str,
        *,
        column: str | None = None,
        row: int | None = None,
    ) -> None:
        self.path = str(path) if path is not None else None
        self.column = column
        self.row = row
        self.reason = message
        where = []
        if self.path is not None:
            where.append(f"file {self.path}")
        if column is not None:
            where.append(f"column {column!r}")
        if row is not None:
            where.append(f"row {row}")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class ConfigError(ValueError):
    """Raised for an invalid musicrec config file (names the file and the key)."""
