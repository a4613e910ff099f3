"""Every ``musicrec`` command run as a user runs it: a child process, its output and exit code."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest

from musicrec_assets.core.artifacts import load_artifact
from musicrec_assets_tests.conftest import config_variant
from musicrec_assets_tests.killing import hashes

pytestmark = pytest.mark.slow

XSPF = "{http://xspf.org/ns/0/}"


def musicrec(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "musicrec_assets.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ),
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def built(small_sample: Path, tmp_path_factory: pytest.TempPathFactory):
    storage = tmp_path_factory.mktemp("cli") / "derived"
    config = config_variant(small_sample, storage)
    done = musicrec("materialize", "--config", str(config))
    return config, storage, done


def test_sample_writes_data_and_a_config_that_loads(tmp_path):
    out = tmp_path / "mine"
    done = musicrec(
        "sample", "--out", str(out), "--users", "20", "--artists", "60", "--tracks", "300",
        "--scrobbles", "2000", "--seed", "3",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (out / "musicrec.toml").is_file() and (out / "lastfm" / "Last.fm_data.csv").is_file()
    assert f"config: {out / 'musicrec.toml'}" in done.stdout
    from musicrec_assets.core.config import load_config

    assert load_config(out / "musicrec.toml").seed == 3


def test_materialize_prints_a_line_per_step_not_dagsters_stream(built):
    _, storage, done = built
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    steps = [line for line in lines if line.startswith("  done ")]
    assert len(steps) >= 20  # every asset step and check step
    assert any("model_selection" in line and "ALS validation NDCG" in line for line in steps)
    assert any("playlists " in line and "playlists" in line for line in steps)
    assert "DEBUG" not in done.stdout + done.stderr and "STEP_START" not in done.stdout
    assert "assets materialized in" in lines[-1]
    assert (storage / "playlists.parquet").is_file()


def test_select_materializes_only_the_selection(small_sample, tmp_path):
    storage = tmp_path / "derived"
    config = config_variant(small_sample, storage)
    done = musicrec("materialize", "--config", str(config), "--select", "*interaction_splits")
    assert done.returncode == 0, done.stderr
    assert (storage / "interaction_splits.parquet").is_file()
    assert not (storage / "model_selection.json").exists()
    assert not (storage / "reranked_topk.parquet").exists()


def test_bad_config_and_missing_config_exit_2_before_anything_runs(small_sample, tmp_path):
    config = config_variant(small_sample, tmp_path / "derived", extra="[als]\nfactors = -8\n")
    done = musicrec("materialize", "--config", str(config))
    assert done.returncode == 2
    assert f"{config}: [als] factors = -8 is not allowed" in done.stderr
    assert not (tmp_path / "derived").exists()  # nothing ran
    done = musicrec("materialize", "--config", str(tmp_path / "nope.toml"))
    assert done.returncode == 2 and "config file not found" in done.stderr
    done = musicrec("playlist", "--config", str(tmp_path / "nope.toml"), "--user", "x")
    assert done.returncode == 2


def test_a_failing_blocking_check_exits_1(tmp_path):
    """Every listener has 3 artists, fewer than [split] min_artists: the splits check blocks."""
    plays = pd.DataFrame(
        {
            "user": [f"u{i}" for i in range(12) for _ in range(3)],
            "artist": [f"a{(i + j) % 9}" for i in range(12) for j in range(3)],
            "plays": 5,
        }
    )
    plays.to_csv(tmp_path / "plays.csv", index=False)
    config = tmp_path / "musicrec.toml"
    config.write_text(
        'seed = 1\n[storage]\ndir = "derived"\n'
        '[sources.listens]\nformat = "plays_table"\npath = "plays.csv"\n'
    )
    done = musicrec("materialize", "--config", str(config))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "interaction_splits_valid" in done.stdout + done.stderr
    assert not (tmp_path / "derived" / "model_selection.json").exists()  # nothing downstream
    assert not (tmp_path / "derived" / "listens.parquet").exists()  # a failed run shows nothing
    assert not list((tmp_path / "derived" / "generations").iterdir())  # and leaves nothing


def _playlist(config: Path, user: str, fmt: str) -> subprocess.CompletedProcess:
    return musicrec(
        "playlist", "--config", str(config), "--user", user, "--context", "workout",
        "--format", fmt,
    )  # fmt: skip


def test_playlist_in_every_format(built):
    config, storage, _ = built
    user = str(load_artifact(storage, "reranked_topk")["user"].iloc[0])
    table = _playlist(config, user, "table")
    assert table.returncode == 0, table.stderr
    assert "track_name" in table.stdout.splitlines()[0]
    rows = pd.read_csv(io.StringIO(_playlist(config, user, "csv").stdout))
    assert len(rows) > 0 and {"track_name", "artist", "final"} <= set(rows.columns)
    records = json.loads(_playlist(config, user, "json").stdout)
    assert [r["track_name"] for r in records] == rows["track_name"].tolist()
    m3u = _playlist(config, user, "m3u").stdout.splitlines()
    assert m3u[0] == "#EXTM3U"
    extinf = [line for line in m3u if line.startswith("#EXTINF:")]
    assert len(extinf) == len(rows)
    assert all(" - " in line.split(",", 1)[1] for line in extinf)  # "#EXTINF:secs,Artist - Title"
    root = ET.fromstring(_playlist(config, user, "xspf").stdout)
    assert root.tag == f"{XSPF}playlist" and root.get("version") == "1"
    tracks = root.findall(f"{XSPF}trackList/{XSPF}track")
    assert [t.findtext(f"{XSPF}title") for t in tracks] == rows["track_name"].tolist()
    assert all(t.findtext(f"{XSPF}creator") for t in tracks)
    unknown = _playlist(config, "nobody at all", "table")
    assert unknown.returncode == 1 and "nobody at all" in unknown.stderr


def _serve(args: list[str], port: int, timeout: float) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "musicrec_assets.cli", *args, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"musicrec {args[0]} exited: {proc.stderr.read()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                if r.status == 200 and b"musicrec" in r.read():
                    return proc
        except OSError:
            time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)
    raise AssertionError(f"musicrec {args[0]} did not answer within {timeout} s")


def _stops(proc: subprocess.Popen, sig: int) -> float:
    started = time.monotonic()
    proc.send_signal(sig)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    return time.monotonic() - started


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_web_answers_then_stops_on_a_signal(built, sig):
    config, _, _ = built
    proc = _serve(["web", "--config", str(config)], free_port(), timeout=120)
    _stops(proc, sig)  # raises if it takes more than 5 s
    assert proc.returncode is not None


def test_demo_builds_the_sample_and_serves_it_on_a_fresh_home(tmp_path, monkeypatch):
    monkeypatch.setenv("MUSICREC_HOME", str(tmp_path / "home"))
    proc = _serve(["demo"], free_port(), timeout=300)
    try:
        derived = tmp_path / "home" / "sample" / "derived"
        assert (derived / "reranked_topk.parquet").is_file()
        assert (derived / "playlists.parquet").is_file()
    finally:
        _stops(proc, signal.SIGTERM)


def test_one_refresh_at_a_time_and_readers_never_see_a_mixed_set(small_sample, tmp_path):
    """A run on seed 1, then a run on seed 2 while a second refresh is refused, a third waits,
    and a reader takes snapshots: every snapshot is seed 1's complete set or seed 2's."""
    import threading

    from gradio_app.store import ArtifactStore
    from musicrec_assets.core import generations

    storage = tmp_path / "derived"
    first = config_variant(small_sample, storage, seed=1)
    second = first.with_name(f"{first.stem}-seed2.toml")  # the same storage, another seed
    second.write_text(first.read_text().replace("seed = 1", "seed = 2", 1))
    assert musicrec("materialize", "--config", str(first)).returncode == 0
    old = hashes(storage)

    store, snapshots, stop = ArtifactStore(storage), [], threading.Event()

    def read() -> None:
        while not stop.is_set():
            with store.pinned() as folder:
                snapshots.append(hashes(folder))
            time.sleep(0.05)

    args = [sys.executable, "-m", "musicrec_assets.cli", "materialize", "--config", str(second)]
    running = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while (holder := generations.lock_holder(storage)) is None or "run_id" not in holder:
        assert time.monotonic() < deadline and running.poll() is None
        time.sleep(0.2)
    reader = threading.Thread(target=read)
    reader.start()
    refused = musicrec("materialize", "--config", str(second))
    waiting = subprocess.Popen([*args, "--wait"], stdout=subprocess.PIPE, text=True)
    assert running.wait(timeout=300) == 0
    stop.set()
    reader.join()
    new = hashes(storage)
    assert refused.returncode == 3
    assert f"run {holder['run_id']}" in refused.stderr and "refused" in refused.stderr
    out, _ = waiting.communicate(timeout=300)
    assert waiting.returncode == 0 and "assets materialized" in out  # ran after the first
    assert set(old) == set(new) and any(old[n] != new[n] for n in old)
    assert snapshots and all(s in (old, new) for s in snapshots)
    assert old in snapshots  # the reader saw the old set while the run wrote the new one


def test_a_spark_engine_without_java_exits_2_before_anything_runs(small_sample, tmp_path):
    """No JDK on PATH: ``materialize`` names the fix and writes nothing."""
    extra = '[engine]\nkind = "spark"\n'
    config = config_variant(small_sample, tmp_path / "derived", extra=extra)
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    env["PATH"] = str(Path(sys.executable).parent)  # the venv's bin: no java there
    done = subprocess.run(
        [sys.executable, "-m", "musicrec_assets.cli", "materialize", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 2, done.stderr
    assert "install a JDK 17" in done.stderr and str(config) in done.stderr
    assert not (tmp_path / "derived").exists()
