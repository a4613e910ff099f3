"""Ordered, bounded thread parallelism for chunked batch work on a small machine.

Chunk kernels are numpy/pyarrow/implicit/LightGBM calls that release the GIL, so two threads
keep both cores busy where one left one idle; results come back in input order, so outputs are
the same as a plain loop's, and only a few chunks are in flight, so memory stays bounded.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

# The machine's cores (those this process may run on): the default thread count of every stage.
# A config's top-level ``threads`` overrides it (``Config.num_threads``); LightGBM's and ALS's
# results can depend on it, so pin it to reproduce another machine's artifacts byte for byte.
THREADS: int = (
    len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
)

T = TypeVar("T")
R = TypeVar("R")


def ordered_map(fn: Callable[[T], R], items: Iterable[T], *, workers: int = THREADS) -> Iterator[R]:
    """``map(fn, items)`` on ``workers`` threads, in order, at most ``workers + 1`` pending.

    ``items`` is consumed on the calling thread, so a generator that does heavy work (e.g. the
    next chunk's candidates) overlaps with ``fn`` on the previous ones. ``workers <= 0`` runs
    the plain loop.
    """
    if workers <= 0:
        yield from map(fn, items)
        return
    with ThreadPoolExecutor(workers, thread_name_prefix="musicrec-chunk") as pool:
        pending: deque[Future[R]] = deque()
        try:
            for item in items:
                pending.append(pool.submit(fn, item))
                if len(pending) > workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()
