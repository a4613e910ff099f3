"""Recommendation quality and cost of the whole graph on each data set, as a user runs it.

For every ``--config`` (default: the embedded sample and the four real data sets of
``benchmarks/configs``) the script runs ``musicrec materialize --config C`` in a child process
with a scratch Dagster instance, then prints from the artifacts that run wrote:

- test NDCG@10 with its bootstrap 95 % interval for popularity, each tuned generator (ALS, EASE,
  RP3beta, item-kNN), the reranked system and the served system (what the gate chose);
- the gate's decision on validation (reranked vs the best single generator, the one-sided lower
  bound of the paired bootstrap) and the objective and α chosen on validation;
- the wall time of the whole command, of the ``model_selection`` step (the tuning) and of the
  slowest steps, read from the run's Dagster event log;
- the issue's acceptance checks: on HetRec 2011 the served system reaches at least 1.08 × EASE
  and the reranked system is not below the best single generator; on the Audioscrobbler profiles
  the served system is not below the best single generator.

Every number is read from what the pipeline wrote; nothing is recomputed here, and the choices
they reflect were made on validation only. Run from the repo root::

    uv run python benchmarks/bench_quality.py [--config C ...] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CONFIGS = REPO / "benchmarks" / "configs"
DEFAULT = (
    "sample",
    str(CONFIGS / "real_hetrec2011_dev.toml"),
    str(CONFIGS / "real_audioscrobbler.toml"),
    str(CONFIGS / "real_lastfm_kaggle.toml"),
)
SYSTEMS = ("popularity", "als", "ease", "rp3beta", "itemknn", "reranked", "served")


def _label(config: Path) -> str:
    return config.parent.name if config.stem == "musicrec" else config.stem


def _sample_config() -> Path:
    sys.path.insert(0, str(REPO))
    os.environ.setdefault("MUSICREC_HOME", str(REPO / ".musicrec"))
    from musicrec_assets import paths

    return paths.ensure_sample_config()


def materialize(config: Path, home: Path, timeout: float) -> dict[str, Any]:
    """One ``musicrec materialize`` in a child process: wall time, run id, step times."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = dict(os.environ, DAGSTER_HOME=str(home), OPENBLAS_NUM_THREADS="1")
    argv = [sys.executable, "-m", "musicrec_assets.cli", "materialize", "--config", str(config)]
    t0 = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - t0
    m = re.search(r"materialized in ([\d.]+) s \(run ([0-9a-f-]+)\)", proc.stdout + proc.stderr)
    if proc.returncode or not m:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"{config}: materialize failed: {' | '.join(tail)}")
    return {"wall_s": wall, "run_id": m.group(2), "steps": _steps(home, m.group(2))}


def _steps(home: Path, run_id: str) -> dict[str, float]:
    """Seconds per step of a run, from its event log (start to success)."""
    os.environ["DAGSTER_HOME"] = str(home)
    import dagster as dg

    start: dict[str, float] = {}
    out: dict[str, float] = {}
    with dg.DagsterInstance.get() as instance:
        for entry in instance.all_logs(run_id):
            ev = entry.dagster_event
            if ev is None or not entry.step_key:
                continue
            if ev.event_type_value == "STEP_START":
                start[entry.step_key] = entry.timestamp
            elif ev.event_type_value == "STEP_SUCCESS":
                out[entry.step_key] = entry.timestamp - start.get(entry.step_key, entry.timestamp)
    return out


def storage_dir(config: Path) -> Path:
    sys.path.insert(0, str(REPO))
    from musicrec_assets.core.config import load_config

    return load_config(config).storage_dir


