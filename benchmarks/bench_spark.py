"""The Spark engine beside the local engine: the whole graph, per step and peak memory, and the
measured costs a cluster-size projection rests on.

1. ``graph``: ``musicrec materialize`` of one config three ways, each a child process watched by
   ``bench_pipeline``'s runner (wall time, per-step times from the run's event log, peak RSS of
   the process tree, which holds the ``spark-submit`` JVMs and their Python workers): the local
   engine; ``[engine] kind = "spark"`` on ``local[2]``; and on a standalone cluster of a master
   and two one-core workers on 127.0.0.1 (started and stopped here; its daemons' and executors'
   RSS is polled and added).
2. ``costs``: on one ``interaction_splits`` artifact, pyspark.ml ALS's seconds per iteration
   (after a warm-up fit, fits of 1 and ``--iters`` sweeps at each listener fraction; the
   difference over the extra sweeps, so set-up — k-core rounds, coding, checkpoints — is not
   counted) and the top-N seconds per listener of the ``candidates``
   job — the two figures the projection scales.
3. The projection for an N-executor cluster at LFM-1b scale (printed with its assumptions).

Run from the repo root (``uv sync --extra spark`` and a JDK 17 first), e.g.::

    uv run python benchmarks/bench_spark.py graph --config benchmarks/configs/real_hetrec2011_dev.toml
    uv run python benchmarks/bench_spark.py costs --splits <storage>/interaction_splits.parquet \\
        --fractions 0.05,0.1,0.2
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
import time
from contextlib import nullcontext, suppress
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO))

GB = 1024**3
SPARK = (
    '\n[engine]\nkind = "spark"\n\n[engine.spark]\nmaster = "{master}"\nexecutor_memory = "{mem}"\n'
)


def _variant(config: Path, engine: str, storage: Path, master: str = "", mem: str = "1g") -> Path:
    """A sibling of ``config`` (its relative paths still resolve) writing to ``storage``."""
    text = config.read_text()
    text, n = re.subn(r"(?m)^dir\s*=.*$", f'dir = "{storage.as_posix()}"', text, count=1)
    if n != 1:
        raise SystemExit(f"{config}: no [storage] dir line to redirect")
    if engine != "local":
        text += SPARK.format(master=master, mem=mem)
    path = config.parent / f".bench-spark-{engine}.toml"
    path.write_text(text)
    return path


class _Poller:
    """Peak summed RSS of a set of processes (a cluster's daemons and executors)."""

    def __init__(self, procs: Any) -> None:
        self.procs, self.peak, self._stop = procs, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            total = 0
            for p in self.procs():
                with suppress(psutil.Error):
                    total += p.memory_info().rss
            self.peak = max(self.peak, total)
            time.sleep(0.2)

    def __enter__(self) -> _Poller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def graph(args: argparse.Namespace) -> dict[str, Any]:
    from bench_pipeline import Runner, run_whole

    from musicrec_assets_tests.spark_cluster import standalone_cluster

    work = (args.workdir or REPO / ".musicrec" / "bench" / "spark").resolve()
    results: dict[str, Any] = {}
    for engine in args.engines.split(","):
        storage = work / engine / "derived"
        cluster = (
            standalone_cluster(work / engine / "cluster", memory=args.worker_memory)
            if engine == "cluster"
            else nullcontext()
        )
        with cluster as c:
            master = c.url if c is not None else "local[2]"
            config = _variant(args.config, engine, storage, master, args.executor_memory)
            try:
                runner = Runner(work / engine, config, args.mem_limit_gb * GB)
                with _Poller(c.daemons if c is not None else list) as daemons:
                    w = run_whole(runner, config, args.timeout)
            finally:
                config.unlink(missing_ok=True)
        w["cluster_peak_rss"] = daemons.peak
        results[engine] = w
    _print_graph(results)
    return results


def _print_graph(results: dict[str, Any]) -> None:
    engines = list(results)
    steps: list[str] = []
    for w in results.values():
        steps += [s for s in w.get("events", {}) if s not in steps]
    print("\n| step | " + " | ".join(engines) + " |")
    print("|---|" + "---|" * len(engines))
    for step in steps:
        cells = []
        for e in engines:
            ev = results[e].get("events", {}).get(step)
            cells.append(f"{ev['seconds']:.1f}" if ev else "")
        print(f"| {step} | " + " | ".join(cells) + " |")
    walls = [f"{results[e]['wall_s']:.0f} s" for e in engines]
    print("| **whole graph (wall)** | " + " | ".join(walls) + " |")
    peaks = []
    for e in engines:
        w = results[e]
        extra = w.get("cluster_peak_rss", 0)
        peaks.append(
            f"{(w['peak_rss'] + extra) / GB:.2f} GB" + (" (incl. cluster)" if extra else "")
        )
    print("| **peak RSS** | " + " | ".join(peaks) + " |")


def costs(args: argparse.Namespace) -> dict[str, Any]:
    """Seconds per ALS sweep and per listener's top-N on ``local[2]``, by listener fraction."""
    import numpy as np
    import pandas as pd
    from pyspark.sql import functions as F

    from musicrec_assets.core.config import ALSConfig, SparkALSConfig, SparkConfig
    from musicrec_assets.core.model.generators.stages import StageModels
    from musicrec_assets.core.model.scale_out import CandidateRequest
    from musicrec_assets.spark import engine, listeners
    from musicrec_assets.spark.als import fit_als_spark
    from musicrec_assets.spark.session import spark_session

    work = (args.workdir or REPO / ".musicrec" / "bench" / "spark_costs").resolve()
    spark = spark_session(SparkConfig(master=args.master, scratch_dir=work), "musicrec-bench")
    base = spark.read.parquet(str(args.splits)).select(
        F.col("user").cast("string"), F.col("artist").cast("string"), F.col("plays").cast("double")
    )
    users = np.array(sorted(r[0] for r in base.select("user").distinct().collect()), dtype=object)
    rng = np.random.default_rng(0)
    out: dict[str, Any] = {"master": args.master, "listeners_total": len(users), "rows": []}
    try:
        for fraction in (float(f) for f in args.fractions.split(",")):
            chosen = rng.choice(users, size=max(1, int(len(users) * fraction)), replace=False)
            keys = spark.createDataFrame(pd.DataFrame({"user": chosen}))
            rows = base.join(F.broadcast(keys), "user").cache()
            pairs = rows.count()
            times = {}
            for iters in (1, 1, args.iters):  # the first fit warms the JVM up; not counted
                t0 = time.perf_counter()
                model = fit_als_spark(
                    spark,
                    rows,
                    ALSConfig(weighting="log1p"),
                    SparkALSConfig(max_iter=iters, checkpoint_interval=100),
                    0,
                    work,
                )
                times[iters] = time.perf_counter() - t0
            per_sweep = (times[args.iters] - times[1]) / (args.iters - 1)
            hist = rows.toPandas()
            n_top = min(len(chosen), args.topn_listeners)
            request = CandidateRequest(StageModels({"als": model}), hist, chosen[:n_top])
            inputs = engine.candidate_inputs({"p": request}, 50, work / "topn")
            t0 = time.perf_counter()
            listeners.candidates(
                spark, inputs["rows"], inputs["models"], ("als",), 50, work / "topn" / "out"
            )
            topn_s = time.perf_counter() - t0
            row = {
                "fraction": fraction,
                "listeners": len(chosen),
                "artists": len(model.artists),
                "pairs": pairs,
                "fit_1_s": times[1],
                f"fit_{args.iters}_s": times[args.iters],
                "sweep_s": per_sweep,
                "topn_listeners": n_top,
                "topn_s": topn_s,
                "topn_ms_per_listener": 1000 * topn_s / n_top,
            }
            out["rows"].append(row)
            print(json.dumps(row), flush=True)
            rows.unpersist()
    finally:
        spark.stop()
    return out


# LFM-1b (Schedl 2016): 1,088,161,692 listening events of 120,322 users, 3,190,371 artists.
LFM1B = {"events": 1_088_161_692, "listeners": 120_322, "artists": 3_190_371}


def project(args: argparse.Namespace) -> dict[str, Any]:
    """Scale the measured costs to LFM-1b on N executors of C cores (assumptions printed)."""
    import numpy as np

    costs = json.loads(args.costs.read_text())
    rows = costs["rows"]
    pairs = np.array([r["pairs"] for r in rows], dtype=float)
    sweep = np.array([r["sweep_s"] for r in rows], dtype=float)
    slope, intercept = np.polyfit(pairs, sweep, 1) if len(rows) > 1 else (sweep[0] / pairs[0], 0)
    per_listener_artist = np.mean([r["topn_ms_per_listener"] / r["artists"] for r in rows])
    cores_measured = 2  # local[2]
    target_pairs = args.pairs_per_listener * LFM1B["listeners"]
    sweep_1core = (slope * target_pairs) * cores_measured
    topn_1core = per_listener_artist * LFM1B["artists"] * LFM1B["listeners"] / 1000 * cores_measured
    print(
        f"\nmeasured on {costs['master']}: ALS {slope * 1e6:.2f} s per sweep per million pairs "
        f"(+{intercept:.1f} s), top-N {per_listener_artist * 1e3:.3f} ms per listener per 1,000 "
        f"artists\nLFM-1b: {LFM1B['events']:,} events, {LFM1B['listeners']:,} listeners, "
        f"{LFM1B['artists']:,} artists; assumed {args.pairs_per_listener:,} distinct artists per "
        f"listener = {target_pairs / 1e6:.0f}M pairs; {args.sweeps} sweeps; ideal speed-up with "
        "cores (no shuffle or skew cost: a lower bound on time)"
    )
    factors_mb = LFM1B["artists"] * args.rank * 4 / 1e6
    print(
        f"memory: item factors {factors_mb:.0f} MB (rank {args.rank}, float32), held by every "
        "Python worker scoring top-N; the driver holds interaction_splits "
        f"(~{target_pairs * 40 / 1e9:.1f} GB at ~40 B a pair in pandas)"
    )
    head = (
        "| executors × cores | ALS sweep | ALS fit, one stage | 6 ALS fits | top-N, all listeners |"
    )
    print("\n" + head + "\n|---|---|---|---|---|")
    out = []
    for n in args.executors:
        cores = n * args.cores
        one = sweep_1core / cores
        fit = one * args.sweeps
        topn = topn_1core / cores
        out.append({"executors": n, "cores": cores, "sweep_s": one, "fit_s": fit, "topn_s": topn})
        print(
            f"| {n} × {args.cores} | {one:.0f} s | {fit / 60:.1f} min | {6 * fit / 60:.0f} min "
            f"| {topn / 60:.1f} min |"
        )
    return {"slope_s_per_pair": slope, "intercept_s": intercept, "rows": out}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("graph", help="the whole graph: local, spark local[2], standalone cluster")
    g.add_argument("--config", type=Path, required=True)
    g.add_argument("--engines", default="local,spark,cluster")
    g.add_argument("--executor-memory", default="768m")
    g.add_argument("--worker-memory", default="1g")
    g.add_argument("--timeout", type=float, default=6 * 3600)
    g.add_argument("--mem-limit-gb", type=float, default=20.0)
    c = sub.add_parser("costs", help="ALS seconds per sweep and top-N ms per listener")
    c.add_argument("--splits", type=Path, required=True, help="an interaction_splits.parquet")
    c.add_argument("--fractions", default="0.05,0.1,0.2")
    c.add_argument("--iters", type=int, default=9)
    c.add_argument("--topn-listeners", type=int, default=2000)
    c.add_argument("--master", default="local[2]")
    j = sub.add_parser("project", help="LFM-1b projection from a costs JSON")
    j.add_argument("--costs", type=Path, required=True)
    j.add_argument("--pairs-per-listener", type=int, default=500)
    j.add_argument("--sweeps", type=int, default=15)
    j.add_argument("--rank", type=int, default=32)
    j.add_argument("--cores", type=int, default=4)
    j.add_argument(
        "--executors", type=lambda v: [int(x) for x in v.split(",")], default=[4, 16, 64]
    )
    for q in (g, c, j):
        q.add_argument("--workdir", type=Path)
        q.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = p.parse_args(argv)
    result = {"graph": graph, "costs": costs, "project": project}[args.cmd](args)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
