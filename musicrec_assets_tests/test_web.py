"""The Gradio page, served in-process on a free loopback port and called through gradio_client.

Data: the fake artifact folder from ``web_data`` (no pipeline run, nothing from ../shared).
"""

from __future__ import annotations

import shutil
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from gradio_client import Client

import gradio_app  # noqa: F401  (sets the offline environment before gradio is imported)
from gradio_app.app import build_app, launch
from gradio_app.results import TABLE_COLUMNS
from gradio_app.service import NEW_LISTENER_LABEL, PlaylistPage
from gradio_app.store import ArtifactStore, MissingArtifactError
from musicrec_assets.core.artifacts import read_parquet, write_parquet, write_parquet_chunks
from musicrec_assets.core.config import PlaylistConfig
from musicrec_assets.core.playlist import (
    ENCODED_COLUMNS,
    artist_profiles,
    artist_tracks,
    build_playlist,
    empty_playlists,
    iter_playlists,
)
from musicrec_assets_tests.web_data import HOSTILE_ARTIST, HOSTILE_USER, write_fake_artifacts

HEADERS = list(TABLE_COLUMNS.values())
# Gradio's own pandas calls warn under pandas 3; pytest resets the app's filter.
pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning:gradio")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(storage: Path, config: Path | None = None) -> Iterator[Client]:
    """The page on a free loopback port for the duration of the block."""
    demo = build_app(storage, config)
    _, url = launch(demo, port=free_port(), prevent_thread_lock=True, quiet=True)
    assert url.startswith("http://127.0.0.1:")
    try:
        yield Client(url, verbose=False)
    finally:
        demo.close()


@pytest.fixture(scope="module")
def storage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("artifacts")
    write_fake_artifacts(path)
    return path


@pytest.fixture(scope="module")
def client(storage: Path) -> Iterator[Client]:
    with serve(storage) as c:
        yield c


def build(client: Client, user: str, context: str = "default", **kw: float) -> tuple:
    args = {"length": 20, "w_base": None, "w_tempo": None, "w_valence": None, "cap": 2, **kw}
    if args["w_base"] is None:
        w = PlaylistConfig().contexts[context]
        args.update(w_base=w.w_base, w_tempo=w.w_tempo, w_valence=w.w_valence)
    return client.predict(
        user,
        context,
        args["length"],
        args["w_base"],
        args["w_tempo"],
        args["w_valence"],
        args["cap"],
        api_name="/make_playlist",
    )


def table_frame(table: dict) -> pd.DataFrame:
    return pd.DataFrame(table["data"], columns=table["headers"])


def test_make_playlist_through_client(client: Client) -> None:
    message, table, plot, files = build(client, "alice", "workout")
    df = table_frame(table)
    assert table["headers"] == HEADERS
    assert len(df) == 20 and df["rank"].tolist() == list(range(1, 21))
    assert "alice" in message and "workout" in message and "20 tracks" in message
    parts = df[["base part", "tempo part", "valence part"]].sum(axis=1)
    assert np.allclose(parts, df["final"], atol=2e-3)  # shown parts add up to the shown final
    assert df.groupby("artist").size().max() <= 2
    assert (df["artist"].to_numpy()[1:] != df["artist"].to_numpy()[:-1]).all()
    assert df["reason"].str.startswith("Because you play").all()
    assert plot["type"] == "plotly"
    exts = sorted(Path(f).suffix for f in files)
    assert exts == [".csv", ".m3u", ".xspf"]
    m3u = next(Path(f) for f in files if f.endswith(".m3u")).read_text(encoding="utf-8")
    assert m3u.startswith("#EXTM3U") and m3u.count("spotify:track:") == 20


def test_page_shows_the_core_playlist(client: Client, storage: Path) -> None:
    """The page's numbers are build_playlist's (the seed's GUI ignored FinalScore)."""
    cfg = PlaylistConfig()
    recs = read_parquet(storage / "reranked_topk.parquet")
    history = read_parquet(storage / "interaction_splits.parquet")
    history = history.groupby(["user", "artist"], as_index=False)["plays"].sum()
    cat = read_parquet(storage / "artist_catalog.parquet")
    profiles = artist_profiles(cat, read_parquet(storage / "artist_vectors.parquet"))
    table = read_parquet(storage / "artist_tracks.parquet")
    expected = build_playlist("bob", recs, history, profiles, table, cfg, "focus", length=12)
    _, shown, _, _ = build(client, "bob", "focus", length=12)
    df = table_frame(shown)
    assert df["track"].tolist() == expected["track_name"].tolist()
    assert df["final"].to_numpy() == pytest.approx(expected["final"].to_numpy(), abs=5e-4)


