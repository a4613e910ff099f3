"""Choose the ALS hyper-parameters on VALIDATION data only (design §3), across several data sets.

For each ``--config`` the script reads ``<storage.dir>/interaction_splits.parquet`` (running
``musicrec materialize --config C --select '*interaction_splits'`` first when it is missing) and
takes the validation stage exactly as the pipeline does (``protocol.stage_data(splits, "val")``):
ALS is fitted on train through ``als.fit_als``, the top-K unseen artists come from
``candidates.als_candidates`` (seen = train), and ``metrics.evaluate_topk`` scores NDCG@K over
the validation listeners on the full train catalogue. Test labels are never read (``stage_data``
only hands them out on request, and nothing here asks).

The search is staged (a coordinate search, ≈ 55 combinations per data set instead of the
hundreds of a full grid), and every combination is run on every data set:

1. structure: weighting ∈ {bm25, log1p, none} × cosine ∈ {True, False} × alpha ∈ {1, 5, 10, 40}
   at factors 64, regularization 0.05, BM25 K1 = 100, B = 0.8 (the old defaults);
2. BM25's own knobs: K1 ∈ {1.2, 10, 100} × B ∈ {0.5, 0.8} for the best BM25 structure, so BM25
   is not judged on one setting of them;
3. size and shrinkage: factors ∈ {32, 64} × regularization ∈ {0.05, 0.5, 5} for the ``--top``
   best combinations so far (implicit does not scale the L2 penalty by the number of
   interactions, so it needs a wide range);
4. refinement: coordinate descent on a ×2 lattice — alpha, factors and regularization of the best
   combination so far halved and doubled, one at a time, until the best stops changing (at most
   ``MAX_ROUNDS`` rounds);
5. the popularity prior: pop_blend ∈ {0.1, 0.3} on the best combination so far.

"Best" is the weighted mean rank of a combination's validation NDCG over the data sets (rank 1 =
best on that data set; ``--weight label=w`` down-weights tiny data sets such as the five-listener
Kaggle export), ties broken by the weighted mean of NDCG relative to the data set's best. The
tables show the validation NDCG of popularity and item-kNN (the evaluation's references, also
fitted on train only) for scale, and the standard error of the best NDCG (over listeners).

Everything is seeded (the config's ``seed``); the best combination is refitted once per data set
to check that the result repeats exactly. Run from the repo root, e.g.::

    uv run python benchmarks/tune_als.py --config /tmp/s/musicrec.toml \\
        --config /tmp/s1m/musicrec.toml --config benchmarks/configs/real_audioscrobbler.toml \\
        --config benchmarks/configs/real_lastfm_kaggle.toml --weight real_lastfm_kaggle=0.25 \\
        --out .musicrec/bench/tune_als.json
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# isort: off
import musicrec_assets  # noqa: F401  (sets OPENBLAS_NUM_THREADS=1 before numpy is imported)
import numpy as np
import pandas as pd

# isort: on
from musicrec_assets.core.als import fit_als
from musicrec_assets.core.artifacts import write_json
from musicrec_assets.core.baselines import itemknn_topk, popularity_topk
from musicrec_assets.core.candidates import als_candidates
from musicrec_assets.core.config import ALSConfig, load_config
from musicrec_assets.core.metrics import evaluate_topk
from musicrec_assets.core.protocol import StageData, stage_data

REPO = Path(__file__).resolve().parent.parent

# The old defaults (before this search): the fixed point of stage 1, written out so the search
# does not move when ALSConfig's defaults change.
BASE = {
    "weighting": "bm25",
    "bm25_k1": 100.0,
    "bm25_b": 0.8,
    "cosine": True,
    "alpha": 10.0,
    "factors": 64,
    "regularization": 0.05,
    "pop_blend": 0.0,
}
PARAMS = tuple(BASE)
WEIGHTINGS = ("bm25", "log1p", "none")
COSINE = (True, False)
ALPHAS = (1.0, 5.0, 10.0, 40.0)
BM25_K1 = (1.2, 10.0, 100.0)
BM25_B = (0.5, 0.8)
FACTORS = (32, 64)
REGULARIZATION = (0.05, 0.5, 5.0)
POP_BLEND = (0.1, 0.3)
MAX_ROUNDS = 8


@dataclass
class DataSet:
    """One config's validation stage, ready to fit and score."""

    label: str
    config: Path
    weight: float
    seed: int
    als: ALSConfig  # the config's [als] (k-core, iterations); the grid overrides PARAMS
    stage: StageData
    users: np.ndarray  # validation listeners scored (all, or a seeded sample)
    n_catalogue: int
    sizes: dict[str, int]


