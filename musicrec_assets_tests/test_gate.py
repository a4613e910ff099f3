"""The paired bootstrap and the serving gate: serve the reranker only when it beats the best
single generator on validation with confidence; choose α on the extra folds."""

import numpy as np
import pandas as pd
import pytest

from musicrec_assets.core.evaluation.metrics import paired_bootstrap
from musicrec_assets.core.evaluation.protocol import split_listeners
from musicrec_assets.core.model.gate import choose_ranking

K = 5
N_CATALOGUE = 40
GRID = (0.0, 0.25, 0.5, 0.75, 1.0)


# ---------------------------------------------------------------- paired bootstrap


def test_paired_bootstrap_clearly_better_system_has_positive_lower_bound():
    rng = np.random.default_rng(0)
    b = rng.random(60)
    a = b + 0.2 + rng.normal(0, 0.05, 60)
    out = paired_bootstrap(a, b, 500, 1, confidence=0.9)
    assert out["diff"] == pytest.approx(np.mean(a - b))
    assert 0 < out["lower"] <= out["diff"] <= out["upper"]
    assert out["p_better"] == 1.0
    worse = paired_bootstrap(b, a, 500, 1, confidence=0.9)
    assert worse["upper"] < 0 and worse["p_better"] == 0.0


def test_paired_bootstrap_identical_systems_do_not_pass():
    a = np.random.default_rng(1).random(40)
    out = paired_bootstrap(a, a.copy(), 300, 2, confidence=0.9)
    assert out == {"diff": 0.0, "lower": 0.0, "upper": 0.0, "p_better": 0.0}
    assert not out["lower"] > 0


def test_paired_bootstrap_is_deterministic_for_a_seed():
    rng = np.random.default_rng(2)
    a, b = rng.random(30), rng.random(30)
    first = paired_bootstrap(a, b, 200, 5, confidence=0.9)
    assert paired_bootstrap(a, b, 200, 5, confidence=0.9) == first
    assert paired_bootstrap(a, b, 200, 6, confidence=0.9)["lower"] != first["lower"]
    # a higher confidence asks for more: its lower bound is no higher on the same resamples
    assert paired_bootstrap(a, b, 200, 5, confidence=0.99)["lower"] <= first["lower"]


def test_paired_bootstrap_noise_around_zero_does_not_pass():
    rng = np.random.default_rng(3)
    b = rng.random(50)
    a = b + rng.normal(0, 0.1, 50)
    a = a - np.mean(a - b)  # exactly zero mean difference, noisy per listener
    out = paired_bootstrap(a, b, 400, 0, confidence=0.9)
    assert out["lower"] < 0 < out["upper"]


# ---------------------------------------------------------------- the gate


def _world(seed, n_users, signal, folds=(0,), n_cands=12, n_labels=3, proposed=8):
    """Candidates of every fold and their labels. ``signal[g][fold]`` is how far generator g
    lifts the labelled artists above noise; g proposes its best ``proposed`` candidates."""
    rng = np.random.default_rng(seed)
    rows, labels = [], []
    for f in folds:
        for u in range(n_users):
            user = f"u{u:02d}"  # the same listener names in every fold
            artists = rng.choice(N_CATALOGUE, n_cands, replace=False)
            for i, a in enumerate(artists):
                rows.append((f, user, f"a{a:02d}", i < n_labels))
            labels += [(f, user, f"a{a:02d}") for a in artists[:n_labels]]
    frame = pd.DataFrame(rows, columns=["fold", "user", "artist", "label"])
    frame["fold"] = frame["fold"].astype(np.int8)
    for g, by_fold in signal.items():
        lift = frame["fold"].map(by_fold).to_numpy(dtype=float)
        score = rng.normal(size=len(frame)) + lift * frame["label"].to_numpy()
        frame[f"{g}_score"] = score
        rank = frame.assign(s=score).groupby(["fold", "user"])["s"].rank(ascending=False)
        frame[f"{g}_rank"] = rank.where(rank <= proposed).astype(float)
    labels = pd.DataFrame(labels, columns=["fold", "user", "artist"])
    labels["fold"] = labels["fold"].astype(np.int8)
    return frame, labels


