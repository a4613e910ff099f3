"""The Spark engine as the assets see it (the Dagster process; no pyspark import here).

``SparkScaleOut`` is the ``core.model.scale_out.ScaleOut`` that ``fit_generator_models`` and
``build_candidates`` hand their ALS fits and candidate top-N to; ``reranked_topk`` and
``iter_playlists`` run the serving stages. Each writes its inputs as Parquet / npz into the
run's scratch folder, launches one ``spark-submit`` through Dagster Pipes (``launch``), and reads
the job's Parquet back in the local engine's layout, so artifacts and checks are unchanged.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..core.artifacts import read_npz, write_npz, write_parquet
from ..core.config import ALSConfig, Config
from ..core.ids import codes_in
from ..core.model.generators.als import ALSModel
from ..core.model.scale_out import CandidateRequest
from ..core.model.topn import candidate_columns, candidate_vocab
from . import launch


def _part_files(out: Path) -> list[Path]:
    """The job's Parquet part files in partition order (= listener order)."""
    return sorted(out.glob("part-*.parquet"))


def _split_info(table: pa.Table) -> tuple[pa.Table, list[dict[str, Any]]]:
    """(data rows, the per-partition info dicts) of a job's output table."""
    is_info = table.column("user").is_null().to_numpy(zero_copy_only=False)
    infos = [json.loads(s) for s in table.column("info").filter(pa.array(is_info)).to_pylist()]
    return table.filter(pa.array(~is_info)).drop_columns(["info"]), infos


