"""Matching rules, artist vectors and plays on the messy cases real catalogues have."""

import numpy as np
import pandas as pd
import pytest

from musicrec_assets.core.catalog import (
    build_artist_catalog,
    build_artist_vectors,
    build_user_artist_plays,
)
from musicrec_assets.core.names import normalise_names
from musicrec_assets.core.schema import AUDIO_FEATURES


def _tracks(rows):
    df = pd.DataFrame(
        rows, columns=["track_id", "artist_ids", "artist_names", "tempo", "valence", "explicit"]
    )
    for col in AUDIO_FEATURES:
        if col not in df:
            df[col] = 0.5
    df["track_name"] = df["track_id"]
    df["popularity"] = 50.0
    df["release_year"] = 2000.0
    return df


def _artists(rows):
    df = pd.DataFrame(
        rows, columns=["artist_id", "artist_name", "genres", "popularity", "followers"]
    )
    df["n_tracks"] = np.nan
    for col in AUDIO_FEATURES:
        df[col] = np.nan
    return df


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("The Beatles", "beatles"),
        ("Beyoncé", "BEYONCE"),
        ("AC/DC", "ACDC"),
        ("Go‐Go’s", "The Go-Go's"),
        ("Simon & Garfunkel", "simon and garfunkel"),
        ("  Sigur  Rós ", "sigur ros"),
    ],
)
def test_normalised_names_match(a, b):
    key = normalise_names(pd.Series([a, b]))
    assert key[0] == key[1]


def test_distinct_names_stay_distinct():
    key = normalise_names(pd.Series(["Gala", "Sigala", "!!!", "ПОШЛАЯ МОЛЛИ", "The The"]))
    assert key.nunique() == 5
    assert key[2] == "!!!" and key[3] == "пошлаямолли"


TRACKS = _tracks(
    [
        ("t1", ["a1"], ["Beyoncé"], 100.0, 0.8, 0),
        ("t2", ["a1", "a2"], ["Beyoncé", "Jay"], 120.0, 0.6, 1),  # featured credit
        ("t3", ["a2"], ["Jay"], np.nan, 0.2, 1),  # missing tempo
        ("t4", ["n1"], ["Nirvana"], 150.0, 0.3, 0),
        ("t5", ["n2"], ["Nirvana"], 90.0, 0.5, 0),
        ("t6", ["x9"], ["Only In Tracks"], 80.0, 0.1, 0),
    ]
)
ARTISTS = _artists(
    [
        ("a1", "Beyoncé", ["pop", "r&b", "dance pop"], 90.0, 1e6),
        ("a2", "Jay", [], 80.0, 5e5),
        ("n1", "Nirvana", ["grunge"], 85.0, 2e6),  # the famous namesake
        ("n2", "Nirvana", ["psych"], 20.0, 1e3),
        ("q1", "The Killers", ["rock"], 70.0, 1e5),
    ]
)


def test_artist_vectors_count_featured_credits_and_skip_missing_values():
    vec, counts = build_artist_vectors(TRACKS, ARTISTS)
    vec = vec.set_index("artist_id")
    assert vec.loc["a1", "n_tracks"] == 2  # solo + featured
    assert vec.loc["a1", "tempo"] == pytest.approx(110.0)
    assert vec.loc["a2", "tempo"] == pytest.approx(120.0)  # NaN skipped, not zero
    assert vec.loc["a2", "explicit"] == pytest.approx(1.0)
    assert "x9" in vec.index and vec.loc["x9", "artist_name"] == "Only In Tracks"
    assert not vec.loc["q1", "has_audio"]  # in the artist table only
    assert counts.extra["featured_credits"] == 1


def test_genres_ranked_by_share_not_alphabetically():
    vec, _ = build_artist_vectors(TRACKS, ARTISTS)
    vec = vec.set_index("artist_id")
    # a2 has no genres of its own: it inherits a1's from their shared track.
    assert vec.loc["a2", "genres_imputed"]
    assert set(vec.loc["a2", "genres"]) == {"pop", "r&b", "dance pop"}
    shares = list(vec.loc["a1", "genre_shares"])
    assert shares == sorted(shares, reverse=True)
    assert sum(shares) == pytest.approx(1.0)


def test_genre_shares_follow_the_tracks():
    tracks = _tracks(
        [
            ("t1", ["a", "b"], ["A", "B"], 100.0, 0.5, 0),
            ("t2", ["a", "b"], ["A", "B"], 100.0, 0.5, 0),
            ("t3", ["a"], ["A"], 100.0, 0.5, 0),
        ]
    )
    artists = _artists([("a", "A", ["zzz", "aaa"], 1.0, 1.0), ("b", "B", ["zzz"], 1.0, 1.0)])
    vec, _ = build_artist_vectors(tracks, artists)
    # "zzz" is shared with the collaborator on two tracks, so it outranks "aaa".
    assert list(vec.set_index("artist_id").loc["a", "genres"]) == ["zzz", "aaa"]


def _listens(rows):
    df = pd.DataFrame(rows, columns=["user", "artist_name", "plays"])
    df["track"] = None
    df["played_at"] = pd.Timestamp("2024-01-01", tz="UTC")
    return df


LISTENS = _listens(
    [
        ("u1", "Beyonce", 3),
        ("u1", "BEYONCÉ", 2),
        ("u2", "Beyoncé", 1),
        ("u1", "Nirvana", 5),
        ("u2", "nirvana", 1),
        ("u1", "Killers", 4),
        ("u2", "Unknown Band", 7),
        ("u2", "unknown band", 1),
    ]
)


def test_catalog_match_kinds_and_namesake_rule():
    vec, _ = build_artist_vectors(TRACKS, ARTISTS)
    cat, counts = build_artist_catalog(LISTENS, vec)
    cat = cat.set_index("artist_name")
    assert cat.loc["Beyoncé", "match"] == "exact"
    assert cat.loc["Beyonce", "match"] == "normalised"
    assert cat.loc["Killers", "match"] == "normalised"  # leading "The" on Spotify
    assert cat.loc["Killers", "artist"] == "The Killers"
    assert cat.loc["Nirvana", "match"] == "ambiguous"
    assert cat.loc["Nirvana", "spotify_id"] == "n1"  # the more popular namesake
    assert cat.loc["Nirvana", "n_namesakes"] == 2
    assert cat.loc["Unknown Band", "match"] == "none"
    assert pd.isna(cat.loc["Unknown Band", "spotify_id"])
    # unmatched spellings merge under the most-played one
    assert cat.loc["unknown band", "artist"] == "Unknown Band"
    assert counts.extra["names_none"] == 2


def test_plays_are_never_multiplied_by_namesakes_and_unmatched_are_kept():
    vec, _ = build_artist_vectors(TRACKS, ARTISTS)
    cat, _ = build_artist_catalog(LISTENS, vec)
    plays, counts = build_user_artist_plays(LISTENS, cat)
    assert plays["plays"].sum() == LISTENS["plays"].sum()
    got = plays.set_index(["user", "artist"])["plays"]
    assert got[("u1", "Nirvana")] == 5
    assert got[("u1", "Beyoncé")] == 5  # two spellings, one artist
    assert got[("u2", "Unknown Band")] == 8
    assert not plays.set_index(["user", "artist"]).loc[("u2", "Unknown Band"), "has_spotify"]
    assert not plays.duplicated(["user", "artist"]).any()
    assert counts.dropped == {"listens without catalogue entry": 0}