def test_contexts_change_the_playlist(client: Client) -> None:
    workout = table_frame(build(client, "carol", "workout")[1])
    chill = table_frame(build(client, "carol", "chill")[1])
    assert workout["track"].tolist() != chill["track"].tolist()
    assert workout["tempo (BPM)"].mean() > chill["tempo (BPM)"].mean()


def test_weights_and_cap_come_from_the_sliders(client: Client) -> None:
    df = table_frame(
        build(client, "dave", "default", w_base=1.0, w_tempo=0.0, w_valence=0.0, cap=1)[1]
    )
    assert (df["tempo part"] == 0).all() and (df["valence part"] == 0).all()
    assert df["artist"].is_unique


def test_unknown_listener_message(client: Client) -> None:
    message, table, plot, files = build(client, "nobody-at-all", "default")
    assert "Unknown listener" in message and "nobody" in message
    assert table["data"] == [] and plot is None and not files


def test_names_are_text_not_html(client: Client) -> None:
    """Markdown messages escape names; tables carry them verbatim as text cells."""
    message, table, _, _ = build(client, HOSTILE_USER, "default")
    assert "<script>" not in message and "&lt;i&gt;eve&lt;/i&gt;" in message
    assert len(table["data"]) == 20
    profile, _, _ = client.predict(HOSTILE_USER, api_name="/listener_profile")
    assert "<script>" not in profile
    message = client.predict(
        [HOSTILE_ARTIST], "default", 5, 0.6, 0.2, 0.2, 2, api_name="/new_listener_playlist"
    )[0]
    assert "<script>" not in message
    seeds_view = client.predict([HOSTILE_ARTIST], api_name="/seeds_profile")[1]
    assert seeds_view["data"][0][0] == HOSTILE_ARTIST  # unchanged data, shown as text


def test_listener_profile_and_context_defaults(client: Client) -> None:
    message, top, genres = client.predict("alice", api_name="/listener_profile")
    assert "alice" in message and "plays" in message
    assert top["headers"][:3] == ["artist", "plays", "share"] and len(top["data"]) > 3
    shares = [row[1] for row in genres["data"]]
    assert shares == sorted(shares, reverse=True) and sum(shares) <= 1.0 + 1e-6
    w_base, w_tempo, w_valence, text = client.predict("workout", api_name="/context_defaults")
    ctx = PlaylistConfig().contexts["workout"]
    assert (w_base, w_tempo, w_valence) == (ctx.w_base, ctx.w_tempo, ctx.w_valence)
    assert "fast and bright" in text


def test_new_listener_cold_start(client: Client) -> None:
    args = ("chill", 15, 0.5, 0.3, 0.2, 2)
    message, table, _, _ = client.predict(
        ["Nils Frahm", "Radiohead", "Not A Real Band"], *args, api_name="/new_listener_playlist"
    )
    df = table_frame(table)
    assert len(df) == 15 and "new listener" in message
    assert not set(df["artist"]) & {"Nils Frahm", "Radiohead"}  # seeds are not recommended back
    assert "Not A Real Band" in message  # reported as unknown to the model
    none = client.predict(["Not A Real Band"], *args, api_name="/new_listener_playlist")
    assert "None of these seed artists" in none[0]
    empty = client.predict([], *args, api_name="/new_listener_playlist")
    assert "at least one seed" in empty[0]


def test_cold_start_degrades_without_core_function(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "musicrec_assets.core.model.cold_start", None)
    message, table, _, _ = client.predict(
        ["Radiohead"], "default", 10, 0.6, 0.2, 0.2, 2, api_name="/new_listener_playlist"
    )
    assert "not available in this build" in message and table["data"] == []


def test_model_tab(client: Client) -> None:
    message, evaluation, artifacts = client.predict(api_name="/model_report")
    assert "K = 10" in message and "Candidate recall" in message
    systems = [row[0] for row in evaluation["data"]]
    assert systems == ["als", "ease", "rp3beta", "itemknn", "popularity", "reranked", "served"]
    validation = {row[0]: row[-1] for row in evaluation["data"]}
    assert validation["als"] == pytest.approx(0.07) and validation["reranked"] == pytest.approx(
        0.072
    )
    plain = message.replace("\\", "")  # the page escapes markdown
    assert "Served: als" in plain and "lower bound -0.0040" in plain
    built = {row[0]: row[1] for row in artifacts["data"]}
    assert built["reranked_topk.parquet"].endswith("UTC")
    assert built["reranker.txt"] == "missing"


def test_missing_artifacts_are_named(tmp_path: Path) -> None:
    with serve(tmp_path / "never-built") as client:
        message = build(client, "alice")[0]
        assert "reranked\\_topk\\.parquet" in message
        assert "uv run musicrec materialize" in message
        assert "evaluation\\_report\\.json" in client.predict(api_name="/model_report")[0]


