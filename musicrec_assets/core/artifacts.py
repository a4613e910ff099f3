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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

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

    def _write_groups(p: Path) -> None:
        with pq.ParquetWriter(p, table.schema) as writer:
            for start in range(0, max(table.num_rows, 1), row_group_size):
                writer.write_table(_compact_dictionaries(table.slice(start, row_group_size)))

    return _write(path, _write_groups)


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


def write_npz(arrays: dict[str, np.ndarray], path: str | Path) -> Path:
    # np.savez appends ".npz" to names without it, so the temp name must end in .npz.
    return _write(path, lambda p: np.savez(p, **arrays), suffix=".npz")


def read_npz(source: str | Path | BinaryIO) -> dict[str, np.ndarray]:
    with np.load(source, allow_pickle=False) as data:
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


@dataclass(frozen=True)
class Artifact:
    """How one asset is stored at ``<storage.dir>/<asset>.<ext>`` (docs/architecture.md).

    ``row_group_rows``: tables the page and the API read one listener at a time are written
    sorted by listener in row groups of this many rows, so a lookup reads one small group
    (gradio_app/lookup.py). ``encode``/``decode`` turn a model object into what the file holds
    and back, so an asset hands its consumers (assets, the page, the CLI) a model, not arrays.
    """

    ext: str
    row_group_rows: int | None = None
    encode: Callable[[Any], Any] | None = None
    decode: Callable[[Any], Any] | None = None


def _stages_to_npz(value: Any) -> dict[str, np.ndarray]:
    from .model.generators.stages import stages_to_npz  # model code only when a model is stored

    return stages_to_npz(value)


def _stages_from_npz(arrays: dict[str, np.ndarray]) -> Any:
    from .model.generators.stages import stages_from_npz

    return stages_from_npz(arrays)


def _booster_to_text(value: Any) -> str:
    from .model.reranker import booster_to_text

    return booster_to_text(value)


def _booster_from_text(text: str) -> Any:
    from .model.reranker import booster_from_text

    return booster_from_text(text)


_TABLE = Artifact("parquet")
_JSON = Artifact("json")
# Every asset's artifact; the one place its file format is declared.
ARTIFACTS: dict[str, Artifact] = {
    "listens": _TABLE,
    "spotify_tracks": _TABLE,
    "spotify_artists": _TABLE,
    "artist_vectors": _TABLE,
    "artist_catalog": _TABLE,
    "user_artist_plays": _TABLE,
    "interaction_splits": Artifact("parquet", row_group_rows=20_000),
    "model_selection": _JSON,
    "generator_models": Artifact("npz", encode=_stages_to_npz, decode=_stages_from_npz),
    "candidates": _TABLE,
    "user_profiles": _TABLE,
    "item_features": _TABLE,
    "rerank_dataset": _TABLE,
    "reranker": Artifact("txt", encode=_booster_to_text, decode=_booster_from_text),
    "reranker_validation": _JSON,
    "reranked_topk": Artifact("parquet", row_group_rows=10_000),
    "evaluation_topk": _TABLE,
    "evaluation_report": _JSON,
    "artist_tracks": _TABLE,
    "playlists": Artifact("parquet", row_group_rows=10_000),
}

Source = str | Path | BinaryIO


def _text(source: Source) -> str:
    if isinstance(source, str | Path):
        return Path(source).read_text()
    return source.read().decode("utf-8")


_WRITERS: dict[str, Callable[[Any, Path], Path]] = {
    "parquet": write_parquet,
    "npz": lambda value, path: write_npz(value, path),
    "json": write_json,
    "txt": lambda value, path: write_text(value, path),
}
_READERS: dict[str, Callable[[Source], Any]] = {
    "npz": read_npz,
    "json": lambda source: json.loads(_text(source)),
    "txt": _text,
}


def artifact_path(storage_dir: str | Path, name: str) -> Path:
    """Where asset ``name`` lives (raises KeyError for an unknown asset)."""
    return Path(storage_dir) / f"{name}.{ARTIFACTS[name].ext}"


def save_artifact(storage_dir: str | Path, name: str, value: Any) -> Path:
    """Write an asset's value atomically in its format (a table, a model, a report or text)."""
    spec = ARTIFACTS[name]
    path = artifact_path(storage_dir, name)
    if spec.encode is not None:
        value = spec.encode(value)
    if spec.row_group_rows is not None:
        return write_parquet(value, path, row_group_size=spec.row_group_rows)
    return _WRITERS[spec.ext](value, path)


def read_artifact(source: Source, name: str, columns: Sequence[str] | None = None) -> Any:
    """Asset ``name``'s value from its file (a path, or a file the caller opened once).

    ``columns`` reads only those of a table's columns that the file has (all when it has none
    of them): a check of 4 columns of a 17.5M-row table need not read the other 4.
    """
    spec = ARTIFACTS[name]
    if spec.ext == "parquet":
        if columns is not None:
            present = set(pq.read_schema(source).names)
            columns = [c for c in columns if c in present] or None
            if not isinstance(source, str | Path):
                source.seek(0)
        return pd.read_parquet(source, columns=columns)
    value = _READERS[spec.ext](source)
    return value if spec.decode is None else spec.decode(value)


def load_artifact(storage_dir: str | Path, name: str, columns: Sequence[str] | None = None) -> Any:
    """Read an asset's artifact back (FileNotFoundError names the file when it was never built)."""
    path = artifact_path(storage_dir, name)
    if not path.exists():
        raise FileNotFoundError(f"artifact {path} does not exist: materialize {name} first")
    return read_artifact(path, name, columns)
