"""musicrec: Last.fm listening logs + Spotify audio metadata -> artist recommendations and playlists."""

import os

# implicit's ALS wants a single BLAS thread (it parallelises itself); this must happen before numpy
# is imported anywhere, which is why it lives in the package's first module.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
# LightGBM's OpenMP threads spin while waiting; on a busy 2-core machine that made one small
# LambdaRank fit swing from 1 s to 75 s (benchmarks/README.md). Passive waiting keeps it steady.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
