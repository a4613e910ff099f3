"""``candidates``: every validation fold's and the test stage's candidates in one table.

``build_candidates`` makes it (``topn`` does the per-chunk work); the rest reads it back: one
stage's part, the generators it carries, each generator's own top-K (its full-catalogue ranking,
so the generators double as baselines) and the recall@N that bounds any reranker.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from ..config import GENERATORS, Config
from ..evaluation.metrics import pair_isin
from ..evaluation.protocol import (
    STAGES,
    StageData,
    fold_count,
    sample_users,
    stage_data,
    validation_folds,
)
from ..ids import codes_in, factorize_sorted
from ..parallel import THREADS
from .generators.stages import Settings, StageModels, chosen_settings, fit_stage, with_als
from .scale_out import CandidateRequest, ScaleOut, in_process_candidates
from .topn import rank_column, score_column


def reranker_folds(splits: pd.DataFrame, cfg: Config) -> list[StageData]:
    """The validation folds the reranker learns on (fold 0 = the validation stage), for the
    seeded sample of validation listeners: the one definition every step recomputes."""
    val = stage_data(splits, "val", validate=False)
    users = sample_users(val.target_users, cfg.candidates.max_val_users, cfg.seed)
    n = fold_count(cfg.reranker.folds, len(users), cfg.reranker.fold_listeners)
    return validation_folds(splits, n, cfg.seed, users=users)


def recall_by_generator(cands: pd.DataFrame, labels: pd.DataFrame, names: tuple[str, ...]) -> dict:
    """Candidate recall of the union and of each generator's own top-N."""
    out = {"union": candidate_recall(cands, labels)}
    for g in names:
        out[g] = candidate_recall(cands[cands[rank_column(g)].notna().to_numpy()], labels)
    return out