def test_replaced_artifact_is_picked_up_without_restart(storage: Path, tmp_path: Path) -> None:
    own = tmp_path / "artifacts"
    shutil.copytree(storage, own)
    with serve(own) as client:
        before = table_frame(build(client, "bob", "default")[1])
        assert len(before) == 20
        recs = read_parquet(own / "reranked_topk.parquet")
        only_gala = pd.DataFrame(
            {
                "user": ["bob"],
                "rank": [1],
                "artist": ["Gala"],
                "score": [1.0],
                "als_score": [1.0],
                "ranker_score": [1.0],
            }
        )
        write_parquet(
            pd.concat([recs[recs["user"] != "bob"], only_gala]), own / "reranked_topk.parquet"
        )
        message, table, _, _ = build(client, "bob", "default")
        after = table_frame(table)
        assert set(after["artist"]) == {"Gala"} and len(after) == 2  # cap 2, one artist
        assert "Only 2 of 20 tracks" in message  # fewer tracks than asked, said so
        assert "Lasting Lover" not in set(after["track"])  # Sigala's, not Gala's


def test_config_contexts_drive_the_page(storage: Path, tmp_path: Path) -> None:
    config = tmp_path / "musicrec.toml"
    config.write_text(
        f"""
[storage]
dir = "{storage}"
[sources.listens]
format = "plays_table"
path = "plays.csv"
[playlist]
length = 8
[playlist.contexts.sprint]
w_base = 0.2
w_tempo = 0.7
w_valence = 0.1
tempo = 175.0
pull = 1.0
description = "very fast"
""",
        encoding="utf-8",
    )
    with serve(storage, config) as client:
        assert client.predict("sprint", api_name="/context_defaults")[:3] == [0.2, 0.7, 0.1]
        message = client.predict("alice", "sprint", 8, 0.2, 0.7, 0.1, 2, api_name="/make_playlist")[
            0
        ]
        assert "target 175 BPM" in message
    page = PlaylistPage(ArtifactStore(storage), PlaylistConfig())  # the API validates choices
    assert "Unknown context" in page.make_playlist("alice", "sprint").message


# --------------------------------------------------------------------------- the store alone


def test_store_reloads_changed_files_and_names_missing_ones(storage: Path, tmp_path: Path) -> None:
    own = tmp_path / "a"
    shutil.copytree(storage, own)
    store = ArtifactStore(own, Path("/cfg/musicrec.toml"))
    first = store.load("reranked_topk")
    assert store.load("reranked_topk") is first  # cached while unchanged
    write_parquet(first.head(3), own / "reranked_topk.parquet")
    assert len(store.load("reranked_topk")) == 3
    (own / "artist_tracks.parquet").unlink()
    with pytest.raises(MissingArtifactError) as err:
        store.load("artist_tracks")
    text = str(err.value)
    assert "artist_tracks.parquet" in text
    assert "uv run musicrec materialize --config /cfg/musicrec.toml" in text


def test_artifact_without_needed_columns_is_reported(storage: Path, tmp_path: Path) -> None:
    own = tmp_path / "c"
    shutil.copytree(storage, own)
    recs = read_parquet(own / "reranked_topk.parquet")
    write_parquet(recs.drop(columns="score"), own / "reranked_topk.parquet")
    result = PlaylistPage(ArtifactStore(own), PlaylistConfig()).make_playlist("alice")
    assert "Unusable artifact" in result.message
    assert r"lacks column\(s\) score" in result.message  # Markdown-escaped


def test_store_is_safe_under_concurrent_reloads(storage: Path, tmp_path: Path) -> None:
    own = tmp_path / "b"
    shutil.copytree(storage, own)
    store = ArtifactStore(own)
    recs = read_parquet(own / "reranked_topk.parquet")
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            try:
                n = len(store.derived("n", ["reranked_topk"], lambda: store.load("reranked_topk")))
                assert n in (len(recs), 5)
            except BaseException as exc:  # collected for the main thread
                errors.append(exc)
                return

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    for i in range(20):
        write_parquet(recs if i % 2 else recs.head(5), own / "reranked_topk.parquet")
    stop.set()
    for t in threads:
        t.join()
    assert not errors


# --------------------------------------------------------------------------- real pipeline output


