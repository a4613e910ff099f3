"""One listener's rows of a Parquet artifact, without loading the table.

``reranked_topk``, ``interaction_splits`` and ``playlists`` are written sorted by listener in row
groups of bounded size, so each row group's ``user`` statistics (min, max) say which groups can
hold a listener (a binary search over them): a request reads one group of 10-20k rows (kept in
a small LRU cache as Arrow, matched there, only the listener's rows become Python objects), never
the table, and memory stays bounded however many listeners are asked for. The file is opened once per artifact version; a refresh publishes
a new file, and the old handle keeps reading the old one until the store drops it.
"""

from __future__ import annotations

import bisect
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

CACHED_GROUPS = 32  # row groups kept per artifact (Arrow, about 1 MB each)


class ListenerIndex:
    """Rows by listener of a Parquet file sorted by ``key``, found through row-group statistics."""

    def __init__(
        self,
        path: Path,
        key: str = "user",
        columns: Sequence[str] | None = None,
        *,
        sort: Sequence[str] = (),
        cached: int = CACHED_GROUPS,
    ) -> None:
        self.file = pq.ParquetFile(path)
        self.key = key
        self.columns = list(columns) if columns is not None else None
        self.sort = list(sort)
        self.cached = cached
        self._cache: OrderedDict[int, pa.Table] = OrderedDict()
        self._lock = threading.Lock()
        self._reading = threading.Lock()
        meta = self.file.metadata
        col = self.file.schema_arrow.get_field_index(key)
        mins, maxs = [], []
        for i in range(meta.num_row_groups):
            stats = meta.row_group(i).column(col).statistics
            if stats is None or not stats.has_min_max:
                mins, maxs = None, None  # no statistics: one lookup reads every group once
                break
            mins.append(str(stats.min))
            maxs.append(str(stats.max))
        self.mins, self.maxs = mins, maxs
        self.ordered = mins is not None and all(
            a <= b for a, b in zip(maxs, mins[1:], strict=False)
        )
        self.groups = meta.num_row_groups

    def _group(self, i: int) -> pa.Table:
        with self._lock:
            if i in self._cache:
                self._cache.move_to_end(i)
                return self._cache[i]
        # one reader object is not safe to share (concurrent reads crashed); a small group reads
        # twice as fast without Arrow's thread pool
        with self._reading:
            table = self.file.read_row_group(i, columns=self.columns, use_threads=False)
        table = _plain(table).combine_chunks()  # decoded once here, not on every request
        with self._lock:
            self._cache[i] = table
            while len(self._cache) > self.cached:
                self._cache.popitem(last=False)
        return table

    def _candidates(self, value: str) -> range | list[int]:
        """Row groups whose key range holds ``value``: a binary search over the groups' ranges
        when they are in order (a listener-sorted file), else a scan of their statistics (a file
        not sorted by listener is still read correctly, only less selectively)."""
        if self.mins is None:
            return range(self.groups)
        if self.ordered:
            return range(
                bisect.bisect_left(self.maxs, value), bisect.bisect_right(self.mins, value)
            )
        return [
            i
            for i, (lo, hi) in enumerate(zip(self.mins, self.maxs, strict=True))
            if lo <= value <= hi
        ]

    def rows(
        self,
        keys: Sequence[Any],
        where: dict[str, str] | None = None,
        columns: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Rows whose key is in ``keys`` (unknown keys are ignored), in ``keys`` order, sorted
        by ``sort`` (stable); ``where``: only rows with these column values (e.g. a context);
        ``columns``: only these, in this order. Matched in Arrow, so only the rows returned
        become Python objects."""
        parts = []
        for value in keys:
            for i in self._candidates(str(value)):
                group = self._group(i)
                mask = pc.equal(group.column(self.key), str(value))
                for column, wanted in (where or {}).items():
                    mask = pc.and_(mask, pc.equal(group.column(column), wanted))
                hit = group.filter(mask)
                if hit.num_rows:
                    parts.append(hit)
        if not parts:
            return self._empty(columns)
        out = parts[0] if len(parts) == 1 else pa.concat_tables(parts)
        if self.sort:
            out = out.take(pc.sort_indices(out, [(c, "ascending") for c in self.sort]))  # stable
        return (out.select(list(columns)) if columns is not None else out).to_pandas()

    def _empty(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        names = list(columns or self.columns or self.file.schema_arrow.names)
        return _plain(self.file.schema_arrow.empty_table().select(names)).to_pandas()

    def __contains__(self, value: object) -> bool:
        return len(self.rows([value])) > 0


class ListenerDirectory:
    """Every listener's key, searchable by prefix as a person types, and the most active one.

    Built once per version of ``interaction_splits`` from its ``user`` and ``plays`` columns (the
    user column is dictionary-encoded: the distinct names come from the dictionary, the counts
    from the codes), so 360k listeners cost a sorted array, not a table.
    """

    def __init__(self, path: Path) -> None:
        table = pq.read_table(path, columns=["user", "plays"])
        users = table.column("user").combine_chunks()
        if not pa.types.is_dictionary(users.type):
            users = pc.dictionary_encode(users)
        names = np.asarray(users.dictionary.to_pylist(), dtype=object)
        codes = users.indices.to_numpy(zero_copy_only=False)
        plays = np.bincount(codes, weights=table.column("plays").to_numpy(), minlength=len(names))
        present = np.bincount(codes, minlength=len(names)) > 0
        names, plays = names[present], plays[present]
        folded = np.asarray([str(n).casefold() for n in names], dtype=object)
        order = np.lexsort((names.astype(str), folded.astype(str)))
        self.names = names[order].astype(str)
        self.folded = folded[order].astype(str).tolist()
        self.plays = plays[order]
        self.most_active = str(self.names[int(np.argmax(self.plays))]) if len(names) else None

    def __len__(self) -> int:
        return len(self.names)

    def search(self, prefix: str = "", limit: int = 20) -> list[str]:
        """Listeners whose name starts with ``prefix`` (case-insensitive), alphabetically."""
        prefix = prefix.casefold()
        start = bisect.bisect_left(self.folded, prefix)
        out = []
        for i in range(start, min(start + limit, len(self.folded))):
            if not self.folded[i].startswith(prefix):
                break
            out.append(str(self.names[i]))
        return out


def _plain(table: pa.Table) -> pa.Table:
    """Dictionary columns as plain strings (groups carry different dictionaries), without the
    pandas metadata that would turn them back into categoricals."""
    for j, field in enumerate(table.schema):
        if pa.types.is_dictionary(field.type):
            table = table.set_column(j, field.name, table.column(j).cast(field.type.value_type))
    return table.replace_schema_metadata(None)