def _sum_info(infos: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for info in infos:
        for key, value in info.items():
            if isinstance(value, int | float):
                out[key] = out.get(key, 0) + value
    return out


def _read(out: Path) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    files = _part_files(out)
    if not files:
        raise RuntimeError(f"the Spark job wrote no Parquet under {out}")
    data, infos = _split_info(pa.concat_tables(pq.read_table(f) for f in files))
    return data.to_pandas(), infos


class SparkScaleOut:
    """ALS fits and candidate top-N of one asset, run as Spark jobs."""

    def __init__(self, context: dg.AssetExecutionContext, cfg: Config, asset: str) -> None:
        self.context, self.cfg, self.asset = context, cfg, asset

    def fit_als(
        self, fits: dict[str, pd.DataFrame], cfg: ALSConfig, seed: int
    ) -> dict[str, ALSModel]:
        """One pyspark.ml ALS fit per named table of fit rows, in one job."""
        work = launch.stage_dir(self.context, self.cfg.engine.spark, f"{self.asset}-als")
        paths = {}
        for name, rows in fits.items():
            paths[name] = str(
                write_parquet(rows[["user", "artist", "plays"]], work / f"{name}.parquet")
            )
        extras = {
            "fits": paths,
            "als": dataclasses.asdict(cfg),
            "spark_als": dataclasses.asdict(self.cfg.engine.spark.als),
            "seed": seed,
        }
        out, _ = launch.run_stage(self.context, self.cfg.engine.spark, "als_fits", extras, work)
        models = {name: ALSModel.from_npz(read_npz(out / f"{name}.npz")) for name in fits}
        launch.remove_output(out)
        return models

    def candidates(self, requests: dict[str, CandidateRequest], n: int) -> dict[str, pd.DataFrame]:
        """Every request's candidates from one job, each as ``in_process_candidates`` makes it."""
        work = launch.stage_dir(self.context, self.cfg.engine.spark, f"{self.asset}-topn")
        extras = candidate_inputs(requests, n, work)
        out, figures = launch.run_stage(
            self.context, self.cfg.engine.spark, "candidates", extras, work
        )
        result = read_candidates(out, requests, float(figures.get("seconds", 0.0)))
        launch.remove_output(out)
        return result


def candidate_inputs(requests: dict[str, CandidateRequest], n: int, work: Path) -> dict[str, Any]:
    """Write the ``candidates`` job's inputs into ``work``: one Parquet of ``part, user, artist,
    plays`` (each part's fit rows of its listeners, and a null-artist row per listener to
    score) and each part's models as npz; return the job's extras."""
    frames, models = [], {}
    for part, r in requests.items():
        users = np.unique(np.asarray(r.users).astype(str))
        history_users = r.history["user"].astype(str).to_numpy()
        mine = np.isin(history_users, users)
        history = r.history[mine]
        frames.append(
            pd.DataFrame(
                {
                    "part": part,
                    "user": np.concatenate([history_users[mine], users]),
                    "artist": np.concatenate(
                        [history["artist"].astype(str), np.full(len(users), None)]
                    ),
                    "plays": np.concatenate(
                        [history["plays"].to_numpy(np.float64), np.full(len(users), np.nan)]
                    ),
                }
            )
        )
        models[part] = str(write_npz(r.models.to_npz(""), work / f"{part}.npz"))
    rows = write_parquet(pd.concat(frames, ignore_index=True), work / "rows.parquet")
    names = next(iter(requests.values())).models.names
    return {"rows": str(rows), "models": models, "names": list(names), "n": n}


def read_candidates(
    out: Path, requests: dict[str, CandidateRequest], seconds: float = 0.0
) -> dict[str, pd.DataFrame]:
    """The ``candidates`` job's output as ``in_process_candidates`` returns each part."""
    data, infos = _read(out)
    result = {}
    for part, r in requests.items():
        info = _sum_info([i for i in infos if i.get("part") == part]) | {"seconds": seconds}
        result[part] = _candidate_frame(data[data["part"].to_numpy() == part], r, info)
    return result


def _candidate_frame(rows: pd.DataFrame, request: CandidateRequest, info: dict) -> pd.DataFrame:
    """A part's Spark rows in ``iter_candidates``' layout: categorical keys over the sorted
    listeners and the models' vocabulary, rows by listener then artist code."""
    users = pd.Index(np.unique(np.asarray(request.users).astype(str)), dtype=str)
    vocab = pd.Index(candidate_vocab(request.models), dtype=str)
    u = codes_in(users, rows["user"])
    a = codes_in(vocab, rows["artist"])
    order = np.lexsort((a, u))
    out = pd.DataFrame(
        {
            "user": pd.Categorical.from_codes(
                u[order].astype(np.int32), dtype=pd.CategoricalDtype(users)
            ),
            "artist": pd.Categorical.from_codes(
                a[order].astype(np.int32), dtype=pd.CategoricalDtype(vocab)
            ),
        }
    )
    for col in candidate_columns(request.models.names)[2:]:
        out[col] = rows[col].to_numpy(np.float32)[order]
    out.attrs["info"] = info
    return out


def reranked_topk(
    context: dg.AssetExecutionContext, cfg: Config, paths: dict[str, str]
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``serve.reranked_topk`` run by listener partitions on Spark: (table, info)."""
    work = launch.stage_dir(context, cfg.engine.spark, "reranked_topk")
    extras = {"paths": paths, "k": cfg.evaluation.topk, "n": cfg.candidates.n}
    out, figures = launch.run_stage(context, cfg.engine.spark, "reranked_topk", extras, work)
    data, info = read_topk(out)
    launch.remove_output(out)
    return data, info | {"seconds": float(figures.get("seconds", 0.0))}


def read_topk(out: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The ``reranked_topk`` job's output as ``serve.reranked_topk`` returns it."""
    data, infos = _read(out)
    data = data.sort_values(["user", "rank"], kind="stable").reset_index(drop=True)
    data["user"] = data["user"].astype(str)
    data["artist"] = data["artist"].astype(str)
    return data, _sum_info(infos)


def iter_playlists(
    context: dg.AssetExecutionContext, cfg: Config, paths: dict[str, str], config_path: str
) -> Iterator[pd.DataFrame]:
    """``playlist.iter_playlists`` run by listener partitions on Spark: the playlists a part
    file at a time, in listener order (the asset writes them as they come)."""
    work = launch.stage_dir(context, cfg.engine.spark, "playlists")
    extras = {"paths": paths, "config": config_path}
    out, _ = launch.run_stage(context, cfg.engine.spark, "playlists", extras, work)
    try:
        yield from read_playlists(out)
    finally:
        launch.remove_output(out)


def read_playlists(out: Path) -> Iterator[pd.DataFrame]:
    """The ``playlists`` job's output a part file at a time, in listener order."""
    for path in _part_files(out):
        data, _ = _split_info(pq.read_table(path))
        if data.num_rows:
            yield data.to_pandas()
