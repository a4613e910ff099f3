"""Wall time and peak memory of every asset step of the graph and of the whole graph.

For one data set (an existing ``--config``, or one generated with ``generate_sample`` into a
scratch folder from ``--users/--artists/--tracks/--scrobbles/--pairs/--plays-table``):

1. **Per step.** Each Dagster step (an asset op with its checks, in topological order) runs in
   its own child process, through the project's job and a scratch Dagster instance, reading its
   inputs from the artifacts of the steps before it. For each: interpreter + Dagster start-up
   (printed separately), the wall time of the ``execute_in_process`` call, the step's own time
   from Dagster's step events split into input loading / compute / output writing, and the peak
   RSS of the child during the call (``VmHWM`` after resetting it through
   ``/proc/self/clear_refs``; the whole child's ``ru_maxrss`` from ``wait4`` is kept too).
2. **Whole graph.** One ``musicrec materialize --config C`` in a child: total wall time,
   start-up, the in-call time the CLI prints, peak RSS (``wait4``), and per-step times read back
   from that run's event log.

Targets: default sample whole graph <= 30 s; Last.fm-360K scale whole graph <= 20 min and
<= 10 GB peak RSS. Load averages are recorded next to every measurement (other people's jobs
share the machine). The ratios against bare ALS / LightGBM fits of an earlier version were
removed: the ``generator_models`` step fits five generators and the reranker step seven LightGBM
models, so a single library fit is no longer a like-for-like reference.

Children are watched (``--mem-limit-gb``, ``--step-timeout``/``--whole-timeout``) and killed,
and reported as such, when they go over.

Run from the repo root, e.g.::

    uv run python benchmarks/bench_pipeline.py --out .musicrec/bench/default.json
    uv run python benchmarks/bench_pipeline.py --config benchmarks/configs/real_lastfm_kaggle.toml
    uv run python benchmarks/bench_pipeline.py --scrobbles 1000000 --label 1m
    uv run python benchmarks/bench_pipeline.py --users 360000 --artists 160000 --tracks 600000 \\
        --scrobbles 20000000 --pairs 17500000 --plays-table --label lastfm360k
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
MB = 1024 * 1024
GB = 1024 * MB

DEFAULT_SIZES = {"users": 300, "artists": 600, "tracks": 6000, "scrobbles": 120_000}
TARGET_DEFAULT_WHOLE_S = 30.0
TARGET_360K_WHOLE_S = 20 * 60.0
TARGET_360K_PEAK = 10 * GB


# ================================================================================================
# Children (run as ``bench_pipeline.py --child MODE SPEC.json``); they write RESULT.json.
# ================================================================================================
def _vm(field: str) -> int:
    """A ``/proc/self/status`` size in bytes (VmRSS, VmHWM); 0 where /proc is missing."""
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return 0
    m = re.search(rf"^{field}:\s+(\d+) kB", text, re.M)
    return int(m.group(1)) * 1024 if m else 0


def _reset_peak() -> bool:
    """Reset this process's peak RSS (VmHWM) so the next reading covers only what follows."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _maxrss() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: kB


class _Window:
    """Wall time and peak RSS of a block of code in this process."""

    def __enter__(self) -> _Window:
        self.rss_before = _vm("VmRSS")
        self.reset = _reset_peak()
        self.t0 = time.time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.t1 = time.time()
        self.seconds = self.t1 - self.t0
        self.peak = _vm("VmHWM") if self.reset else _maxrss()

    def as_dict(self) -> dict[str, Any]:
        return {
            "t0": self.t0,
            "t1": self.t1,
            "seconds": self.seconds,
            "rss_before": self.rss_before,
            "peak_rss": self.peak,
            "peak_exact": self.reset,
        }


