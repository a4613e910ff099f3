"""Unit tests of the playlist steps (musicrec_assets.core.playlist) on tiny hand-made frames."""

from __future__ import annotations

import dataclasses
import itertools
import re
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest

from musicrec_assets.core import playlist as pl
from musicrec_assets.core.config import DEFAULT_CONTEXTS, ContextConfig, PlaylistConfig
from musicrec_assets.core.schema import SPOTIFY_TRACK_COLUMNS


def make_tracks(rows: list[dict]) -> pd.DataFrame:
    """spotify_tracks rows: defaults for every canonical column not given."""
    df = pd.DataFrame(rows)
    for col in SPOTIFY_TRACK_COLUMNS:
        if col not in df.columns:
            df[col] = np.nan
    df["artist_names"] = df["artist_ids"]
    return df[list(SPOTIFY_TRACK_COLUMNS)]


def catalog(pairs: dict[str, str | None]) -> pd.DataFrame:
    return pd.DataFrame({"artist": list(pairs), "spotify_id": list(pairs.values())})


def profiles(rows: dict[str, tuple[float, float, list[str]]]) -> pd.DataFrame:
    """artist → (tempo, valence, genres) as an artist_profiles table (equal genre shares)."""
    return pd.DataFrame(
        {
            "artist": list(rows),
            "spotify_id": [f"id-{a}" for a in rows],
            "tempo": [v[0] for v in rows.values()],
            "valence": [v[1] for v in rows.values()],
            "genres": [v[2] for v in rows.values()],
            "genre_shares": [[1.0 / len(v[2])] * len(v[2]) for v in rows.values()],
        }
    )


@pytest.fixture
def world() -> dict[str, pd.DataFrame]:
    """Two listeners, six artists (three fast and bright, three slow and mellow), 5 songs each."""
    artists = {
        "Fast A": (150.0, 0.8),
        "Fast B": (145.0, 0.75),
        "Fast C": (160.0, 0.7),
        "Slow A": (75.0, 0.3),
        "Slow B": (80.0, 0.25),
        "Slow C": (70.0, 0.35),
    }
    rows = []
    for i, (artist, (tempo, valence)) in enumerate(artists.items()):
        for j in range(5):
            rows.append(
                {
                    "track_id": f"t{i}{j}",
                    "track_name": f"{artist} song {j}",
                    "artist_ids": [f"id-{artist}"],
                    "popularity": float(80 - j),
                    "tempo": tempo + 3 * j,
                    "valence": valence,
                }
            )
    tracks = make_tracks(rows)
    cat = catalog({a: f"id-{a}" for a in artists})
    genre = {a: ["edm"] if a.startswith("Fast") else ["ambient"] for a in artists}
    prof = profiles({a: (t, v, genre[a]) for a, (t, v) in artists.items()})
    history = pd.DataFrame(
        {
            "user": ["u1", "u1", "u2", "u2"],
            "artist": ["Fast A", "Slow A", "Slow B", "Fast B"],
            "plays": [50, 5, 40, 2],
        }
    )
    recs = pd.DataFrame(
        {
            "user": ["u1"] * 4 + ["u2"] * 4,
            "artist": [
                "Fast B",
                "Slow B",
                "Fast C",
                "Slow C",
                "Slow A",
                "Fast A",
                "Slow C",
                "Fast C",
            ],
            "score": [0.9, 0.85, 0.8, 0.75, 0.9, 0.85, 0.8, 0.75],
        }
    )
    return {"tracks": tracks, "catalog": cat, "profiles": prof, "history": history, "recs": recs}


# --------------------------------------------------------------------------- targets


def test_listener_targets_are_log1p_play_weighted() -> None:
    history = pd.DataFrame(
        {
            "user": ["u", "u", "u", "v"],
            "artist": ["A", "B", "NoAudio", "NoAudio"],
            "plays": [1, 100, 7, 3],
        }
    )
    audio = pd.DataFrame({"artist": ["A", "B"], "tempo": [100.0, 160.0], "valence": [0.2, np.nan]})
    out = pl.listener_targets(history, audio).set_index("user")
    w1, w2 = np.log1p(1), np.log1p(100)
    assert out.loc["u", "tempo"] == pytest.approx((w1 * 100 + w2 * 160) / (w1 + w2))
    assert out.loc["u", "valence"] == pytest.approx(0.2)  # B has no valence: A alone
    assert np.isnan(out.loc["v", "tempo"])  # no artist with audio: unknown, not a global mean


def test_listeners_get_different_profiles(world: dict[str, pd.DataFrame]) -> None:
    out = pl.listener_targets(world["history"], world["profiles"]).set_index("user")
    assert out.loc["u1", "tempo"] > 120 > out.loc["u2", "tempo"]
    assert out.loc["u1", "valence"] > out.loc["u2", "valence"]


