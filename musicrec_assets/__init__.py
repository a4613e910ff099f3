"""musicrec: Last.fm listening logs + Spotify audio metadata -> artist recommendations and playlists."""

import os

# implicit's ALS wants a single BLAS thread (it parallelises itself); this must happen before numpy
# is imported anywhere, which is why it lives in the package's first module.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