def step_events(instance: Any, run_id: str) -> dict[str, dict[str, float]]:
    """Per step key: its duration from Dagster's step events, split into loading inputs (start to
    the last LOADED_INPUT), writing outputs (each STEP_OUTPUT to its HANDLED_OUTPUT) and the rest
    (compute, metadata)."""
    steps: dict[str, dict[str, Any]] = {}
    for entry in instance.all_logs(run_id):
        ev = entry.dagster_event
        if ev is None or not entry.step_key:
            continue
        s = steps.setdefault(entry.step_key, {"loaded": [], "out": None, "write": 0.0})
        kind, ts = ev.event_type_value, entry.timestamp
        if kind == "STEP_START":
            s["start"] = ts
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE", "STEP_SKIPPED"):
            s["end"], s["status"] = ts, kind
        elif kind == "LOADED_INPUT":
            s["loaded"].append(ts)
        elif kind == "STEP_OUTPUT":
            s["out"] = ts
        elif kind == "HANDLED_OUTPUT" and s["out"] is not None:
            s["write"] += ts - s["out"]
            s["out"] = None
    out = {}
    for key, s in steps.items():
        if "start" not in s or "end" not in s:
            continue
        total = s["end"] - s["start"]
        load = max(s["loaded"]) - s["start"] if s["loaded"] else 0.0
        out[key] = {
            "seconds": total,
            "load_s": load,
            "write_s": s["write"],
            "compute_s": max(total - load - s["write"], 0.0),
            "status": s.get("status", ""),
            "start": s["start"],
        }
    return out


def child_plan(spec: dict[str, Any]) -> dict[str, Any]:
    """The graph's steps in topological order: op name, its assets, its checks' ops."""
    from musicrec_assets.definitions import defs as load_defs

    defs = load_defs()
    graph = defs.resolve_asset_graph()
    job = defs.resolve_implicit_global_asset_job_def()
    op_assets: dict[str, list[str]] = {}
    for key in graph.get_all_asset_keys():
        op_assets.setdefault(graph.get(key).assets_def.node_def.name, []).append(
            key.to_user_string()
        )
    steps = []
    for node in job.graph.nodes_in_topological_order:
        if node.name in op_assets:
            steps.append({"op": node.name, "assets": sorted(op_assets[node.name])})
    checks = {c.asset_key.to_user_string(): [] for c in graph.asset_check_keys}
    for c in graph.asset_check_keys:
        checks[c.asset_key.to_user_string()].append(c.name)
    for s in steps:
        s["checks"] = sorted(n for a in s["assets"] for n in checks.get(a, []))
    return {"steps": steps}


def child_step(spec: dict[str, Any]) -> dict[str, Any]:
    """Materialize one step's assets (and their checks) the way ``musicrec materialize`` does."""
    import dagster as dg

    from musicrec_assets import paths
    from musicrec_assets.core import generations
    from musicrec_assets.core.config import load_config
    from musicrec_assets.definitions import defs as load_defs

    paths.ensure_dagster_home()
    defs = load_defs()
    job = defs.resolve_implicit_global_asset_job_def()
    keys = [dg.AssetKey(a) for a in spec["assets"]]
    profiler = None
    if spec.get("profile"):
        import cProfile

        profiler = cProfile.Profile()
    with dg.DagsterInstance.get() as instance:
        ready = time.time()
        with _Window() as w:
            if profiler is not None:
                profiler.enable()
            result = job.execute_in_process(
                instance=instance,
                asset_selection=keys,
                raise_on_error=False,
                tags={"musicrec/source": "bench_pipeline"},
            )
            if profiler is not None:
                profiler.disable()
        events = step_events(instance, result.run_id)
    storage = load_config(paths.config_path()).storage_dir  # the next step reads what this one
    if result.success:  # published, as musicrec materialize publishes a run
        generations.publish(storage, result.run_id)
    else:
        generations.discard(storage, result.run_id)
    failures = []
    for e in result.get_step_failure_events():
        err = e.step_failure_data.error
        while err is not None and err.cause is not None:  # the user's error, not the wrapper
            err = err.cause
        failures.append(f"{e.step_key}: {err.message.strip() if err else 'unknown error'}")
    if profiler is not None:
        _dump_profile(profiler, Path(spec["profile"]))
    return {
        "ready": ready,
        "call": w.as_dict(),
        "success": bool(result.success),
        "run_id": result.run_id,
        "events": events,
        "failures": failures,
    }


