"""Item features and listener profiles: keyed by artist, standardised, NaN when unknown."""

import numpy as np
import pandas as pd
import pytest

from musicrec_assets.core.errors import InputError
from musicrec_assets.core.model.features import Z_COLUMNS, item_features, user_profiles
from musicrec_assets.core.schema import AUDIO_FEATURES


def _vectors():
    rows = {
        "artist_id": ["sp1", "sp2", "sp3", "spX"],
        "artist_name": ["A", "B", "Zed", "Nobody"],
        "n_tracks": [3.0, 2.0, 1.0, 1.0],
        "popularity": [60.0, 40.0, 10.0, 5.0],
        "explicit": [0.0, 1.0, 0.5, 0.0],
        "genres": [["rock", "pop"], ["pop"], [], ["jazz"]],
        "genre_shares": [[0.7, 0.3], [1.0], [], [1.0]],
        "top_genres": ["rock, pop", "pop", "", "jazz"],
    }
    df = pd.DataFrame(rows)
    for f in AUDIO_FEATURES:
        df[f] = [0.2, 0.8, 0.5, 99.0]
    df["tempo"] = [100.0, 140.0, 120.0, 500.0]
    df["valence"] = [0.2, 0.8, 0.5, 0.0]
    return df


def _catalog():
    return pd.DataFrame(
        {
            "artist_name": ["A", "a ", "B", "C", "Zed"],
            "artist": ["A", "A", "B", "C", "Zed"],
            "spotify_id": ["sp1", "sp1", "sp2", None, "sp3"],
            "match": ["exact", "normalised", "exact", "none", "exact"],
        }
    )


def _plays():
    return pd.DataFrame(
        {
            "user": ["u1", "u1", "u1", "u2"],
            "artist": ["A", "B", "C", "C"],
            "plays": [9, 1, 3, 5],
        }
    )


def test_item_features_are_keyed_by_artist_and_standardised():
    it = item_features(_plays(), _vectors(), _catalog()).set_index("artist")
    assert list(it.index) == ["A", "B", "C", "Zed"]
    assert it["has_spotify"].tolist() == [True, True, False, True]
    # z over the three linked Spotify artists (spX is not in the catalogue): mean 120, sd 16.33
    sd = np.sqrt((20**2 + 20**2) / 3)
    assert it.loc["A", "z_tempo"] == pytest.approx(-20 / sd, rel=1e-5)
    assert it.loc["Zed", "z_tempo"] == pytest.approx(0.0, abs=1e-6)
    assert np.isnan(it.loc["C", "z_tempo"]) and not it.loc["C", "has_audio"]
    assert it.loc["A", "tempo"] == 100.0
    assert "z_key" not in it.columns and len(Z_COLUMNS) == len(AUDIO_FEATURES) - 1
    assert it["pop_listeners"].tolist() == [1, 1, 2, 0]
    assert it.loc["C", "pop_plays"] == 8 and it.loc["C", "log_pop_plays"] == pytest.approx(
        np.log1p(8)
    )
    assert list(it.loc["A", "genres"]) == ["rock", "pop"] and len(it.loc["C", "genres"]) == 0


def test_artist_with_two_spotify_ids_is_an_input_error():
    cat = _catalog()
    cat.loc[1, "spotify_id"] = "sp2"
    with pytest.raises(InputError, match="more than one spotify_id"):
        item_features(_plays(), _vectors(), cat)


def test_user_profiles_are_play_weighted_over_artists_with_features():
    it = item_features(_plays(), _vectors(), _catalog())
    up = user_profiles(_plays(), it).set_index("user")
    wa, wb = np.log1p(9), np.log1p(1)
    assert up.loc["u1", "tempo"] == pytest.approx((wa * 100 + wb * 140) / (wa + wb))
    assert up.loc["u1", "feature_share"] == pytest.approx(2 / 3)
    assert up.loc["u1", "n_artists"] == 3 and up.loc["u1", "total_plays"] == 13
    assert up.loc["u1", "mean_plays"] == pytest.approx(13 / 3)
    assert np.isnan(up.loc["u2", "tempo"]) and np.isnan(up.loc["u2", "z_energy"])
    assert up.loc["u2", "feature_share"] == 0
    rock, pop = 0.7 * wa, 0.3 * wa + wb
    p = np.array([rock, pop]) / (rock + pop)  # rock 1.61 > pop 1.38
    assert list(up.loc["u1", "genres"]) == ["rock", "pop"]
    np.testing.assert_allclose(up.loc["u1", "genre_shares"], p)
    assert up.loc["u1", "genre_entropy"] == pytest.approx(-(p * np.log2(p)).sum())
    assert up.loc["u1", "top_genres"] == "rock, pop"
    assert up.loc["u2", "top_genres"] == "" and up.loc["u2", "genre_entropy"] == 0


def test_profiles_only_see_the_given_interactions():
    it = item_features(_plays(), _vectors(), _catalog())
    one = user_profiles(_plays().iloc[:1], it).set_index("user")
    assert one.loc["u1", "tempo"] == 100.0 and list(one.index) == ["u1"]