def test_context_targets_pull_toward_context() -> None:
    ctx = ContextConfig(tempo=150.0, valence=None, pull=0.8)
    tempo, valence = pl.context_targets(100.0, 0.4, ctx)
    assert tempo == pytest.approx(100 + 0.8 * 50)
    assert valence == pytest.approx(0.4)  # None: the listener's own
    tempo, _ = pl.context_targets(np.array([np.nan, 150.0]), np.array([0.1, 0.2]), ctx)
    assert tempo.tolist() == pytest.approx([150.0, 150.0])  # unknown own → the context's
    own = pl.context_targets(120.0, 0.5, DEFAULT_CONTEXTS["default"])
    assert own == pytest.approx((120.0, 0.5))


# --------------------------------------------------------------------------- expansion


def test_expansion_by_artist_id_never_by_name_substring() -> None:
    """The seed's regex found Sigala's "Lasting Lover" for "Gala"; a credited id never does."""
    tracks = make_tracks(
        [
            {
                "track_id": "g1",
                "track_name": "Freed from Desire",
                "artist_ids": ["id-gala"],
                "popularity": 70.0,
            },
            {
                "track_id": "s1",
                "track_name": "Lasting Lover",
                "artist_ids": ["id-sigala"],
                "popularity": 90.0,
            },
            {
                "track_id": "s2",
                "track_name": "Gala Night",
                "artist_ids": ["id-other"],
                "popularity": 95.0,
            },
            {
                "track_id": "f1",
                "track_name": "Feature",
                "artist_ids": ["id-sigala", "id-gala"],
                "popularity": 60.0,
            },
            {
                "track_id": "r1",
                "track_name": "Regex (.*",
                "artist_ids": ["id-paren"],
                "popularity": 10.0,
            },
        ]
    )
    cat = catalog({"Gala": "id-gala", "Sigala": "id-sigala", "(.*": "id-paren", "Nobody": None})
    table = pl.artist_tracks(cat, tracks, per_artist=10)
    recs = pd.DataFrame(
        {"user": ["u", "u", "u"], "artist": ["Gala", "(.*", "Nobody"], "score": [1.0, 0.5, 0.2]}
    )
    out = pl.expand_tracks(recs, table)
    assert set(out.loc[out["artist"] == "Gala", "track_id"]) == {
        "g1",
        "f1",
    }  # featured credit counts
    assert set(out.loc[out["artist"] == "(.*", "track_id"]) == {
        "r1"
    }  # regex characters are harmless
    assert "s1" not in set(out["track_id"]) and "s2" not in set(out["track_id"])
    assert "Nobody" not in set(out["artist"])  # no Spotify id: no tracks, no guessing


def test_top_artists_keeps_each_listeners_best_ties_by_artist() -> None:
    recs = pd.DataFrame(
        {
            "user": ["v", "u", "u", "u", "u", "v"],
            "artist": ["A", "C", "B", "A", "D", "B"],
            "score": [0.1, 0.5, 0.9, 0.5, 0.2, 0.3],
        }
    )
    out = pl.top_artists(recs, 2)
    assert list(zip(out["user"], out["artist"], strict=True)) == [
        ("u", "B"),
        ("u", "A"),  # 0.5 tie with C: artist order
        ("v", "B"),
        ("v", "A"),
    ]


def test_expand_tracks_rows_are_in_tie_break_order() -> None:
    """(listener, track id, artist): the ranking then sorts by score alone."""
    table = pd.DataFrame(
        {
            "artist": ["B", "A", "A", "C"],
            "track_id": ["t2", "t9", "t2", "t1"],
            "title_key": ["x", "y", "x", "z"],
        }
    )
    recs = pd.DataFrame({"user": ["v", "u", "u"], "artist": ["A", "B", "A"], "score": [1, 2, 3]})
    out = pl.expand_tracks(recs, table)
    assert list(zip(out["user"], out["track_id"], out["artist"], strict=True)) == [
        ("u", "t2", "A"),
        ("u", "t2", "B"),  # the same track under two recommended artists
        ("u", "t9", "A"),
        ("v", "t2", "A"),
        ("v", "t9", "A"),
    ]
    coded = table.astype({"artist": pd.CategoricalDtype(["A", "B", "C", "D"])})
    recs_coded = recs.astype({"artist": coded["artist"].dtype})
    with_index = pl.expand_tracks(recs_coded, coded, index=pl.track_index(coded))
    pd.testing.assert_frame_equal(with_index.astype({"artist": "str"}), out)


def test_artist_tracks_keeps_most_popular_distinct_songs_deterministically() -> None:
    tracks = make_tracks(
        [
            {"track_id": "b", "track_name": "Song", "artist_ids": ["x"], "popularity": 50.0},
            {"track_id": "a", "track_name": "Other", "artist_ids": ["x"], "popularity": 50.0},
            {
                "track_id": "c",
                "track_name": "Song - Remastered 2011",
                "artist_ids": ["x"],
                "popularity": 60.0,
            },
            {
                "track_id": "d",
                "track_name": "Unknown pop",
                "artist_ids": ["x"],
                "popularity": np.nan,
            },
            {"track_id": "e", "track_name": "Third", "artist_ids": ["x"], "popularity": 10.0},
        ]
    )
    table = pl.artist_tracks(catalog({"X": "x"}), tracks, per_artist=2)
    assert table["track_id"].tolist() == ["c", "a"]  # one version of "Song"; 50/50 tie: smaller id
    assert table["track_rank"].tolist() == [1, 2]
    shuffled = pl.artist_tracks(catalog({"X": "x"}), tracks.iloc[::-1], per_artist=2)
    pd.testing.assert_frame_equal(table, shuffled)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Karma Police", "Karma Police - Remastered 2011"),
        ("Karma Police", "Karma Police (Live)"),
        ("Karma Police", "KARMA POLICE!"),
        ("Song", "Song (feat. Someone Else)"),
        ("Song", "Song - Radio Edit"),
        ("Song", "Song [Mono]"),
        ("Café", "Cafe"),
    ],
)
def test_normalise_titles_merges_versions(a: str, b: str) -> None:
    keys = pl.normalise_titles(pd.Series([a, b]))
    assert keys.iloc[0] == keys.iloc[1]


