"""The vectorised blend, top-K, α sweep and metrics against plain pandas references.

Random frames with tied and NaN scores, listeners of very different sizes, rows in any order,
and ids as strings, objects or categoricals (sorted or not, with unused categories): results
must equal the reference exactly and must not depend on how the ids are encoded.
"""

import math

import numpy as np
import pandas as pd
import pytest

from musicrec_assets.core.evaluation.metrics import METRICS, evaluate_topk, relevant_sets
from musicrec_assets.core.model import blend as B

POOL = np.array([f"a{j:02d}" for j in range(40)])
IDS = ("str", "object", "category", "category_unsorted")
SHAPES = ("grouped", "shuffled", "skewed")

# --- references: the obvious pandas code -----------------------------------------------------


def ref_normalise(df, col, user_col="user"):
    x = df[col].astype(np.float64)
    g = x.groupby(df[user_col].astype(str).to_numpy())
    lo, hi = g.transform("min"), g.transform("max")
    span = hi - lo
    out = ((x - lo) / span.where(span > 0, 1.0)).where(span > 0, B.CONSTANT_SCORE)
    return out.where(x.notna()).rename(col)


def ref_blend(df, alpha):
    als = ref_normalise(df, "als_score")
    if alpha == 0:
        return als.rename("score")
    ranker = ref_normalise(df, "ranker_score")
    return (alpha * ranker + (1.0 - alpha) * als).where(ranker.notna(), als).rename("score")


def ref_topk(df, score_col, k, user_col="user"):
    t = df.reset_index(drop=True)
    s = t[score_col].astype(np.float64)
    keys = pd.DataFrame(
        {"u": t[user_col].astype(str), "nan": s.isna(), "neg": -s, "a": t["artist"].astype(str)}
    )
    out = t.loc[keys.sort_values(["u", "nan", "neg", "a"]).index].reset_index(drop=True)
    rank = out.groupby(out[user_col].astype(str), sort=False).cumcount().to_numpy() + 1
    out = out[rank <= k].reset_index(drop=True)
    out.insert(1, "rank", rank[rank <= k].astype(np.int32))
    out["user"] = out[user_col].astype(str)
    out["artist"] = out["artist"].astype(str)
    if score_col != "score":
        out["score"] = out[score_col]
    rest = [c for c in out.columns if c not in ("user", "rank", "artist", "score")]
    return out[["user", "rank", "artist", "score", *rest]]


def ref_choose_alpha(df, labels, grid, k, n_catalogue, users):
    sweep = []
    for alpha in grid:
        ranked = ref_topk(df.assign(score=ref_blend(df, alpha).to_numpy()), "score", k)
        m = evaluate_topk(ranked, labels, k, n_catalogue, users=users)
        sweep.append({"alpha": alpha, **{n: m[n] for n in ("ndcg", "map", "recall")}})
    best = max(range(len(sweep)), key=lambda j: (sweep[j]["ndcg"], -sweep[j]["alpha"]))
    return sweep[best]["alpha"], sweep


def ref_metrics(ranked, labels, k, n_catalogue, users):
    """Listener by listener, straight from the definitions in ``metrics``."""
    lab = labels.astype(str)
    per = {m: [] for m in METRICS}
    shown = set()
    for u in sorted(users):
        truth = set(lab.loc[lab["user"] == u, "artist"])
        mine = ranked[(ranked["user"].astype(str) == u).to_numpy() & (ranked["rank"] <= k)]
        top = list(dict.fromkeys(mine.sort_values("rank", kind="stable")["artist"].astype(str)))
        top = top[:k]
        shown |= set(top)
        hits = [a in truth for a in top]
        found = np.cumsum(hits)
        denom = min(k, len(truth))
        per["precision"].append(sum(hits) / k)
        per["recall"].append(sum(hits) / len(truth))
        per["map"].append(sum(found[r] / (r + 1) for r, h in enumerate(hits) if h) / denom)
        dcg = sum(1 / math.log2(r + 2) for r, h in enumerate(hits) if h)
        per["ndcg"].append(dcg / sum(1 / math.log2(r + 2) for r in range(denom)))
        per["hit_rate"].append(float(any(hits)))
    return {m: np.mean(v) for m, v in per.items()} | {"coverage": len(shown) / n_catalogue}


