"""Where the heavy model work runs: in this process (the default), or on a cluster.

``fit_generator_models`` and ``build_candidates`` hand their ALS fits and their candidate top-N
to a ``ScaleOut`` when one is given (the Spark engine: ``musicrec_assets.spark.engine``); the
rules around them (which rows each stage or fold fits on, which listeners are scored, how the
parts are stacked) stay here, written once. ``in_process_candidates`` is the top-N both engines
run on a set of listeners: the Spark engine calls it on each partition's listeners.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol

import pandas as pd

from ..config import ALSConfig
from ..parallel import THREADS
from .generators.als import ALSModel
from .generators.stages import StageModels
from .topn import collect_candidates, iter_candidates


@dataclass(frozen=True)
class CandidateRequest:
    """One part's top-N: its models, the fit rows it removes and folds in from (``user,
    artist, plays``), and the listeners to score."""

    models: StageModels
    history: pd.DataFrame
    users: Any


class ScaleOut(Protocol):
    """An engine that runs ALS fits and candidate top-N away from this process."""

    def fit_als(
        self, fits: dict[str, pd.DataFrame], cfg: ALSConfig, seed: int
    ) -> dict[str, ALSModel]:
        """One ALS model per named table of fit rows (``user, artist, plays``)."""
        ...

    def candidates(self, requests: dict[str, CandidateRequest], n: int) -> dict[str, pd.DataFrame]:
        """Per request, what ``in_process_candidates`` returns for it."""
        ...


def in_process_candidates(
    request: CandidateRequest, n: int, *, chunk_size: int = 20_000, num_threads: int = THREADS
) -> pd.DataFrame:
    """The union of every generator's top-``n`` unseen artists of the request's listeners (one
    frame, ``attrs["info"]`` with its counts and seconds)."""
    t0 = time.perf_counter()
    out = collect_candidates(
        iter_candidates(
            request.models,
            request.history,
            request.users,
            n,
            chunk_size=chunk_size,
            num_threads=num_threads,
        )
    )
    out.attrs["info"]["seconds"] = round(time.perf_counter() - t0, 3)
    return out
