"""``generator_models``: ALS, EASE, RP3beta, item-kNN and popularity fitted per stage.

Each is fitted on the stage's fit rows only, with the settings ``model_selection`` chose on
validation (or the config's explicit values); ``StageModels`` holds one stage's fitted set and
stores it as plain arrays (``stages_to_npz``: the ``generator_models`` artifact, made by
``fit_generator_models``). ``topn.iter_candidates`` turns a set into candidate lists.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ...config import (
    GENERATORS,
    ALSConfig,
    Config,
)
from ...evaluation.protocol import FIT_SPLITS, STAGES, stage_data
from ...ids import factorize_sorted
from ...parallel import THREADS
from .als import ALSModel, fit_als
from .ease import fit_ease
from .itemitem import ItemItemModel, plays_matrix
from .itemknn import fit_itemknn
from .popularity import PopularityModel, fit_popularity
from .rp3beta import fit_rp3beta

if TYPE_CHECKING:
    from ..scale_out import ScaleOut

ITEM_ITEM = {"ease": fit_ease, "rp3beta": fit_rp3beta, "itemknn": fit_itemknn}

Model = ALSModel | ItemItemModel | PopularityModel
Settings = dict[str, Any]  # generator -> its config dataclass (ALSConfig, EASEConfig, ...)


def settings_from_config(cfg: Config) -> Settings:
    """Each enabled generator's config section (the values used when nothing is searched)."""
    sections = {
        "als": cfg.als,
        "ease": cfg.ease,
        "rp3beta": cfg.rp3beta,
        "itemknn": cfg.itemknn,
        "popularity": None,
    }
    return {g: sections[g] for g in cfg.candidates.generators}


def apply_choice(settings: Settings, chosen: dict[str, dict[str, Any]]) -> Settings:
    """``settings`` with the parameters ``model_selection`` chose (its ``chosen`` table)."""
    out = dict(settings)
    for name, params in chosen.items():
        if name in out and out[name] is not None and params:
            out[name] = dataclasses.replace(out[name], **params)
    return out


def chosen_settings(cfg: Config, selection: dict[str, Any]) -> Settings:
    """The config's generator settings with ``model_selection``'s choices applied."""
    return apply_choice(settings_from_config(cfg), selection.get("chosen", {}))


@dataclass
class StageModels:
    """One stage's fitted generators, in ``GENERATORS`` order."""

    models: dict[str, Model] = field(default_factory=dict)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.models)

    def to_npz(self, prefix: str) -> dict[str, np.ndarray]:
        arrays: dict[str, np.ndarray] = {
            f"{prefix}generators": np.asarray(list(self.models), dtype=str)
        }
        for name, model in self.models.items():
            p = f"{prefix}{name}__"
            arrays.update(model.to_npz(p) if name != "als" else model.to_npz(prefix=p))
        return arrays

    @classmethod
    def from_npz(cls, arrays: dict[str, np.ndarray], prefix: str) -> StageModels:
        models: dict[str, Model] = {}
        for name in arrays[f"{prefix}generators"].tolist():
            p = f"{prefix}{name}__"
            if name == "als":
                models[name] = ALSModel.from_npz(arrays, prefix=p)
            elif name == "popularity":
                models[name] = PopularityModel.from_npz(arrays, p)
            else:
                models[name] = ItemItemModel.from_npz(name, arrays, p)
        return cls(models)


def fit_generator(
    name: str,
    fit: pd.DataFrame,
    setting: Any,
    seed: int,
    *,
    warm: ALSModel | None = None,
    num_threads: int = THREADS,
    matrix: tuple[Any, np.ndarray] | None = None,
) -> Model:
    """Fit one generator on a stage's (user, artist, plays) rows.

    ``matrix`` = (users × artists play matrix, sorted artist keys) when the caller already built
    it (several generators of one stage, or many tuning trials, share it).
    """
    if name == "als":
        cfg: ALSConfig = setting
        return fit_als(fit, cfg, seed, num_threads=num_threads, warm_start=warm)
    x, artists = matrix if matrix is not None else stage_matrix(fit)
    if name == "popularity":
        return fit_popularity(x, artists)
    if name in ITEM_ITEM:  # their keyword arguments are their config section's fields
        threads = {} if name == "rp3beta" else {"threads": num_threads}
        return ITEM_ITEM[name](x, artists, **dataclasses.asdict(setting), **threads)
    raise ValueError(f"unknown generator {name!r}; expected one of {GENERATORS}")