def _dump_profile(profiler: Any, stem: Path) -> None:
    import io
    import pstats

    stem.parent.mkdir(parents=True, exist_ok=True)
    profiler.dump_stats(str(stem.with_suffix(".pstats")))
    buf = io.StringIO()
    stats = pstats.Stats(profiler, stream=buf).sort_stats("cumulative")
    stats.print_stats(40)
    buf.write("\n---- by own time ----\n")
    stats.sort_stats("tottime").print_stats(25)
    stem.with_suffix(".txt").write_text(buf.getvalue())


def child_runlog(spec: dict[str, Any]) -> dict[str, Any]:
    """Step times of an earlier run (the whole-graph run) from the scratch instance."""
    import dagster as dg

    from musicrec_assets import paths

    paths.ensure_dagster_home()
    with dg.DagsterInstance.get() as instance:
        return {"events": step_events(instance, spec["run_id"])}


def child_generate(spec: dict[str, Any]) -> dict[str, Any]:
    from musicrec_assets.sample import generate_sample

    with _Window() as w:
        toml = generate_sample(spec["out"], **spec["sizes"])
    return {"call": w.as_dict(), "config": str(toml)}


CHILDREN = {
    "plan": child_plan,
    "step": child_step,
    "runlog": child_runlog,
    "generate": child_generate,
}


def child_main(mode: str, spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text())
    result = CHILDREN[mode](spec)
    result["maxrss"] = _maxrss()
    Path(spec["result"]).write_text(json.dumps(result, default=str))
    return 0


# ================================================================================================
# Parent: runs children, watches them, tabulates.
# ================================================================================================
class Runner:
    """Starts children with the bench's environment and watches their time and memory."""

    def __init__(self, work: Path, config: Path | None, mem_limit: float) -> None:
        self.work = work
        self.config = config
        self.mem_limit = mem_limit
        self.n = 0
        self.logs = work / "logs" / time.strftime("%Y%m%d-%H%M%S")  # one folder per invocation
        self.logs.mkdir(parents=True, exist_ok=True)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["DAGSTER_HOME"] = str(self.work / "dagster_home")
        env.setdefault("OPENBLAS_NUM_THREADS", "1")
        env.setdefault("MKL_NUM_THREADS", "1")
        env["PYTHONUNBUFFERED"] = "1"
        if self.config is not None:
            env["MUSICREC_CONFIG"] = str(self.config)
        return env

    def run(self, name: str, argv: list[str], timeout: float) -> dict[str, Any]:
        """Run ``argv``; wall time, exit, peak RSS (wait4 ru_maxrss and psutil polling)."""
        import psutil

        self.n += 1
        log = self.logs / f"{self.n:02d}_{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}"
        load_before = os.getloadavg()
        with open(log.with_suffix(".out"), "w") as out, open(log.with_suffix(".err"), "w") as err:
            spawned = time.time()
            proc = subprocess.Popen(argv, cwd=REPO, env=self.env(), stdout=out, stderr=err)
            polled, killed, status, usage = 0, "", 0, None
            ps = psutil.Process(proc.pid)
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                try:
                    rss = ps.memory_info().rss + sum(
                        c.memory_info().rss for c in ps.children(recursive=True)
                    )
                except psutil.Error:
                    rss = 0
                polled = max(polled, rss)
                if not killed and rss > self.mem_limit:
                    killed = f"killed: RSS {rss / GB:.1f} GB over --mem-limit-gb"
                    proc.kill()
                elif not killed and time.time() - spawned > timeout:
                    killed = f"killed: over the {timeout:.0f} s timeout"
                    proc.kill()
                time.sleep(0.1)
            ended = time.time()
        proc.returncode = os.waitstatus_to_exitcode(status)
        return {
            "name": name,
            "spawned": spawned,
            "ended": ended,
            "wall_s": ended - spawned,
            "returncode": proc.returncode,
            "killed": killed,
            "maxrss": usage.ru_maxrss * 1024 if usage else 0,
            "polled_peak_rss": polled,
            "load_before": load_before,
            "load_after": os.getloadavg(),
            "log": str(log),
        }

    def child(self, mode: str, spec: dict[str, Any], timeout: float, name: str = "") -> dict:
        """A ``--child`` run; its own result merged into the process figures."""
        name = name or mode
        spec_path = self.logs / f"spec_{self.n + 1:02d}_{mode}.json"
        result_path = spec_path.with_name(spec_path.name.replace("spec_", "result_"))
        result_path.unlink(missing_ok=True)
        spec = {**spec, "result": str(result_path)}
        spec_path.write_text(json.dumps(spec, default=str))
        argv = [sys.executable, str(Path(__file__).resolve()), "--child", mode, str(spec_path)]
        proc = self.run(name, argv, timeout)
        inner = json.loads(result_path.read_text()) if result_path.exists() else {}
        if not inner:
            err = Path(proc["log"]).with_suffix(".err").read_text()[-2000:]
            proc["error"] = proc["killed"] or err.strip().splitlines()[-1:] or "no result"
        return {**proc, **inner}