def _label(path: Path) -> str:
    return path.parent.name if path.stem == "musicrec" else path.stem


def _splits(config_path: Path, storage_dir: Path) -> pd.DataFrame:
    """The config's interaction_splits, materialized through the project's CLI when missing."""
    path = storage_dir / "interaction_splits.parquet"
    if not path.is_file():
        exe = Path(sys.executable).with_name("musicrec")
        cmd = [str(exe), "materialize", "--config", str(config_path)]
        cmd += ["--select", "*interaction_splits"]
        print(f"# {path} missing; running: {' '.join(cmd)}", flush=True)
        subprocess.run(cmd, check=True, cwd=REPO, stdout=subprocess.DEVNULL)
    return pd.read_parquet(path)


def load_dataset(
    config_path: Path, weight: float, seed: int | None, max_val_users: int | None, iterations: int
) -> DataSet:
    """Read a config's splits and cut the validation stage (fit = train, labels = val)."""
    cfg = load_config(config_path)
    splits = _splits(cfg.path, cfg.storage_dir)
    run_seed = cfg.seed if seed is None else seed
    sd = stage_data(splits, "val")
    users = sd.target_users
    if max_val_users and len(users) > max_val_users:  # same sampling as stage_candidates
        pick = np.random.default_rng(run_seed).choice(len(users), max_val_users, replace=False)
        users = users[np.sort(pick)]
    sizes = {
        "listeners": int(splits["user"].nunique()),
        "artists_train": int(sd.fit["artist"].nunique()),
        "train_pairs": len(sd.fit),
        "val_listeners": len(sd.target_users),
        "val_listeners_scored": len(users),
        "val_pairs": int(sd.labels["user"].isin(users).sum()),
    }
    return DataSet(
        label=_label(config_path),
        config=cfg.path,
        weight=weight,
        seed=run_seed,
        als=dataclasses.replace(cfg.als, iterations=iterations),
        stage=sd,
        users=users,
        n_catalogue=sizes["artists_train"],
        sizes=sizes,
    )


def _key(params: dict[str, Any]) -> tuple:
    """Canonical combination: BM25's K1/B only matter for bm25, so other weightings share them."""
    p = dict(params)
    if p["weighting"] != "bm25":
        p["bm25_k1"], p["bm25_b"] = BASE["bm25_k1"], BASE["bm25_b"]
    return tuple(p[name] for name in PARAMS)


def evaluate_combo(ds: DataSet, params: dict[str, Any], k: int, threads: int) -> dict[str, Any]:
    """Fit the val-stage ALS with ``params`` and score its top-``k`` on the val labels."""
    cfg = dataclasses.replace(ds.als, **params)
    t0 = time.perf_counter()
    model = fit_als(ds.stage.fit, cfg, ds.seed, num_threads=threads)
    t1 = time.perf_counter()
    cand = als_candidates(model, ds.stage.seen, ds.users, k, num_threads=threads)
    top = cand.rename(columns={"als_rank": "rank"})
    m = evaluate_topk(top, ds.stage.labels, k, ds.n_catalogue, users=ds.users)
    t2 = time.perf_counter()
    ndcg = m["per_user"]["ndcg"]
    return {
        "data": ds.label,
        **params,
        "ndcg": m["ndcg"],
        "ndcg_se": float(ndcg.std(ddof=1) / np.sqrt(len(ndcg))) if len(ndcg) > 1 else 0.0,
        "recall": m["recall"],
        "hit_rate": m["hit_rate"],
        "coverage": m["coverage"],
        "fit_s": t1 - t0,
        "score_s": t2 - t1,
        "per_user_ndcg": ndcg,  # sorted listeners, the same order for every combination
    }


def reference_systems(ds: DataSet, k: int, threads: int) -> dict[str, float]:
    """Validation NDCG@k of popularity and item-kNN (bm25), fitted on train, for scale."""
    fit, seen, labels = ds.stage.fit, ds.stage.seen, ds.stage.labels
    tops = {
        "popularity": popularity_topk(fit, ds.users, seen, k),
        "itemknn": itemknn_topk(fit, ds.users, seen, k, "bm25", num_threads=threads),
    }
    return {
        name: evaluate_topk(t, labels, k, ds.n_catalogue, users=ds.users)["ndcg"]
        for name, t in tops.items()
    }


