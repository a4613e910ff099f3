"""Generations and the storage lock: a run's artifacts appear all at once or not at all, and one
refresh at a time holds a storage folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from musicrec_assets.core import generations as G


def _write(folder: Path, name: str, text: str) -> None:
    """A new file renamed into place, as every artifact write is (core.artifacts): unchanged
    artifacts are hard links shared with the previous generation, never written in place."""
    tmp = folder / f".{name}.tmp"
    tmp.write_text(text)
    os.replace(tmp, folder / name)


def _read(storage: Path, name: str) -> str:
    return (storage / name).read_text()  # the documented path, as a script reads it


def _run(storage: Path, run_id: str, files: dict[str, str], *, publish: bool = True) -> Path:
    gen = G.open_generation(storage, run_id)
    for name, text in files.items():
        _write(gen, name, text)
    if publish:
        assert G.publish(storage, run_id)
    return gen


def test_a_run_is_published_all_at_once(tmp_path):
    storage = tmp_path / "derived"
    storage.mkdir()
    gen = _run(storage, "r1", {"listens.parquet": "one", "playlists.parquet": "p1"}, publish=False)
    assert not (storage / "listens.parquet").exists()  # nothing visible before publishing
    assert G.current_dir(storage) == storage
    assert G.publish(storage, "r1")
    assert G.current_dir(storage) == gen.resolve()
    assert _read(storage, "listens.parquet") == "one" and (storage / "listens.parquet").is_symlink()


def test_a_partial_run_keeps_the_other_artifacts_of_the_published_set(tmp_path):
    storage = tmp_path / "derived"
    storage.mkdir()
    _run(storage, "r1", {"listens.parquet": "one", "playlists.parquet": "p1"})
    _run(storage, "r2", {"playlists.parquet": "p2"})  # e.g. --select playlists
    assert (
        _read(storage, "listens.parquet") == "one" and _read(storage, "playlists.parquet") == "p2"
    )
    first, second = G.generation_dir(storage, "r1"), G.generation_dir(storage, "r2")
    assert os.path.samefile(first / "listens.parquet", second / "listens.parquet")  # linked
    assert _read(first, "playlists.parquet") == "p1"  # the previous set is untouched


def test_failed_and_killed_runs_never_show_and_their_leftovers_go(tmp_path):
    storage = tmp_path / "derived"
    storage.mkdir()
    _run(storage, "r1", {"listens.parquet": "one"})
    dead = _run(storage, "killed", {"listens.parquet": "half"}, publish=False)
    _write(dead, ".listens.parquet.abc.tmp", "half written")
    failed = _run(storage, "failed", {"listens.parquet": "bad"}, publish=False)
    G.discard(storage, "failed")
    assert not failed.exists() and _read(storage, "listens.parquet") == "one"
    _run(storage, "r2", {"listens.parquet": "two"})
    _run(storage, "r3", {"listens.parquet": "three"})
    assert not dead.exists()  # the next publish removed the killed run's folder
    assert sorted(p.name for p in (storage / "generations").iterdir()) == ["r2", "r3"]
    assert not list(storage.rglob("*.tmp*"))
    G.discard(storage, "r3")  # the published generation is never discarded
    assert _read(storage, "listens.parquet") == "three"


def test_an_older_run_never_replaces_a_newer_one(tmp_path):
    storage = tmp_path / "derived"
    storage.mkdir()
    _run(storage, "old", {"listens.parquet": "old"})
    time.sleep(0.01)
    _run(storage, "new", {"listens.parquet": "new"})
    assert G.generation_dir(storage, "old").is_dir()  # kept as the previous generation
    assert not G.publish(storage, "old")  # a late second success notice for the older run
    assert _read(storage, "listens.parquet") == "new"


def test_a_folder_of_the_old_layout_becomes_the_first_generation(tmp_path):
    storage = tmp_path / "derived"
    storage.mkdir()
    _write(storage, "listens.parquet", "legacy")
    _write(storage, "playlists.parquet", "legacy p")
    _run(storage, "r1", {"playlists.parquet": "p1"})
    assert _read(storage, "listens.parquet") == "legacy"  # carried over
    assert _read(storage, "playlists.parquet") == "p1"
    assert (storage / "listens.parquet").is_symlink()


def test_a_pinned_reader_keeps_one_generation_across_a_publish(tmp_path):
    from gradio_app.store import ArtifactStore

    storage = tmp_path / "derived"
    storage.mkdir()
    _run(storage, "r1", {"evaluation_report.json": '{"run": 1}', "model_selection.json": "{}"})
    store = ArtifactStore(storage)
    with store.pinned():
        assert store.load("evaluation_report") == {"run": 1}
        _run(storage, "r2", {"evaluation_report.json": '{"run": 2}'})
        assert store.load("evaluation_report") == {"run": 1}  # still the set it started with
    with store.pinned():
        assert store.load("evaluation_report") == {"run": 2}


def test_a_second_refresh_is_refused_naming_the_first(tmp_path):
    storage = tmp_path / "derived"
    with G.storage_lock(storage, "musicrec materialize") as owner:
        G.record_run(owner, "run-123")
        busy = pytest.raises(G.StorageBusyError, match="musicrec materialize, run run-123, pid")
        with busy, G.storage_lock(storage, "another"):
            pass
    with G.storage_lock(storage, "after"):  # free again once the first is done
        pass


HOLD = """
import sys, time
from musicrec_assets.core import generations as G
with G.storage_lock(sys.argv[1], "holder") as owner:
    G.record_run(owner, "held-run")
    print("held", flush=True)
    time.sleep(60)
"""


def test_a_killed_holder_never_leaves_the_folder_locked(tmp_path):
    storage = tmp_path / "derived"
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(storage)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "held"
        holder = G.lock_holder(storage)
        assert holder["run_id"] == "held-run" and holder["pid"] == proc.pid
        with pytest.raises(G.StorageBusyError, match="held-run"), G.storage_lock(storage, "x"):
            pass
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert G.lock_holder(storage) is None
    with G.storage_lock(storage, "after the kill"):
        pass