def _fmt_s(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}" if x >= 10 else f"{x:.2f}"


def _fmt_mb(x: float | None) -> str:
    return "-" if not x else f"{x / MB:,.0f}"


def _load(t: tuple[float, ...] | list[float]) -> str:
    return f"{t[0]:.2f}"


def machine_info() -> dict[str, Any]:
    cpu = ""
    try:
        m = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
        cpu = m.group(1).strip() if m else ""
    except OSError:
        pass
    mem = 0
    try:
        m = re.search(r"MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text())
        mem = int(m.group(1)) * 1024 if m else 0
    except OSError:
        pass
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True
            ).stdout.strip()
        )
        diff = subprocess.run(
            ["git", "diff", "HEAD", "--", "musicrec_assets"], cwd=REPO, capture_output=True
        ).stdout
    except OSError:
        commit, dirty, diff = "", False, b""
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "host": platform.node(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "mem_total": mem,
        "python": platform.python_version(),
        "commit": commit + ("+dirty" if dirty else ""),
        # which uncommitted state of the package was measured (people edit it concurrently)
        "package_diff_sha1": hashlib.sha1(diff).hexdigest()[:10] if diff else "",
        "load_start": os.getloadavg(),
    }


def _step_row(r: dict[str, Any]) -> dict[str, Any]:
    """One per-step child's figures, flattened."""
    call = r.get("call") or {}
    ev = r.get("events") or {}
    own = ev.get(r["op"], {})
    checks = sum(v["seconds"] for k, v in ev.items() if k != r["op"])
    startup = r["ready"] - r["spawned"] if "ready" in r else None
    return {
        "op": r["op"],
        "assets": r["assets"],
        "wall_s": r["wall_s"],
        "startup_s": startup,
        "call_s": call.get("seconds"),
        "step_s": own.get("seconds"),
        "load_s": own.get("load_s"),
        "compute_s": own.get("compute_s"),
        "write_s": own.get("write_s"),
        "checks_s": checks,
        "peak_rss": call.get("peak_rss") or r.get("maxrss"),
        "rss_before": call.get("rss_before"),
        "child_maxrss": r.get("maxrss"),
        "load_before": r["load_before"],
        "load_after": r["load_after"],
        "ok": bool(r.get("success")) and not r.get("killed"),
        "error": r.get("killed") or "; ".join(r.get("failures") or []) or r.get("error"),
    }


