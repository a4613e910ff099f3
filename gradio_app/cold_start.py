"""Recommendations for a listener the model has never seen, from a handful of seed artists.

The page needs only ``artist, score`` rows; this adapter is the single place that turns the
serving artifacts (the serve-stage generators in ``generator_models.npz``, ``reranker.txt``, the
serve rows of ``item_features.parquet``, the served choice in ``reranker_validation.json``) into a
call of ``musicrec_assets.core.model.cold_start.recommend_new_listener``, the same path batch
serving takes. If that core function cannot be imported the page says so instead of failing.
Loaded models are cached against the artifact files' versions, like every other artifact.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import pandas as pd

from .store import ArtifactStore

ColdStart = Callable[[ArtifactStore, list[str], int], pd.DataFrame]


class ColdStartUnavailableError(RuntimeError):
    """The cold-start recommender cannot run in this build (the message says why)."""


def _core_function() -> Callable[..., pd.DataFrame]:
    try:
        module = importlib.import_module("musicrec_assets.core.model.cold_start")
    except ImportError as exc:
        raise ColdStartUnavailableError(
            "New-listener playlists are not available in this build yet: "
            "musicrec_assets.core.model.cold_start could not be imported."
        ) from exc
    fn = getattr(module, "recommend_new_listener", None)
    if fn is None:
        raise ColdStartUnavailableError(
            "New-listener playlists are not available in this build yet: "
            "musicrec_assets.core.model.cold_start has no recommend_new_listener."
        )
    return fn


def _models(store: ArtifactStore) -> dict[str, Any]:
    """The serve-stage generators and the served choice, loaded once per artifact version.

    The reranker file is needed only when the gate chose to serve it; otherwise serving is the
    best single generator and so is the cold start.
    """
    choice = store.load("reranker_validation")
    use_ranker = bool(choice.get("use_ranker"))

    def build() -> dict[str, Any]:
        items = store.load("item_features")
        if "stage" in items.columns:
            items = items[items["stage"] == "serve"].drop(columns="stage")
        return {
            "models": store.load("generator_models")["serve"],
            "booster": store.load("reranker") if use_ranker else None,
            "item_features": items.reset_index(drop=True),
            "choice": choice,
        }

    sources = ["generator_models", "item_features", "reranker_validation"]
    if use_ranker:
        sources.append("reranker")
    return store.derived("cold_start_models", sources, build)


def recommend_for_seeds(store: ArtifactStore, seeds: list[str], n: int) -> pd.DataFrame:
    """Top ``n`` artists (``artist, score``) for a new listener who likes ``seeds``.

    Seeds the model does not know are listed in ``attrs["unknown_seeds"]``. Raises
    ColdStartUnavailableError when the core function is missing and ArtifactError when a
    serving artifact has not been built.
    """
    recommend = _core_function()
    with store.pinned():
        models = _models(store)
    recs = recommend(
        seed_artists=list(seeds),
        models=models["models"],
        booster=models["booster"],
        item_features=models["item_features"],
        choice=models["choice"],
        n=n,
    )
    out = recs[["artist", "score"]].reset_index(drop=True)
    out.attrs["unknown_seeds"] = list(recs.attrs.get("unknown_seeds", []))
    return out
