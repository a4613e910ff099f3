"""The one evaluator: standard definitions, checked against hand-computed values."""

import numpy as np
import pandas as pd
import pytest

from musicrec_assets.core.evaluation.metrics import bootstrap_ci, evaluate_topk, pair_isin

L2, L3, L4 = np.log2(2.0), np.log2(3.0), np.log2(4.0)


def _topk(rows):
    return pd.DataFrame(rows, columns=["user", "rank", "artist"])


def _rel(pairs):
    return pd.DataFrame(pairs, columns=["user", "artist"])


def _example():
    # A: |T| = 4, list a x b (hits at 1 and 3); B: |T| = 1, no list at all; C: |T| = 1, hit at 2.
    top = _topk(
        [("A", 1, "a"), ("A", 2, "x"), ("A", 3, "b"), ("C", 1, "q"), ("C", 2, "z"), ("C", 3, "r")]
    )
    rel = _rel([("A", "a"), ("A", "b"), ("A", "c"), ("A", "d"), ("B", "y"), ("C", "z")])
    return top, rel


def test_hand_computed_example():
    top, rel = _example()
    m = evaluate_topk(top, rel, k=3, n_catalogue=12)
    pu = m["per_user"]
    assert list(pu["user"]) == ["A", "B", "C"]
    np.testing.assert_allclose(pu["precision"], [2 / 3, 0, 1 / 3])
    np.testing.assert_allclose(pu["recall"], [2 / 4, 0, 1])
    # AP divided by min(K, |T|): A -> (1/1 + 2/3) / 3, C -> (1/2) / 1
    np.testing.assert_allclose(pu["map"], [(1 + 2 / 3) / 3, 0, 0.5])
    idcg_a = 1 / L2 + 1 / L3 + 1 / L4
    np.testing.assert_allclose(pu["ndcg"], [(1 / L2 + 1 / L4) / idcg_a, 0, (1 / L3) / 1])
    np.testing.assert_allclose(pu["hit_rate"], [1, 0, 1])
    assert m["users_evaluated"] == 3 and m["k"] == 3
    assert m["precision"] == pytest.approx((2 / 3 + 1 / 3) / 3)
    assert m["coverage"] == pytest.approx(6 / 12)  # a x b q z r


def test_standard_and_seed_formulas_differ_and_map_stays_below_precision():
    top, rel = _example()
    m = evaluate_topk(top, rel, k=3, n_catalogue=12, users=["A"])
    # the seed's definitions: AP / hits found, IDCG from the list's own labels.
    seed_ap = (1 + 2 / 3) / 2
    seed_ndcg = (1 / L2 + 1 / L4) / (1 / L2 + 1 / L3)
    assert m["map"] == pytest.approx((1 + 2 / 3) / 3)
    assert m["map"] != pytest.approx(seed_ap)
    assert m["ndcg"] != pytest.approx(seed_ndcg)
    assert seed_ap > m["precision"] >= m["map"]  # the seed's impossible MAP > P


def test_map_never_exceeds_precision_when_enough_relevant_items():
    rng = np.random.default_rng(3)
    k, rows, rel = 10, [], []
    for u in range(200):
        truth = rng.choice(100, size=rng.integers(k, 30), replace=False)
        rel += [(f"u{u}", f"a{a}") for a in truth]
        rows += [(f"u{u}", r + 1, f"a{a}") for r, a in enumerate(rng.permutation(100)[:k])]
    m = evaluate_topk(_topk(rows), _rel(rel), k=k, n_catalogue=100)
    assert np.all(m["per_user"]["map"] <= m["per_user"]["precision"] + 1e-12)
    assert 0 < m["map"] <= m["precision"]


def test_ranks_beyond_k_and_other_users_are_ignored():
    top = _topk([("A", 1, "x"), ("A", 2, "a"), ("Z", 1, "a")])
    rel = _rel([("A", "a"), ("Z", "a")])
    m = evaluate_topk(top, rel, k=1, n_catalogue=5, users=["A"])
    assert m["precision"] == 0 and m["users_evaluated"] == 1
    assert m["coverage"] == pytest.approx(1 / 5)


def test_users_without_relevant_items_are_rejected():
    top, rel = _example()
    with pytest.raises(ValueError, match="no relevant"):
        evaluate_topk(top, rel, k=3, n_catalogue=12, users=["A", "nobody"])


def test_categorical_input_gives_the_same_numbers():
    top, rel = _example()
    cat = top.assign(user=top["user"].astype("category"), artist=top["artist"].astype("category"))
    a = evaluate_topk(top, rel, 3, 12)
    b = evaluate_topk(cat, rel, 3, 12)
    for name in ("precision", "recall", "map", "ndcg", "hit_rate", "coverage"):
        assert a[name] == pytest.approx(b[name])


def test_pair_isin():
    left = _rel([("u", "a"), ("u", "b"), ("v", "a"), ("w", "zz")])
    right = _rel([("u", "a"), ("v", "a"), ("v", "b")])
    assert pair_isin(left, right).tolist() == [True, False, True, False]


def test_bootstrap_ci_brackets_the_mean_and_is_seeded():
    values = np.random.default_rng(0).random(500)
    lo, hi = bootstrap_ci(values, 400, seed=7)
    assert lo < values.mean() < hi
    assert hi - lo < 0.2
    assert bootstrap_ci(values, 400, seed=7) == [lo, hi]
    assert bootstrap_ci(np.array([0.3]), 10, seed=1) == pytest.approx([0.3, 0.3])
