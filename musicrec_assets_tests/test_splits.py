"""The per-listener split (docs/architecture.md, Evaluation protocol)."""

import numpy as np
import pandas as pd
import pytest

from musicrec_assets.core.splits import split_interactions


def _plays(n_users=20, per_user=(2, 30), timed=True, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        n = int(rng.integers(*per_user))
        for a in rng.choice(200, size=n, replace=False):
            t = pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(days=int(rng.integers(0, 365)))
            rows.append((f"u{u}", f"a{a}", int(rng.integers(1, 50)), t if timed else pd.NaT))
    df = pd.DataFrame(rows, columns=["user", "artist", "plays", "first_played"])
    df["last_played"] = df["first_played"]
    return df


def test_temporal_split_holds_out_each_listeners_latest_artists():
    plays = _plays()
    out, method = split_interactions(plays, method="auto", val=0.1, test=0.2, min_artists=5)
    assert method == "temporal"
    assert len(out) == len(plays) and not out.duplicated(["user", "artist"]).any()
    for _user, g in out.groupby("user"):
        n = len(g)
        if n < 5:
            assert (g["split"] == "train").all()
            continue
        assert (g["split"] == "test").sum() == max(1, round(n * 0.2))
        assert (g["split"] == "val").sum() == max(1, round(n * 0.1))
        # every test artist was first played no earlier than every train/val artist
        assert (
            g.loc[g["split"] == "test", "first_played"].min()
            >= g.loc[g["split"] != "test", "first_played"].max()
        )
        assert (
            g.loc[g["split"] == "val", "first_played"].min()
            >= g.loc[g["split"] == "train", "first_played"].max()
        )


def test_random_split_without_timestamps_is_seeded():
    plays = _plays(timed=False)
    a, method = split_interactions(plays, seed=1)
    b, _ = split_interactions(plays, seed=1)
    c, _ = split_interactions(plays, seed=2)
    assert method == "random"
    pd.testing.assert_frame_equal(a, b)
    assert not a["split"].equals(c["split"])


def test_bad_shares_are_rejected():
    with pytest.raises(ValueError, match="split shares"):
        split_interactions(_plays(), val=0.5, test=0.6)