# --- random inputs ---------------------------------------------------------------------------


def encode(values, ids, rng):
    if ids == "object":
        return values.astype(object)
    if ids == "category":
        return pd.Categorical(values)
    if ids == "category_unsorted":
        cats = np.unique(np.r_[values.astype(str), ["zz_unused", "0_unused"]])
        return pd.Categorical(values, categories=rng.permutation(cats))
    return values


def random_frame(seed, ids, shape):
    """Candidates with ties, NaN rankers, constant and all-NaN listeners, repeated pairs."""
    rng = np.random.default_rng(seed)
    n_users = 25
    # 6-12 rows each keeps the padded matrix within MAX_PADDING; one huge listener does not.
    sizes = rng.integers(6, 13, n_users)
    if shape == "skewed":
        sizes[0] = 120
    users = np.repeat([f"u{i:02d}" for i in rng.permutation(n_users)], sizes)
    artists = np.concatenate([rng.choice(POOL, s, replace=s > len(POOL)) for s in sizes])
    artists[rng.random(len(artists)) < 0.05] = "a00"  # repeated (user, artist) pairs
    als = np.round(rng.random(len(users)), 1).astype(np.float32)
    ranker = np.round(rng.normal(size=len(users)), 1)
    ranker[rng.random(len(users)) < 0.2] = np.nan
    als[users == users[0]] = 0.3  # a constant listener
    ranker[users == users[-1]] = np.nan  # a listener the ranker knows nothing about
    df = pd.DataFrame(
        {
            "user": users,
            "artist": artists,
            "als_score": als,
            "ranker_score": ranker,
            "row": np.arange(len(users)),
        }
    )
    if shape != "grouped":
        df = df.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    df["user"] = encode(df["user"].to_numpy(), ids, rng)
    df["artist"] = encode(df["artist"].to_numpy(), ids, rng)
    return df


def random_labels(seed, df):
    rng = np.random.default_rng(seed + 1)
    users = np.unique(df["user"].astype(str))
    chosen = rng.choice(users, len(users) - 3, replace=False)
    return pd.DataFrame({"user": np.repeat(chosen, 3), "artist": rng.choice(POOL, 3 * len(chosen))})


CASES = [(seed, ids, shape) for seed in range(2) for ids in IDS for shape in SHAPES]


@pytest.mark.parametrize(("seed", "ids", "shape"), CASES)
def test_normalise_and_blend_equal_the_groupby_reference(seed, ids, shape):
    df = random_frame(seed, ids, shape)
    for col in ("als_score", "ranker_score"):
        pd.testing.assert_series_equal(
            B.normalise_per_user(df, col), ref_normalise(df, col), check_exact=True
        )
    for alpha in (0.0, 0.3, 1.0):
        pd.testing.assert_series_equal(B.blend(df, alpha), ref_blend(df, alpha), check_exact=True)


@pytest.mark.parametrize(("seed", "ids", "shape"), CASES)
def test_topk_and_blended_topk_equal_the_sorting_reference(seed, ids, shape):
    df = random_frame(seed, ids, shape)
    for k in (0, 1, 3, 10, 500):  # none, a partition of the padded matrix, everything
        for col in ("als_score", "ranker_score"):
            pd.testing.assert_frame_equal(
                B.topk(df, col, k), ref_topk(df, col, k), check_exact=True
            )
        want = ref_topk(df.assign(score=ref_blend(df, 0.6).to_numpy()), "score", k)
        pd.testing.assert_frame_equal(B.blended_topk(df, 0.6, k), want, check_exact=True)


def test_random_frames_take_both_top_k_strategies():
    for shape, padded in (("grouped", True), ("skewed", False)):
        df = random_frame(0, "str", shape)
        users, artists = B.sorted_codes(df["user"])[0], B.sorted_codes(df["artist"])[0]
        assert (B._groups(users, artists).cells is not None) == padded