def print_table(res: dict[str, Any]) -> None:
    """The figures as a plain-text table, then the targets."""
    info = res["machine"]
    print()
    print(f"== {res['label']}: {res['config']}")
    print(
        f"   {info['date']}, {info['cpu']} ({info['cores']} cores, "
        f"{info['mem_total'] / GB:.0f} GB), commit {info['commit']}, "
        f"load avg at start {_load(info['load_start'])}"
    )
    if res.get("data"):
        print(f"   data: {res['data']}")
    if res.get("note"):
        print(f"   note: {res['note']}")
    head = (
        f"{'step':<22} {'wall':>7} {'start':>6} {'call':>7} {'step':>7} {'load':>6} "
        f"{'comp':>7} {'write':>6} {'checks':>6} {'peak MB':>8} {'load1':>6}  note"
    )
    print(head)
    print("-" * len(head))
    for s in res.get("steps", []):
        print(
            f"{s['op']:<22} {_fmt_s(s['wall_s']):>7} {_fmt_s(s['startup_s']):>6} "
            f"{_fmt_s(s['call_s']):>7} {_fmt_s(s['step_s']):>7} {_fmt_s(s['load_s']):>6} "
            f"{_fmt_s(s['compute_s']):>7} {_fmt_s(s['write_s']):>6} {_fmt_s(s['checks_s']):>6} "
            f"{_fmt_mb(s['peak_rss']):>8} {_load(s['load_before']):>6}  {s['error'] or ''}"
        )
    if res.get("steps"):
        tot = res["steps_total"]
        print(
            f"{'sum of steps':<22} {_fmt_s(tot['wall_s']):>7} {_fmt_s(tot['startup_s']):>6} "
            f"{_fmt_s(tot['call_s']):>7} {_fmt_s(tot['step_s']):>7} {'':>6} {'':>7} {'':>6} "
            f"{'':>6} {_fmt_mb(tot['peak_rss']):>8}   (peak = largest step)"
        )
    w = res.get("whole")
    if w:
        print(
            f"{'whole graph (1 run)':<22} {_fmt_s(w['wall_s']):>7} {_fmt_s(w['startup_s']):>6} "
            f"{_fmt_s(w['call_s']):>7} {_fmt_s(w['steps_s']):>7} {'':>6} {'':>7} {'':>6} "
            f"{'':>6} {_fmt_mb(w['peak_rss']):>8} {_load(w['load_before']):>6}  "
            f"{w.get('error') or ''}"
        )
        if len(w.get("repeats_wall_s") or []) > 1:
            runs = ", ".join(f"{x:.1f}" for x in w["repeats_wall_s"])
            print(f"   whole-graph runs (wall s): {runs}; the fastest is shown")
        if w.get("events"):
            slow = sorted(w["events"].items(), key=lambda kv: -kv[1]["seconds"])[:5]
            print(
                "   slowest steps inside the whole run: "
                + ", ".join(f"{k} {v['seconds']:.1f} s" for k, v in slow)
            )
    print("   (seconds; start = interpreter + Dagster start-up before the call; call = the")
    print("    execute_in_process call; step = the op's own time from Dagster events, split into")
    print("    load inputs / compute / write outputs; checks = its asset checks' steps; peak MB =")
    print("    peak RSS during the call; load1 = 1-min load average when the child started)")
    if res.get("targets"):
        print()
    for t in res.get("targets", []):
        print(f"target {t['target']:<44} {t['verdict']:<7} {t['detail']}")


def _slowest(res: dict[str, Any], n: int = 3) -> str:
    ev = (res.get("whole") or {}).get("events") or {}
    if ev:
        items = [(k, v) for k, v in ev.items()]
    else:
        items = [(s["op"], s) for s in res.get("steps", []) if s["step_s"] is not None]
    total = sum(v["seconds"] if "seconds" in v else v["step_s"] for _, v in items) or 1.0
    items.sort(key=lambda kv: -(kv[1].get("seconds") or kv[1].get("step_s") or 0.0))
    parts = []
    for k, v in items[:n]:
        secs = v.get("seconds") or v.get("step_s") or 0.0
        parts.append(
            f"{k} {secs:.1f} s ({secs / total:.0%}: load {v['load_s']:.1f}, compute "
            f"{v['compute_s']:.1f}, write {v['write_s']:.1f})"
        )
    return ", ".join(parts)


def _biggest(res: dict[str, Any]) -> str:
    steps = [s for s in res.get("steps", []) if s["peak_rss"]]
    if not steps:
        return ""
    s = max(steps, key=lambda s: s["peak_rss"])
    return f"largest step {s['op']} {s['peak_rss'] / GB:.1f} GB"


