"""The embedded sample generator: layouts, determinism, the documented mess, learnable structure."""

from __future__ import annotations

import ast
import os
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from musicrec_assets.core.config import load_config
from musicrec_assets.core.names import normalise_names
from musicrec_assets.sample import (
    ARTISTS_COLUMNS,
    ARTISTS_PATH,
    GENRES,
    LASTFM_PATH,
    PLAYS_PATH,
    TRACKS_COLUMNS,
    TRACKS_PATH,
    SampleWorld,
    build_world,
    generate_sample,
    mess_quantities,
)

SIZES = {"users": 120, "artists": 300, "tracks": 2000, "scrobbles": 30_000, "seed": 11}
TINY = {"users": 40, "artists": 80, "tracks": 300, "scrobbles": 3000}
FILES = (LASTFM_PATH, TRACKS_PATH, ARTISTS_PATH, "musicrec.toml")


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SampleWorld]:
    out = tmp_path_factory.mktemp("sample")
    generate_sample(out, **SIZES)
    return out, build_world(**SIZES)


@pytest.fixture(scope="module")
def tables(sample: tuple[Path, SampleWorld]) -> dict[str, pd.DataFrame]:
    out, _ = sample
    return _read(out)


def _read(out: Path) -> dict[str, pd.DataFrame]:
    return {
        "lastfm": pd.read_csv(out / LASTFM_PATH, keep_default_na=False),
        "tracks": pd.read_csv(out / TRACKS_PATH),
        "artists": pd.read_csv(out / ARTISTS_PATH),
    }


def _first_line(path: Path) -> str:
    with path.open(encoding="utf-8") as f:
        return f.readline().rstrip("\n")


# --------------------------------------------------------------------------------------------
# Layouts
# --------------------------------------------------------------------------------------------
def test_headers_and_row_counts(sample, tables) -> None:
    out, _ = sample
    assert _first_line(out / LASTFM_PATH) == ",Username,Artist,Track,Album,Date,Time"
    assert _first_line(out / TRACKS_PATH) == ",".join(TRACKS_COLUMNS)
    assert _first_line(out / ARTISTS_PATH) == "id,followers,genres,name,popularity"
    assert TRACKS_COLUMNS[:8] == (
        "id",
        "name",
        "popularity",
        "duration_ms",
        "explicit",
        "artists",
        "id_artists",
        "release_date",
    )
    assert ARTISTS_COLUMNS == ("id", "followers", "genres", "name", "popularity")
    q = mess_quantities(SIZES["artists"], SIZES["tracks"])
    assert len(tables["lastfm"]) == SIZES["scrobbles"]
    assert len(tables["tracks"]) == SIZES["tracks"]
    assert len(tables["artists"]) == q["spotify_artists"]
    raw = (out / LASTFM_PATH).read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf") and b"\r\n" not in raw


def test_lastfm_values(tables) -> None:
    lf = tables["lastfm"]
    assert lf["Unnamed: 0"].tolist() == list(range(len(lf)))
    assert lf["Date"].str.fullmatch(r"\d{2} [A-Z][a-z]{2} \d{4}").all()
    assert lf["Time"].str.fullmatch(r"\d{2}:\d{2}").all()
    when = pd.to_datetime(lf["Date"] + " " + lf["Time"], format="%d %b %Y %H:%M")
    assert when.min() >= pd.Timestamp("2020-02-01") and when.max() < pd.Timestamp("2021-02-01")
    assert when.max() - when.min() > pd.Timedelta(days=300)  # spread over the year
    # Grouped by listener (each one contiguous), newest first inside a listener.
    runs = (lf["Username"] != lf["Username"].shift()).sum()
    assert runs == lf["Username"].nunique() == SIZES["users"]
    step = when.groupby(lf["Username"]).diff().dropna()
    assert (step <= pd.Timedelta(0)).all()
    assert (lf[["Username", "Artist", "Track", "Album"]] != "").all().all()