def summarise(config: Path, run: dict[str, Any]) -> dict[str, Any]:
    """The figures of one data set, read from the artifacts its run wrote."""
    d = storage_dir(config)
    report = json.loads((d / "evaluation_report.json").read_text())
    validation = json.loads((d / "reranker_validation.json").read_text())
    selection = json.loads((d / "model_selection.json").read_text())
    systems = dict(report["systems"])
    served = report["chosen"]["served"]
    systems.setdefault("served", systems["reranked"] if served == "reranked" else systems[served])
    generators = [g for g in report["chosen"]["generators"]]
    best = max(generators, key=lambda g: systems[g]["ndcg"])
    slow = sorted(run["steps"].items(), key=lambda kv: -kv[1])[:4]
    return {
        "label": _label(config),
        "config": str(config),
        "test_listeners": report["users_evaluated"],
        "ndcg": {s: systems[s]["ndcg"] for s in SYSTEMS if s in systems},
        "ndcg_ci95": {s: systems[s]["ndcg_ci95"] for s in SYSTEMS if s in systems},
        "served": served,
        "best_single_on_test": best,
        "gate": validation["gate"],
        "objective": validation["objective"],
        "blend_alpha": validation["blend_alpha"],
        "folds": validation["folds"],
        "chosen": selection["chosen"],
        "tuning_trials": {g: v["trials"] for g, v in selection["generators"].items()},
        "tuning_stopped": {g: v["stopped"] for g, v in selection["generators"].items()},
        "tuning_s": run["steps"].get("model_selection"),
        "wall_s": run["wall_s"],
        "slowest_steps": dict(slow),
    }


def checks(row: dict[str, Any]) -> list[str]:
    """The issue's acceptance checks that apply to this data set, as MET / MISSED lines."""
    n, out = row["ndcg"], []
    best = max(n[g] for g in ("als", "ease", "rp3beta", "itemknn", "popularity") if g in n)

    def say(ok: bool, text: str) -> None:
        out.append(f"  {'MET   ' if ok else 'MISSED'} {text}")

    if row["label"].startswith("real_hetrec2011"):
        say(
            n["served"] >= 1.08 * n["ease"],
            f"served {n['served']:.4f} >= 1.08 x EASE {n['ease']:.4f} "
            f"(= {1.08 * n['ease']:.4f}; ratio {n['served'] / n['ease']:.3f})",
        )
        say(n["reranked"] >= best, f"reranked {n['reranked']:.4f} >= best single {best:.4f}")
        say(row["wall_s"] <= 90, f"whole graph {row['wall_s']:.1f} s <= 90 s")
    if row["label"].startswith("real_audioscrobbler"):
        say(n["served"] >= best, f"served {n['served']:.4f} >= best single {best:.4f}")
    return out


def print_row(row: dict[str, Any]) -> None:
    n, ci = row["ndcg"], row["ndcg_ci95"]
    print(f"\n== {row['label']} ({row['test_listeners']} test listeners)")
    for s in SYSTEMS:
        if s in n:
            lo, hi = ci[s]
            extra = f"  <- {row['served']}" if s == "served" else ""
            print(f"  {s:<11} NDCG@10 {n[s]:.4f} [{lo:.4f}, {hi:.4f}]{extra}")
    g = row["gate"]
    print(
        f"  gate: reranked {g['reranked_ndcg']:.4f} vs {g['best_generator']} {g['best_ndcg']:.4f} on "
        f"{g['listeners']} validation listeners, lower bound {g['lower']:+.4f} -> "
        f"{'reranker' if g['passed'] else 'fallback'}; objective {row['objective']}, "
        f"alpha {row['blend_alpha']}, {row['folds']} folds"
    )
    trials = ", ".join(
        f"{k} {v}{' (time)' if row['tuning_stopped'][k] == 'time' else ''}"
        for k, v in row["tuning_trials"].items()
    )
    print(f"  tuning {row['tuning_s']:.1f} s ({trials} trials); whole graph {row['wall_s']:.1f} s")
    print(
        "  slowest steps: " + ", ".join(f"{k} {v:.1f} s" for k, v in row["slowest_steps"].items())
    )
    for line in checks(row):
        print(line)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", action="append", help="config path, or 'sample' (repeatable)")
    ap.add_argument("--out", type=Path, default=REPO / ".musicrec" / "bench" / "quality.json")
    ap.add_argument("--timeout", type=float, default=3600)
    args = ap.parse_args(argv)
    rows = []
    for spec in args.config or DEFAULT:
        config = _sample_config() if spec == "sample" else Path(spec).resolve()
        if spec != "sample" and not config.exists():
            print(f"skip {spec}: no such config", flush=True)
            continue
        home = REPO / ".musicrec" / "bench" / "quality" / _label(config) / "dagster_home"
        print(f"bench: {_label(config)} ...", flush=True)
        row = summarise(config, materialize(config, home, args.timeout))
        rows.append(row)
        print_row(row)
    load = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"load_avg": load, "rows": rows}, indent=2) + "\n")
    print(f"\nload average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
