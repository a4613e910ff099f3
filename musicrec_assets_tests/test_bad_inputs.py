"""A corpus of broken inputs across all formats: each is a clear InputError or a counted skip.

Every file is generated in tmp_path. Error cases assert that the message names the file and,
where it applies, the column and the row (file line, header = 1). Skip cases assert the counts
and that nothing is lost silently: rows_out + sum(skipped) == rows_read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

from musicrec_assets.core.config import SourceConfig
from musicrec_assets.core.errors import InputError
from musicrec_assets.core.readers import ReadReport, read_artists, read_listens, read_tracks

Reader = Callable[[SourceConfig], tuple[pd.DataFrame, ReadReport]]
Built = tuple[Reader, SourceConfig, str]  # reader, source, file name the error must name

KAGGLE_HEADER = ",Username,Artist,Track,Album,Date,Time\n"
TRACKS_600K_HEADER = (
    "id,name,popularity,duration_ms,explicit,artists,id_artists,release_date,danceability,"
    "energy,key,loudness,mode,speechiness,acousticness,instrumentalness,liveness,valence,tempo,"
    "time_signature\n"
)
FEATURES_600K = "0.5,0.5,5,-7.0,1,0.05,0.1,0.0,0.1,0.5,120.0,4"
TRACK_TABLE_HEADER = (
    "track,artist,uri,danceability,energy,key,loudness,mode,speechiness,acousticness,"
    "instrumentalness,liveness,valence,tempo,duration_ms,time_signature,chorus_hit,sections,"
    "target\n"
)
ARTIST_TABLE_HEADER = (
    "artists,acousticness,danceability,duration_ms,energy,instrumentalness,liveness,loudness,"
    "speechiness,tempo,valence,popularity,key,mode,count\n"
)


def write(path: Path, text: str | bytes, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_bytes(text.encode(encoding))
    return path


def kaggle_row(
    i: int, user: str = "ann", artist: str | None = None, date: str = "22 Feb 2026"
) -> str:
    artist = f"Artist {i % 7}" if artist is None else artist
    return f"{i},{user},{artist},Track {i},Album,{date},11:50\n"


def kaggle(tmp: Path, body: str, name: str = "Last.fm_data.csv", **kw: object) -> Built:
    path = write(tmp / name, KAGGLE_HEADER + body)
    return read_listens, SourceConfig("lastfm_kaggle", path, **kw), name


def kaggle_rows(n: int, **kw: str) -> str:
    return "".join(kaggle_row(i, **kw) for i in range(n))


def plays(tmp: Path, body: str, **kw: object) -> Built:
    path = write(tmp / "plays.csv", "user,artist,plays\n" + body)
    return read_listens, SourceConfig("plays_table", path, **kw), "plays.csv"


def track_600k(i: int, artists: str = "['Uli']", ids: str = "['0000000000000000art001']") -> str:
    return f'{i:022d},Song {i},50,200000,0,"{artists}","{ids}",1999,{FEATURES_600K}\n'


def tracks_600k(tmp: Path, body: str) -> Built:
    path = write(tmp / "tracks.csv", TRACKS_600K_HEADER + body)
    return read_tracks, SourceConfig("spotify_600k_tracks", path), "tracks.csv"


def table_track(
    i: int, artist: str = "Alessia Cara", uri: str | None = None, tempo: str = "108.0"
) -> str:
    uri = f"spotify:track:{i:022d}" if uri is None else uri
    return f"Song {i},{artist},{uri},0.7,0.6,1,-4.8,0,0.08,0.02,0,0.08,0.7,{tempo},188493,4,41.1,10,1\n"


def track_table(
    tmp: Path, body: str, name: str = "dataset-of-10s.csv", header: str = TRACK_TABLE_HEADER
) -> Built:
    path = write(tmp / name, header + body)
    return read_tracks, SourceConfig("spotify_track_table", path), name


def artist_row(name: str, count: str = "10", tempo: str = "120") -> str:
    return f"{name},0.5,0.5,200000,0.5,0.1,0.2,-10,0.05,{tempo},0.5,20,5,1,{count}\n"


def artist_table(tmp: Path, body: str) -> Built:
    path = write(tmp / "data_by_artist.csv", ARTIST_TABLE_HEADER + body)
    return read_artists, SourceConfig("spotify_artist_table", path), "data_by_artist.csv"


def audioscrobbler(
    tmp: Path,
    data: str = "1 10 5\n1 11 2\n2 10 1\n",
    names: str = "10\tAerosmith\n11\tBjörk\n",
    aliases: str = "99\t10\n",
) -> Built:
    folder = tmp / "as"
    write(folder / "user_artist_data.txt", data)
    write(folder / "artist_data.txt", names)
    write(folder / "artist_alias.txt", aliases)
    return read_listens, SourceConfig("audioscrobbler", folder), "user_artist_data.txt"


def hetrec(
    tmp: Path, data: str = "2\t51\t13\n3\t51\t2\n", names: str = "51\tDuran Duran\tu\tp\n"
) -> Built:
    folder = tmp / "hetrec"
    write(folder / "user_artists.dat", "userID\tartistID\tweight\n" + data)
    write(folder / "artists.dat", "id\tname\turl\tpictureURL\n" + names)
    return read_listens, SourceConfig("hetrec2011", folder), "user_artists.dat"


def export(tmp: Path, files: dict[str, str], pattern: str = "*.csv") -> tuple[Reader, SourceConfig]:
    for name, text in files.items():
        write(tmp / "exports" / name, text)
    return read_listens, SourceConfig("lastfm_export", tmp / "exports" / pattern)


# --------------------------------------------------------------------------- error cases


@dataclass
class Bad:
    id: str
    build: Callable[[Path], Built]
    column: str | None = None
    row: int | None = None
    contains: tuple[str, ...] = ()


def _two_matches(tmp: Path) -> Built:
    reader, src, _ = audioscrobbler(tmp)
    write(Path(src.path) / "user_artist_data_small.txt", "1 10 1\n")
    return reader, src, "user_artist_data*.txt"


def _hetrec_missing_names(tmp: Path) -> Built:
    reader, src, _ = hetrec(tmp)
    (Path(src.path) / "artists.dat").unlink()
    return reader, src, "artists.dat"


def _corrupt_parquet(tmp: Path) -> Built:
    path = write(tmp / "plays.parquet", b"PAR1 this is not really parquet PAR1")
    return read_listens, SourceConfig("plays_table", path), "plays.parquet"


def _export_second_file_misnamed(tmp: Path) -> Built:
    reader, src = export(
        tmp,
        {
            "ann_2024.csv": 'utc_time,artist,album,track\n"24 Jan 2023, 09:42",A,B,C\n',
            "bob_2024.csv": 'utc_time,artst,album,track\n"24 Jan 2023, 09:42",A,B,C\n',
        },
    )
    return reader, src, "bob_2024.csv"


def _export_header_only(tmp: Path) -> Built:
    reader, src = export(tmp, {"ann_2024.csv": "uts,utc_time,artist,album,track\n"}, "ann_2024.csv")
    return reader, src, "ann_2024.csv"


def _export_bad_uts(tmp: Path) -> Built:
    rows = "".join(f'"{v}","22 Feb 2026, 11:50","A{i}","T"\n' for i, v in enumerate(["x"] * 3))
    reader, src = export(
        tmp, {"ann_2024.csv": "uts,utc_time,artist,track\n" + rows}, "ann_2024.csv"
    )
    return reader, src, "ann_2024.csv"


def _empty_glob(tmp: Path) -> Built:
    (tmp / "exports").mkdir()
    return read_listens, SourceConfig("lastfm_export", tmp / "exports" / "*.csv"), "*.csv"


def _empty_folder(tmp: Path) -> Built:
    (tmp / "exports").mkdir()
    write(tmp / "exports" / "notes.txt", "not a csv")
    return read_listens, SourceConfig("lastfm_export", tmp / "exports"), "exports"


def _as_file_not_folder(tmp: Path) -> Built:
    path = write(tmp / "user_artist_data.txt", "1 2 3\n")
    return read_listens, SourceConfig("audioscrobbler", path), "user_artist_data.txt"


BAD_CASES = [
    Bad(
        "kaggle_glob_matches_two_files",
        lambda t: (
            read_listens,
            SourceConfig(
                "lastfm_kaggle",
                (write(t / "a.csv", KAGGLE_HEADER + kaggle_rows(1)), write(t / "b.csv", "x"))[
                    0
                ].parent.joinpath("*.csv"),
            ),
            "*.csv",
        ),
        contains=("reads one file but 2 match",),
    ),
    Bad(
        "audioscrobbler_extra_field_first_line",
        lambda t: audioscrobbler(t, data="1 10 5 7\n1 11 2\n"),
        row=1,
        contains=("more fields",),
    ),
    Bad(
        "unknown_format",
        lambda t: (read_tracks, SourceConfig("spotify_1m_tracks", t / "x.csv"), "x.csv"),
        contains=("unknown tracks format",),
    ),
    # missing things
    Bad(
        "kaggle_missing_file",
        lambda t: (read_listens, SourceConfig("lastfm_kaggle", t / "nope.csv"), "nope.csv"),
        contains=("file not found",),
    ),
    Bad("export_empty_glob", _empty_glob, contains=("no files match",)),
    Bad("export_folder_without_csv", _empty_folder, contains=("no files matching",)),
    Bad("hetrec_missing_member", _hetrec_missing_names, contains=("missing file",)),
    Bad(
        "audioscrobbler_missing_folder",
        lambda t: (read_listens, SourceConfig("audioscrobbler", t / "gone"), "gone"),
        contains=("folder not found",),
    ),
    Bad("audioscrobbler_file_not_folder", _as_file_not_folder, contains=("not a folder",)),
    Bad("audioscrobbler_two_matches", _two_matches, contains=("several files match",)),
    # empty files
    Bad(
        "kaggle_zero_bytes",
        lambda t: (read_listens, SourceConfig("lastfm_kaggle", write(t / "e.csv", b"")), "e.csv"),
        contains=("0 bytes",),
    ),
    Bad(
        "kaggle_blank_lines_only",
        lambda t: (
            read_listens,
            SourceConfig("lastfm_kaggle", write(t / "b.csv", "\n\n  \n")),
            "b.csv",
        ),
        contains=("no header line",),
    ),
    Bad("kaggle_header_only", lambda t: kaggle(t, ""), contains=("no data rows",)),
    Bad("tracks_600k_header_only", lambda t: tracks_600k(t, ""), contains=("no data rows",)),
    Bad("export_header_only", _export_header_only, contains=("no data rows",)),
    # columns and delimiters
    Bad(
        "kaggle_misnamed_column",
        lambda t: (
            read_listens,
            SourceConfig("lastfm_kaggle", write(t / "m.csv", "Username,Artsit,Track\nann,A,T\n")),
            "m.csv",
        ),
        column="Artist",
        contains=("closest: 'Artsit'", "found columns"),
    ),
    Bad(
        "plays_table_missing_custom_column",
        lambda t: plays(t, "ann,A,3\n", user_column="listener"),
        column="listener",
    ),
    Bad(
        "artists_600k_missing_name",
        lambda t: (
            read_artists,
            SourceConfig(
                "spotify_600k_artists",
                write(t / "artists.csv", "id,followers,genres,nam,popularity\nx,1,[],Uli,3\n"),
            ),
            "artists.csv",
        ),
        column="name",
        contains=("closest: 'nam'",),
    ),
    Bad(
        "export_second_file_misnamed",
        _export_second_file_misnamed,
        column="artist",
        contains=("closest: 'artst'",),
    ),
    Bad(
        "kaggle_semicolon_separated",
        lambda t: (
            read_listens,
            SourceConfig(
                "lastfm_kaggle", write(t / "s.csv", ";Username;Artist;Track\n0;ann;A;T\n")
            ),
            "s.csv",
        ),
        contains=("set delimiter = ';'",),
    ),
    Bad(
        "track_table_tab_separated",
        lambda t: track_table(t, "", header=TRACK_TABLE_HEADER.replace(",", "\t")),
        contains=("set delimiter = '\\t'",),
    ),
    # encodings
    Bad(
        "kaggle_declared_utf8_but_latin1",
        lambda t: (
            read_listens,
            SourceConfig(
                "lastfm_kaggle",
                write(
                    t / "l.csv",
                    KAGGLE_HEADER + kaggle_rows(2) + kaggle_row(2, artist="Björk"),
                    "latin-1",
                ),
                encoding="utf-8",
            ),
            "l.csv",
        ),
        row=4,
        contains=("cannot decode as utf-8",),
    ),
    Bad(
        "kaggle_unknown_encoding",
        lambda t: kaggle(t, kaggle_rows(2), encoding="utf-9"),
        contains=("unknown encoding 'utf-9'",),
    ),
    # CSV structure
    Bad(
        "kaggle_truncated_mid_quote",
        lambda t: kaggle(t, kaggle_rows(3) + '3,ann,"Earth, Wind'),
        row=5,
        contains=("never closed",),
    ),
    Bad(
        "kaggle_stray_opening_quote",
        lambda t: kaggle(
            t, kaggle_rows(2) + '2,ann,"Stray,T,A,22 Feb 2026,11:50\n' + kaggle_rows(3)
        ),
        row=4,
        contains=("never closed",),
    ),
    Bad(
        "kaggle_unquoted_comma_in_name",
        lambda t: kaggle(
            t, kaggle_rows(3) + kaggle_row(3, artist="Earth, Wind & Fire") + kaggle_rows(2)
        ),
        row=5,
        contains=("8 fields, expected 7",),
    ),
    Bad(
        "kaggle_unquoted_comma_first_row",
        lambda t: kaggle(t, kaggle_row(0, artist="Earth, Wind & Fire") + kaggle_rows(2)),
        row=2,
        contains=("more fields than the header",),
    ),
    Bad(
        "audioscrobbler_extra_field", lambda t: audioscrobbler(t, data="1 10 5\n1 11 2 9\n"), row=2
    ),
    # numbers
    Bad(
        "plays_non_numeric",
        lambda t: plays(t, "ann,A,3\nann,B,lots\n"),
        column="plays",
        row=3,
        contains=("'lots'",),
    ),
    Bad(
        "plays_negative",
        lambda t: plays(t, "ann,A,3\nann,B,2\nann,C,-4\n"),
        column="plays",
        row=4,
        contains=("negative",),
    ),
    Bad(
        "plays_fractional",
        lambda t: plays(t, "ann,A,2.5\n"),
        column="plays",
        row=2,
        contains=("whole number",),
    ),
    Bad(
        "plays_empty",
        lambda t: plays(t, "ann,A,3\nann,B,\n"),
        column="plays",
        row=3,
        contains=("empty play count",),
    ),
    Bad(
        "plays_huge",
        lambda t: plays(t, "ann,A,3\nann,B,5000000000\n"),
        column="plays",
        row=3,
        contains=("implausible",),
    ),
    Bad(
        "plays_beyond_int64",
        lambda t: plays(t, "ann,A," + "9" * 30 + "\n"),
        column="plays",
        row=2,
        contains=("implausible",),
    ),
    Bad(
        "hetrec_negative_weight",
        lambda t: hetrec(t, data="2\t51\t13\n3\t51\t-2\n"),
        column="weight",
        row=3,
    ),
    Bad(
        "audioscrobbler_non_numeric_playcount",
        lambda t: audioscrobbler(t, data="1 10 5\n1 11 x\n"),
        column="playcount",
        row=2,
    ),
    Bad(
        "audioscrobbler_bad_user_id",
        lambda t: audioscrobbler(t, data="1 10 5\nbob 11 2\n"),
        column="userid",
        row=2,
    ),
    Bad(
        "track_table_features_garbage",
        lambda t: track_table(t, "".join(table_track(i, tempo="fast") for i in range(5))),
        column="tempo",
        row=2,
        contains=("'fast'",),
    ),
    Bad(
        "artist_table_count_garbage",
        lambda t: artist_table(t, artist_row("A", count="many") + artist_row("B", count="lots")),
        column="count",
        row=2,
    ),
    # dates
    Bad(
        "kaggle_dates_unparsable",
        lambda t: kaggle(t, kaggle_rows(5, date="22/02/2026")),
        column="Date",
        row=2,
        contains=("22/02/2026",),
    ),
    Bad("export_uts_garbage", _export_bad_uts, column="uts", row=2),
    # nothing usable
    Bad(
        "kaggle_all_artists_blank",
        lambda t: kaggle(t, kaggle_rows(3, artist=" ")),
        contains=("no usable rows", "blank artist name: 3"),
    ),
    Bad(
        "plays_table_all_zero",
        lambda t: plays(t, "ann,A,0\nbob,B,0\n"),
        contains=("no usable rows",),
    ),
    Bad("plays_table_corrupt_parquet", _corrupt_parquet, contains=("Parquet",)),
]


@pytest.mark.parametrize("case", BAD_CASES, ids=lambda c: c.id)
def test_bad_input_is_a_clear_error(case: Bad, tmp_path: Path) -> None:
    reader, src, name = case.build(tmp_path)
    with pytest.raises(InputError) as info:
        reader(src)
    err, msg = info.value, str(info.value)
    assert name in msg, msg
    if case.column is not None:
        assert err.column == case.column and f"column {case.column!r}" in msg, msg
    if case.row is not None:
        assert err.row == case.row and f"row {case.row}" in msg, msg
    for text in case.contains:
        assert text in msg, msg


# --------------------------------------------------------------------------- counted skips


@dataclass
class Skip:
    id: str
    build: Callable[[Path], Built]
    skipped: dict[str, int] = field(default_factory=dict)
    notes: dict[str, int] = field(default_factory=dict)  # subset that must be present
    rows_read: int | None = None
    check: Callable[[pd.DataFrame, ReadReport], None] | None = None


def _names(df: pd.DataFrame, col: str = "artist_name") -> list[str]:
    return df[col].tolist()


def _export_member_header_only(tmp: Path) -> Built:
    reader, src = export(
        tmp,
        {
            "ann_2024.csv": 'utc_time,artist,album,track\n"24 Jan 2023, 09:42",A,B,C\n',
            "bob_2024.csv": "utc_time,artist,album,track\n",
        },
    )
    return reader, src, ""


def _export_uts_gaps(tmp: Path) -> Built:
    body = '"1771761015","22 Feb 2026, 11:50",A,T\n"","22 Feb 2026, 11:34",B,T\n"","",C,T\n'
    reader, src = export(tmp, {"ann_2024.csv": "uts,utc_time,artist,track\n" + body})
    return reader, src, ""


def _check_export_gaps(df: pd.DataFrame, rep: ReadReport) -> None:
    assert df["played_at"].tolist()[:2] == [
        pd.Timestamp(1771761015, unit="s", tz="UTC"),
        pd.Timestamp("2026-02-22 11:34", tz="UTC"),
    ]
    assert pd.isna(df["played_at"].iloc[2])


def _check_control(df: pd.DataFrame, rep: ReadReport) -> None:
    assert _names(df) == ["ACDC", "Sigur Rós", "<b>Bold</b>", "Björk"]


def _check_malformed_list(df: pd.DataFrame, rep: ReadReport) -> None:
    assert df["artist_names"].iloc[1] == ["Guns N' Roses", "Slash"]


def _check_dup_artist(df: pd.DataFrame, rep: ReadReport) -> None:
    assert df.set_index("artist_name").loc["Anonymous", "n_tracks"] == 20.0


def _check_placeholder(df: pd.DataFrame, rep: ReadReport) -> None:
    got = dict(zip(df["artist_name"], df["plays"], strict=False))
    assert got["artist:12"] == 4 and got["Aerosmith"] == 5 + 3


SKIP_CASES = [
    Skip(
        "audioscrobbler_empty_alias_file",
        lambda t: audioscrobbler(t, aliases=""),
        {},
        {"artist_alias file empty (no aliases)": 1},
        rows_read=3,
    ),
    Skip(
        "plays_table_semicolon_with_delimiter_set",
        lambda t: (
            read_listens,
            SourceConfig(
                "plays_table", write(t / "p.csv", "user;artist;plays\nann;A, B;3\n"), delimiter=";"
            ),
            "",
        ),
        {},
        check=lambda df, r: None if df["artist_name"].tolist() == ["A, B"] else pytest.fail("sep"),
    ),
    Skip(
        "kaggle_repeated_header",
        lambda t: kaggle(t, kaggle_rows(2) + KAGGLE_HEADER + kaggle_rows(2)),
        {"repeated header line": 1},
        rows_read=5,
    ),
    Skip(
        "kaggle_blank_names",
        lambda t: kaggle(
            t,
            kaggle_rows(3)
            + kaggle_row(3, user="")
            + kaggle_row(4, artist="")
            + kaggle_row(5, artist="  "),
        ),
        {"blank user name": 1, "blank artist name": 2},
        rows_read=6,
    ),
    Skip(
        "plays_zero",
        lambda t: plays(t, "ann,A,0\nann,B,3\nbob,A,0\n"),
        {"zero plays": 2},
        rows_read=3,
    ),
    Skip(
        "kaggle_one_bad_date_in_150",
        lambda t: kaggle(t, kaggle_rows(149) + kaggle_row(149, date="32 Foo 2026")),
        {},
        {"unparsable timestamp (played_at = NaT)": 1},
        rows_read=150,
        check=lambda df, r: None if df["played_at"].isna().sum() == 1 else pytest.fail("NaT"),
    ),
    Skip(
        "kaggle_control_chars_and_html",
        lambda t: kaggle(
            t,
            kaggle_row(0, artist="AC\x07DC")
            + kaggle_row(1, artist="Sigur\tRós")
            + kaggle_row(2, artist="<b>Bold</b>")
            + kaggle_row(3, artist="Björk\x00"),
        ),
        {},
        {
            "control characters stripped from artist names": 3,
            "HTML-like markup in artist names (kept as text)": 1,
        },
        check=_check_control,
    ),
    Skip(
        "kaggle_na_like_names_are_names",
        lambda t: kaggle(
            t,
            kaggle_row(0, artist="NA") + kaggle_row(1, artist="null") + kaggle_row(2, user="None"),
        ),
        {},
        check=lambda df, r: (
            None
            if _names(df)[:2] == ["NA", "null"] and df["user"].iloc[2] == "None"
            else pytest.fail("NA")
        ),
    ),
    Skip(
        "kaggle_one_artist_catalogue",
        lambda t: kaggle(t, kaggle_rows(3, artist="Uli")),
        {},
        rows_read=3,
    ),
    Skip(
        "kaggle_latin1_auto",
        lambda t: (
            read_listens,
            SourceConfig(
                "lastfm_kaggle",
                write(t / "l.csv", KAGGLE_HEADER + kaggle_row(0, artist="Björk"), "latin-1"),
            ),
            "",
        ),
        {},
        check=lambda df, r: (
            None if r.encoding == "cp1252" and _names(df) == ["Björk"] else pytest.fail(r.encoding)
        ),
    ),
    Skip(
        "kaggle_undefined_cp1252_byte_is_latin1",
        lambda t: (
            read_listens,
            SourceConfig(
                "lastfm_kaggle",
                write(
                    t / "l.csv",
                    (KAGGLE_HEADER + kaggle_row(0, artist="Bj\x81rk")).encode("latin-1"),
                ),
            ),
            "",
        ),
        {},
        {"control characters stripped from artist names": 1},
        check=lambda df, r: None if r.encoding == "latin-1" else pytest.fail(r.encoding),
    ),
    Skip(
        "export_member_header_only",
        _export_member_header_only,
        {},
        {"files with no data rows": 1},
        rows_read=1,
    ),
    Skip(
        "export_uts_gaps_fall_back_to_utc_time",
        _export_uts_gaps,
        {},
        {"missing timestamp (played_at = NaT)": 1},
        check=_check_export_gaps,
    ),
    Skip(
        "tracks_600k_length_mismatch",
        lambda t: tracks_600k(t, track_600k(0) + track_600k(1, artists="['A', 'B']")),
        {"artists and id_artists differ in length": 1},
        rows_read=2,
    ),
    Skip(
        "tracks_600k_malformed_list",
        lambda t: tracks_600k(
            t, track_600k(0) + track_600k(1, artists="['Guns N' Roses', 'Slash'", ids="['a', 'b']")
        ),
        {},
        {"malformed list cells (parsed tolerantly)": 1},
        check=_check_malformed_list,
    ),
    Skip(
        "tracks_600k_no_artists",
        lambda t: tracks_600k(t, track_600k(0) + track_600k(1, artists="[]", ids="[]")),
        {"no credited artist": 1},
    ),
    Skip(
        "tracks_600k_duplicate_id",
        lambda t: tracks_600k(t, track_600k(0) + track_600k(0) + track_600k(1)),
        {"duplicate track id (first kept)": 1},
        rows_read=3,
    ),
    Skip(
        "track_table_bad_and_duplicate_uri",
        lambda t: track_table(
            t, table_track(0) + table_track(1, uri="not-a-uri") + table_track(0) + table_track(2)
        ),
        {"unparsable uri": 1, "duplicate uri (first file kept)": 1},
        rows_read=4,
    ),
    Skip(
        "track_table_one_bad_feature_in_150",
        lambda t: track_table(
            t, "".join(table_track(i) for i in range(149)) + table_track(149, tempo="?")
        ),
        {},
        {"non-numeric tempo (NaN)": 1},
    ),
    Skip(
        "artist_table_duplicate_names",
        lambda t: artist_table(
            t,
            artist_row("Anonymous", count="2")
            + artist_row("Anonymous", count="20")
            + artist_row("Uli"),
        ),
        {"duplicate artist name (row with the larger count kept)": 1},
        check=_check_dup_artist,
    ),
    Skip(
        "artists_600k_duplicate_id_and_bad_genres",
        lambda t: (
            read_artists,
            SourceConfig(
                "spotify_600k_artists",
                write(
                    t / "a.csv",
                    "id,followers,genres,name,popularity\nx,1,\"['pop', 'rock'\",A,3\nx,1,[],B,3\n",
                ),
            ),
            "",
        ),
        {"duplicate artist id (first kept)": 1},
        {"malformed list cells (parsed tolerantly)": 1},
    ),
    Skip(
        "artists_600k_one_artist_catalogue",
        lambda t: (
            read_artists,
            SourceConfig(
                "spotify_600k_artists",
                write(t / "a.csv", "id,followers,genres,name,popularity\nx,1,[],Uli,3\n"),
            ),
            "",
        ),
        {},
        rows_read=1,
    ),
    Skip(
        "audioscrobbler_alias_merge_and_placeholder",
        lambda t: audioscrobbler(
            t,
            data="1 10 5\n1 99 3\n1 12 4\n1 11 0\n",
            names="10\tAerosmith\n11\tBjörk\nbroken line\n",
        ),
        {"zero plays": 1, "merged with a row of the same user and artist (plays summed)": 1},
        {
            "rows with an artist id without a name (placeholder 'artist:<id>')": 1,
            "artist_data lines without a numeric id and a name (ignored)": 1,
        },
        rows_read=4,
        check=_check_placeholder,
    ),
    Skip(
        "hetrec_unknown_artist_id",
        lambda t: hetrec(t, data="2\t51\t13\n3\t77\t2\n"),
        {},
        {"artist ids without a name (placeholder 'artist:<id>')": 1},
    ),
]


@pytest.mark.parametrize("case", SKIP_CASES, ids=lambda c: c.id)
def test_bad_rows_are_counted_not_lost(case: Skip, tmp_path: Path) -> None:
    reader, src, _ = case.build(tmp_path)
    df, rep = reader(src)
    assert rep.skipped == case.skipped
    for key, n in case.notes.items():
        assert rep.notes.get(key) == n, rep.notes
    if case.rows_read is not None:
        assert rep.rows_read == case.rows_read
    assert rep.rows_out == len(df) > 0
    assert rep.rows_out + sum(rep.skipped.values()) == rep.rows_read
    if case.check is not None:
        case.check(df, rep)


def test_corpus_is_large_enough() -> None:
    assert len(BAD_CASES) + len(SKIP_CASES) >= 25