def targets(res: dict[str, Any], which: str) -> list[dict[str, Any]]:
    """Met / missed, with the stage and the reason when missed."""
    out = []
    w = res.get("whole") or {}
    ran = {s["op"] for s in res.get("steps") or []}
    # a sum over per-step runs stands for the graph only when every step of the plan ran and passed
    steps_ok = (
        bool(ran) and ran >= set(res.get("plan_ops") or ()) and all(s["ok"] for s in res["steps"])
    )
    if which == "default":
        secs = w.get("wall_s") if w.get("ok") else None
        if secs is None:
            verdict, detail = "unknown", "whole-graph run missing or failed"
        elif secs <= TARGET_DEFAULT_WHOLE_S:
            verdict = "MET"
            detail = f"{secs:.1f} s incl. {w['startup_s']:.1f} s start-up"
        else:
            verdict = "MISSED"
            detail = f"{secs:.1f} s incl. {w['startup_s']:.1f} s start-up; slowest: {_slowest(res)}"
        out.append(
            {"target": "default sample whole graph <= 30 s", "verdict": verdict, "detail": detail}
        )
    if which == "360k":
        if w.get("ok"):
            secs, peak, src = w["wall_s"], w["peak_rss"], "whole run"
        elif steps_ok:
            secs = res["steps_total"]["wall_s"]
            peak = res["steps_total"]["peak_rss"]
            src = "sum of per-step runs (whole run missing)"
        else:
            secs = peak = None
            src = ""
        bad = [s for s in res.get("steps", []) if not s["ok"]]
        if secs is None:
            first = bad[0] if bad else None
            reason = f"{first['op']}: {first['error']}" if first else "no complete run"
            out.append(
                {
                    "target": "360K graph <= 20 min",
                    "verdict": "MISSED",
                    "detail": f"did not complete; {reason}",
                }
            )
            out.append(
                {
                    "target": "360K peak RSS <= 10 GB",
                    "verdict": "MISSED"
                    if any("RSS" in (s["error"] or "") for s in bad)
                    else "unknown",
                    "detail": _biggest(res) or "no complete run",
                }
            )
        else:
            out.append(
                {
                    "target": "360K graph <= 20 min",
                    "verdict": "MET" if secs <= TARGET_360K_WHOLE_S else "MISSED",
                    "detail": f"{secs / 60:.1f} min ({src})"
                    + ("" if secs <= TARGET_360K_WHOLE_S else f"; slowest: {_slowest(res)}"),
                }
            )
            out.append(
                {
                    "target": "360K peak RSS <= 10 GB",
                    "verdict": "MET" if peak <= TARGET_360K_PEAK else "MISSED",
                    "detail": f"{peak / GB:.1f} GB ({src}); {_biggest(res)}",
                }
            )
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", type=Path, help="benchmark an existing config")
    p.add_argument("--users", type=int, default=DEFAULT_SIZES["users"])
    p.add_argument("--artists", type=int, default=DEFAULT_SIZES["artists"])
    p.add_argument("--tracks", type=int, default=DEFAULT_SIZES["tracks"])
    p.add_argument("--scrobbles", type=int, default=DEFAULT_SIZES["scrobbles"])
    p.add_argument("--pairs", type=int, default=None)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument(
        "--plays-table",
        action="store_true",
        help="generate the listens as lastfm/plays.parquet (Last.fm-360K layout) only",
    )
    p.add_argument("--label", help="name of this data set (default: from config or sizes)")
    p.add_argument("--note", default="", help="free text stored with the figures")
    p.add_argument("--workdir", type=Path, help="scratch folder (default .musicrec/bench/LABEL)")
    p.add_argument("--out", type=Path, help="JSON of all figures (default WORKDIR/bench.json)")
    p.add_argument("--targets", choices=("auto", "default", "360k", "none"), default="auto")
    p.add_argument("--skip-steps", action="store_true", help="no per-step runs")
    p.add_argument("--skip-whole", action="store_true", help="no whole-graph run")
    p.add_argument("--only", help="comma-separated ops: run only these per-step runs")
    p.add_argument("--profile", action="store_true", help="cProfile each step (WORKDIR/profiles)")
    p.add_argument("--whole-repeat", type=int, default=1, help="whole-graph runs (best kept)")
    p.add_argument("--step-timeout", type=float, default=3600.0)
    p.add_argument("--whole-timeout", type=float, default=7200.0)
    p.add_argument("--mem-limit-gb", type=float, default=20.0, help="kill a child above this")
    p.add_argument(
        "--reuse",
        action="store_true",
        help="keep what this run does not redo (steps not in --only, steps skipped with "
        "--skip-steps, a whole run skipped with --skip-whole) from the earlier --out JSON",
    )
    p.add_argument("--child", nargs=2, metavar=("MODE", "SPEC"), help=argparse.SUPPRESS)
    return p.parse_args(argv)


