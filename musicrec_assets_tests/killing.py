"""Kill real ``musicrec materialize`` runs at moments that matter, and check what is left.

Shared by ``test_kill.py`` (a few kills in CI) and ``benchmarks/bench_kill.py`` (20 or more).
A kill moment is an event seen in the run's own generation folder: a model or serving artifact
just rewritten by the run (a new file where the generation started with a link to the published
one), or the playlists' temporary file while their row groups are being written. Artifacts
rewritten at the kill are counted only when they differ between the two seeds, so a kill that
landed before any real write cannot pass for one. After each kill the published set must be
exactly the one before the run, every artifact must load, and the page's playlist function must
answer; after the next, complete run no temporary file or dead generation may remain.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from musicrec_assets.core import generations
from musicrec_assets.core.artifacts import ARTIFACTS, artifact_path, load_artifact

MOMENTS = (
    "model_selection rewritten",
    "candidates rewritten",
    "reranker rewritten",
    "reranked_topk rewritten",
    "playlists being written",
)


def hashes(folder: Path) -> dict[str, str]:
    out = {}
    for name in ARTIFACTS:
        path = artifact_path(folder, name)
        if path.exists():
            out[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def start(config: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "musicrec_assets.cli", "materialize", "--config", str(config)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _inodes(folder: Path) -> dict[str, int]:
    out = {}
    for name in ARTIFACTS:
        path = artifact_path(folder, name)
        if path.exists():
            out[path.name] = path.stat().st_ino
    return out


def _reached(moment: str, gen: Path, published: dict[str, int]) -> bool:
    """Has the run in ``gen`` reached ``moment``? Cheap enough to poll every few milliseconds:
    a rewritten artifact is a new inode where the generation began with the published one's."""
    if not gen.is_dir():
        return False
    asset, _, what = moment.partition(" ")
    if what == "being written":
        return any(p.name.startswith(f".{asset}.") for p in gen.iterdir())
    name = artifact_path(gen, asset).name
    try:
        return (gen / name).stat().st_ino != published.get(name)
    except FileNotFoundError:
        return False


@dataclass
class Kill:
    moment: str
    seconds: float  # from the start of the process to the kill
    reached: bool  # the moment was seen (else the run ended first)
    rewritten: int = 0  # artifacts of the killed run that differ between seeds
    problems: list[str] = field(default_factory=list)


def kill_at(
    config: Path, storage: Path, moment: str, old: dict[str, str], new: dict[str, str], env
) -> Kill:
    """Run ``config`` (whose result is ``new``) over the published ``old`` set and SIGKILL it at
    ``moment``; return what was found. A run that ends before the moment is reported with
    ``reached`` false (and its publication checked against ``new``)."""
    published = _inodes(generations.current_dir(storage))
    proc = start(config, env)
    began = time.monotonic()
    gen = None
    while proc.poll() is None:
        if gen is None:
            holder = generations.lock_holder(storage) or {}
            if holder.get("run_id"):
                gen = generations.generation_dir(storage, holder["run_id"])
        if gen is not None and _reached(moment, gen, published):
            os.killpg(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.005)
    proc.wait()
    kill = Kill(moment, time.monotonic() - began, reached=proc.returncode == -signal.SIGKILL)
    if gen is not None and gen.is_dir():
        written = hashes(gen)
        kill.rewritten = sum(written.get(n) == new[n] != old[n] for n in new)
    kill.problems = check_published(storage, old if kill.reached else new)
    return kill


def check_published(storage: Path, expected: dict[str, str]) -> list[str]:
    """What is wrong with the published set: not exactly ``expected``, an artifact that does not
    load, a playlist the page cannot build."""
    from gradio_app.service import PlaylistPage
    from gradio_app.store import ArtifactStore
    from musicrec_assets.core.config import PlaylistConfig

    problems = []
    now = hashes(storage)
    if now != expected:
        changed = sorted(n for n in set(now) | set(expected) if now.get(n) != expected.get(n))
        problems.append(f"published set changed: {', '.join(changed)}")
    for name in now:
        try:
            load_artifact(storage, name)
        except Exception as exc:
            problems.append(f"{name} does not load: {exc}")
    page = PlaylistPage(ArtifactStore(storage), PlaylistConfig())
    users = page.listeners()
    result = page.make_playlist(users[0], "workout") if users else None
    if result is None or result.playlist is None or result.playlist.empty:
        problems.append("the page built no playlist")
    return problems


