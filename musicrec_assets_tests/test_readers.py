"""Every source format read from small hand-written fixtures that mirror the real layouts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from musicrec_assets.core.config import SourceConfig
from musicrec_assets.core.readers import (
    ReadReport,
    parse_list_cell,
    read_artists,
    read_listens,
    read_tracks,
)
from musicrec_assets.core.readers.lists import parse_list_column
from musicrec_assets.core.schema import (
    LISTENS_COLUMNS,
    SPOTIFY_ARTIST_COLUMNS,
    SPOTIFY_TRACK_COLUMNS,
)

FIX = Path(__file__).parent / "fixtures"


def _accounted(report: ReadReport) -> None:
    assert report.rows_out + sum(report.skipped.values()) == report.rows_read


def _check_listens(df: pd.DataFrame, report: ReadReport) -> None:
    assert tuple(df.columns) == LISTENS_COLUMNS
    assert df["plays"].dtype == np.int64
    assert str(df["played_at"].dtype) == "datetime64[ns, UTC]"
    for col in ("user", "artist_name", "track"):
        assert pd.api.types.is_string_dtype(df[col])
    assert (df["plays"] > 0).all()
    assert report.rows_out == len(df)
    _accounted(report)


def _check_lists(series: pd.Series) -> None:
    assert series.map(lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v)).all()


def _check_tracks(df: pd.DataFrame, report: ReadReport) -> None:
    assert tuple(df.columns) == SPOTIFY_TRACK_COLUMNS
    _check_lists(df["artist_ids"])
    _check_lists(df["artist_names"])
    assert (df["artist_ids"].str.len() == df["artist_names"].str.len()).all()
    for col in SPOTIFY_TRACK_COLUMNS[4:]:
        assert df[col].dtype == np.float64, col
    assert df["track_id"].is_unique
    _accounted(report)


def _check_artists(df: pd.DataFrame, report: ReadReport) -> None:
    assert tuple(df.columns) == SPOTIFY_ARTIST_COLUMNS
    _check_lists(df["genres"])
    for col in SPOTIFY_ARTIST_COLUMNS[3:]:
        assert df[col].dtype == np.float64, col
    assert df["artist_id"].is_unique
    _accounted(report)


# --------------------------------------------------------------------------- listens


def test_lastfm_kaggle() -> None:
    df, rep = read_listens(SourceConfig("lastfm_kaggle", FIX / "lastfm_kaggle/Last.fm_data.csv"))
    _check_listens(df, rep)
    assert rep.rows_read == 8 and rep.skipped == {} and rep.encoding == "utf-8"
    assert sorted(df["user"].unique()) == ["ann_lee", "bo_92", "cleo"]
    names = set(df["artist_name"])
    assert {"Earth, Wind & Fire", "Guns N' Roses", "Sigur Rós", 'The "Band"'} <= names
    assert (df["plays"] == 1).all()
    first = df.iloc[0]
    assert first["played_at"] == pd.Timestamp("2026-02-22 11:50", tz="UTC")
    assert first["track"] == "Hors D'Oeuvres"
    assert df["played_at"].notna().all()


def test_lastfm_kaggle_plays_column_case_insensitive(tmp_path: Path) -> None:
    path = tmp_path / "Last.fm_data.csv"
    path.write_text("USERNAME,ARTIST,PlayCount\nann,Björk,3\nann,Radiohead,2\n", encoding="utf-8")
    df, rep = read_listens(SourceConfig("lastfm_kaggle", path))
    assert df["plays"].tolist() == [3, 2] and rep.notes == {"no Date column (played_at = NaT)": 2}
    assert df["played_at"].isna().all() and df["track"].isna().all()


def test_lastfm_export_folder_all_layouts() -> None:
    df, rep = read_listens(SourceConfig("lastfm_export", FIX / "lastfm_export"))
    _check_listens(df, rep)
    assert rep.files == 4 and rep.rows_read == 11 and rep.rows_out == 11
    assert set(df["user"]) == {"ann_lee", "bo_92", "cleo", "dima"}
    by_user = df.groupby("user")["played_at"]
    # uts preferred over utc_time: seconds survive
    assert by_user.max()["ann_lee"] == pd.Timestamp(1771761015, unit="s", tz="UTC")
    assert by_user.max()["bo_92"] == pd.Timestamp("2023-01-24 09:42", tz="UTC")
    assert by_user.max()["cleo"] == pd.Timestamp("2020-04-13 05:01:31", tz="UTC")
    assert by_user.max()["dima"] == pd.Timestamp("2025-08-16 11:45", tz="UTC")
    assert {"Кино", "Мумий Тролль"} <= set(df["artist_name"])
    assert df["played_at"].notna().all()


def test_lastfm_export_glob_and_single_file() -> None:
    df, rep = read_listens(SourceConfig("lastfm_export", FIX / "lastfm_export/*_202[03].csv"))
    assert rep.files == 2 and set(df["user"]) == {"bo_92", "cleo"}
    df, rep = read_listens(SourceConfig("lastfm_export", FIX / "lastfm_export/bo_92_2023.csv"))
    assert rep.files == 1 and set(df["user"]) == {"bo_92"} and len(df) == 3


def test_lastfm_export_user_column_wins(tmp_path: Path) -> None:
    path = tmp_path / "export_2024.csv"
    path.write_text(
        "username,artist,track,uts\nzoe,Björk,Army of Me,1700000000\n", encoding="utf-8"
    )
    df, _ = read_listens(SourceConfig("lastfm_export", path))
    assert df["user"].tolist() == ["zoe"]


def test_plays_table_csv_and_latin1() -> None:
    df, rep = read_listens(SourceConfig("plays_table", FIX / "plays_table/plays.csv"))
    _check_listens(df, rep)
    assert df["plays"].tolist() == [12, 3, 7, 1]
    assert df["played_at"].isna().all()
    src = SourceConfig(
        "plays_table",
        FIX / "plays_table/plays_latin1.csv",
        user_column="listener",
        artist_column="band",
        plays_column="count",
    )
    df, rep = read_listens(src)
    _check_listens(df, rep)
    assert rep.encoding == "cp1252"  # auto: not UTF-8, decodes as cp1252 (a latin-1 superset)
    assert df["artist_name"].tolist() == ["Sigur Rós", "Motörhead", "Beyoncé"]


def test_plays_table_latin1_declared(tmp_path: Path) -> None:
    src = SourceConfig(
        "plays_table",
        FIX / "plays_table/plays_latin1.csv",
        encoding="latin-1",
        user_column="listener",
        artist_column="band",
        plays_column="count",
    )
    df, rep = read_listens(src)
    assert rep.encoding == "iso8859-1" and df["artist_name"].iloc[0] == "Sigur Rós"


def test_plays_table_parquet(tmp_path: Path) -> None:
    path = tmp_path / "plays.parquet"
    pd.DataFrame(
        {"uid": [1, 1, 2], "name": ["A", "B", "A"], "n": np.array([5, 0, 2], dtype="int32")}
    ).to_parquet(path)
    src = SourceConfig(
        "plays_table", path, user_column="uid", artist_column="name", plays_column="n"
    )
    df, rep = read_listens(src)
    _check_listens(df, rep)
    assert df["user"].tolist() == ["1", "2"] and df["plays"].tolist() == [5, 2]
    assert rep.skipped == {"zero plays": 1} and rep.encoding == "parquet"


def test_hetrec2011() -> None:
    df, rep = read_listens(SourceConfig("hetrec2011", FIX / "hetrec2011"))
    _check_listens(df, rep)
    assert df["user"].tolist() == ["2", "2", "3", "3"]
    assert df["artist_name"].tolist() == [
        "Duran Duran",
        'Morcheeba "Big Calm"',  # a quote inside a tab-separated name is kept
        "Duran Duran",
        "artist:99",  # id missing from artists.dat: documented placeholder
    ]
    assert df["plays"].tolist() == [13883, 11690, 228, 5]
    assert rep.notes == {"artist ids without a name (placeholder 'artist:<id>')": 1}


def test_audioscrobbler_aliases_and_names() -> None:
    df, rep = read_listens(SourceConfig("audioscrobbler", FIX / "audioscrobbler"))
    _check_listens(df, rep)
    plays = dict(zip(zip(df["user"], df["artist_name"], strict=True), df["plays"], strict=True))
    # 1017615 is an alias of 668: 5 + 2 plays land on "Guns N' Roses", one row merged
    assert plays[("1000001", "Guns N' Roses")] == 7
    assert ("1000001", "G N R") not in plays
    assert plays[("1000001", "DAVID BYRNE")] == 7  # "<id> <name>" line with a space
    assert plays[("2000001", "artist:7777777")] == 3  # no name: placeholder, plays kept
    assert plays[("1000001", 'Ednas "Goldfish"')] == 1
    assert rep.rows_read == 7 and rep.rows_out == 6
    assert rep.skipped == {"merged with a row of the same user and artist (plays summed)": 1}
    assert rep.notes["rows with an artist id without a name (placeholder 'artist:<id>')"] == 1
    assert df["plays"].sum() == 238 + 1 + 5 + 2 + 7 + 40 + 3


# --------------------------------------------------------------------------- tracks


def test_spotify_600k_tracks() -> None:
    df, rep = read_tracks(
        SourceConfig("spotify_600k_tracks", FIX / "spotify_600k_tracks/tracks.csv")
    )
    _check_tracks(df, rep)
    assert len(df) == 4 and rep.skipped == {}
    row = df.set_index("track_name").loc["Patience"]
    assert row["artist_names"] == ["Slash", "Guns N' Roses"]
    assert row["artist_ids"] == ["0000000000000000art002", "0000000000000000art003"]
    assert row["explicit"] == 1.0 and row["release_year"] == 1988.0
    sept = df.set_index("track_name").loc["September"]
    assert sept["artist_names"] == ["Earth, Wind & Fire"] and sept["release_year"] == 1978.0
    assert df["release_year"].tolist() == [1922.0, 1988.0, 1978.0, 1987.0]


def test_spotify_track_table_glob_bom_and_credits() -> None:
    src = SourceConfig("spotify_track_table", FIX / "spotify_track_table/dataset-of-*.csv")
    df, rep = read_tracks(src)
    _check_tracks(df, rep)
    assert rep.files == 2 and rep.encoding == "utf-8-sig+utf-8"
    assert rep.skipped == {"duplicate uri (first file kept)": 1}
    credits = dict(zip(df["track_name"], df["artist_names"], strict=True))
    assert credits["Still Not A Player"] == ["Big Punisher", "Joe"]
    assert credits["Stir It Up"] == ["Quincy Jones", "The Brothers Johnson"]
    assert credits["Eastside"] == ["benny blanco", "Halsey"]
    assert credits["Mrs. Robinson"] == ["Simon & Garfunkel"]  # "&" is never split
    assert (df["artist_ids"] == df["artist_names"]).all()  # name-keyed source
    assert df.loc[df["track_name"] == "Lucky Man", "track_id"].item() == "0000000000000000trk101"
    assert df["popularity"].isna().all() and df["instrumentalness"].notna().all()


# --------------------------------------------------------------------------- artists


def test_spotify_600k_artists() -> None:
    df, rep = read_artists(
        SourceConfig("spotify_600k_artists", FIX / "spotify_600k_artists/artists.csv")
    )
    _check_artists(df, rep)
    genres = dict(zip(df["artist_name"], df["genres"], strict=True))
    assert genres["Earth, Wind & Fire"] == ["disco", "funk", "children's music"]
    assert genres["Uli"] == []
    assert df.loc[df["artist_name"] == "Guns N' Roses", "followers"].item() == 13870000.0
    assert df["n_tracks"].isna().all() and df["tempo"].isna().all()


def test_spotify_artist_table_with_genres_path() -> None:
    src = SourceConfig(
        "spotify_artist_table",
        FIX / "spotify_artist_table/data_by_artist.csv",
        genres_path=FIX / "spotify_artist_table/artist_genres.csv",
    )
    df, rep = read_artists(src)
    _check_artists(df, rep)
    assert (df["artist_id"] == df["artist_name"]).all()
    assert rep.skipped == {"duplicate artist name (row with the larger count kept)": 1}
    anon = df.set_index("artist_name").loc["Anonymous"]
    assert anon["n_tracks"] == 20.0 and anon["tempo"] == 110.0  # larger count kept
    genres = dict(zip(df["artist_name"], df["genres"], strict=True))
    assert genres["Frédéric Chopin"] == ["classical", "early romantic era", "polish classical"]
    assert genres["Earth, Wind & Fire"] == ["children's music", "disco"]
    assert df["followers"].isna().all() and df["time_signature"].isna().all()


def test_spotify_artist_table_without_genres() -> None:
    src = SourceConfig("spotify_artist_table", FIX / "spotify_artist_table/data_by_artist.csv")
    df, _ = read_artists(src)
    assert (df["genres"].str.len() == 0).all()


def test_spotify_artist_table_inline_genres(tmp_path: Path) -> None:
    path = tmp_path / "by_artist.csv"
    path.write_text(
        "artists,genres,tempo,count\nUli,['schlager'],100,3\n\"Guns N' Roses\",\"['rock']\",120,9\n",
        encoding="utf-8",
    )
    df, _ = read_artists(SourceConfig("spotify_artist_table", path))
    assert df["genres"].tolist() == [["schlager"], ["rock"]]
    assert df["n_tracks"].tolist() == [3.0, 9.0]


# --------------------------------------------------------------------------- list cells


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("['a', 'b']", ["a", "b"]),
        ('["a"]', ["a"]),
        ("[]", []),
        ("", []),
        (None, []),
        (float("nan"), []),
        ("nan", []),
        (["x", " y "], ["x", "y"]),
        ("[\"Guns N' Roses\", 'Slash']", ["Guns N' Roses", "Slash"]),
        ("['Earth, Wind & Fire', 'Chic']", ["Earth, Wind & Fire", "Chic"]),
        ("['Guns N' Roses', 'Slash']", ["Guns N' Roses", "Slash"]),  # malformed: tokenizer
        ("['a', 'b'", ["a", "b"]),  # missing bracket
        ("[a, b]", ["a", "b"]),  # unquoted
        ("pop, rock", ["pop", "rock"]),
        ("[1, 2]", ["1", "2"]),  # not strings: tokenized, never trusted
        ("['a', '']", ["a"]),
        ("['it\\'s']", ["it's"]),
        ("[__import__('os').system('true')]", ["__import__('os').system('true')"]),
        ("['unterminated", ["unterminated"]),
    ],
)
def test_parse_list_cell(cell: object, expected: list[str]) -> None:
    assert parse_list_cell(cell) == expected


def test_parse_list_column_matches_cell_parser() -> None:
    cells = [
        "['a', 'b']",
        '["Guns N\' Roses"]',
        "[]",
        None,
        "['Guns N' Roses']",
        "['x', \"y'z\"]",
        "[' padded ']",
        '["q", "r"]',
    ]
    parsed, malformed = parse_list_column(pd.Series(cells, dtype="str"))
    assert parsed.tolist() == [parse_list_cell(c) for c in cells]
    assert malformed == 1
