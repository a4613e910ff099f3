"""Keys as integer codes: the same answer for plain strings and categoricals of any order."""

import numpy as np
import pandas as pd

from musicrec_assets.core import grouping
from musicrec_assets.core.ids import (
    as_sorted_categorical,
    codes_in,
    factorize_sorted,
    frame_keys,
    shared_codes,
)

VALUES = ["b", "a", "Zed", "b", "é", "a", "ß", "10", "9"]


def _expected():
    return np.unique(np.asarray(VALUES, dtype=str), return_inverse=True)


def test_factorize_sorted_matches_np_unique_for_strings():
    vocab, codes = _expected()
    got_codes, got_vocab = factorize_sorted(pd.Series(VALUES))
    assert got_vocab.tolist() == vocab.tolist()
    assert got_codes.tolist() == codes.tolist()


def test_factorize_sorted_categorical_unsorted_and_unused_categories():
    vocab, codes = _expected()
    cats = ["é", "unused", "b", "ß", "a", "9", "Zed", "10"]
    s = pd.Series(pd.Categorical(VALUES, categories=cats))
    got_codes, got_vocab = factorize_sorted(s)
    assert got_vocab.tolist() == vocab.tolist()  # "unused" dropped, string order
    assert got_codes.tolist() == codes.tolist()
    # a slice keeps every category but only some values
    part_codes, part_vocab = factorize_sorted(s.iloc[:3])
    assert part_vocab.tolist() == ["Zed", "a", "b"] and part_codes.tolist() == [2, 1, 0]


def test_codes_in_and_sorted_categorical_agree_with_strings():
    vocab = pd.Index(["a", "b", "x"])
    plain = codes_in(vocab, pd.Series(VALUES))
    cat = codes_in(vocab, pd.Series(pd.Categorical(VALUES, categories=sorted(set(VALUES))[::-1])))
    assert plain.tolist() == cat.tolist() == [1, 0, -1, 1, -1, 0, -1, -1, -1]
    enc = as_sorted_categorical(pd.Series(VALUES))
    assert list(enc.categories) == sorted(set(VALUES))
    assert np.asarray(enc).tolist() == VALUES


def test_frame_keys_agree_across_encodings_and_missing_values_match_each_other():
    left = pd.DataFrame({"user": ["u", "v", None, "u"], "artist": ["a", "b", "a", "b"]})
    right = pd.DataFrame({"user": ["v", None, "w", "u"], "artist": ["b", "a", "a", "a"]})
    expected = [
        [False, False, False, True],
        [True, False, False, False],
        [False, True, False, False],
        [False, False, False, False],
    ]
    cat = pd.CategoricalDtype(["zz", "w", "v", "u"])  # another order, one category unused
    for a, b in [
        (left, right),
        (left.astype(object), right.astype(object)),
        (left, right.astype({"user": cat, "artist": "category"})),
        (left.astype("category"), right.astype({"user": cat})),
        (
            left.astype({"user": cat}),
            right.astype({"user": pd.CategoricalDtype(cat.categories[::-1])}),
        ),
    ]:
        lk, rk = frame_keys([a, b])
        assert (lk[:, None] == rk[None, :]).tolist() == expected
        assert grouping.keys_in(lk, rk).tolist() == [True, True, True, False]
    (codes,), vocab = shared_codes([pd.Series(pd.Categorical(["b", None], categories=["a", "b"]))])
    assert codes.tolist() == [1, -1] and vocab.tolist() == ["a", "b"]
