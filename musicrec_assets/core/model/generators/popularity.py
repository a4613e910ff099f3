"""Most-popular: the same ranking for everyone, by listeners in the fit data (then plays, then
artist key), seen artists removed. The reference every model must beat, and a candidate
generator for listeners with too little history for the others."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass
class PopularityModel:
    artists: np.ndarray  # str, sorted keys
    listeners: np.ndarray  # int64 per artist in the fit data
    plays: np.ndarray  # float64 per artist in the fit data

    @property
    def order(self) -> np.ndarray:
        """Artist positions, most popular first (ties: more plays, then the lower key)."""
        return np.lexsort((np.arange(len(self.artists)), -self.plays, -self.listeners))

    def to_npz(self, prefix: str) -> dict[str, np.ndarray]:
        return {
            f"{prefix}artists": np.asarray(self.artists, dtype=str),
            f"{prefix}listeners": self.listeners,
            f"{prefix}plays": self.plays,
        }

    @classmethod
    def from_npz(cls, arrays: dict[str, np.ndarray], prefix: str) -> PopularityModel:
        return cls(
            arrays[f"{prefix}artists"].astype(object),
            arrays[f"{prefix}listeners"],
            arrays[f"{prefix}plays"],
        )


def fit_popularity(matrix: sp.csr_matrix, artists: np.ndarray) -> PopularityModel:
    """Listeners and plays per artist of a users × artists play matrix (columns = ``artists``)."""
    csc = sp.csc_matrix(matrix)
    return PopularityModel(
        artists=np.asarray(artists, dtype=object),
        listeners=np.diff(csc.indptr).astype(np.int64),
        plays=np.asarray(csc.sum(axis=0), dtype=np.float64).ravel(),
    )
