"""Load on the JSON API, measured at the server: latency percentiles, throughput, errors, memory.

The server is ``musicrec web`` in a process of its own; the load comes from another process (an
asyncio client, ``httpx``), bounded in requests and time, on 127.0.0.1 only. Two kinds of
request, each at 1, 20 and 100 concurrent clients:

- **stored**: a listener's default-context playlist (``GET /api/v1/listeners/{user}/playlist``),
  read from the ``playlists`` asset through the listener index;
- **computed**: the same with custom weights (``w_base=0.5&w_tempo=0.3&w_valence=0.2``), built
  on the spot by the playlist function.

Listeners are drawn (seeded) from the served ones. Reported per run: p50 / p95 / p99 latency,
requests per second, errors, the server's RSS before, at most during and after, the server's CPU
seconds, and the CPU the load generator itself used (so a busy generator is visible). Targets on
a 2-core machine: stored p95 <= 50 ms and computed p95 <= 300 ms at 20 clients, no errors,
memory flat.

    uv run python benchmarks/bench_api.py --config C [--clients 1,20,100] [--requests 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CUSTOM = {"w_base": 0.5, "w_tempo": 0.3, "w_valence": 0.2}


# --- the load generator (a process of its own) -------------------------------------------------


async def _load(url: str, users: list[str], clients: int, requests: int, seconds: float, kind):
    import httpx

    rng = random.Random(7)
    picks = [rng.choice(users) for _ in range(requests)]
    params = CUSTOM if kind == "computed" else {}
    latencies: list[float] = []
    errors: dict[str, int] = {}
    deadline = time.monotonic() + seconds
    queue = iter(picks)

    async def worker(client) -> None:
        for user in queue:
            if time.monotonic() > deadline:
                return
            started = time.perf_counter()
            try:
                r = await client.get(f"{url}api/v1/listeners/{user}/playlist", params=params)
                ok = r.status_code == 200
                key = str(r.status_code)
            except httpx.HTTPError as exc:
                ok, key = False, type(exc).__name__
            latencies.append(time.perf_counter() - started)
            if not ok:
                errors[key] = errors.get(key, 0) + 1

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        began = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(clients)))
        wall = time.perf_counter() - began
    return latencies, errors, wall


def generate(args: argparse.Namespace) -> int:
    users = json.loads(Path(args.users_file).read_text())
    latencies, errors, wall = asyncio.run(
        _load(args.url, users, args.clients, args.requests, args.seconds, args.kind)
    )
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "latencies": latencies,
                "errors": errors,
                "wall": wall,
                "cpu": usage.ru_utime + usage.ru_stime,
            }
        )
    )
    return 0


# --- the orchestration -------------------------------------------------------------------------


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.loads(r.read())


class Watch:
    """The server process's RSS (max while a run goes on) and CPU seconds."""

    def __init__(self, pid: int) -> None:
        import psutil

        self.proc = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()

    def rss(self) -> int:
        return self.proc.memory_info().rss

    def cpu(self) -> float:
        t = self.proc.cpu_times()
        return t.user + t.system

    def __enter__(self) -> Watch:
        self.peak = self.rss()
        self._stop.clear()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def _poll(self) -> None:
        while not self._stop.wait(0.1):
            self.peak = max(self.peak, self.rss())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _pct(values: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(values, q)) * 1000 if values else float("nan")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", type=Path)
    ap.add_argument("--clients", default="1,20,100")
    ap.add_argument("--kinds", default="stored,computed")
    ap.add_argument("--requests", type=int, default=1000, help="per run")
    ap.add_argument("--seconds", type=float, default=60, help="per run, at most")
    ap.add_argument("--users", type=int, default=2000, help="listeners drawn from the served")
    ap.add_argument("--out", type=Path, default=REPO / ".musicrec" / "bench" / "api.json")
    ap.add_argument("--generate", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--users-file", help=argparse.SUPPRESS)
    ap.add_argument("--clients-n", type=int, dest="clients_n", help=argparse.SUPPRESS)
    ap.add_argument("--kind", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.generate:
        args.clients = args.clients_n
        return generate(args)
    if args.config is None:
        ap.error("--config is required")

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/"
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1")
    cli = [sys.executable, "-m", "musicrec_assets.cli"]
    server = subprocess.Popen(
        [*cli, "web", "--config", str(args.config), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    rows = []
    try:
        started = time.monotonic()
        while True:
            try:
                health = _get(f"{url}api/v1/health")
                break
            except OSError:
                if server.poll() is not None or time.monotonic() - started > 300:
                    raise SystemExit("the server did not start") from None
                time.sleep(0.5)
        listing = _get(f"{url}api/v1/listeners?limit=1000")
        total = listing["total"]
        rng = random.Random(3)
        users = []  # listeners drawn across the whole alphabet, not only the first 1000
        for prefix in {u[:2] for u in listing["listeners"]} or {""}:
            users += _get(f"{url}api/v1/listeners?prefix={prefix}&limit=200")["listeners"]
        users = rng.sample(users, min(args.users, len(users)))
        users_file = args.out.with_suffix(".users.json")
        users_file.parent.mkdir(parents=True, exist_ok=True)
        users_file.write_text(json.dumps(users))
        watch = Watch(server.pid)
        _get(f"{url}api/v1/listeners/{users[0]}/playlist")  # first request: indexes built
        rss_ready = watch.rss()
        print(
            f"bench_api: {args.config} — {total:,} listeners, run {health.get('run_id')}; "
            f"server RSS {rss_ready / 2**20:,.0f} MB after the first request",
            flush=True,
        )
        for kind in args.kinds.split(","):
            for clients in [int(c) for c in args.clients.split(",")]:
                cpu0 = watch.cpu()
                before = watch.rss()
                with watch:
                    load = ["--users-file", str(users_file), "--clients-n", str(clients)]
                    load += ["--requests", str(args.requests), "--seconds", str(args.seconds)]
                    gen = subprocess.run(
                        [
                            sys.executable,
                            __file__,
                            "--generate",
                            "--url",
                            url,
                            *load,
                            "--kind",
                            kind,
                        ],
                        capture_output=True,
                        text=True,
                        env=env,
                    )
                out = json.loads(gen.stdout.strip().splitlines()[-1])
                lat = out["latencies"]
                row = {
                    "kind": kind,
                    "clients": clients,
                    "requests": len(lat),
                    "p50_ms": _pct(lat, 50),
                    "p95_ms": _pct(lat, 95),
                    "p99_ms": _pct(lat, 99),
                    "rps": len(lat) / out["wall"] if out["wall"] else 0.0,
                    "errors": sum(out["errors"].values()),
                    "error_kinds": out["errors"],
                    "rss_before_mb": before / 2**20,
                    "rss_peak_mb": watch.peak / 2**20,
                    "rss_after_mb": watch.rss() / 2**20,
                    "server_cpu_s": watch.cpu() - cpu0,
                    "generator_cpu_s": out["cpu"],
                    "wall_s": out["wall"],
                }
                rows.append(row)
                print(
                    f"  {kind:<8} {clients:>3} clients: {row['requests']:>4} requests, "
                    f"p50 {row['p50_ms']:6.1f} ms, p95 {row['p95_ms']:6.1f} ms, "
                    f"p99 {row['p99_ms']:6.1f} ms, {row['rps']:6.1f}/s, errors {row['errors']}, "
                    f"RSS {row['rss_before_mb']:,.0f}→{row['rss_peak_mb']:,.0f}→"
                    f"{row['rss_after_mb']:,.0f} MB, server CPU {row['server_cpu_s']:.1f} s, "
                    f"generator CPU {row['generator_cpu_s']:.1f} s",
                    flush=True,
                )
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)
    for kind, target in (("stored", 50), ("computed", 300)):
        at20 = [r for r in rows if r["kind"] == kind and r["clients"] == 20]
        if at20:
            p95 = at20[0]["p95_ms"]
            verdict = "MET" if p95 <= target and at20[0]["errors"] == 0 else "MISSED"
            print(f"target {kind} p95 <= {target} ms at 20 clients: {verdict} ({p95:.1f} ms)")
    errors = sum(r["errors"] for r in rows)
    print(f"errors over all runs: {errors}")
    args.out.write_text(
        json.dumps({"config": str(args.config), "rss_ready": rss_ready, "rows": rows}, indent=2)
    )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