def _choose(frame, oof, generators, **kw):
    args = {
        "k": K,
        "n_catalogue": N_CATALOGUE,
        "grid": GRID,
        "alpha": "auto",
        "confidence": 0.9,
        "bootstrap": 300,
        "seed": 0,
    }
    return choose_ranking(frame.drop(columns="label"), kw.pop("labels"), oof, generators, **args)


def _halves(frame, seed=0):
    """(choosing, judging) listeners, as choose_ranking splits them."""
    return split_listeners(frame["user"].astype(str).unique(), 0.5, seed)


def _ndcg_by_rank(frame, rank_col, folds=(0,), users=None):
    """Mean over listeners (each averaged over ``folds``) of NDCG@K of ranking their candidates
    by ``rank_col`` (labels are the ``label`` column, all among the candidates)."""
    per = {}
    rows_of = frame[frame["fold"].isin(folds)]
    if users is not None:
        rows_of = rows_of[rows_of["user"].isin(users)]
    for (_, user), rows in rows_of.groupby(["fold", "user"]):
        top = rows[rows[rank_col] <= K].sort_values(rank_col)
        hits = top["label"].to_numpy(dtype=float)
        dcg = (hits / np.log2(np.arange(2, len(hits) + 2))).sum()
        n_rel = min(K, int(rows["label"].sum()))
        per.setdefault(user, []).append(dcg / (1.0 / np.log2(np.arange(2, n_rel + 2))).sum())
    return float(np.mean([np.mean(v) for v in per.values()]))


def test_perfect_ranker_passes_the_gate():
    frame, labels = _world(0, 40, {"g1": {0: 1.0}, "g2": {0: 2.0}})
    perfect = frame["label"].to_numpy(dtype=float)
    out = _choose(frame, {"binary": perfect}, ("g1", "g2"), labels=labels)
    assert out["gate_folds"] == [0] and out["folds"] == 1
    assert out["best_generator"] == out["base"] == "g2"
    assert out["blend_alpha"] > 0
    assert out["gate"]["reranked_ndcg"] == pytest.approx(1.0)
    assert out["gate"]["best_ndcg"] < 0.95
    assert out["gate"]["lower"] > 0 and out["gate"]["passed"]
    assert out["use_ranker"] is True and out["served"] == "reranked"
    # half the listeners choose α and the objective, the other half judge
    assert out["gate"]["listeners"] == out["choice_listeners"] == 20


def _noise_case(seed):
    """Few listeners (8, 4 folds): generators of some quality, a pure-noise ranker."""
    folds = (0, 1, 2, 3)
    signal = {g: dict.fromkeys(folds, s) for g, s in {"g1": 0.5, "g2": 1.5, "g3": 1.0}.items()}
    frame, labels = _world(seed, 8, signal, folds=folds)
    noise = np.random.default_rng(100 + seed).normal(size=len(frame))
    return _choose(frame, {"binary": noise}, ("g1", "g2", "g3"), labels=labels)


@pytest.mark.parametrize("seed", range(6))
def test_noise_ranker_with_few_listeners_falls_back_to_the_best_generator(seed):
    out = _noise_case(seed)
    assert out["gate_folds"] == [1, 2, 3]
    ndcg = out["generators_val_ndcg"]
    assert out["best_generator"] == max(ndcg, key=ndcg.get) != "g1"  # g1 is the weakest
    assert out["gate"]["passed"] is False and out["use_ranker"] is False
    assert out["served"] == out["best_generator"]