def test_tracks_values(tables) -> None:
    tr, ar = tables["tracks"], tables["artists"]
    base62 = r"[0-9A-Za-z]{22}"
    assert tr["id"].str.fullmatch(base62).all() and tr["id"].is_unique
    assert ar["id"].str.fullmatch(base62).all() and ar["id"].is_unique
    assert set(tr["explicit"].unique()) <= {0, 1}
    assert tr["key"].dropna().between(0, 11).all() and set(tr["mode"].dropna()) <= {0, 1}
    assert (tr["loudness"].dropna() < 0).all()
    assert tr["tempo"].dropna().between(55, 210).all()
    assert tr["tempo"].dropna().quantile(0.05) < 100 < tr["tempo"].dropna().quantile(0.95)
    for col in ("danceability", "energy", "valence", "acousticness", "instrumentalness"):
        assert tr[col].dropna().between(0, 1).all(), col
    assert set(tr["time_signature"].dropna().unique()) <= {1, 3, 4, 5}
    assert tr["duration_ms"].between(30_000, 1_200_000).all()
    assert tr["release_date"].str.fullmatch(r"\d{4}(-\d{2}-\d{2})?").all()
    known_ids = set(ar["id"])
    for names, ids in zip(tr["artists"], tr["id_artists"], strict=True):
        parsed_names, parsed_ids = ast.literal_eval(names), ast.literal_eval(ids)
        assert repr(parsed_names) == names and repr(parsed_ids) == ids  # Python-style reprs
        assert len(parsed_names) == len(parsed_ids) >= 1
        assert set(parsed_ids) <= known_ids
    for genres in ar["genres"]:
        assert repr(ast.literal_eval(genres)) == genres
        assert set(ast.literal_eval(genres)) <= set(GENRES)
    assert (ar["followers"] >= 0).all() and ar["popularity"].between(0, 100).all()


def test_config_loads(sample) -> None:
    out, _ = sample
    cfg = load_config(out / "musicrec.toml")
    assert cfg.seed == SIZES["seed"]
    assert cfg.storage_dir == (out / "derived").resolve()
    assert cfg.sources.listens.format == "lastfm_kaggle"
    assert cfg.sources.listens.path == (out / LASTFM_PATH).resolve()
    assert cfg.sources.tracks is not None and cfg.sources.tracks.format == "spotify_600k_tracks"
    assert cfg.sources.artists is not None and cfg.sources.artists.format == "spotify_600k_artists"
    assert cfg.sources.tracks.path.is_file() and cfg.sources.artists.path.is_file()


def test_deterministic(tmp_path: Path) -> None:
    a, b, c = (tmp_path / name for name in "abc")
    generate_sample(a, seed=3, **TINY)
    generate_sample(b, seed=3, **TINY)
    generate_sample(c, seed=4, **TINY)
    for name in FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    for name in (LASTFM_PATH, TRACKS_PATH, ARTISTS_PATH):
        assert (a / name).read_bytes() != (c / name).read_bytes(), name


def test_bad_sizes_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="tracks"):
        generate_sample(tmp_path, users=10, artists=100, tracks=50, scrobbles=500)
    with pytest.raises(ValueError, match="artists"):
        generate_sample(tmp_path, users=10, artists=10, tracks=50, scrobbles=500)
    with pytest.raises(ValueError, match="scrobbles"):
        generate_sample(tmp_path, users=10, artists=100, tracks=500, scrobbles=5)


def test_pairs_target(tmp_path: Path) -> None:
    sizes = {"users": 150, "artists": 400, "tracks": 3000, "scrobbles": 12_000, "seed": 5}
    generate_sample(tmp_path, pairs=9000, **sizes)
    lf = pd.read_csv(tmp_path / LASTFM_PATH, keep_default_na=False)
    pairs = len(lf.assign(k=normalise_names(lf["Artist"])).drop_duplicates(["Username", "k"]))
    assert 0.97 * 9000 <= pairs <= 9000