def test_normalise_titles_keeps_distinct_songs() -> None:
    keys = pl.normalise_titles(
        pd.Series(["Live and Let Die", "Let Die", "Song (Remix)", "Song", "(Live)"])
    )
    assert keys.iloc[0] != keys.iloc[1]
    assert keys.iloc[2] != keys.iloc[3]  # a remix is another song
    assert keys.iloc[4]  # never empty


# --------------------------------------------------------------------------- scoring


def scored_example() -> pd.DataFrame:
    cands = pd.DataFrame(
        {
            "user": ["u", "u", "u", "v"],
            "artist": ["A", "B", "C", "A"],
            "score": [3.0, 2.0, 1.0, 5.0],
            "track_id": ["t1", "t2", "t3", "t1"],
            "track_name": ["x", "y", "z", "x"],
            "tempo": [120.0, 200.0, np.nan, 120.0],
            "valence": [0.5, 0.9, 0.1, 0.5],
        }
    )
    targets = pd.DataFrame(
        {"user": ["u", "v"], "target_tempo": [100.0, np.nan], "target_valence": [0.5, 0.5]}
    )
    ctx = ContextConfig(w_base=0.5, w_tempo=0.3, w_valence=0.2)
    return pl.score_tracks(pl.base_scores(cands), targets, ctx)


def test_score_parts_add_up_to_final() -> None:
    df = scored_example()
    assert (df["base_part"] + df["tempo_part"] + df["valence_part"]).to_numpy() == pytest.approx(
        df["final"].to_numpy()
    )
    assert df["base_part"].to_numpy() == pytest.approx(0.5 * df["base"].to_numpy())
    u = df[df["user"] == "u"].set_index("track_id")
    assert u["base"].tolist() == pytest.approx([1.0, 0.5, 0.0])  # min-max per listener
    assert u.loc["t1", "tempo_sim"] == pytest.approx(1 - 20 / 80)
    assert u.loc["t2", "tempo_sim"] == 0.0  # clipped at 0
    assert u.loc["t3", "tempo_sim"] == pl.NEUTRAL_SIM  # unknown tempo: neutral
    assert u.loc["t2", "valence_sim"] == pytest.approx(0.6)
    v = df[df["user"] == "v"].iloc[0]
    assert v["base"] == 1.0  # a single score normalises to 1
    assert v["tempo_sim"] == pl.NEUTRAL_SIM  # unknown target: neutral


def test_base_is_per_listener_min_max() -> None:
    cands = pd.DataFrame({"user": ["u", "u", "u", "v", "w", "w"], "score": [3, 1, 2, 5, np.nan, 1]})
    assert pl.base_scores(cands)["base"].tolist() == [1.0, 0.0, 0.5, 1.0, 1.0, 1.0]


def test_group_candidates_numbers_repeats() -> None:
    df = pd.DataFrame(
        {
            "user": ["u", "u", "u", "v", "u"],
            "artist": ["A", "B", "A", "A", "A"],
            "track_id": ["t1", "t1", "t2", "t1", "t3"],
            "title_key": ["x", "x", "x", "x", "y"],
        }
    )
    out = pl.group_candidates(df)
    track, song, pair = (out[c].tolist() for c in pl.GROUP_COLUMNS)
    assert track[0] == track[1] >= 0 and track[2:] == [-1, -1, -1]  # v's t1 is another listener's
    assert song[0] == song[2] >= 0 and song[1] == song[3] == song[4] == -1
    assert pair[0] == pair[2] == pair[4] and len({pair[0], pair[1], pair[3]}) == 3


def test_dedupe_keeps_best_version() -> None:
    df = pd.DataFrame(
        {
            "user": ["u"] * 6,
            "artist": ["R", "R", "R", "Other", "F", "G"],
            "track_id": ["k1", "k2", "k3", "k4", "same", "same"],
            "track_name": [
                "Karma Police",
                "Karma Police - Remastered 2011",
                "Karma Police (Live)",
                "Karma Police",
                "Duet",
                "Duet",
            ],
            "final": [0.5, 0.9, 0.7, 0.4, 0.3, 0.6],
        }
    )
    out = pl.dedupe(df)
    assert set(out["track_id"]) == {"k2", "k4", "same"}  # other artist's song of that name stays
    assert out.loc[out["track_id"] == "same", "artist"].item() == "G"  # best-scored credit