def stage_matrix(fit: pd.DataFrame) -> tuple[Any, np.ndarray]:
    """(users × artists play matrix, sorted artist keys) of a stage's fit rows."""
    _, users = factorize_sorted(fit["user"])
    _, artists = factorize_sorted(fit["artist"])
    return plays_matrix(fit, pd.Index(users), pd.Index(artists)), artists


def fit_stage(
    fit: pd.DataFrame,
    settings: Settings,
    seed: int,
    *,
    names: tuple[str, ...] | None = None,
    warm: StageModels | None = None,
    num_threads: int = THREADS,
) -> StageModels:
    """Every generator in ``names`` (default: all in ``settings``) fitted on ``fit``."""
    names = tuple(settings) if names is None else names
    matrix = stage_matrix(fit) if set(names) - {"als"} else None
    models: dict[str, Model] = {}
    for name in names:
        prev = warm.models.get(name) if warm is not None else None
        models[name] = fit_generator(
            name,
            fit,
            settings[name],
            seed,
            warm=prev if isinstance(prev, ALSModel) else None,
            num_threads=num_threads,
            matrix=matrix,
        )
    return StageModels(models)


def fit_stages(
    splits: pd.DataFrame,
    settings: Settings,
    seed: int,
    *,
    stages: tuple[str, ...],
    names: tuple[str, ...],
    warm_start: bool = False,
    num_threads: int = THREADS,
) -> dict[str, StageModels]:
    """``fit_stage`` for each protocol stage on that stage's fit rows only.

    With ``warm_start`` a stage's ALS starts from the previous stage's factors, only when the
    previous stage's fit rows are a subset of this one's (val ⊂ test ⊂ serve), so no stage
    sees more than its own rows.
    """
    out: dict[str, StageModels] = {}
    previous = None
    for stage in stages:
        fit = stage_data(splits, stage, validate=False).fit
        subset = previous is not None and set(FIT_SPLITS[previous]) <= set(FIT_SPLITS[stage])
        warm = out[previous] if warm_start and subset else None
        out[stage] = fit_stage(fit, settings, seed, names=names, warm=warm, num_threads=num_threads)
        previous = stage
    return out


def fit_generator_models(
    splits: pd.DataFrame,
    cfg: Config,
    selection: dict[str, Any],
    *,
    num_threads: int = THREADS,
    scale_out: ScaleOut | None = None,
) -> dict[str, StageModels]:
    """Every generator per stage (val: train, test: train+val, serve: all) with the chosen
    settings; ALS warm-starts from the previous stage when ``[als] warm_start``. With
    ``scale_out`` the three ALS fits run there (cold: pyspark.ml ALS takes no start factors)."""
    settings = chosen_settings(cfg, selection)
    names = cfg.candidates.generators
    if scale_out is None or "als" not in names:
        return fit_stages(
            splits,
            settings,
            cfg.seed,
            stages=STAGES,
            names=names,
            warm_start=cfg.als.warm_start,
            num_threads=num_threads,
        )
    others = tuple(n for n in names if n != "als")
    stages = fit_stages(
        splits, settings, cfg.seed, stages=STAGES, names=others, num_threads=num_threads
    )
    fits = {stage: stage_data(splits, stage, validate=False).fit for stage in STAGES}
    als = scale_out.fit_als(fits, settings["als"], cfg.seed)
    return {stage: with_als(stages[stage], als[stage], names) for stage in STAGES}


def with_als(models: StageModels, als: ALSModel, names: tuple[str, ...]) -> StageModels:
    """``models`` with ``als`` added, in ``names``' order (a fit made elsewhere)."""
    merged = {**models.models, "als": als}
    return StageModels({name: merged[name] for name in names})


def stages_to_npz(stages: dict[str, StageModels]) -> dict[str, np.ndarray]:
    """All stages in one npz: keys ``<stage>__<generator>__<array>`` plus ``stages``."""
    arrays: dict[str, np.ndarray] = {"stages": np.asarray(list(stages), dtype=str)}
    for stage, models in stages.items():
        arrays.update(models.to_npz(f"{stage}__"))
    return arrays


def stages_from_npz(arrays: dict[str, np.ndarray]) -> dict[str, StageModels]:
    """Inverse of ``stages_to_npz``."""
    return {str(s): StageModels.from_npz(arrays, f"{s}__") for s in arrays["stages"].tolist()}