def test_plays_table_option(tmp_path: Path) -> None:
    """``listens="plays_table"``/``"both"``: the scrobbles aggregated per listener and spelling
    in a Parquet the config reads as ``plays_table``; the default writes no Parquet."""
    from musicrec_assets.core.readers import read_listens

    both, only, default = tmp_path / "both", tmp_path / "only", tmp_path / "default"
    generate_sample(both, seed=3, listens="both", **TINY)
    generate_sample(only, seed=3, listens="plays_table", **TINY)
    generate_sample(default, seed=3, **TINY)
    assert not (default / PLAYS_PATH).exists()
    assert not (only / LASTFM_PATH).exists()
    assert (both / LASTFM_PATH).read_bytes() == (default / LASTFM_PATH).read_bytes()
    assert (both / PLAYS_PATH).read_bytes() == (only / PLAYS_PATH).read_bytes()

    plays = pd.read_parquet(both / PLAYS_PATH)
    assert list(plays.columns) == ["user", "artist", "plays"]
    assert plays["plays"].dtype == np.int64 and (plays["plays"] > 0).all()
    assert not plays.duplicated(["user", "artist"]).any()
    lf = pd.read_csv(both / LASTFM_PATH, keep_default_na=False)
    expected = lf.groupby(["Username", "Artist"]).size()
    got = plays.set_index(["user", "artist"])["plays"]
    assert int(got.sum()) == TINY["scrobbles"] == len(lf)
    pd.testing.assert_series_equal(
        got.sort_index(), expected.sort_index(), check_names=False, check_dtype=False
    )

    for out in (both, only):
        cfg = load_config(out / "musicrec.toml")
        assert cfg.sources.listens.format == "plays_table"
        assert cfg.sources.listens.path == (out / PLAYS_PATH).resolve()
    listens, report = read_listens(load_config(only / "musicrec.toml").sources.listens)
    assert report.rows_out == len(plays) and int(listens["plays"].sum()) == TINY["scrobbles"]
    with pytest.raises(ValueError, match="listens"):
        generate_sample(tmp_path / "bad", listens="csv", **TINY)


# --------------------------------------------------------------------------------------------
# The documented mess
# --------------------------------------------------------------------------------------------
def test_name_mess(sample, tables) -> None:
    _, world = sample
    lf, ar = tables["lastfm"], tables["artists"]
    q = mess_quantities(SIZES["artists"], SIZES["tracks"])
    spotify = set(ar["name"])
    lastfm = pd.Series(lf["Artist"].unique())
    odd = lastfm[~lastfm.isin(spotify)]  # Last.fm spellings with no exact Spotify twin
    lower = {n.lower(): n for n in spotify}

    case = odd[odd.str.lower().isin(lower) & (odd.str.strip() == odd)]
    assert (case == case.str.lower()).any() and (case == case.str.upper()).any()
    accented = ar["name"][ar["name"].str.contains(r"[éöáüí]")]
    folded = accented.str.normalize("NFKD").str.replace(r"[\u0300-\u036f]", "", regex=True)
    assert folded.isin(set(odd)).sum() >= 1  # Beyoncé vs Beyonce
    assert accented.isin(set(lastfm)).sum() >= 1  # and accents spelled identically too
    assert any(f"The {n}" in spotify for n in odd) and any(f"The {n}" in set(odd) for n in spotify)
    assert ar["name"].str.contains("/").any() and ar["name"].str.contains("!").any()
    punct = ar["name"][ar["name"].str.contains(r"[/!]")].str.replace(r"[/!]", "", regex=True)
    assert punct.isin(set(odd)).any()  # AC/DC vs ACDC
    assert (odd != odd.str.strip()).any() and odd.str.contains("  ").any()

    # Last.fm-only artists: no normalised match at all, exactly the planned (played) ones.
    keys = set(normalise_names(ar["name"]))
    unmatched = lastfm[~normalise_names(lastfm).isin(keys)]
    planned = set(world.artists.lastfm_name[world.artists.kind == 1])
    assert set(unmatched) <= planned and len(unmatched) >= 0.8 * q["lastfm_only_artists"]
    # Every other spelling resolves under the shared key, and only namesakes collide.
    per_key = normalise_names(ar["name"]).value_counts()
    assert (per_key > 1).sum() == q["namesake_pairs"]
    twins = ar[ar["name"].duplicated(keep=False)].sort_values(["name", "popularity"])
    assert len(twins) == 2 * q["namesake_pairs"] and twins["id"].is_unique
    for _, pair in twins.groupby("name"):
        low, high = pair.iloc[0], pair.iloc[1]
        assert high["popularity"] > low["popularity"] and high["followers"] > low["followers"]
        assert high["name"] in set(lastfm)  # the popular one is the listened one

    assert ar["name"].str.contains("'").any() and ar["name"].str.contains(",").any()
    assert tables["tracks"]["artists"].str.contains('"', regex=False).any()  # ["Guns N' Roses"]
    assert (ar["genres"] == "[]").sum() == q["empty_genres"]