def test_cap_per_artist() -> None:
    df = pd.DataFrame(
        {
            "user": ["u"] * 5 + ["v"] * 2,
            "artist": ["A", "A", "A", "B", "A", "A", "A"],
            "track_id": list("abcdefg"),
            "final": [0.9, 0.8, 0.95, 0.1, 0.7, 0.5, 0.6],
        }
    )
    out = pl.cap_per_artist(df, cap=2)
    assert out.groupby(["user", "artist"]).size().max() <= 2
    assert set(out.loc[out["user"] == "u", "track_id"]) == {"c", "a", "d"}
    assert len(pl.cap_per_artist(df, cap=1)) == 3


# --------------------------------------------------------------------------- ordering


def _runs(order: list[str]) -> int:
    return sum(a == b for a, b in itertools.pairwise(order))


def test_spread_artists_avoids_consecutive_artists_when_possible() -> None:
    rng = np.random.default_rng(0)
    rows = []
    for u in range(300):
        n = int(rng.integers(1, 12))
        artists = rng.choice(list("ABCDE")[: int(rng.integers(1, 6))], size=n)
        rows += [
            {"user": f"u{u:03d}", "artist": a, "track_id": f"{u}-{i}"}
            for i, a in enumerate(artists)
        ]
    df = pd.DataFrame(rows)
    out = pl.spread_artists(df)
    assert sorted(out["track_id"]) == sorted(df["track_id"])
    for user, part in out.groupby("user", sort=False):
        counts = part["artist"].value_counts()
        feasible = counts.max() <= (len(part) + 1) // 2
        if feasible:
            assert _runs(part["artist"].tolist()) == 0, user
    pd.testing.assert_frame_equal(out, pl.spread_artists(df))  # deterministic


def test_spread_artists_prefers_current_order() -> None:
    df = pd.DataFrame({"user": "u", "artist": list("AABC"), "track_id": list("1234")})
    assert pl.spread_artists(df)["track_id"].tolist() == ["1", "3", "2", "4"]
    forced = pd.DataFrame({"user": "u", "artist": list("BAAA"), "track_id": list("1234")})
    assert pl.spread_artists(forced)["artist"].tolist() == ["A", "B", "A", "A"]  # best possible


def test_number_tracks_counts_from_one_per_listener() -> None:
    df = pd.DataFrame({"user": ["u", "u", "v", "u"], "track_id": list("abcd")})
    assert pl.number_tracks(df)["rank"].tolist() == [1, 2, 1, 3]


def test_tempo_smooth_starts_at_median_and_reduces_jumps() -> None:
    tempos = [60.0, 180.0, 100.0, 140.0, 120.0, np.nan]  # unknown = median
    df = pd.DataFrame(
        {"user": "u", "artist": list("ABCDEF"), "track_id": list("abcdef"), "tempo": tempos}
    )
    out = pl.tempo_smooth(df)
    assert sorted(out["track_id"]) == sorted(df["track_id"])
    assert out["tempo"].iloc[0] == 120.0  # nearest the median (120)

    def jumps(s: pd.Series) -> float:
        return float(s.fillna(s.median()).diff().abs().sum())

    assert jumps(out["tempo"]) < jumps(df["tempo"])


# --------------------------------------------------------------------------- reasons


def test_because_artist_is_the_most_similar_top_artist() -> None:
    history = pd.DataFrame({"user": ["u", "u"], "artist": ["Calm", "Loud"], "plays": [5, 50]})
    prof = profiles(
        {
            "Calm": (70.0, 0.2, ["ambient", "drone"]),
            "Loud": (160.0, 0.8, ["edm"]),
            "Rec": (72.0, 0.25, ["ambient"]),
        }
    )
    pairs = pd.DataFrame({"user": ["u"], "artist": ["Rec"]})
    out = pl.because_artists(pairs, history, prof)
    assert out["because"].tolist() == ["Calm"]  # not simply the most played


def test_because_artists_explains_every_row(world: dict[str, pd.DataFrame]) -> None:
    rows = pd.DataFrame(
        {"user": ["u1", "u2", "u1", "nobody"], "artist": ["Fast C", "Slow C", "Fast C", "Fast C"]}
    )
    out = pl.because_artists(rows, world["history"], world["profiles"])
    assert out["because"].iloc[0] == out["because"].iloc[2] == "Fast A"  # same pair, same reason
    assert out["because"].iloc[1] == "Slow B"
    assert pd.isna(out["because"].iloc[3])  # no history: nothing to explain with
    space = pl.artist_space(world["profiles"])
    pd.testing.assert_frame_equal(
        pl.because_artists(rows, world["history"], world["profiles"], space=space), out
    )


def test_add_reasons_reads_well() -> None:
    df = pd.DataFrame(
        {
            "because": ["Radiohead", np.nan],
            "tempo": [128.4, np.nan],
            "valence": [0.712, 0.3],
            "target_tempo": [148.0, 148.0],
            "target_valence": [0.75, 0.75],
        }
    )
    reasons = pl.add_reasons(df, "workout")["reason"].tolist()
    assert reasons[0] == (
        "Because you play Radiohead · 128 BPM, valence 0.71 for workout (target 148 BPM, 0.75)"
    )
    assert reasons[1].startswith("Recommended for you · tempo unknown")


