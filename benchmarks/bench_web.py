"""Latency of the Gradio page on the fake artifact set (loopback only, bounded loops).

1. In process: median time of one playlist build through the page's function
   (``PlaylistPage.make_playlist``, what the ``/make_playlist`` handler runs), warm caches.
2. Served: the app launched on 127.0.0.1 in its own process, ``--clients`` gradio_client
   clients started together, each making ``--requests`` calls to ``/make_playlist``; p50/p95
   latency and throughput.

Run: ``uv run python benchmarks/bench_web.py [--users 2000 --artists 3000 ...]`` or, on
materialized artifacts, ``uv run python benchmarks/bench_web.py --storage .musicrec/sample/derived``
"""

from __future__ import annotations

import argparse
import itertools
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from gradio_client import Client

import gradio_app  # noqa: F401  (offline environment before gradio is imported)
from gradio_app.app import CONCURRENCY
from gradio_app.service import PlaylistPage
from gradio_app.store import ArtifactStore
from musicrec_assets.core.config import DEFAULT_CONTEXTS, PlaylistConfig
from musicrec_assets_tests.web_data import write_fake_artifacts

CONTEXTS = list(DEFAULT_CONTEXTS)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def in_process(storage: Path, users: list[str], builds: int) -> None:
    page = PlaylistPage(ArtifactStore(storage), PlaylistConfig())
    t0 = time.perf_counter()
    page.make_playlist(users[0], "default")
    print(f"first build (loads artifacts, builds track table): {time.perf_counter() - t0:.3f} s")
    times = []
    pairs = zip(itertools.cycle(users), itertools.cycle(CONTEXTS), strict=False)
    for user, context in itertools.islice(pairs, builds):
        t = time.perf_counter()
        result = page.make_playlist(user, context)
        times.append(time.perf_counter() - t)
        assert result.playlist is not None and len(result.playlist), result.message
    ms = np.array(times) * 1000
    print(
        f"in-process make_playlist over {builds} builds: median {np.median(ms):.1f} ms, "
        f"p95 {np.percentile(ms, 95):.1f} ms"
    )


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"server did not listen on port {port} within {timeout:.0f} s")


def served(storage: Path, users: list[str], clients: int, requests: int) -> None:
    """The page in its own process (as ``musicrec web`` runs it), clients in this one."""
    port = free_port()
    code = (
        "from pathlib import Path; from gradio_app.app import build_app, launch; "
        f"launch(build_app(Path({str(storage)!r})), port={port}, quiet=True)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL)
    try:
        wait_for_port(port, proc)
        url = f"http://127.0.0.1:{port}/"
        pool = [Client(url, verbose=False) for _ in range(clients)]
        pool[0].predict(users[0], "default", 20, 0.6, 0.2, 0.2, 2, api_name="/make_playlist")
        latencies: list[float] = []
        lock = threading.Lock()
        start = threading.Barrier(clients + 1)

        def run(i: int, client: Client) -> None:
            start.wait()
            for j in range(requests):
                user = users[(i * requests + j) % len(users)]
                name = CONTEXTS[(i + j) % len(CONTEXTS)]
                ctx = DEFAULT_CONTEXTS[name]
                t = time.perf_counter()
                client.predict(
                    user,
                    name,
                    20,
                    ctx.w_base,
                    ctx.w_tempo,
                    ctx.w_valence,
                    2,
                    api_name="/make_playlist",
                )
                with lock:
                    latencies.append(time.perf_counter() - t)

        threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(pool)]
        for t in threads:
            t.start()
        start.wait()
        t0 = time.perf_counter()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        ms = np.array(latencies) * 1000
        print(
            f"served /make_playlist, {clients} concurrent clients × {requests} calls "
            f"(concurrency limit {CONCURRENCY}): p50 {np.percentile(ms, 50):.0f} ms, "
            f"p95 {np.percentile(ms, 95):.0f} ms, max {ms.max():.0f} ms, "
            f"{len(ms) / wall:.1f} playlists/s"
        )
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--artists", type=int, default=3000)
    parser.add_argument("--tracks-per-artist", type=int, default=20)
    parser.add_argument("--topk", type=int, default=50)
    parser.add_argument("--builds", type=int, default=50)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=5)
    parser.add_argument(
        "--storage", type=Path, help="materialized artifacts to use instead of the fake set"
    )
    args = parser.parse_args()
    n_users = max(args.builds, args.clients * args.requests)
    if args.storage:
        import pandas as pd

        recs = pd.read_parquet(args.storage / "reranked_topk.parquet", columns=["user"])
        users = sorted(recs["user"].unique())[:n_users]
        print(f"artifacts in {args.storage}: {recs['user'].nunique()} listeners")
        in_process(args.storage, users, args.builds)
        served(args.storage, users, args.clients, args.requests)
        return
    with tempfile.TemporaryDirectory(prefix="musicrec-bench-") as tmp:
        storage = Path(tmp)
        t0 = time.perf_counter()
        fake = write_fake_artifacts(
            storage,
            n_users=args.users,
            n_artists=args.artists,
            tracks_per_artist=args.tracks_per_artist,
            topk=args.topk,
            with_models=False,
        )
        print(
            f"fake artifacts: {args.users} listeners, {args.artists} artists, "
            f"{args.artists * args.tracks_per_artist} tracks, top-{args.topk} recs "
            f"({time.perf_counter() - t0:.1f} s to write)"
        )
        users = fake.users[:n_users]
        in_process(storage, users, args.builds)
        served(storage, users, args.clients, args.requests)


if __name__ == "__main__":
    main()
