"""Time ``core.model.blend`` at Last.fm-360K shape on synthetic data (no dataset needed).

Two cases, as the pipeline runs them:

* serve chunk: ``blend``, ``topk`` (k = 50) and ``blended_topk`` (both at once, what
  ``serve.rank_candidates`` runs) on one chunk of 20k listeners x 200 candidates (float32 ALS,
  float64 ranker), ``user``/``artist`` categoricals over the whole 360k-listener / 160k-artist
  vocabularies, as ``build_candidates`` writes them;
* ``choose_alpha``: 11 alphas over 60k held-out listeners x 200 candidates (the ``rerank_frame``
  columns: the float32 features + ``label`` + ``ranker_score``), ~3 labels per listener, k = 10.

Scores are rounded so that ties occur. ``--save DIR`` writes the results (Parquet / JSON), and
``--compare DIR`` checks them against a saved run (exact values, order and dtypes), e.g.
before/after a change::

    uv run python benchmarks/bench_blend.py --save /tmp/before
    uv run python benchmarks/bench_blend.py --compare /tmp/before
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import psutil

from musicrec_assets.core.model.blend import blend, blended_topk, choose_alpha, topk
from musicrec_assets.core.model.rerank_dataset import CONTENT_FEATURES as FEATURES

N_USERS, N_ARTISTS, N_CANDIDATES = 360_000, 160_000, 200
GRID = tuple(round(0.1 * i, 1) for i in range(11))
T = TypeVar("T")


def vocabularies(rng: np.random.Generator) -> tuple[pd.Index, pd.Index]:
    """Sorted 40-hex listener ids (as in Last.fm-360K) and artist names of 3-24 letters."""
    users = np.unique(np.array([rng.bytes(20).hex() for _ in range(N_USERS)]))
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz "))
    lengths = rng.integers(3, 25, size=N_ARTISTS * 2)
    chars = letters[rng.integers(0, len(letters), size=int(lengths.sum()))]
    names = np.split(chars, np.cumsum(lengths)[:-1])
    artists = np.unique(np.array(["".join(n) for n in names]))[:N_ARTISTS]
    return pd.Index(users), pd.Index(artists)


def candidates(
    rng: np.random.Generator, users: pd.Index, artists: pd.Index, n_users: int
) -> pd.DataFrame:
    """``n_users`` listeners x 200 distinct artists, rows grouped by listener, ALS order."""
    u = np.sort(rng.choice(len(users), n_users, replace=False)).astype(np.int32)
    base = rng.integers(0, len(artists), size=(n_users, 1))
    a = ((base + np.arange(N_CANDIDATES) * 797) % len(artists)).astype(np.int32).ravel()
    als = np.round(rng.random((n_users, N_CANDIDATES)), 3).astype(np.float32)
    als = -np.sort(-als, axis=1).ravel()
    return pd.DataFrame(
        {
            "user": pd.Categorical.from_codes(np.repeat(u, N_CANDIDATES), categories=users),
            "artist": pd.Categorical.from_codes(a, categories=artists),
            "als_score": als,
            "ranker_score": np.round(rng.normal(size=len(als)), 2),
        }
    )


def timed(label: str, fn: Callable[[], T], repeat: int) -> T:
    """Best wall and CPU time of ``repeat`` calls (CPU time is steadier on a shared machine) and
    the peak RSS growth during them (sampled every 5 ms)."""
    proc = psutil.Process()
    base = proc.memory_info().rss
    peak = base
    running = True

    def sample() -> None:
        nonlocal peak
        while running:
            peak = max(peak, proc.memory_info().rss)
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    best, best_cpu = float("inf"), float("inf")
    try:
        for _ in range(repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            out = fn()
            best = min(best, time.perf_counter() - t0)
            best_cpu = min(best_cpu, time.process_time() - c0)
    finally:
        running = False
        sampler.join()
    print(
        f"{label}: {best:.2f} s wall, {best_cpu:.2f} s CPU (best of {repeat}), "
        f"+{(peak - base) / 1024**3:.2f} GB peak RSS over {base / 1024**3:.2f} GB",
        flush=True,
    )
    return out


def serve_case(
    rng: np.random.Generator, users: pd.Index, artists: pd.Index, repeat: int
) -> pd.DataFrame:
    chunk = candidates(rng, users, artists, 20_000)
    score = timed("serve chunk: blend (20k x 200)", lambda: blend(chunk, 0.6), repeat)
    scored = chunk.assign(score=score.to_numpy())
    timed("serve chunk: topk (k=50)", lambda: topk(scored, "score", 50), repeat)
    return timed(
        "serve chunk: blended_topk (what rank_candidates runs)",
        lambda: blended_topk(chunk, 0.6, 50),
        repeat,
    )


def sweep_case(
    rng: np.random.Generator, users: pd.Index, artists: pd.Index, n_users: int, repeat: int
) -> dict[str, Any]:
    frame = candidates(rng, users, artists, n_users)
    codes = frame["artist"].cat.codes.to_numpy().reshape(-1, N_CANDIDATES)
    # ~3 labels per listener: one among its candidates, two elsewhere (base + 1 is never one).
    inside = codes[np.arange(len(codes)), rng.integers(0, N_CANDIDATES, len(codes))]
    outside = (codes[:, :2] + 1) % len(artists)
    listeners = frame["user"].to_numpy().reshape(-1, N_CANDIDATES)[:, 0].astype(str)
    labels = pd.DataFrame(
        {
            "user": np.repeat(listeners, 3),
            "artist": artists.to_numpy()[np.column_stack([inside, outside]).ravel()],
        }
    )
    feats = rng.random((len(frame), len(FEATURES)), dtype=np.float32)
    np.round(feats, 2, out=feats)
    frame = pd.concat(
        [
            frame[["user", "artist"]],
            pd.DataFrame({"label": np.zeros(len(frame), np.int8)}),
            pd.DataFrame(feats, columns=list(FEATURES)).assign(als_score=frame["als_score"]),
            frame[["ranker_score"]],
        ],
        axis=1,
    )
    alpha, sweep = timed(
        f"choose_alpha ({n_users // 1000}k x 200, 11 alphas, k=10)",
        lambda: choose_alpha(frame, labels, GRID, 10, n_catalogue=N_ARTISTS, users=listeners),
        repeat,
    )
    print(f"chosen alpha {alpha}")
    return {"alpha": alpha, "sweep": sweep}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--save", type=Path)
    ap.add_argument("--compare", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sweep-users", type=int, default=60_000)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    users, artists = vocabularies(rng)
    serve = serve_case(rng, users, artists, args.repeat)
    result = sweep_case(rng, users, artists, args.sweep_users, args.repeat)
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
        serve.to_parquet(args.save / "serve.parquet")
        (args.save / "sweep.json").write_text(json.dumps(result))
    if args.compare:
        ref = pd.read_parquet(args.compare / "serve.parquet")
        pd.testing.assert_frame_equal(serve, ref, check_exact=True)
        assert result == json.loads((args.compare / "sweep.json").read_text()), "sweep differs"
        print(f"identical to {args.compare}")


if __name__ == "__main__":
    main()