def run_steps(
    runner: Runner, plan: list[dict[str, Any]], args: argparse.Namespace, old: dict[str, Any]
) -> list[dict[str, Any]]:
    """Every step (or those of ``--only``) in its own child; stops at the first failure."""
    only = set(args.only.split(",")) if args.only else None
    previous = {s["op"]: s for s in old.get("steps", [])}
    rows = []
    for step in plan:
        if only and step["op"] not in only:
            if step["op"] in previous:
                rows.append(previous[step["op"]])
            continue
        print(f"bench: step {step['op']} ...", flush=True)
        spec = dict(step)
        if args.profile:
            spec["profile"] = str(runner.work / "profiles" / step["op"])
        r = runner.child("step", spec, args.step_timeout, name=f"step_{step['op']}")
        row = _step_row({**r, **step})
        rows.append(row)
        print(
            f"       {_fmt_s(row['step_s'])} s in the step, peak {_fmt_mb(row['peak_rss'])} MB"
            f"{'; ' + row['error'] if row['error'] else ''}",
            flush=True,
        )
        if not row["ok"]:
            print(f"bench: step {step['op']} failed; later steps skipped", file=sys.stderr)
            break
    return rows


def steps_total(steps: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "wall_s": sum(s["wall_s"] for s in steps),
        "startup_s": sum(s["startup_s"] or 0.0 for s in steps),
        "call_s": sum(s["call_s"] or 0.0 for s in steps),
        "step_s": sum(s["step_s"] or 0.0 for s in steps),
        "peak_rss": max((s["peak_rss"] or 0 for s in steps), default=0),
    }