def build_candidates(
    splits: pd.DataFrame,
    models: dict[str, StageModels],
    cfg: Config,
    selection: dict[str, Any],
    *,
    chunk_size: int = 20_000,
    num_threads: int = THREADS,
    scale_out: ScaleOut | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Candidates of every validation fold and of the test stage in one table: ``stage, fold,
    user, artist`` and each generator's ``<g>_score``, ``<g>_rank``.

    Fold 0 comes from the val-stage models; each further fold fits every generator on its own
    fit rows (cold, so no model has seen its labels). Test listeners above
    ``[evaluation] max_users`` are the seeded sample ``evaluate`` draws. Returns (table, info):
    per part the counts and, for validation folds, the recall@N of the union and of each
    generator (test recall is computed by ``evaluate``, the only reader of test labels).
    With ``scale_out`` the folds' ALS fits and every part's top-N run there.
    """
    names = cfg.candidates.generators
    settings = chosen_settings(cfg, selection)
    folds = reranker_folds(splits, cfg)
    test = stage_data(splits, "test", validate=False)
    t0 = time.perf_counter()
    fold_models = [
        models["val"],
        *fit_folds(folds[1:], settings, cfg.seed, names, scale_out, num_threads),
    ]
    fit_seconds = round(time.perf_counter() - t0, 3)
    requests = {
        f"val_fold{f}": CandidateRequest(fold_models[f], fold.seen, fold.target_users)
        for f, fold in enumerate(folds)
    }
    users = sample_users(test.target_users, cfg.evaluation.max_users, cfg.seed)
    requests["test"] = CandidateRequest(models["test"], test.seen, users)
    n = cfg.candidates.n
    if scale_out is None:
        cands = {
            part: in_process_candidates(r, n, chunk_size=chunk_size, num_threads=num_threads)
            for part, r in requests.items()
        }
    else:
        cands = scale_out.candidates(requests, n)
    info: dict[str, Any] = {"folds": len(folds), "fold_fit_seconds": fit_seconds}
    for f, fold in enumerate(folds):
        part = cands[f"val_fold{f}"]
        info[f"val_fold{f}"] = {
            **part.attrs["info"],
            "recall": recall_by_generator(part, fold.labels, names),
        }
    info["test"] = {**cands["test"].attrs["info"], "target_users": len(test.target_users)}
    parts = [("val", f, cands[f"val_fold{f}"]) for f in range(len(folds))]
    parts.append(("test", 0, cands["test"]))
    return _stack(parts, splits), info


def fit_folds(
    folds: list[StageData],
    settings: Settings,
    seed: int,
    names: tuple[str, ...],
    scale_out: ScaleOut | None,
    num_threads: int,
) -> list[StageModels]:
    """Every generator fitted cold on each fold's own fit rows (ALS through ``scale_out`` when
    given, all folds in one batch)."""
    if scale_out is None or "als" not in names:
        return [
            fit_stage(fold.fit, settings, seed, names=names, num_threads=num_threads)
            for fold in folds
        ]
    others = tuple(n for n in names if n != "als")
    local = [fit_stage(f.fit, settings, seed, names=others, num_threads=num_threads) for f in folds]
    als = scale_out.fit_als({fold.stage: fold.fit for fold in folds}, settings["als"], seed)
    return [with_als(m, als[fold.stage], names) for m, fold in zip(local, folds, strict=True)]


def _stack(parts: list[tuple[str, int, pd.DataFrame]], splits: pd.DataFrame) -> pd.DataFrame:
    """One table of candidate parts, keys as categoricals over shared sorted vocabularies."""
    users = pd.Index(factorize_sorted(splits["user"])[1])
    artists = pd.Index(
        np.unique(np.concatenate([p["artist"].cat.categories.astype(str) for _, _, p in parts]))
    )
    stage = np.concatenate([np.full(len(p), STAGES.index(s), np.int8) for s, _, p in parts])
    out = pd.DataFrame(
        {
            "stage": pd.Categorical.from_codes(stage, categories=list(STAGES)),
            "fold": np.concatenate([np.full(len(p), f, np.int8) for _, f, p in parts]),
            "user": pd.Categorical.from_codes(
                np.concatenate([codes_in(users, p["user"]) for _, _, p in parts]).astype(np.int32),
                categories=users,
            ),
            "artist": pd.Categorical.from_codes(
                np.concatenate([codes_in(artists, p["artist"]) for _, _, p in parts]).astype(
                    np.int32
                ),
                categories=artists,
            ),
        }
    )
    for col in parts[0][2].columns[2:]:
        out[col] = np.concatenate([p[col].to_numpy() for _, _, p in parts])
    return out


def stage_part(candidates: pd.DataFrame, stage: str, fold: int = 0) -> pd.DataFrame:
    """One part of the table (a validation fold or test) without its ``stage, fold`` columns."""
    rows = (candidates["stage"] == stage).to_numpy() & (candidates["fold"] == fold).to_numpy()
    return candidates[rows].drop(columns=["stage", "fold"]).reset_index(drop=True)


def candidate_generators(candidates: pd.DataFrame) -> tuple[str, ...]:
    """The generators whose columns a candidate table carries, in ``GENERATORS`` order."""
    return tuple(g for g in GENERATORS if score_column(g) in candidates)


def generator_topk(candidates: pd.DataFrame, name: str, k: int) -> pd.DataFrame:
    """One generator's own top-``k`` (``user, rank, artist, score``) from a candidate table:
    its top-N is in the union, so this is its full-catalogue ranking."""
    rank = candidates[rank_column(name)].to_numpy()
    sel = rank <= k
    out = pd.DataFrame(
        {
            "user": candidates["user"].to_numpy()[sel],
            "rank": rank[sel].astype(np.int32),
            "artist": candidates["artist"].to_numpy()[sel],
            "score": candidates[score_column(name)].to_numpy(dtype=np.float64)[sel],
        }
    )
    return out.sort_values(["user", "rank"], kind="stable").reset_index(drop=True)


def candidate_recall(candidates: pd.DataFrame, labels: pd.DataFrame) -> dict[str, float]:
    """Share of label pairs among the candidates: micro (pairs) and mean over labelled users.

    It bounds what any reranker of these candidates can reach.
    """
    lab = labels[["user", "artist"]].astype(str).drop_duplicates()
    if not len(lab):
        return {"micro": 0.0, "per_user_mean": 0.0, "label_pairs": 0, "users": 0}
    hit = pair_isin(lab, candidates)
    per_user = pd.Series(hit, index=lab["user"].to_numpy()).groupby(level=0).mean()
    return {
        "micro": float(hit.mean()),
        "per_user_mean": float(per_user.mean()),
        "label_pairs": len(lab),
        "users": len(per_user),
    }