@pytest.mark.slow
def test_page_on_real_model_artifacts(tmp_path: Path) -> None:
    """Artifacts written by the real model core (dtypes, npz layout, booster, report), not fakes."""
    from musicrec_assets.core.artifacts import save_artifact
    from musicrec_assets_tests.model_data import make_world, run_pipeline

    world = make_world(n_users=120, n_artists=100)
    out = run_pipeline(world)
    fake = write_fake_artifacts(tmp_path / "fake", with_models=False)  # only for its tracks
    tracks = read_parquet(fake.storage_dir / "spotify_tracks.parquet")
    ids = world.artist_vectors["artist_id"].to_numpy()
    tracks["artist_ids"] = [[ids[i % len(ids)]] for i in range(len(tracks))]  # re-credit
    storage = tmp_path / "real"
    for name, value in {
        "reranked_topk": out["reranked_topk"],
        "interaction_splits": world.splits,
        "artist_catalog": world.artist_catalog,
        "artist_vectors": world.artist_vectors,
        "artist_tracks": artist_tracks(world.artist_catalog, tracks, 10),
        "item_features": out["item_features"],
        "generator_models": out["models"],
        "reranker": out["booster"],
        "evaluation_report": out["report"],
        "reranker_validation": out["choice"],
    }.items():
        save_artifact(storage, name, value)

    page = PlaylistPage(ArtifactStore(storage), PlaylistConfig())
    status, users, seeds = page.page_state()
    assert status == "" and users and seeds
    result = page.make_playlist(users[0], "workout")
    assert result.playlist is not None and len(result.playlist) > 0, result.message
    fresh = page.new_listener_playlist(seeds[:3], "chill")
    assert fresh.playlist is not None and len(fresh.playlist) > 0, fresh.message
    assert not set(fresh.playlist["artist"]) & set(seeds[:3])
    evaluation = page.model_report()[1]
    assert evaluation["system"].tolist() == list(out["report"]["systems"])


def test_twenty_concurrent_clients_get_the_sequential_answers(client: Client) -> None:
    """20 clients building at once each get exactly what a lone client gets (no mixed state)."""
    cases = [(u, c) for u in ("alice", "bob", "carol", "dave") for c in ("workout", "chill")]
    expected = {case: table_frame(build(client, *case)[1]) for case in cases}
    url = client.src
    results: dict[int, tuple] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(20)

    def run(i: int) -> None:
        try:
            own = Client(url, verbose=False)
            start.wait()
            case = cases[i % len(cases)]
            results[i] = (case, table_frame(build(own, *case)[1]))
        except BaseException as exc:  # collected for the main thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    assert len(results) == 20
    for case, got in results.values():
        pd.testing.assert_frame_equal(got, expected[case])


def test_default_settings_serve_the_playlists_asset_unchanged(
    storage: Path, tmp_path: Path
) -> None:
    """A default request reads the batch asset; it must equal what the page would compute."""
    own = tmp_path / "p"
    shutil.copytree(storage, own)
    cfg = PlaylistConfig()
    page = PlaylistPage(ArtifactStore(own), cfg)
    built = page.make_playlist("bob", "chill")  # no playlists.parquet yet
    computed = built.playlist
    recs = read_parquet(own / "reranked_topk.parquet")
    history = read_parquet(own / "interaction_splits.parquet")
    profiles = artist_profiles(
        read_parquet(own / "artist_catalog.parquet"), read_parquet(own / "artist_vectors.parquet")
    )
    chunks = iter_playlists(
        recs, history, profiles, read_parquet(own / "artist_tracks.parquet"), cfg, chunk_users=1
    )
    # written as the asset writes it: row group per chunk, keys dictionary-encoded
    write_parquet_chunks(
        chunks,
        own / "playlists.parquet",
        empty=empty_playlists(),
        dictionary=ENCODED_COLUMNS,
        row_group_size=3,  # listeners straddle row groups
    )
    batch = read_parquet(own / "playlists.parquet")
    assert isinstance(batch["track_id"].dtype, pd.CategoricalDtype)
    stored = page.make_playlist("bob", "chill").playlist
    assert stored["track_id"].dtype == computed["track_id"].dtype
    pd.testing.assert_frame_equal(stored, computed, check_dtype=False)
    quick = page.make_playlist("bob", "chill", extras=False)  # the API's path: the asset alone
    assert quick.stored and not built.stored and quick.message == built.message
    pd.testing.assert_frame_equal(quick.playlist, computed, check_dtype=False)
    batch["reason"] = batch["reason"].where(batch["user"] != "bob", "from the asset")
    write_parquet(batch, own / "playlists.parquet")
    assert (page.make_playlist("bob", "chill").playlist["reason"] == "from the asset").all()
    assert (
        page.make_playlist("bob", "chill", length=7)
        .playlist["reason"]
        .str.startswith("Because")
        .all()
    )  # other settings are built on the spot
    # a listener whose name is the new-listener label: their stored playlist is theirs alone
    batch["user"] = batch["user"].astype(str).where(batch["user"] != "bob", NEW_LISTENER_LABEL)
    write_parquet(batch, own / "playlists.parquet")
    fresh = page.new_listener_playlist(["Radiohead"], "chill", extras=False)
    assert fresh.error is None and not fresh.stored
    assert not (fresh.playlist["reason"] == "from the asset").any()