class Search:
    """Every combination evaluated on every data set, and the cross-data-set ranking."""

    def __init__(self, datasets: list[DataSet], k: int, threads: int) -> None:
        self.datasets, self.k, self.threads = datasets, k, threads
        self.rows: list[dict[str, Any]] = []
        self.seen: dict[tuple, int] = {}  # combination key -> stage that added it
        self.per_user: dict[tuple[str, tuple], np.ndarray] = {}  # (data, key) -> NDCG per user

    def run(self, stage: int, combos: list[dict[str, Any]]) -> int:
        """Evaluate the new combinations of ``combos`` on every data set; returns how many."""
        new = []
        for params in combos:
            key = _key(params)
            if key not in self.seen:
                self.seen[key] = stage
                new.append(dict(zip(PARAMS, key, strict=True)))
        t0 = time.perf_counter()
        for ds in self.datasets:
            for params in new:
                row = evaluate_combo(ds, params, self.k, self.threads)
                self.per_user[(ds.label, _key(params))] = row.pop("per_user_ndcg")
                self.rows.append({"stage": stage, **row})
        print(
            f"# stage {stage}: {len(new)} new combination(s) × {len(self.datasets)} data set(s) "
            f"in {time.perf_counter() - t0:.1f} s (load {os.getloadavg()[0]:.2f})",
            flush=True,
        )
        return len(new)

    def table(self) -> pd.DataFrame:
        """All rows with per-data-set rank (1 = best NDCG) and NDCG relative to that best."""
        df = pd.DataFrame(self.rows)
        by = df.groupby("data")["ndcg"]
        df["rank"] = by.rank(ascending=False, method="average")
        df["rel"] = df["ndcg"] / by.transform("max").replace(0.0, np.nan)
        return df

    def overall(self) -> pd.DataFrame:
        """One row per combination: weighted mean rank and relative NDCG, best first."""
        df = self.table()
        weights = {ds.label: ds.weight for ds in self.datasets}
        df["w"] = df["data"].map(weights)
        df["w_rank"] = df["rank"] * df["w"]
        df["w_rel"] = df["rel"].fillna(0.0) * df["w"]
        g = df.groupby(list(PARAMS), sort=False, dropna=False)
        out = pd.DataFrame(
            {
                "mean_rank": g["w_rank"].sum() / g["w"].sum(),
                "mean_rel": g["w_rel"].sum() / g["w"].sum(),
                "stage": g["stage"].first(),
            }
        )
        for ds in self.datasets:
            out[f"ndcg[{ds.label}]"] = (
                df[df["data"] == ds.label].set_index(list(PARAMS))["ndcg"].reindex(out.index)
            )
        out = out.reset_index().sort_values(
            ["mean_rank", "mean_rel", *PARAMS], ascending=[True, False, *[True] * len(PARAMS)]
        )
        return out.reset_index(drop=True)

    def paired(self, label: str, a: dict[str, Any], b: dict[str, Any]) -> tuple[float, float]:
        """Mean and standard error of NDCG(a) − NDCG(b) over the same validation listeners."""
        d = self.per_user[(label, _key(a))] - self.per_user[(label, _key(b))]
        se = float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else 0.0
        return float(d.mean()), se

    def best(self, n: int = 1, where: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """The ``n`` best combinations so far (optionally only those matching ``where``)."""
        ov = self.overall()
        for name, value in (where or {}).items():
            ov = ov[ov[name] == value]
        return [{p: _py(row[p]) for p in PARAMS} for row in ov.head(n).to_dict(orient="records")]


def _py(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def neighbours(best: dict[str, Any]) -> list[dict[str, Any]]:
    """alpha, factors and regularization of ``best`` halved and doubled, one at a time."""
    out = []
    for name in ("alpha", "factors", "regularization"):
        v = best[name]
        down, up = (max(v // 2, 2), v * 2) if name == "factors" else (v / 2, v * 2)
        out += [{**best, name: down}, {**best, name: up}]
    return out


def staged_search(search: Search, top: int) -> None:
    """The five stages of the module docstring."""
    stage1 = [
        {**BASE, "weighting": w, "cosine": c, "alpha": a}
        for w in WEIGHTINGS
        for c in COSINE
        for a in ALPHAS
    ]
    search.run(1, stage1)
    bm25 = search.best(1, where={"weighting": "bm25"})[0]
    search.run(2, [{**bm25, "bm25_k1": k1, "bm25_b": b} for k1 in BM25_K1 for b in BM25_B])
    leaders = search.best(top)
    stage3 = [
        {**p, "factors": f, "regularization": r}
        for p in leaders
        for f in FACTORS
        for r in REGULARIZATION
    ]
    search.run(3, stage3)
    for _ in range(MAX_ROUNDS):  # stops once every neighbour of the best has been tried
        if not search.run(4, neighbours(search.best(1)[0])):
            break
    best = search.best(1)[0]
    search.run(5, [{**best, "pop_blend": pb} for pb in POP_BLEND])


def _combo_str(p: dict[str, Any]) -> str:
    bm25 = f" K1={p['bm25_k1']:g} B={p['bm25_b']:g}" if p["weighting"] == "bm25" else ""
    return (
        f"{p['weighting']}{bm25} cosine={p['cosine']} alpha={p['alpha']:g} "
        f"factors={p['factors']} reg={p['regularization']:g} pop_blend={p['pop_blend']:g}"
    )


def _fmt_params(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    is_bm25 = out["weighting"] == "bm25"
    out["bm25_k1"] = np.where(is_bm25, out["bm25_k1"].map("{:g}".format), "-")
    out["bm25_b"] = np.where(is_bm25, out["bm25_b"].map("{:g}".format), "-")
    for c in ("alpha", "regularization", "pop_blend", "rank"):
        if c in out:
            out[c] = out[c].map("{:g}".format)
    if "mean_rank" in out:
        out["mean_rank"] = out["mean_rank"].map("{:.2f}".format)
    return out.rename(columns={"bm25_k1": "K1", "bm25_b": "B", "regularization": "reg"})


def print_report(search: Search, refs: dict[str, dict[str, float]], n_show: int) -> None:
    """Per data set: the top ``n_show`` by validation NDCG; then the cross-data-set ranking."""
    table = search.table()
    old = _key(BASE)
    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 30)
    for ds in search.datasets:
        t = table[table["data"] == ds.label].sort_values(["ndcg", "rank"], ascending=[False, True])
        old_row = t[[_key(r) == old for r in t[list(PARAMS)].to_dict(orient="records")]]
        print(f"\n## {ds.label}  ({ds.config})  weight {ds.weight:g}")
        print(
            "   "
            + ", ".join(f"{k} {v}" for k, v in ds.sizes.items())
            + f"; seed {ds.seed}; fit+score {t['fit_s'].sum() + t['score_s'].sum():.1f} s"
        )
        ref = refs[ds.label]
        print(
            f"   validation NDCG@{search.k}: popularity {ref['popularity']:.4f}, "
            f"item-kNN {ref['itemknn']:.4f}, old ALS defaults "
            f"{old_row['ndcg'].iloc[0]:.4f} (rank {old_row['rank'].iloc[0]:g} of {len(t)})"
        )
        show = _fmt_params(t.head(n_show))
        cols = ["rank", "weighting", "K1", "B", "cosine", "alpha", "factors", "reg", "pop_blend"]
        cols += ["ndcg", "ndcg_se", "recall", "hit_rate", "coverage", "fit_s"]
        print(show[cols].to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    ov = search.overall()
    print(f"\n## overall: weighted mean rank over {len(search.datasets)} data set(s)")
    print(
        "   weights: "
        + ", ".join(f"{ds.label}={ds.weight:g}" for ds in search.datasets)
        + f"; {len(ov)} combinations"
    )
    show = _fmt_params(ov.head(n_show))
    print(show.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    chosen = search.best(1)[0]
    print(f"\n## the overall best on each data set: {_combo_str(chosen)}")
    print("   (paired differences over the same validation listeners, mean ± standard error)")
    for ds in search.datasets:
        t = table[table["data"] == ds.label]
        own = t.sort_values("ndcg", ascending=False).iloc[0]
        own = {p: _py(own[p]) for p in PARAMS}
        row = t[[_key(r) == _key(chosen) for r in t[list(PARAMS)].to_dict("records")]].iloc[0]
        d_own, se_own = search.paired(ds.label, chosen, own)
        d_old, se_old = search.paired(ds.label, chosen, BASE)
        print(
            f"   {ds.label}: NDCG {row['ndcg']:.4f} (rank {row['rank']:g}); vs this data set's "
            f"best {d_own:+.4f} ± {se_own:.4f}; vs old defaults {d_old:+.4f} ± {se_old:.4f}"
        )


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the staged search, print the tables, write the JSON."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--config", action="append", required=True, help="musicrec TOML (repeat)")
    ap.add_argument(
        "--weight",
        action="append",
        default=[],
        metavar="LABEL=W",
        help="weight of a data set in the cross-data-set rank (default 1); label = config stem, "
        "or its folder name for musicrec.toml",
    )
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--iterations", type=int, default=20, help="ALS iterations (not searched)")
    ap.add_argument("--top", type=int, default=3, help="combinations carried into stage 3")
    ap.add_argument("--threads", type=int, default=1, help="implicit threads (shared machine)")
    ap.add_argument("--seed", type=int, default=None, help="default: each config's seed")
    ap.add_argument("--max-val-users", type=int, default=20_000, help="seeded sample above this")
    ap.add_argument("--show", type=int, default=10, help="rows per table")
    ap.add_argument("--out", type=Path, default=None, help="JSON with every row")
    args = ap.parse_args(argv)

    weights = {}
    for item in args.weight:
        label, _, w = item.partition("=")
        weights[label] = float(w)
    t_start = time.perf_counter()
    load0 = os.getloadavg()
    datasets = []
    for c in args.config:
        path = Path(c).resolve()
        ds = load_dataset(
            path, weights.get(_label(path), 1.0), args.seed, args.max_val_users, args.iterations
        )
        datasets.append(ds)
        print(f"# {ds.label}: {ds.sizes}", flush=True)
    unknown = set(weights) - {ds.label for ds in datasets}
    if unknown:
        ap.error(f"--weight for unknown data set(s): {', '.join(sorted(unknown))}")

    refs = {ds.label: reference_systems(ds, args.k, args.threads) for ds in datasets}
    search = Search(datasets, args.k, args.threads)
    staged_search(search, args.top)

    best = search.best(1)[0]
    repeat = {}
    for ds in datasets:  # determinism: the same seed must give the same validation NDCG
        first = search.table()
        first = first[(first["data"] == ds.label)]
        first = first[[_key(r) == _key(best) for r in first[list(PARAMS)].to_dict("records")]]
        again = evaluate_combo(ds, best, args.k, args.threads)["ndcg"]
        repeat[ds.label] = {"first": float(first["ndcg"].iloc[0]), "again": again}
    wall = time.perf_counter() - t_start

    print_report(search, refs, args.show)
    print(f"\nbest on validation: {_combo_str(best)}")
    tried = pd.DataFrame(search.rows)
    for name in ("alpha", "factors", "regularization"):
        lo, hi = tried[name].min(), tried[name].max()
        if best[name] in (lo, hi):
            print(
                f"  note: {name}={best[name]:g} is at the edge of the values tried [{lo:g}, {hi:g}]"
            )
    same = all(v["first"] == v["again"] for v in repeat.values())
    print(f"refit of the best with the same seed repeats exactly: {same} {repeat}")
    print(
        f"wall time {wall:.1f} s, {len(search.rows)} fits; load average {load0[0]:.2f} at "
        f"start, {os.getloadavg()[0]:.2f} at end; {args.threads} implicit thread(s); "
        f"{platform.python_version()}, {os.cpu_count()} cpu(s)"
    )
    if args.out:
        write_json(
            {
                "k": args.k,
                "iterations": args.iterations,
                "datasets": [
                    {
                        "label": ds.label,
                        "config": str(ds.config),
                        "weight": ds.weight,
                        "seed": ds.seed,
                        **ds.sizes,
                        "reference_val_ndcg": refs[ds.label],
                    }
                    for ds in datasets
                ],
                "rows": search.table().to_dict(orient="records"),
                "overall": search.overall().to_dict(orient="records"),
                "best": best,
                "repeat": repeat,
                "wall_seconds": wall,
            },
            args.out,
        )
        print(f"rows -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