def run_whole(runner: Runner, config: Path, timeout: float) -> dict[str, Any]:
    """One ``musicrec materialize --config C`` as a user runs it, plus its step times."""
    print("bench: whole graph (musicrec materialize) ...", flush=True)
    argv = [sys.executable, "-m", "musicrec_assets.cli", "materialize", "--config", str(config)]
    w = runner.run("whole_graph", argv, timeout)
    text = Path(w["log"]).with_suffix(".out").read_text()
    m = re.search(r"materialized in ([\d.]+) s \(run ([0-9a-f-]+)\)", text)
    w["ok"] = bool(m) and w["returncode"] == 0
    w["peak_rss"] = w["maxrss"] or w["polled_peak_rss"]
    if m:
        w["call_s"] = float(m.group(1))
        w["startup_s"] = w["wall_s"] - w["call_s"]
        w["run_id"] = m.group(2)
        log = runner.child("runlog", {"run_id": w["run_id"]}, 600)
        w["events"] = log.get("events", {})
        w["steps_s"] = sum(v["seconds"] for v in w["events"].values())
    else:
        err = Path(w["log"]).with_suffix(".err").read_text().strip().splitlines()
        failed = [line for line in err if "failed" in line]
        w["error"] = w["killed"] or (failed or err or [f"exit {w['returncode']}"])[-1]
        w["call_s"] = w["startup_s"] = w["steps_s"] = None
    print(f"       {_fmt_s(w['wall_s'])} s, peak {_fmt_mb(w['peak_rss'])} MB", flush=True)
    return w


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        return child_main(*args.child)

    sizes = {
        "users": args.users,
        "artists": args.artists,
        "tracks": args.tracks,
        "scrobbles": args.scrobbles,
        "seed": args.seed,
        "pairs": args.pairs,
    }
    if args.plays_table:
        sizes["listens"] = "plays_table"
    generated = args.config is None
    if generated:
        label = args.label or "sample_" + "_".join(
            f"{k[0]}{v}" for k, v in sizes.items() if v is not None and k != "seed"
        )
    else:
        label = args.label or args.config.stem
    work = (args.workdir or REPO / ".musicrec" / "bench" / label).resolve()
    work.mkdir(parents=True, exist_ok=True)
    out_path = args.out or work / "bench.json"
    runner = Runner(work, None, args.mem_limit_gb * GB)
    old = json.loads(out_path.read_text()) if args.reuse and out_path.exists() else {}
    res: dict[str, Any] = {
        "label": label,
        "note": args.note,
        "machine": machine_info(),
        "generated": generated,
        "argv": sys.argv[1:] if argv is None else argv,
    }
    if old:
        res["earlier_run"] = {k: old.get(k) for k in ("machine", "note", "argv")}
        if "generate" in old:
            res["generate"] = old["generate"]

    if generated:
        data = work / "data"
        stamp = data / "bench_sizes.json"
        config = data / "musicrec.toml"
        if stamp.exists() and json.loads(stamp.read_text()) == sizes and config.exists():
            print(f"bench: reusing generated data in {data}")
        else:
            print(f"bench: generating {sizes} into {data} ...", flush=True)
            gen = runner.child("generate", {"out": str(data), "sizes": sizes}, 6 * 3600)
            if "call" not in gen:
                print(f"bench: generation failed: {gen.get('error')}", file=sys.stderr)
                return 1
            stamp.write_text(json.dumps(sizes))
            res["generate"] = {
                "seconds": gen["call"]["seconds"],
                "peak_rss": gen["call"]["peak_rss"],
                "load_before": gen["load_before"],
            }
            print(f"bench: generated in {gen['call']['seconds']:.1f} s", flush=True)
        res["sizes"] = sizes
    else:
        config = args.config.resolve()
        if not config.exists():
            print(f"bench: no such config: {config}", file=sys.stderr)
            return 2
    runner.config = config
    res["config"] = str(config)
    which = args.targets
    if which == "auto":
        plain = {k: v for k, v in sizes.items() if k not in ("seed", "pairs")}
        if generated and plain == DEFAULT_SIZES and sizes["pairs"] is None:
            which = "default"
        elif generated and args.users >= 300_000:
            which = "360k"
        else:
            which = "none"

    plan = runner.child("plan", {}, 600)
    if "steps" not in plan:
        print(f"bench: could not read the graph: {plan.get('error')}", file=sys.stderr)
        return 1
    res["plan_ops"] = [s["op"] for s in plan["steps"]]
    if args.skip_steps:
        if "steps" in old:
            res["steps"], res["steps_total"] = old["steps"], old["steps_total"]
    else:
        res["steps"] = run_steps(runner, plan["steps"], args, old)
        res["steps_total"] = steps_total(res["steps"])
    if args.skip_whole:
        if "whole" in old:
            res["whole"] = old["whole"]
    else:
        runs = [run_whole(runner, config, args.whole_timeout) for _ in range(args.whole_repeat)]
        ok = [w for w in runs if w["ok"]]
        res["whole"] = min(ok, key=lambda w: w["wall_s"]) if ok else runs[-1]
        res["whole"]["repeats_wall_s"] = [w["wall_s"] for w in runs]

    res["data"] = _data_summary(config)
    res["targets"] = targets(res, which)
    res["machine"]["load_end"] = os.getloadavg()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(res, indent=1, default=str))
    print_table(res)
    print(f"\nbench: figures written to {out_path}")
    return 0


def _storage_dir(config: Path) -> Path:
    from musicrec_assets.core.config import load_config

    return load_config(config).storage_dir


def _data_summary(config: Path) -> str:
    """Listeners, artists and pairs of the materialized interaction_splits (read from metadata
    of the Parquet file, cheap)."""
    try:
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        path = _storage_dir(config) / "interaction_splits.parquet"
        t = pq.read_table(path, columns=["user", "artist", "split"])
        users = len(pc.unique(t["user"]))
        artists = len(pc.unique(t["artist"]))
        return f"{users:,} listeners, {artists:,} artists, {t.num_rows:,} listener-artist pairs"
    except Exception as exc:  # a summary only; never fail the bench on it
        return f"(no summary: {exc})"


if __name__ == "__main__":
    sys.exit(main())