def leftovers(storage: Path) -> list[str]:
    """Temporary files and generations beyond the published one and the one before it."""
    out = [str(p.relative_to(storage)) for p in storage.rglob("*.tmp*")]
    gens = list((storage / generations.GENERATIONS).iterdir())
    if len(gens) > generations.KEEP:
        out.append(f"{len(gens)} generations kept")
    return out


# --- runs launched from `dagster dev` ---------------------------------------------------------

LAUNCH = """
mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
  ... on InvalidSubsetError { message } ... on RunConfigValidationInvalid { errors { message } }
} }
"""
STATUS = "query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"


def graphql(port: int, query: str, variables: dict | None = None) -> dict:
    import json
    import urllib.request

    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())["data"]


def launch(port: int) -> str:
    """Launch ``refresh_all`` through the UI's GraphQL API, as the Materialize button does."""
    params = {
        "selector": {
            "repositoryLocationName": "musicrec",
            "repositoryName": "__repository__",
            "jobName": "refresh_all",
        },
        "runConfigData": {},
    }
    out = graphql(port, LAUNCH, {"params": params})["launchRun"]
    if out["__typename"] != "LaunchRunSuccess":
        raise RuntimeError(f"launchRun failed: {out}")
    return out["run"]["runId"]


def run_status(port: int, run_id: str) -> str:
    return graphql(port, STATUS, {"id": run_id})["runOrError"].get("status", "")


def kill_processes_of(home: Path, run_id: str) -> int:
    """SIGKILL every process of a run: the run worker and step processes that logged its events
    (their pids are in the instance's event log), with their children."""
    import dagster as dg
    import psutil

    os.environ["DAGSTER_HOME"] = str(home)
    with dg.DagsterInstance.get() as instance:
        events = [e.dagster_event for e in instance.all_logs(run_id) if e.dagster_event]
        pids = {event.pid for event in events if event.pid}
    procs = []
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            procs += [proc, *proc.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
    killed = 0
    for proc in procs:
        try:
            proc.kill()
            killed += 1
        except psutil.NoSuchProcess:
            pass
    return killed


def kill_dagster_run(
    port: int, home: Path, storage: Path, moment: str, old: dict[str, str], new: dict[str, str]
) -> Kill:
    """Launch a run from ``dagster dev`` over the published ``old`` set and kill its processes at
    ``moment``; then wait for run monitoring to mark it failed and the discard sensor to remove
    its generation."""
    published = _inodes(generations.current_dir(storage))
    began = time.monotonic()
    run_id = launch(port)
    gen = generations.generation_dir(storage, run_id)
    reached, polled = False, 0.0
    while time.monotonic() - began < 600:
        if _reached(moment, gen, published):
            reached = kill_processes_of(home, run_id) > 0
            break
        if time.monotonic() - began > polled + 1:  # the status now and then, the folder often
            polled = time.monotonic() - began
            if run_status(port, run_id) in ("SUCCESS", "FAILURE", "CANCELED"):
                break
        time.sleep(0.005)
    kill = Kill(moment, time.monotonic() - began, reached=reached)
    if gen.is_dir():
        kill.rewritten = sum(hashes(gen).get(n) == new[n] != old[n] for n in new)
    kill.problems = check_published(storage, old if reached else new)
    deadline = time.monotonic() + 180
    while reached and time.monotonic() < deadline:
        if run_status(port, run_id) == "FAILURE" and not gen.exists():
            break
        time.sleep(2)
    else:
        if reached:
            kill.problems.append("not marked failed and discarded within 180 s")
    return kill
