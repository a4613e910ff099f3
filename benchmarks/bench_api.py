"""Load on the JSON API, measured at the server: latency percentiles, throughput, errors, memory.

The server is ``musicrec web`` in a process of its own; the load comes from another process (an
asyncio client on raw keep-alive connections, far cheaper than a general HTTP client), bounded in
requests and time, on 127.0.0.1 only. Two kinds of
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

    uv run python benchmarks/bench_api.py --config C [--clients 1,20,100] [--requests 2000]
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
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CUSTOM = {"w_base": 0.5, "w_tempo": 0.3, "w_valence": 0.2}


# --- the load generator (a process of its own) -------------------------------------------------


class _Connection:
    """One keep-alive HTTP/1.1 connection on raw asyncio streams: a GET costs the generator a
    fraction of a millisecond (httpx spent 2-8 ms of CPU a request, on the server's cores)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, target: str) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(f"GET {target} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = dict(line.split(":", 1) for line in lines[1:] if ":" in line)
        headers = {k.strip().lower(): v.strip() for k, v in headers.items()}
        if "content-length" not in headers:
            raise RuntimeError(f"response without Content-Length: {lines[0]}")
        await self.reader.readexactly(int(headers["content-length"]))
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _load(url: str, users: list[str], clients: int, requests: int, seconds: float, kind):
    parts = urllib.parse.urlsplit(url)
    rng = random.Random(7)
    picks = [rng.choice(users) for _ in range(requests)]
    query = "?" + urllib.parse.urlencode(CUSTOM) if kind == "computed" else ""
    latencies: list[float] = []
    errors: dict[str, int] = {}
    deadline = time.monotonic() + seconds
    queue = iter(picks)

    async def worker() -> None:
        conn = _Connection(parts.hostname, parts.port)
        for user in queue:
            if time.monotonic() > deadline:
                break
            target = f"/api/v1/listeners/{urllib.parse.quote(user, safe='')}/playlist{query}"
            started = time.perf_counter()
            try:
                status = await asyncio.wait_for(conn.get(target), 60)
                key = str(status)
            except (OSError, asyncio.IncompleteReadError, TimeoutError, RuntimeError) as exc:
                status, key = 0, type(exc).__name__
                conn.close()
            latencies.append(time.perf_counter() - started)
            if status != 200:
                errors[key] = errors.get(key, 0) + 1
        conn.close()

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return latencies, errors, time.perf_counter() - began


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


def _get(url: str) -> dict[str, Any]:
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
    ap.add_argument("--requests", type=int, default=2000, help="per run")
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
    # imported here: the load generator process needs none of the project
    from gradio_app.lookup import ListenerDirectory
    from musicrec_assets.core.artifacts import artifact_path
    from musicrec_assets.core.config import load_config

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
        total = _get(f"{url}api/v1/listeners?limit=1")["total"]
        # drawn uniformly from every served listener (read from the artifact: the API lists by
        # prefix), so requests spread over the whole file as real traffic would, not a few
        # cached row groups
        names = ListenerDirectory(
            artifact_path(load_config(args.config).storage_dir, "interaction_splits")
        ).names
        users = random.Random(3).sample(list(names), min(args.users, len(names)))
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
