"""Turning core statistics into Dagster metadata, in one place for every asset."""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import asdict, is_dataclass
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd


def _value(v: Any) -> Any:
    if isinstance(v, bool | str):
        return v
    if isinstance(v, int):
        return dg.MetadataValue.int(v)
    if isinstance(v, float):
        return dg.MetadataValue.float(v)
    if isinstance(v, Mapping):
        return dg.MetadataValue.json(dict(v))
    return dg.MetadataValue.text(str(v))


def flat(prefix: str, stats: Mapping[str, Any]) -> dict[str, Any]:
    """``{prefix/key: value}`` with numbers typed, so the UI can plot them over runs."""
    return {f"{prefix}{k}": _value(v) for k, v in stats.items()}


def counts_metadata(counts: Any) -> dict[str, Any]:
    """Rows in/out, rows dropped by reason and the extra figures of a core ``Counts``/report."""
    d = asdict(counts) if is_dataclass(counts) else dict(counts)
    out: dict[str, Any] = {}
    for key in ("rows_in", "rows_read", "rows_out", "files", "encoding", "format", "path"):
        if key in d and d[key] is not None:
            out[key] = _value(d[key])
    dropped = d.get("dropped") or d.get("skipped") or {}
    out["rows_dropped"] = dg.MetadataValue.int(int(sum(dropped.values())))
    if dropped:
        out["rows_dropped_by_reason"] = dg.MetadataValue.json(
            {k: int(v) for k, v in dropped.items()}
        )
    notes = d.get("notes") or {}
    if notes:  # rows kept but changed (placeholders, stripped characters, NaT timestamps...)
        out["rows_noted"] = dg.MetadataValue.json({k: int(v) for k, v in notes.items()})
    out.update(flat("", d.get("extra") or {}))
    return out


def _cell(value: Any) -> Any:
    """A table cell as plain text: lists joined, HTML and table pipes escaped."""
    if isinstance(value, list | tuple | np.ndarray):
        value = ", ".join(map(str, value))
    if isinstance(value, str):
        return html.escape(value).replace("|", "\\|")
    return value


def preview(df: pd.DataFrame, n: int = 10) -> dict[str, Any]:
    """Row count and a markdown preview of the first rows (names from the data shown as text)."""
    head = df.head(n).astype(object).map(_cell)
    return {
        "dagster/row_count": dg.MetadataValue.int(len(df)),
        "preview": dg.MetadataValue.md(head.to_markdown(index=False) if len(head) else "(empty)"),
    }