@pytest.mark.parametrize("shape", SHAPES)
def test_results_do_not_depend_on_the_id_encoding(shape):
    frames = [random_frame(7, ids, shape) for ids in IDS]
    want = B.blended_topk(frames[0], 0.4, 4)
    for df in frames[1:]:
        pd.testing.assert_frame_equal(B.blended_topk(df, 0.4, 4), want, check_exact=True)


@pytest.mark.parametrize("ids", IDS)
@pytest.mark.parametrize("shape", SHAPES)
def test_choose_alpha_equals_the_reference_sweep(ids, shape):
    df = random_frame(5, ids, shape)
    labels = random_labels(5, df)
    users = np.unique(labels["user"])
    grid = (0.0, 0.3, 1.0)
    for k in (1, 5):
        want = ref_choose_alpha(df, labels, grid, k, 40, users)
        assert B.choose_alpha(df, labels, grid, k, n_catalogue=40, users=users) == want
    assert B.choose_alpha(df, labels, grid, 5, n_catalogue=40) == want


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize("ids", IDS)
def test_evaluate_topk_equals_the_per_listener_definitions(seed, ids):
    rng = np.random.default_rng(seed)
    df = random_frame(seed, "str", "shuffled")
    labels = random_labels(seed, df)
    ranked = B.topk(df, "als_score", 8)[["user", "rank", "artist"]]
    ranked = ranked.assign(rank=np.where(rng.random(len(ranked)) < 0.1, 99, ranked["rank"]))
    ranked = pd.concat([ranked, ranked.sample(10, random_state=seed)], ignore_index=True)
    ranked["user"] = encode(ranked["user"].to_numpy(), ids, rng)
    ranked["artist"] = encode(ranked["artist"].to_numpy(), ids, rng)
    users = np.unique(labels["user"])
    prepared = relevant_sets(labels, users)
    for k in (1, 3, 8):
        want = ref_metrics(ranked, labels, k, 40, users)
        got = evaluate_topk(ranked, labels, k, 40, users=users)
        assert {m: got[m] for m in want} == pytest.approx(want, rel=1e-12, abs=1e-15)
        again = evaluate_topk(ranked, prepared, k, 40)
        assert {m: again[m] for m in want} == {m: got[m] for m in want}
        for m in METRICS:
            np.testing.assert_array_equal(again["per_user"][m], got["per_user"][m])
    with pytest.raises(ValueError, match="fixed"):
        evaluate_topk(ranked, prepared, 3, 40, users=users)


# --- the documented tie-break ----------------------------------------------------------------


@pytest.mark.parametrize("extra", [0, 200])
def test_ties_go_to_the_artist_key_and_nan_last_whatever_the_category_order(extra):
    """Score descending, artist string ascending, NaN last; listeners in string order.

    ``extra`` adds a wide listener, so the flat-sort strategy is checked as well as the matrix.
    """
    rows = [
        ("v", "d", 1.0),
        ("v", "b", 1.0),
        ("v", "c", 2.0),
        ("v", "a", 1.0),
        ("v", "e", np.nan),
        ("v", "f", -0.0),
        ("v", "g", 0.0),
        ("u", "x", np.nan),
        ("u", "y", 0.0),
    ]
    rows += [("w", f"z{i:03d}", 0.0) for i in range(extra)]
    df = pd.DataFrame(rows, columns=["user", "artist", "score"])
    want = {"u": ["y", "x"], "v": ["c", "a", "b", "d", "f", "g", "e"]}
    for users in (df["user"], pd.Categorical(df["user"], categories=["w", "v", "u", "t"])):
        for artists in (
            df["artist"],
            pd.Categorical(df["artist"], categories=sorted(set(df["artist"]), reverse=True)),
        ):
            out = B.topk(df.assign(user=users, artist=artists), "score", 7)
            assert out["user"].unique().tolist()[:2] == ["u", "v"]
            for user, artists_in_order in want.items():
                got = out[out["user"] == user]
                assert got["artist"].tolist() == artists_in_order
                assert got["rank"].tolist() == list(range(1, len(artists_in_order) + 1))