# --------------------------------------------------------------------------- composition


def build_all(
    world: dict[str, pd.DataFrame], cfg: PlaylistConfig | None = None, **kw
) -> pd.DataFrame:
    cfg = cfg or PlaylistConfig(length=6, per_artist_cap=2)
    table = pl.artist_tracks(world["catalog"], world["tracks"], cfg.tracks_per_artist)
    return pl.build_playlists(world["recs"], world["history"], world["profiles"], table, cfg, **kw)


def test_build_playlists_shape_and_rules(world: dict[str, pd.DataFrame]) -> None:
    out = build_all(world)
    assert list(out.columns) == ["user", "context", *pl.PLAYLIST_COLUMNS]
    assert set(out["context"]) == set(DEFAULT_CONTEXTS)
    for (_user, _ctx), part in out.groupby(["user", "context"]):
        assert part["rank"].tolist() == list(range(1, len(part) + 1))
        assert len(part) == 6
        assert part.groupby("artist").size().max() <= 2
        assert _runs(part["artist"].tolist()) == 0
        assert part["track_id"].is_unique
        assert np.allclose(
            part[["base_part", "tempo_part", "valence_part"]].sum(axis=1), part["final"]
        )


def documented_steps() -> list[str]:
    """The steps the package docstring lists, in order: the functions named before each
    numbered line's dash, and the context targets named between the lists."""
    names = []
    for line in (pl.__doc__ or "").splitlines():
        line = line.strip()
        if re.match(r"\d+\.", line) or line.startswith("then for each context"):
            names += re.findall(r":func:`(\w+)`", line.split(" — ")[0])
    return names


