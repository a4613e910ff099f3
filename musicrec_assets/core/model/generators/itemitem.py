"""The item-item generators (EASE, RP3beta, item-kNN) share one model and one scoring rule.

A listener's score for artist j is ``Σ_i w(plays_i) · W[i, j]`` over the artists i they played,
with ``W`` the model's artist × artist weights and ``w`` its history weighting. Each algorithm
lives in its own module and only builds ``W``; scoring, storage and fold-in of a new listener
(which is just their history row) are the same for all three.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ...config import WEIGHTINGS


def weigh(plays: np.ndarray, weighting: str) -> np.ndarray:
    """Play counts as a model sees them: presence, log1p (one obsessively played artist does not
    own the profile) or raw counts."""
    plays = np.asarray(plays, dtype=np.float32)
    if weighting == "binary":
        return np.ones_like(plays)
    if weighting == "log1p":
        return np.log1p(plays)
    if weighting == "none":
        return plays
    raise ValueError(f"weighting must be one of {WEIGHTINGS}, not {weighting!r}")


def weighted_matrix(matrix: sp.csr_matrix, weighting: str) -> sp.csr_matrix:
    """``matrix`` (raw plays) with ``weigh`` applied to its entries."""
    out = matrix.astype(np.float32, copy=True).tocsr()
    out.data = weigh(out.data, weighting)
    return out


def plays_matrix(fit: pd.DataFrame, users: pd.Index, artists: pd.Index) -> sp.csr_matrix:
    """users × artists CSR of the plays in ``fit`` (rows outside the vocabularies dropped)."""
    from ...ids import codes_in

    u = codes_in(users, fit["user"])
    a = codes_in(artists, fit["artist"])
    ok = (u >= 0) & (a >= 0)
    plays = fit["plays"].to_numpy(dtype=np.float64)[ok]
    mat = sp.csr_matrix((plays, (u[ok], a[ok])), shape=(len(users), len(artists)))
    mat.sum_duplicates()
    return mat


@dataclass
class ItemItemModel:
    """``W`` over ``artists`` (sorted keys) and how a history row is weighted before ``@ W``."""

    name: str  # the generator: ease | rp3beta | itemknn
    artists: np.ndarray  # str, sorted: row/column j of ``weights``
    weights: np.ndarray | sp.csr_matrix  # float32 (m × m), dense for EASE, sparse otherwise
    weighting: str  # of the history rows (binary | log1p | none)
    params: dict[str, Any] = field(default_factory=dict)
    info: dict[str, float] = field(default_factory=dict)
    row_power: float | None = None  # RP3beta: rows normalised to 1, then raised to this power

    def scores(self, history: sp.csr_matrix) -> np.ndarray:
        """Dense (rows × m) scores of weighted history rows over this model's artists."""
        out = history @ self.weights
        out = out.toarray() if sp.issparse(out) else np.asarray(out)
        return out.astype(np.float32, copy=False)

    def history(
        self, rows: np.ndarray, cols: np.ndarray, plays: np.ndarray, n_rows: int
    ) -> sp.csr_matrix:
        """Weighted history rows from (row, column of ``artists`` or -1, plays) triples."""
        ok = cols >= 0
        mat = sp.csr_matrix(
            (weigh(plays[ok], "none"), (rows[ok], cols[ok])), shape=(n_rows, len(self.artists))
        )
        mat.sum_duplicates()
        mat.data = weigh(mat.data, self.weighting)
        if self.row_power is not None:
            sums = np.bincount(np.repeat(np.arange(n_rows), np.diff(mat.indptr)), mat.data, n_rows)
            mat.data = np.power(mat.data / np.repeat(sums, np.diff(mat.indptr)), self.row_power)
            mat.data = mat.data.astype(np.float32)
        return mat

    def to_npz(self, prefix: str) -> dict[str, np.ndarray]:
        """Plain arrays (strings as unicode, params as text): readable without pickle."""
        arrays: dict[str, np.ndarray] = {
            "artists": np.asarray(self.artists, dtype=str),
            "weighting": np.asarray(self.weighting),
            "row_power": np.asarray(np.nan if self.row_power is None else self.row_power),
            "param_names": np.asarray(list(self.params), dtype=str),
            "param_values": np.asarray([str(v) for v in self.params.values()], dtype=str),
            "info_keys": np.asarray(list(self.info), dtype=str),
            "info_values": np.asarray(list(self.info.values()), dtype=np.float64),
        }
        if sp.issparse(self.weights):
            w = sp.csr_matrix(self.weights)
            arrays.update(w_data=w.data, w_indices=w.indices, w_indptr=w.indptr)
        else:
            arrays["w_dense"] = np.asarray(self.weights, dtype=np.float32)
        return {f"{prefix}{k}": v for k, v in arrays.items()}

    @classmethod
    def from_npz(cls, name: str, arrays: dict[str, np.ndarray], prefix: str) -> ItemItemModel:
        """Inverse of ``to_npz``."""
        a = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
        artists = a["artists"].astype(object)
        m = len(artists)
        if "w_dense" in a:
            weights: np.ndarray | sp.csr_matrix = a["w_dense"]
        else:
            weights = sp.csr_matrix((a["w_data"], a["w_indices"], a["w_indptr"]), shape=(m, m))
        params = {
            k: _param(v)
            for k, v in zip(a["param_names"].tolist(), a["param_values"].tolist(), strict=True)
        }
        info = dict(zip(a["info_keys"].tolist(), a["info_values"].tolist(), strict=True))
        power = float(a["row_power"])
        row_power = None if np.isnan(power) else power
        return cls(name, artists, weights, str(a["weighting"]), params, info, row_power)


def _param(text: str) -> Any:
    """A stored parameter back as int, float or str (``to_npz`` writes them as text)."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def keep_top_per_row(mat: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """The ``k`` largest entries of each row (ties: lower column first), others dropped."""
    mat = sp.csr_matrix(mat)
    mat.sort_indices()
    counts = np.diff(mat.indptr)
    if not len(mat.data) or counts.max(initial=0) <= k:
        return mat
    rows = np.repeat(np.arange(mat.shape[0]), counts)
    order = np.lexsort((mat.indices, -mat.data, rows))
    rank = np.arange(len(order)) - np.repeat(mat.indptr[:-1], counts)
    keep = np.zeros(len(order), dtype=bool)
    keep[order[rank < k]] = True
    out = sp.csr_matrix(
        (mat.data[keep], mat.indices[keep], np.r_[0, np.cumsum(np.minimum(counts, k))]),
        shape=mat.shape,
    )
    return out


def top_dense_rows(block: np.ndarray, k: int) -> sp.csr_matrix:
    """The ``k`` largest positive entries of each row of a dense block, as CSR (ties at the
    cut: whichever ``argpartition`` keeps, deterministically)."""
    rows, n = block.shape
    k = min(k, n)
    idx = (
        np.argpartition(-block, k - 1, axis=1)[:, :k] if k < n else np.tile(np.arange(n), (rows, 1))
    )
    vals = np.take_along_axis(block, idx, axis=1)
    keep = vals > 0
    row = np.broadcast_to(np.arange(rows)[:, None], idx.shape)
    out = sp.csr_matrix((vals[keep], (row[keep], idx[keep])), shape=block.shape)
    out.sort_indices()
    return out