def test_track_mess(tables) -> None:
    tr = tables["tracks"]
    q = mess_quantities(SIZES["artists"], SIZES["tracks"])
    n_credits = tr["id_artists"].map(lambda s: len(ast.literal_eval(s)))
    assert (n_credits > 1).sum() == q["multi_artist_tracks"] and (n_credits == 3).any()
    audio = ["danceability", "energy", "key", "loudness", "mode", "speechiness", "acousticness"]
    audio += ["instrumentalness", "liveness", "valence", "tempo", "time_signature"]
    assert tr[audio].isna().all(axis=1).sum() == q["audio_missing_tracks"]
    assert tr["tempo"].isna().sum() == q["audio_missing_tracks"] + q["audio_partial_tracks"]
    # Other releases of the same song: same first artist, title plus a suffix (or identical).
    tr = tr.assign(owner=tr["id_artists"].map(lambda s: ast.literal_eval(s)[0]))
    base = tr["name"].str.replace(r" - Remastered \d{4}$| \(Live\)$", "", regex=True)
    remaster = tr["name"].str.contains(r" - Remastered \d{4}$")
    live = tr["name"].str.endswith(" (Live)")
    originals = set(zip(tr["owner"], tr["name"], strict=True))
    assert all(
        (o, b) in originals for o, b in zip(tr["owner"][remaster], base[remaster], strict=True)
    )
    assert all((o, b) in originals for o, b in zip(tr["owner"][live], base[live], strict=True))
    same = tr[~remaster & ~live].duplicated(["owner", "name"]).sum()
    assert remaster.sum() + live.sum() + same == q["track_variants"] and min(
        remaster.sum(), live.sum(), same
    )


# --------------------------------------------------------------------------------------------
# Learnable structure
# --------------------------------------------------------------------------------------------
def _scrobbles_with_keys(tables: dict[str, pd.DataFrame], world: SampleWorld) -> pd.DataFrame:
    lf = tables["lastfm"].copy()
    lf["u"] = lf["Username"].map({n: i for i, n in enumerate(world.listeners.name)})
    lf["key"] = normalise_names(lf["Artist"])
    return lf


def test_listeners_play_their_genres(sample, tables) -> None:
    _, world = sample
    lf = _scrobbles_with_keys(tables, world)
    ar = tables["artists"].assign(key=lambda d: normalise_names(d["name"]))
    ar = ar.sort_values("popularity", ascending=False).drop_duplicates("key")
    listed = ar.set_index("key")["genres"].map(ast.literal_eval)
    main = listed[listed.str.len() > 0].str[0]
    pairs = lf.drop_duplicates(["u", "key"])
    pairs = pairs.assign(main=pairs["key"].map(main)).dropna(subset=["main"])
    favourite = np.asarray(GENRES)[world.listeners.theta0.argmax(axis=1)]
    share = (pairs["main"].to_numpy() == favourite[pairs["u"]]).mean()
    catalogue = main.value_counts(normalize=True)
    chance = np.mean([catalogue.get(g, 0.0) for g in favourite[pairs["u"]]])
    assert share > 2.5 * chance, (share, chance)  # measured ~4x on several seeds


def test_played_tempo_follows_listener_taste(sample, tables) -> None:
    _, world = sample
    lf = _scrobbles_with_keys(tables, world)
    tr = tables["tracks"].dropna(subset=["tempo"])
    tr = tr.assign(key=normalise_names(tr["artists"].map(lambda s: ast.literal_eval(s)[0])))
    tempo = tr.drop_duplicates(["key", "name"]).set_index(["key", "name"])["tempo"]
    lf["tempo"] = tempo.reindex(pd.MultiIndex.from_arrays([lf["key"], lf["Track"]])).to_numpy()
    played = lf.groupby("u")["tempo"].mean()
    lis = world.listeners
    target = ((lis.tempo0 + lis.tempo1) / 2)[played.index]
    assert np.corrcoef(played, target)[0, 1] > 0.6  # measured 0.80-0.86
    # Beyond genre: the personal tempo offset shows within the listener's genres too.
    from musicrec_assets.sample.params import _F, _GENRE_MEAN

    implied = (lis.theta0 @ _GENRE_MEAN[:, _F["tempo"]])[played.index]
    assert np.corrcoef(played - implied, target - implied)[0, 1] > 0.3  # measured 0.48-0.71