def test_best_generator_uses_every_fold_and_the_gate_the_untuned_folds():
    # g1 ranks well on fold 0 only (where the settings were searched), g2 on folds 1 and 2
    signal = {"g1": {0: 3.0, 1: 0.0, 2: 0.0}, "g2": {0: 0.0, 1: 3.0, 2: 3.0}}
    frame, labels = _world(1, 30, signal, folds=(0, 1, 2))
    out = _choose(frame, {"binary": frame["label"].to_numpy(float)}, ("g1", "g2"), labels=labels)
    hand = {g: _ndcg_by_rank(frame, f"{g}_rank", (0, 1, 2)) for g in ("g1", "g2")}
    assert out["generators_val_ndcg"] == pytest.approx(hand)
    assert hand["g2"] > hand["g1"]
    assert out["best_generator"] == out["base"] == out["gate"]["best_generator"] == "g2"
    _, judges = _halves(frame)  # the gate compares on the judging half, folds 1 and 2 only
    assert out["gate"]["best_ndcg"] == pytest.approx(
        _ndcg_by_rank(frame, "g2_rank", (1, 2), judges)
    )


def test_too_few_listeners_never_serve_the_reranker():
    frame, labels = _world(0, 40, {"g1": {0: 1.0}, "g2": {0: 2.0}})
    perfect = frame["label"].to_numpy(dtype=float)
    args = {"k": K, "n_catalogue": N_CATALOGUE, "grid": GRID, "alpha": "auto"}
    args |= {"confidence": 0.9, "bootstrap": 300, "seed": 0}
    served = {}
    for least in (20, 21):
        out = choose_ranking(
            frame.drop(columns="label"),
            labels,
            {"binary": perfect},
            ("g1", "g2"),
            min_listeners=least,
            **args,
        )
        assert out["gate"]["lower"] > 0 and out["gate"]["listeners"] == 20  # clearly better
        served[least] = out["served"]
    assert served == {20: "reranked", 21: "g2"}  # but never judged by fewer than the minimum


def test_alpha_and_objective_are_chosen_on_the_other_half_of_the_listeners():
    # the ranker is perfect for the choosing half and exactly wrong for the judging half
    frame, labels = _world(2, 30, {"g1": {0: 2.0, 1: 2.0, 2: 2.0}}, folds=(0, 1, 2))
    choosers, _ = _halves(frame)
    label = frame["label"].to_numpy(dtype=float)
    ranker = np.where(frame["user"].isin(choosers), label, -label)
    out = _choose(frame, {"binary": ranker, "lambdarank": -ranker}, ("g1",), labels=labels)
    assert out["folds"] == 3 and out["gate_folds"] == [1, 2]
    assert out["objective"] == "binary" and out["blend_alpha"] > 0
    sweep = {row["alpha"]: row["ndcg"] for row in out["objectives"]["binary"]["sweep"]}
    assert sweep[1.0] == pytest.approx(1.0)  # perfect on the half it was chosen on
    assert sweep[0.0] == pytest.approx(_ndcg_by_rank(frame, "g1_rank", (1, 2), choosers), rel=0.05)
    # judged on the other half, where that ranker is wrong, the gate falls back
    assert out["gate"]["reranked_ndcg"] < out["gate"]["best_ndcg"]
    assert out["gate"]["passed"] is False and out["served"] == "g1"


def test_fixed_alpha_is_used_and_a_single_fold_is_judged_on_fold_zero():
    frame, labels = _world(3, 30, {"g1": {0: 1.0}})
    perfect = frame["label"].to_numpy(dtype=float)
    out = choose_ranking(
        frame.drop(columns="label"),
        labels,
        {"binary": perfect},
        ("g1",),
        k=K,
        n_catalogue=N_CATALOGUE,
        grid=GRID,
        alpha=0.6,
        confidence=0.9,
        bootstrap=300,
        seed=0,
    )
    assert out["gate_folds"] == [0]
    assert out["alpha_mode"] == "fixed" and out["blend_alpha"] == 0.6
    assert 0.6 in [row["alpha"] for row in out["objectives"]["binary"]["sweep"]]
    assert out["served"] == "reranked"
