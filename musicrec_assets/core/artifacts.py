"""Atomic artifact files: Parquet tables, npz factors, JSON reports, text models.

Every write goes to a temporary file in the same directory and is renamed into place, so a reader
(or a crash) sees either the old file or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq


@contextmanager
def atomic_path(path: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success fsync it and rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{suffix}", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    tmp_path.chmod(0o644)  # mkstemp creates 0600; artifacts are meant to be read by people
    try:
        yield tmp_path
        with open(tmp_path, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _write(path: str | Path, writer: Callable[[Path], None], suffix: str = "") -> Path:
    with atomic_path(path, suffix) as tmp:
        writer(tmp)
    return Path(path)


def write_parquet(df: pd.DataFrame, path: str | Path, *, row_group_size: int | None = None) -> Path:
    """Write a frame; with ``row_group_size``, in row groups of that many rows.

    A categorical column is stored per row group with only the categories that group uses:
    written as is, every group would carry all of them (360k listener names in each of 176
    groups made a 215 MB table 1.4 GB).
    """
    if row_group_size is None:
        return _write(path, lambda p: df.to_parquet(p, index=False))
    table = pa.Table.from_pandas(df, preserve_index=False)

    def _groups(p: Path) -> None:
        with pq.ParquetWriter(p, table.schema) as writer:
            for start in range(0, max(table.num_rows, 1), row_group_size):
                writer.write_table(_compact_dictionaries(table.slice(start, row_group_size)))

    return _write(path, _groups)


def _compact_dictionaries(table: pa.Table) -> pa.Table:
    """Re-encode dictionary columns so each keeps only the values present in ``table``."""
    for i, field in enumerate(table.schema):
        if not pa.types.is_dictionary(field.type):
            continue
        column = table.column(i).combine_chunks()
        missing = column.is_null().to_numpy(zero_copy_only=False)
        codes = column.indices.fill_null(0).to_numpy()
        used = np.flatnonzero(np.bincount(codes[~missing], minlength=len(column.dictionary)))
        lookup = np.zeros(max(len(column.dictionary), 1), dtype=codes.dtype)
        lookup[used] = np.arange(len(used))
        indices = pa.array(lookup[codes], type=field.type.index_type, mask=missing)
        compact = pa.DictionaryArray.from_arrays(indices, column.dictionary.take(used))
        table = table.set_column(i, field, compact)
    return table


def write_parquet_chunks(
    chunks: Iterable[pd.DataFrame],
    path: str | Path,
    *,
    empty: pd.DataFrame,
    dictionary: Sequence[str] = (),
    row_group_size: int | None = None,
) -> int:
    """Stream frames of one schema into one Parquet file, a row group per frame (or per
    ``row_group_size`` rows of a frame); returns the rows.

    For tables too large to hold at once (the 360K-scale playlists): only one frame is in memory.
    ``dictionary`` columns are stored dictionary-encoded (readers get categoricals, a fraction of
    the memory of millions of repeated strings); ``empty`` is written when there are no frames.
    The file appears atomically once the last frame is written.
    """
    rows = 0

    def _stream(tmp: Path) -> None:
        nonlocal rows
        writer = None
        try:
            for chunk in chunks:
                table = pa.Table.from_pandas(chunk, preserve_index=False)
                for col in dictionary:
                    i = table.schema.get_field_index(col)
                    table = table.set_column(i, col, pc.dictionary_encode(table[col]))
                if writer is None:
                    writer = pq.ParquetWriter(tmp, table.schema)
                step = row_group_size or max(table.num_rows, 1)
                for start in range(0, table.num_rows, step):
                    writer.write_table(_compact_dictionaries(table.slice(start, step)))
                rows += table.num_rows
        finally:
            if writer is not None:
                writer.close()
        if writer is None:
            empty.to_parquet(tmp, index=False)

    _write(path, _stream)
    return rows


def read_parquet(path: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    return pd.read_parquet(path, columns=columns)


def write_json(obj: Any, path: str | Path) -> Path:
    def _dump(p: Path) -> None:
        p.write_text(json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")

    return _write(path, _dump)


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())


def write_npz(arrays: dict[str, np.ndarray], path: str | Path) -> Path:
    # np.savez appends ".npz" to names without it, so the temp name must end in .npz.
    return _write(path, lambda p: np.savez(p, **arrays), suffix=".npz")


def read_npz(path: str | Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def write_text(text: str, path: str | Path) -> Path:
    return _write(path, lambda p: p.write_text(text))


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, pd.Timestamp):
        return obj.isoformat()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


# File extension of every asset's artifact at ``<storage.dir>/<asset>.<ext>``
# (docs/architecture.md).
ARTIFACT_EXT: dict[str, str] = {
    "listens": "parquet",
    "spotify_tracks": "parquet",
    "spotify_artists": "parquet",
    "artist_vectors": "parquet",
    "artist_catalog": "parquet",
    "user_artist_plays": "parquet",
    "interaction_splits": "parquet",
    "model_selection": "json",
    "generator_models": "npz",
    "candidates": "parquet",
    "user_profiles": "parquet",
    "item_features": "parquet",
    "rerank_dataset": "parquet",
    "reranker": "txt",
    "reranker_validation": "json",
    "reranked_topk": "parquet",
    "evaluation_topk": "parquet",
    "evaluation_report": "json",
    "artist_tracks": "parquet",
    "playlists": "parquet",
}

_WRITERS: dict[str, Callable[[Any, Path], Path]] = {
    "parquet": write_parquet,
    "npz": lambda value, path: write_npz(value, path),
    "json": write_json,
    "txt": lambda value, path: write_text(value, path),
}
_READERS: dict[str, Callable[[Path], Any]] = {
    "parquet": read_parquet,
    "npz": read_npz,
    "json": read_json,
    "txt": lambda path: Path(path).read_text(),
}


def artifact_path(storage_dir: str | Path, name: str) -> Path:
    """Where asset ``name`` lives (raises KeyError for an unknown asset)."""
    return Path(storage_dir) / f"{name}.{ARTIFACT_EXT[name]}"


# Tables the page and the API read one listener at a time: written sorted by listener in row
# groups of this many rows, so a lookup reads one small group (gradio_app/lookup.py): ~2 ms for
# 20k rows of interaction_splits at 360K scale, where whole reads of the table are no slower.
ROW_GROUP_ROWS: dict[str, int] = {
    "reranked_topk": 10_000,
    "interaction_splits": 20_000,
    "playlists": 10_000,
}


def save_artifact(storage_dir: str | Path, name: str, value: Any) -> Path:
    """Write an asset's value atomically in its format (DataFrame, arrays, dict or text)."""
    path = artifact_path(storage_dir, name)
    if name in ROW_GROUP_ROWS:
        return write_parquet(value, path, row_group_size=ROW_GROUP_ROWS[name])
    return _WRITERS[ARTIFACT_EXT[name]](value, path)


def load_artifact(storage_dir: str | Path, name: str, columns: Sequence[str] | None = None) -> Any:
    """Read an asset's artifact back (FileNotFoundError names the file when it was never built).

    ``columns`` reads only those of a table's columns that the file has (all when it has none of
    them): a check of 4 columns of a 17.5M-row table need not read the other 4.
    """
    path = artifact_path(storage_dir, name)
    if not path.exists():
        raise FileNotFoundError(f"artifact {path} does not exist: materialize {name} first")
    if columns is not None and ARTIFACT_EXT[name] == "parquet":
        present = set(pq.read_schema(path).names)
        return read_parquet(path, [c for c in columns if c in present] or None)
    return _READERS[ARTIFACT_EXT[name]](path)