def test_the_batch_runs_every_documented_step(
    world: dict[str, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The documented steps are the code that runs: each is called by the batch, as is."""
    from musicrec_assets.core.playlist import batch

    steps = documented_steps()
    assert steps[:3] == ["top_artists", "expand_tracks", "base_scores"]
    assert steps[-2:] == ["because_artists", "add_reasons"] and len(steps) == 16
    calls: list[str] = []
    for name in steps:
        assert name in pl.__all__, name
        step = getattr(batch, name)
        assert step is getattr(pl, name), name  # the public function itself, not a copy

        def counted(*args, _step=step, _name=name, **kwargs):
            calls.append(_name)
            return _step(*args, **kwargs)

        monkeypatch.setattr(batch, name, counted)
    expected = build_all(world, cfg=PlaylistConfig(length=6, tempo_smooth=True))
    monkeypatch.undo()
    assert set(calls) == set(steps)
    pd.testing.assert_frame_equal(
        expected, build_all(world, cfg=PlaylistConfig(length=6, tempo_smooth=True))
    )


def test_workout_is_faster_and_brighter_than_chill(world: dict[str, pd.DataFrame]) -> None:
    out = build_all(world, contexts=["workout", "chill"])
    for user in ("u1", "u2"):  # both a fast and a slow listener
        mine = out[out["user"] == user].groupby("context")[["tempo", "valence"]].mean()
        assert mine.loc["workout", "tempo"] > mine.loc["chill", "tempo"] + 20
        assert mine.loc["workout", "valence"] > mine.loc["chill", "valence"]


def test_build_playlist_is_the_batch_computation(world: dict[str, pd.DataFrame]) -> None:
    cfg = PlaylistConfig(length=5)
    table = pl.artist_tracks(world["catalog"], world["tracks"], cfg.tracks_per_artist)
    batch = pl.build_playlists(world["recs"], world["history"], world["profiles"], table, cfg)
    for ctx in ("default", "focus"):
        one = pl.build_playlist(
            "u2", world["recs"], world["history"], world["profiles"], table, cfg, ctx
        )
        expected = batch[(batch["user"] == "u2") & (batch["context"] == ctx)]
        pd.testing.assert_frame_equal(
            one, expected[list(pl.PLAYLIST_COLUMNS)].reset_index(drop=True)
        )


def test_chunks_do_not_change_the_result(world: dict[str, pd.DataFrame]) -> None:
    pd.testing.assert_frame_equal(build_all(world), build_all(world, chunk_users=1))


def test_categorical_inputs_give_the_same_playlists(world: dict[str, pd.DataFrame]) -> None:
    """Parquet may hand back dictionary (categorical) columns, sliced with unused categories."""
    recs = world["recs"].astype({"user": "category", "artist": "category"})
    history = world["history"].astype({"user": "category", "artist": "category"})
    sliced = {**world, "recs": recs[recs["user"] == "u1"], "history": history}
    plain = {**world, "recs": world["recs"][world["recs"]["user"] == "u1"]}
    pd.testing.assert_frame_equal(build_all(sliced), build_all(plain))


def random_world(seed: int = 7) -> dict[str, pd.DataFrame]:
    """Many listeners with what makes chunking and key handling hard: exact score ties (coarse
    scores, missing audio), featured credits (one track under two artists), remaster variants,
    listeners without history, history of listeners without recommendations."""
    rng = np.random.default_rng(seed)
    artists = [f"Artist {i:02d}" for i in range(40)] + ["Zoë", "Ähnlich", "bass & co"]
    rows = []
    for a, artist in enumerate(artists):
        for j in range(int(rng.integers(1, 7))):
            credit = [f"id-{artist}"]
            if rng.random() < 0.15:  # featured: the track is also the other artist's
                credit.append(f"id-{artists[int(rng.integers(len(artists)))]}")
            title = f"Song {j % 4}" + (" - Remastered 2011" if j >= 4 else "")
            rows.append(
                {
                    "track_id": f"t{a:02d}{j}",
                    "track_name": title,
                    "artist_ids": credit,
                    "popularity": float(rng.integers(0, 5)),
                    "tempo": rng.choice([np.nan, 90.0, 120.0, 150.0]),
                    "valence": rng.choice([np.nan, 0.3, 0.6]),
                }
            )
    tracks = make_tracks(rows)
    cat = catalog({a: (f"id-{a}" if i % 9 else None) for i, a in enumerate(artists)})
    genres = ["rock", "pop", "jazz", "edm", "folk"]
    prof = profiles(
        {
            a: (
                float(rng.choice([np.nan, 80.0, 120.0])),
                float(rng.choice([0.2, 0.5, 0.8])),
                list(rng.choice(genres, size=int(rng.integers(1, 4)), replace=False)),
            )
            for i, a in enumerate(artists)
            if i % 7
        }
    )
    users = [f"user{u:03d}" for u in range(60)]
    recs = pd.DataFrame(
        [
            {"user": u, "artist": a, "score": float(rng.choice([0.2, 0.5, 0.5, 0.9]))}
            for u in users
            for a in rng.choice(artists, size=int(rng.integers(3, 14)), replace=False)
        ]
    )
    history = pd.DataFrame(
        [
            {"user": u, "artist": a, "plays": int(rng.choice([1, 3, 3, 10]))}
            for u in [*users[5:], "only-history"]
            for a in rng.choice(artists, size=int(rng.integers(1, 8)), replace=False)
        ]
    )
    return {"tracks": tracks, "catalog": cat, "profiles": prof, "history": history, "recs": recs}


def with_keys(df: pd.DataFrame, kind: str) -> pd.DataFrame:
    """``user``/``artist`` as object strings, or as categoricals whose categories are unsorted
    and include values that never occur (as a sliced parquet dictionary column has)."""
    if kind == "object":
        return df.astype({"user": object, "artist": object})
    out = df.copy()
    for col in ("user", "artist"):
        labels = [*sorted(df[col].unique(), reverse=True), f"unused {col}"]
        out[col] = pd.Categorical(df[col], categories=labels)
    return out


@pytest.mark.parametrize("kind", ["object", "category"])
@pytest.mark.parametrize(("chunk_users", "workers"), [(1, 2), (7, 2), (7, 0), (3, 3)])
def test_build_playlists_same_for_any_chunking_and_key_dtype(
    kind: str, chunk_users: int, workers: int
) -> None:
    world = random_world()
    cfg = PlaylistConfig(length=8, per_artist_cap=2)
    table = pl.artist_tracks(world["catalog"], world["tracks"], cfg.tracks_per_artist)
    expected = pl.build_playlists(
        world["recs"],
        world["history"],
        world["profiles"],
        table,
        cfg,
        chunk_users=10_000,
        workers=0,
    )
    assert expected["user"].nunique() == world["recs"]["user"].nunique()
    assert expected["reason"].str.startswith("Because you play").any()
    out = pl.build_playlists(
        with_keys(world["recs"], kind),
        with_keys(world["history"], kind),
        world["profiles"],
        table,
        cfg,
        chunk_users=chunk_users,
        workers=workers,
    )
    pd.testing.assert_frame_equal(out, expected, check_exact=True)


def test_summary_over_chunks_equals_summary_of_the_whole() -> None:
    world = random_world()
    cfg = PlaylistConfig(length=8, per_artist_cap=2)
    table = pl.artist_tracks(world["catalog"], world["tracks"], cfg.tracks_per_artist)
    args = (world["recs"], world["history"], world["profiles"], table, cfg)
    whole = pl.build_playlists(*args)
    chunks = list(pl.iter_playlists(*args, chunk_users=3))
    assert len(chunks) > 2
    # each chunk holds whole playlists of listeners no other chunk has
    assert sum(c["user"].nunique() for c in chunks) == whole["user"].nunique()
    summary = pl.PlaylistSummary()
    assert list(summary.observe(iter(chunks))) == chunks
    expected = pl.playlist_summary(whole)
    assert summary.result() == expected
    assert expected["listeners"] == whole["user"].nunique()
    assert expected["playlists"] == len(whole.drop_duplicates(["user", "context"]))
    for name, stats in expected["contexts"].items():
        part = whole[whole["context"] == name]
        assert stats["tracks"] == len(part)
        assert stats["mean_tempo"] == round(part["tempo"].mean(), 2)  # NaN tempos skipped
        assert stats["distinct_artists"] == part["artist"].nunique()
        per = part.groupby("user")["artist"]
        assert stats["artist_diversity"] == round((per.nunique() / per.size()).mean(), 3)
    pd.testing.assert_frame_equal(summary.head, whole.head(10))


def pandas_reference(df: pd.DataFrame, cap: int, length: int) -> dict[str, pd.DataFrame]:
    """The ranking steps as plain pandas sorts and drop_duplicates: what they must equal."""
    ranked = df.sort_values(
        ["user", "final", "track_id", "artist"], ascending=[True, False, True, True], kind="stable"
    ).reset_index(drop=True)
    deduped = ranked.drop_duplicates(["user", "track_id"]).drop_duplicates(
        ["user", "artist", "title_key"]
    )
    capped = deduped[deduped.groupby(["user", "artist"]).cumcount() < cap]
    top = capped[capped.groupby("user").cumcount() < length]
    return {
        "ranked": ranked,
        "deduped": deduped.reset_index(drop=True),
        "capped": capped.reset_index(drop=True),
        "top": top.reset_index(drop=True),
    }


@pytest.mark.parametrize("presorted", [False, True])
def test_ranking_steps_match_a_pandas_reference(presorted: bool) -> None:
    """Exact score ties (few distinct finals), a track under two artists, repeated titles; rows
    either shuffled or already in (user, track, artist) order (the batch's fast path)."""
    rng = np.random.default_rng(3)
    n = 3000
    df = pd.DataFrame(
        {
            "user": rng.choice([f"u{i}" for i in range(40)], n),
            "artist": rng.choice(list("ABCDEFG"), n),
            "track_id": rng.choice([f"t{i}" for i in range(60)], n),
            "title_key": rng.choice(["x", "y", "z"], n),
            "final": rng.choice([0.1, 0.25, 0.5, 0.75, np.nan], n),
            "row": np.arange(n),
        }
    ).drop_duplicates(["user", "track_id", "artist"])
    if presorted:
        df = df.sort_values(["user", "track_id", "artist"]).reset_index(drop=True)
    expected = pandas_reference(df, cap=2, length=5)
    ranked = pl.rank_by_score(df)
    pd.testing.assert_frame_equal(ranked, expected["ranked"])
    deduped = pl.dedupe(ranked, ranked=True)
    pd.testing.assert_frame_equal(deduped, expected["deduped"])
    capped = pl.cap_per_artist(deduped, 2, ranked=True)
    pd.testing.assert_frame_equal(capped, expected["capped"])
    pd.testing.assert_frame_equal(pl.take_top(capped, 5, ranked=True), expected["top"])
    pd.testing.assert_frame_equal(pl.dedupe(df), expected["deduped"])
    grouped = pl.dedupe(pl.rank_by_score(pl.group_candidates(df)), ranked=True)
    pd.testing.assert_frame_equal(grouped.drop(columns=list(pl.GROUP_COLUMNS)), expected["deduped"])
    capped = pl.cap_per_artist(grouped, 2, ranked=True).drop(columns=list(pl.GROUP_COLUMNS))
    pd.testing.assert_frame_equal(capped, expected["capped"])


@pytest.mark.parametrize(
    "encoding", ["sorted categorical", "unsorted categorical", "integer codes"]
)
def test_steps_read_every_key_encoding_alike(encoding: str) -> None:
    """Strings, categoricals (their codes when the categories are sorted) and integer codes (as
    they are) order and group rows the same way."""
    rng = np.random.default_rng(4)
    n = 500
    df = pd.DataFrame(
        {
            "user": rng.choice([f"u{i}" for i in range(12)], n),
            "artist": rng.choice(list("ABCDE"), n),
            "track_id": rng.choice([f"t{i:02d}" for i in range(30)], n),
            "title_key": rng.choice(["x", "y"], n),
            "tempo": rng.choice([90.0, 120.0, np.nan], n),
            "final": rng.choice([0.2, 0.5, np.nan], n),
        }
    ).drop_duplicates(["user", "track_id", "artist"])
    keys = ["user", "artist", "track_id", "title_key"]
    if encoding == "sorted categorical":
        coded = df.astype({c: pd.CategoricalDtype(sorted(df[c].unique())) for c in keys})
    elif encoding == "unsorted categorical":  # recoded in string order
        labels = {c: [*sorted(df[c].unique(), reverse=True), "unused"] for c in keys}
        coded = df.astype({c: pd.CategoricalDtype(labels[c]) for c in keys})
    else:
        coded = df.assign(**{c: pd.factorize(df[c], sort=True)[0] for c in keys})
    for step in (
        lambda f: pl.rank_by_score(f),
        lambda f: pl.take_top(pl.cap_per_artist(pl.dedupe(f), 2), 4),
        lambda f: pl.spread_artists(pl.tempo_smooth(f)),
        lambda f: pl.number_tracks(f),
        lambda f: pl.group_candidates(f),
    ):
        plain, other = step(df.assign(row=range(len(df)))), step(coded.assign(row=range(len(df))))
        pd.testing.assert_frame_equal(plain.drop(columns=keys), other.drop(columns=keys))


def greedy_spread(artists: list[str]) -> list[int]:
    """spread_artists' rule, literally, for one playlist."""
    remaining, order, prev = list(range(len(artists))), [], None
    while remaining:
        counts = {a: sum(artists[i] == a for i in remaining) for a in artists}
        other = [i for i in remaining if artists[i] != prev]
        forced = [i for i in other if 2 * counts[artists[i]] > len(remaining)]
        pick = (forced or other or remaining)[0]
        order.append(pick)
        remaining.remove(pick)
        prev = artists[pick]
    return order


def test_spread_artists_follows_its_greedy_rule() -> None:
    rng = np.random.default_rng(5)
    rows = []
    for u in range(200):
        n = int(rng.integers(1, 15))
        pool = list("ABCDE")[: int(rng.integers(1, 6))]
        rows += [{"user": f"u{u:03d}", "artist": rng.choice(pool), "pos": i} for i in range(n)]
    df = pd.DataFrame(rows)
    out = pl.spread_artists(df)
    for user, part in df.groupby("user", sort=False):
        expected = greedy_spread(part["artist"].tolist())
        assert out.loc[out["user"] == user, "pos"].tolist() == expected, user


def test_overrides_change_weights_cap_and_length(world: dict[str, pd.DataFrame]) -> None:
    out = build_all(world, contexts=["default"], weights=(1.0, 0.0, 0.0), cap=1, length=3)
    assert (out["tempo_part"] == 0).all() and (out["valence_part"] == 0).all()
    assert np.allclose(out["final"], out["base"])
    assert out.groupby(["user", "artist"]).size().max() == 1
    assert out.groupby("user").size().max() == 3


def test_tempo_smooth_setting_is_applied(world: dict[str, pd.DataFrame]) -> None:
    cfg = PlaylistConfig(length=8, tempo_smooth=True)
    out = build_all(world, cfg=cfg, contexts=["default"])
    for _, part in out.groupby("user"):
        assert _runs(part["artist"].tolist()) == 0
        assert len(part) == 8


def test_unknown_context_and_empty_inputs(world: dict[str, pd.DataFrame]) -> None:
    with pytest.raises(ValueError, match="unknown context 'party'"):
        build_all(world, contexts=["party"])
    empty = build_all({**world, "recs": world["recs"].iloc[0:0]})
    assert empty.empty and list(empty.columns) == ["user", "context", *pl.PLAYLIST_COLUMNS]


def test_custom_context_is_data_not_code(world: dict[str, pd.DataFrame]) -> None:
    contexts = {**DEFAULT_CONTEXTS, "sprint": ContextConfig(0.1, 0.9, 0.0, tempo=190.0, pull=1.0)}
    cfg = dataclasses.replace(PlaylistConfig(length=4), contexts=contexts)
    out = build_all(world, cfg=cfg, contexts=["sprint", "chill"])
    means = out.groupby("context")["tempo"].mean()
    assert means["sprint"] > means["chill"]
    assert (out.loc[out["context"] == "sprint", "target_tempo"] == 190.0).all()


def test_playlist_summary(world: dict[str, pd.DataFrame]) -> None:
    summary = pl.playlist_summary(build_all(world))
    assert summary["listeners"] == 2 and summary["playlists"] == 2 * len(DEFAULT_CONTEXTS)
    workout, chill = summary["contexts"]["workout"], summary["contexts"]["chill"]
    assert workout["mean_tempo"] > chill["mean_tempo"]
    assert 0 < workout["artist_diversity"] <= 1


# --------------------------------------------------------------------------- exports

HOSTILE = '<b>x</b><script>alert("&")</script>\nline2'


def export_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "rank": [1, 2],
            "track_id": ["4uLU6hMCjMI75M1A2tKUQC", "odd id/?"],
            "track_name": ["Never Gonna", HOSTILE],
            "artist": [HOSTILE, "Rick"],
            "reason": ["Because you play X", "r\x01"],
        }
    )


def test_to_m3u() -> None:
    text = pl.to_m3u(export_frame())
    lines = text.splitlines()
    assert lines[0] == "#EXTM3U" and len(lines) == 5
    assert lines[2] == "spotify:track:4uLU6hMCjMI75M1A2tKUQC"
    assert lines[4] == "spotify:track:odd%20id%2F%3F"
    assert "line2" in lines[1]  # the newline in the name did not start a new entry


def test_to_xspf_escapes_and_parses() -> None:
    text = pl.to_xspf(export_frame(), title="a & b <c>")
    assert "<script>" not in text
    root = ET.fromstring(text.encode("utf-8"))
    ns = {"x": "http://xspf.org/ns/0/"}
    assert root.find("x:title", ns).text == "a & b <c>"
    tracks = root.findall("x:trackList/x:track", ns)
    assert [t.find("x:location", ns).text for t in tracks] == [
        "spotify:track:4uLU6hMCjMI75M1A2tKUQC",
        "spotify:track:odd%20id%2F%3F",
    ]
    assert tracks[0].find("x:creator", ns).text == HOSTILE.replace("\n", " ")
    assert tracks[1].find("x:annotation", ns).text == "r"  # control character dropped


def test_to_csv_round_trips() -> None:
    from io import StringIO

    df = export_frame()
    back = pd.read_csv(StringIO(pl.to_csv(df)))
    assert back["artist"].tolist() == df["artist"].tolist()