@pytest.fixture(scope="module")
def default_sample(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    out = tmp_path_factory.mktemp("default")
    started = time.perf_counter()
    generate_sample(out)
    print(f"\ndefault sample generated in {time.perf_counter() - started:.2f} s")
    return _read(out)


def test_models_beat_popularity_on_temporal_split(default_sample) -> None:
    """Co-listening (item kNN) and content (genre x audio fit) both beat popularity."""
    lf = default_sample["lastfm"].assign(key=lambda d: normalise_names(d["Artist"]))
    lf["t"] = pd.to_datetime(lf["Date"] + " " + lf["Time"], format="%d %b %Y %H:%M")
    first = lf.groupby(["Username", "key"])["t"].min().reset_index()
    first["r"] = first.groupby("Username")["t"].rank(method="first", pct=True)
    users = first["Username"].astype("category").cat.codes.to_numpy()
    items = first["key"].astype("category")
    first["u"], first["i"] = users, items.cat.codes.to_numpy()
    n_users, n_items = users.max() + 1, len(items.cat.categories)
    train = first[first["r"] <= 0.8]
    x = np.zeros((n_users, n_items))
    x[train["u"], train["i"]] = 1.0
    truth = first[first["r"] > 0.8].groupby("u")["i"].apply(set)

    def recall(score: np.ndarray) -> float:
        score = np.where(x > 0, -np.inf, score)
        top = np.argsort(-score, axis=1)[:, :10]
        return float(
            np.mean([len(set(top[u]) & truth[u]) / min(10, len(truth[u])) for u in truth.index])
        )

    pop = x.sum(axis=0)
    co = x.T @ x
    norm = np.sqrt(np.diag(co)) + 1e-9
    co = co / norm[:, None] / norm[None, :]
    np.fill_diagonal(co, 0.0)

    ar = default_sample["artists"].assign(key=lambda d: normalise_names(d["name"]))
    ar = ar.sort_values("popularity", ascending=False).drop_duplicates("key").set_index("key")
    tr = default_sample["tracks"]
    owner = tr["id_artists"].map(lambda s: ast.literal_eval(s)[0])
    audio = tr.groupby(owner)[["tempo", "valence"]].mean()
    ar = ar.join(audio, on="id").reindex(items.cat.categories)
    genres = np.zeros((n_items, len(GENRES)))
    for i, listed in enumerate(ar["genres"].fillna("[]").map(ast.literal_eval)):
        for g in listed:
            genres[i, GENRES.index(g)] = 1.0 / len(listed)
    profile = x @ genres
    profile /= np.maximum(profile.sum(axis=1, keepdims=True), 1e-9)
    tempo = ar["tempo"].fillna(ar["tempo"].mean()).to_numpy()
    valence = ar["valence"].fillna(ar["valence"].mean()).to_numpy()
    user_tempo = x @ tempo / x.sum(axis=1)
    user_valence = x @ valence / x.sum(axis=1)
    fit = np.exp(
        -0.5 * ((tempo - user_tempo[:, None]) / 20) ** 2
        - 0.5 * ((valence - user_valence[:, None]) / 0.2) ** 2
    )
    content = (profile @ genres.T + 0.02) * pop * fit

    r_pop, r_knn, r_content = recall(np.tile(pop, (n_users, 1))), recall(x @ co), recall(content)
    print(f"\nrecall@10 popularity {r_pop:.3f}, item kNN {r_knn:.3f}, content {r_content:.3f}")
    assert r_knn > 1.25 * r_pop and r_content > 1.2 * r_pop  # measured ~1.7x and ~1.5x


# --------------------------------------------------------------------------------------------
# Timings (printed, never asserted)
# --------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_generation_timings(tmp_path: Path) -> None:
    runs = [
        ("default", {}),
        ("1M scrobbles", {"scrobbles": 1_000_000}),
        (
            "1M scrobbles, 3000 listeners",
            {"users": 3000, "artists": 6000, "tracks": 60_000, "scrobbles": 1_000_000},
        ),
    ]
    if os.environ.get("MUSICREC_SAMPLE_BENCH"):  # minutes and ~1.5 GB of CSV: opt in
        big = {"users": 360_000, "artists": 160_000, "tracks": 600_000}
        runs.append(
            ("360k x 160k, 20M scrobbles", {**big, "scrobbles": 20_000_000, "pairs": 17_500_000})
        )
    for label, sizes in runs:
        out = tmp_path / re.sub(r"\W+", "_", label)
        started = time.perf_counter()
        generate_sample(out, **sizes)
        took = time.perf_counter() - started
        mb = (out / LASTFM_PATH).stat().st_size / 1e6
        print(f"\nsample {label}: {took:.1f} s, Last.fm CSV {mb:.0f} MB")
