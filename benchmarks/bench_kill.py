"""Kill ``musicrec materialize`` runs while they write model and serving artifacts, many times.

The graph is built on a generated sample with seed 1 (the published set) and, in another folder,
with seed 2 (what the killed runs write). Then, for ``--rounds`` rounds over every moment of
``musicrec_assets_tests.killing.MOMENTS``, a fresh copy of the published set is refreshed with
seed 2 and the run is SIGKILLed at that moment. After each kill: the published set must be
exactly seed 1's, load, and serve a playlist through the page's function. After each round one
run completes on the killed folder: it must exit 0, publish seed 2's set, and leave no temporary
file or dead generation. Then the same for runs launched from ``dagster dev`` (``--dagster-kills``
of them, through the UI's GraphQL API): their processes are killed at a moment, run monitoring
must mark the run failed and the discard sensor remove its generation, and a last launched run
must succeed and be published by the publish sensor. Prints one line per kill and a summary
(kills, moments reached, artifacts rewritten at the kill, failures); exits 1 on any failure.

    uv run python benchmarks/bench_kill.py [--rounds 4] [--dagster-kills 3] [--users 80]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from musicrec_assets_tests.killing import (  # noqa: E402
    MOMENTS,
    check_published,
    graphql,
    hashes,
    kill_at,
    kill_dagster_run,
    launch,
    leftovers,
    run_status,
)


def _config(base: Path, storage: Path, seed: int) -> Path:
    text = base.read_text()
    text = text.replace('dir = "derived"', f'dir = "{storage}"', 1)
    text = text.replace(f"seed = {_seed(text)}", f"seed = {seed}", 1)
    path = base.with_name(f"musicrec-{storage.parent.name}-{seed}.toml")
    path.write_text(text)
    return path


def _seed(text: str) -> int:
    return int(next(line for line in text.splitlines() if line.startswith("seed =")).split("=")[1])


def _materialize(config: Path, env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "musicrec_assets.cli", "materialize", "--config", str(config)],
        capture_output=True,
        text=True,
        env=env,
    )
    if done.returncode:
        raise SystemExit(f"materialize failed: {done.stderr[-500:]}")


def dagster_dev_kills(args, config, work, old_dir, old, new, kills) -> int:
    """Kill runs launched from ``dagster dev``; returns the failures."""
    import signal
    import socket

    from musicrec_assets.paths import INSTANCE_YAML

    home = args.workdir / "dev_home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(INSTANCE_YAML)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(old_dir, work, symlinks=True)
    env = dict(os.environ, DAGSTER_HOME=str(home), MUSICREC_CONFIG=str(config))
    dev = subprocess.Popen(
        ["dagster", "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=open(home / "dagster_dev.log", "w"),  # noqa: SIM115
    )
    failures = 0
    try:
        for _ in range(180):
            try:
                if graphql(port, "{ version }"):
                    break
            except OSError:
                time.sleep(1)
        for i in range(args.dagster_kills):
            moment = MOMENTS[(i + 1) % len(MOMENTS)]
            kill = kill_dagster_run(port, home, work, moment, old, new)
            bad = kill.problems + ([] if kill.reached else ["the run ended before the moment"])
            failures += bool(bad)
            kills.append({**kill.__dict__, "round": "dagster dev"})
            print(
                f"  dagster dev kill at {kill.seconds:5.1f} s, {moment:<26} rewritten "
                f"{kill.rewritten:2d}  {'; '.join(bad) or 'ok (marked failed, generation removed)'}",
                flush=True,
            )
        run_id = launch(port)  # the next run launched from the UI completes and is published
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and hashes(work) != new:
            if run_status(port, run_id) in ("FAILURE", "CANCELED"):
                break
            time.sleep(2)
        after = leftovers(work) + check_published(work, new)
        failures += bool(after)
        print(
            f"  dagster dev next run: {'; '.join(after) or 'ok (published by the sensor, clean)'}"
        )
    finally:
        os.killpg(dev.pid, signal.SIGTERM)
        try:
            dev.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(dev.pid, signal.SIGKILL)
    return failures


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=4, help="rounds over every kill moment")
    ap.add_argument("--users", type=int, default=80)
    ap.add_argument("--dagster-kills", type=int, default=3, help="kills of dagster dev runs")
    ap.add_argument("--workdir", type=Path, default=REPO / ".musicrec" / "bench" / "kill")
    args = ap.parse_args(argv)
    args.workdir = args.workdir.resolve()  # the configs written below point into it
    from musicrec_assets.sample import generate_sample

    shutil.rmtree(args.workdir, ignore_errors=True)
    base = generate_sample(
        args.workdir / "data", users=args.users, artists=200, tracks=1500, scrobbles=20_000, seed=7
    )
    env = dict(os.environ, DAGSTER_HOME=str(args.workdir / "dagster_home"))
    old_dir, new_dir = args.workdir / "old" / "derived", args.workdir / "new" / "derived"
    _materialize(_config(base, old_dir, 1), env)
    _materialize(_config(base, new_dir, 2), env)
    old, new = hashes(old_dir), hashes(new_dir)
    differ = sorted(n for n in old if old[n] != new[n])
    print(f"bench_kill: {len(differ)} of {len(old)} artifacts differ between the seeds")
    work = args.workdir / "work" / "derived"
    config = _config(base, work, 2)
    kills, failures = [], 0
    started = time.perf_counter()
    for r in range(args.rounds):
        for moment in MOMENTS:
            shutil.rmtree(work, ignore_errors=True)
            shutil.copytree(old_dir, work, symlinks=True)
            kill = kill_at(config, work, moment, old, new, env)
            bad = kill.problems + ([] if kill.reached else ["the run ended before the moment"])
            failures += bool(bad)
            kills.append({**kill.__dict__, "round": r})
            print(
                f"  round {r + 1} kill at {kill.seconds:5.1f} s, {moment:<26} "
                f"rewritten {kill.rewritten:2d}  {'; '.join(bad) or 'ok'}",
                flush=True,
            )
        _materialize(config, env)  # the next run on the killed folder completes and cleans up
        after = leftovers(work) + check_published(work, new)
        failures += bool(after)
        print(f"  round {r + 1} next run: {'; '.join(after) or 'ok (seed 2 published, clean)'}")
    if args.dagster_kills:
        failures += dagster_dev_kills(args, config, work, old_dir, old, new, kills)
    reached = sum(k["reached"] for k in kills)
    print(
        f"\nbench_kill: {len(kills)} kills in {time.perf_counter() - started:.0f} s, "
        f"{reached} at their moment, artifacts rewritten at the kill "
        f"{min(k['rewritten'] for k in kills)}–{max(k['rewritten'] for k in kills)}, "
        f"{args.rounds} recovery runs, failures {failures}"
    )
    out = args.workdir / "bench_kill.json"
    out.write_text(json.dumps({"kills": kills, "failures": failures}, indent=2) + "\n")
    print(f"wrote {out}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
