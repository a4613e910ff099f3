"""The JSON API through FastAPI's test client: status codes, schemas, every format, and the same
playlist as ``musicrec playlist`` for the same arguments."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from gradio_app.api import api_app
from gradio_app.service import PlaylistPage
from gradio_app.store import ArtifactStore
from musicrec_assets.core.config import PlaylistConfig
from musicrec_assets.core.generations import open_generation, publish
from musicrec_assets_tests.web_data import write_fake_artifacts

XSPF = "{http://xspf.org/ns/0/}"


@pytest.fixture(scope="module")
def fake(tmp_path_factory: pytest.TempPathFactory):
    storage = tmp_path_factory.mktemp("api") / "derived"
    return write_fake_artifacts(storage)


@pytest.fixture(scope="module")
def api(fake) -> TestClient:
    page = PlaylistPage(ArtifactStore(fake.storage_dir), PlaylistConfig())
    return TestClient(api_app(page))


def test_listeners_search_by_prefix(api, fake):
    got = api.get("/api/v1/listeners", params={"limit": 1000}).json()
    assert got["total"] == len(fake.users) and sorted(got["listeners"]) == sorted(fake.users)
    first = fake.users[0]
    some = api.get("/api/v1/listeners", params={"prefix": first[:2].upper(), "limit": 2}).json()
    assert some["listeners"] and all(
        u.casefold().startswith(first[:2].casefold()) for u in some["listeners"]
    )
    assert len(some["listeners"]) <= 2
    bad = api.get("/api/v1/listeners", params={"limit": 0})
    assert bad.status_code == 422 and bad.json()["error"]["parameter"] == "limit"


def test_recommendations(api, fake):
    user = fake.users[0]
    got = api.get(f"/api/v1/listeners/{user}/recommendations", params={"k": 3})
    assert got.status_code == 200
    body = got.json()
    assert body["user"] == user and [r["rank"] for r in body["recommendations"]] == [1, 2, 3]
    assert set(body["recommendations"][0]) == {"rank", "artist", "score"}
    assert api.get("/api/v1/listeners/nobody/recommendations").status_code == 404
    assert api.get(f"/api/v1/listeners/{user}/recommendations?k=0").status_code == 422


def _config(fake, tmp_path: Path) -> Path:
    path = tmp_path / "musicrec.toml"
    path.write_text(
        f'seed = 1\n[storage]\ndir = "{fake.storage_dir}"\n'
        '[sources.listens]\nformat = "plays_table"\npath = "plays.csv"\n'
    )
    return path


def test_the_playlist_is_the_one_musicrec_playlist_prints(api, fake, tmp_path):
    user = fake.users[1]
    got = api.get(f"/api/v1/listeners/{user}/playlist", params={"context": "workout", "length": 8})
    assert got.status_code == 200
    body = got.json()
    assert body["user"] == user and body["context"] == "workout" and len(body["tracks"]) == 8
    assert set(body["tracks"][0]) >= {"rank", "track_id", "track_name", "artist", "final", "reason"}
    config = str(_config(fake, tmp_path))
    args = ["--user", user, "--context", "workout", "--length", "8", "--format", "json"]
    cli = subprocess.run(
        [sys.executable, "-m", "musicrec_assets.cli", "playlist", "--config", config, *args],
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 0, cli.stderr
    printed = json.loads(cli.stdout)
    assert [t["track_id"] for t in body["tracks"]] == [t["track_id"] for t in printed]
    assert [round(t["final"], 9) for t in body["tracks"]] == [round(t["final"], 9) for t in printed]


def test_every_format_parses(api, fake):
    user = fake.users[2]
    base = f"/api/v1/listeners/{user}/playlist"
    tracks = api.get(base, params={"length": 6}).json()["tracks"]
    m3u = api.get(base, params={"length": 6, "format": "m3u"})
    assert m3u.headers["content-type"].startswith("audio/x-mpegurl")
    lines = m3u.text.splitlines()
    assert lines[0] == "#EXTM3U" and sum(x.startswith("#EXTINF:") for x in lines) == len(tracks)
    xspf = api.get(base, params={"length": 6, "format": "xspf"})
    root = ET.fromstring(xspf.text)
    assert root.tag == f"{XSPF}playlist" and root.get("version") == "1"
    titles = [t.findtext(f"{XSPF}title") for t in root.iter(f"{XSPF}track")]
    assert titles == [t["track_name"] for t in tracks]
    csv = pd.read_csv(io.StringIO(api.get(base, params={"length": 6, "format": "csv"}).text))
    assert csv["track_name"].tolist() == titles


def test_custom_weights_change_the_playlist_and_errors_name_the_parameter(api, fake):
    user = fake.users[0]
    base = f"/api/v1/listeners/{user}/playlist"
    default = api.get(base).json()
    tempo = api.get(base, params={"w_base": 0.0, "w_tempo": 1.0, "w_valence": 0.0}).json()
    assert [t["track_id"] for t in default["tracks"]] != [t["track_id"] for t in tempo["tracks"]]
    assert all(t["base_part"] == 0 for t in tempo["tracks"])
    for params, name in (
        ({"w_base": 3}, "w_base"),
        ({"length": 0}, "length"),
        ({"per_artist": 0}, "per_artist"),
        ({"format": "mp3"}, "format"),
        ({"context": "party"}, "context"),
    ):
        bad = api.get(base, params=params)
        assert bad.status_code == 422, params
        assert bad.json()["error"]["parameter"] == name, bad.json()
    missing = api.get("/api/v1/listeners/nobody/playlist")
    assert missing.status_code == 404 and "nobody" in missing.json()["error"]["message"]
    assert "POST /api/v1/playlist" in missing.json()["error"]["message"]


def test_new_listener_playlist(api, fake):
    seeds = [fake.fast_artists[0], fake.fast_artists[1]]
    got = api.post("/api/v1/playlist", json={"seeds": seeds, "context": "workout", "length": 5})
    assert got.status_code == 200, got.text
    tracks = got.json()["tracks"]
    assert 0 < len(tracks) <= 5 and not {t["artist"] for t in tracks} & set(seeds)
    unknown = api.post("/api/v1/playlist", json={"seeds": ["Nobody Band"]})
    assert unknown.status_code == 422 and unknown.json()["error"]["parameter"] == "seeds"
    empty = api.post("/api/v1/playlist", json={"seeds": []})
    assert empty.status_code == 422 and empty.json()["error"]["parameter"] == "seeds"


def test_contexts_health_and_docs(api):
    contexts = api.get("/api/v1/contexts").json()["contexts"]
    names = {c["name"] for c in contexts}
    assert {"default", "workout", "chill"} <= names
    workout = next(c for c in contexts if c["name"] == "workout")
    assert workout["tempo"] == 150.0 and workout["w_base"] == 0.4
    health = api.get("/api/v1/health").json()
    assert health["status"] == "ok" and "reranked_topk.parquet" in health["artifacts"]
    assert api.get("/api/docs").status_code == 200
    paths = api.get("/api/openapi.json").json()["paths"]
    assert "/api/v1/listeners/{user}/playlist" in paths and "/api/v1/playlist" in paths


def test_health_names_the_published_run(fake, tmp_path):
    storage = tmp_path / "derived"
    shutil.copytree(fake.storage_dir, storage)
    open_generation(storage, "run-7")
    assert publish(storage, "run-7")
    api = TestClient(api_app(PlaylistPage(ArtifactStore(storage), PlaylistConfig())))
    health = api.get("/api/v1/health").json()
    assert health["run_id"] == "run-7" and health["status"] == "ok"
    started = datetime.strptime(health["generation_started"], "%Y-%m-%d %H:%M:%S UTC")
    assert abs(started.replace(tzinfo=UTC).timestamp() - time.time()) < 600


def test_the_api_message_is_the_page_message(api, fake):
    """The API reads a built playlist's target from its rows; the page computes it again."""
    page = PlaylistPage(ArtifactStore(fake.storage_dir), PlaylistConfig())
    for user in fake.users[:3]:
        for context in ("default", "workout", "chill"):
            for weights in ((None, None, None), (0.5, 0.3, 0.2)):
                params = {"context": context}
                names = ("w_base", "w_tempo", "w_valence")
                params |= {k: w for k, w in zip(names, weights, strict=True) if w}
                got = api.get(f"/api/v1/listeners/{user}/playlist", params=params).json()
                want = page.make_playlist(user, context, None, *weights)
                assert want.error is None and "target" in want.message
                assert got["message"] == want.message.replace("**", ""), (user, context)
