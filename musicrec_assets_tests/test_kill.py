"""Killing a materialization while it writes model and serving artifacts never changes what is
published, and the next run recovers (``benchmarks/bench_kill.py`` does 20 and more kills).

The graph is built with seed 1 (the published "old" set) and, elsewhere, with seed 2 (the "new"
set the killed runs are writing). Each kill lands at a moment seen in the killed run's own
generation folder (``killing.MOMENTS``); the artifacts it had rewritten by then are counted only
when they differ between the seeds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from musicrec_assets.core.artifacts import load_artifact
from musicrec_assets_tests.conftest import config_variant
from musicrec_assets_tests.graph import materialize_all
from musicrec_assets_tests.killing import check_published, hashes, kill_at, leftovers

pytestmark = pytest.mark.slow

MOMENTS = ("candidates rewritten", "reranked_topk rewritten", "playlists being written")


def test_kills_while_writing_leave_the_published_set_and_the_next_run_recovers(
    small_sample, tmp_path
):
    old_dir, new_dir = tmp_path / "old" / "derived", tmp_path / "new" / "derived"
    assert materialize_all(config_variant(small_sample, old_dir, seed=1)).success
    assert materialize_all(config_variant(small_sample, new_dir, seed=2)).success
    old, new = hashes(old_dir), hashes(new_dir)
    assert set(old) == set(new) and any(old[n] != new[n] for n in old)

    work = tmp_path / "work" / "derived"
    config = config_variant(small_sample, work, seed=2)
    env = dict(os.environ, DAGSTER_HOME=str(tmp_path / "dagster_home"))
    for moment in MOMENTS:
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(old_dir, work, symlinks=True)
        kill = kill_at(config, work, moment, old, new, env)
        assert kill.reached, f"the run ended before '{moment}'"
        assert kill.rewritten > 0, moment  # it had really written new artifacts when it died
        assert kill.problems == [], (moment, kill.problems)  # old set, whole, and it serves

    # after the last kill: the command-line playlist answers, and the next run recovers
    user = str(load_artifact(work, "reranked_topk")["user"].iloc[0])
    cli = [sys.executable, "-m", "musicrec_assets.cli"]
    done = subprocess.run(
        [*cli, "playlist", "--config", str(config), "--user", user, "--format", "m3u"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0 and done.stdout.startswith("#EXTM3U"), done.stderr
    rerun = subprocess.run(
        [*cli, "materialize", "--config", str(config)], capture_output=True, text=True, env=env
    )
    assert rerun.returncode == 0, rerun.stderr
    assert leftovers(work) == []  # no temporary file, no dead generation survives
    assert hashes(work) == new and check_published(work, new) == []
