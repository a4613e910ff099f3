"""One run at a time per storage folder, and readers that always see one run's complete set.

Layout of ``<storage.dir>``::

    generations/<run id>/<asset>.<ext>   a run's artifacts (unchanged ones hard-linked from the
                                         generation it started from, so a partial run is whole)
    current -> generations/<run id>      the published generation, switched by one atomic rename
    <asset>.<ext> -> current/<asset>.<ext>   the documented paths scripts read, unchanged
    .lock                                who refreshes this folder now (an OS lock, gone with
                                         the process that held it)

Artifacts are always written as new files renamed into place (``core.artifacts``), never
modified in place: an unchanged artifact is the same file (a hard link) in several generations.
A run writes only into its own generation; ``publish`` switches ``current`` when the run has
succeeded, and a failed or killed run's generation is never published (its leftovers, temporary
files included, are removed by the next publish). A reader that resolves ``current`` once
(``current_dir``) reads one run's files only, whatever is being written meanwhile. A folder
written by an earlier version (plain files, no ``current``) is read as it is and becomes the
first generation's starting point.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

GENERATIONS = "generations"
CURRENT = "current"
LOCK = ".lock"
RUN_INFO = ".run.json"
KEEP = 2  # generations kept: the published one and the one before it (a reader may hold it)


class StorageBusyError(RuntimeError):
    """Another refresh holds the storage folder; the message names it."""


def _artifact_names() -> list[str]:
    from .artifacts import ARTIFACTS  # here, not at import: the CLI stays quick to start

    return [f"{name}.{spec.ext}" for name, spec in ARTIFACTS.items()]


def current_dir(storage: str | Path) -> Path:
    """The folder of the published generation (the storage folder itself before the first one)."""
    storage = Path(storage)
    link = storage / CURRENT
    if link.is_symlink():
        return (storage / os.readlink(link)).resolve()
    return storage


def generation_dir(storage: str | Path, run_id: str) -> Path:
    return Path(storage) / GENERATIONS / run_id


def run_info(directory: Path) -> dict[str, Any]:
    """What a generation records about its run (run id, when it started writing)."""
    try:
        return json.loads((directory / RUN_INFO).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def open_generation(storage: str | Path, run_id: str) -> Path:
    """The run's generation folder, created on first use with hard links to every artifact of
    the published generation (so a partial run's generation is still a complete set).

    Creation is atomic (a temporary folder renamed into place), so steps of one run racing to
    create it all end up in the same folder.
    """
    storage = Path(storage)
    target = generation_dir(storage, run_id)
    if target.is_dir():
        return target
    tmp = storage / GENERATIONS / f".{run_id}.{uuid.uuid4().hex[:8]}.tmp"
    tmp.mkdir(parents=True)
    source = current_dir(storage)
    for name in _artifact_names():
        path = source / name
        if path.is_file():
            os.link(path.resolve(), tmp / name)
    (tmp / RUN_INFO).write_text(json.dumps({"run_id": run_id, "started": time.time()}))
    try:
        os.rename(tmp, target)
    except OSError:  # another step of this run was first
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _replace_symlink(link: Path, target: str) -> None:
    tmp = link.parent / f".{link.name}.{uuid.uuid4().hex[:8]}.tmp"
    os.symlink(target, tmp)
    os.replace(tmp, link)


def publish(storage: str | Path, run_id: str) -> bool:
    """Make the run's generation the published one (one atomic rename of ``current``), point
    the documented ``<asset>.<ext>`` paths through it, and remove every other generation but
    the previous one. A generation older than the published one is not published (a late
    success notice never rolls the folder back). Returns whether it was published."""
    storage = Path(storage)
    gen = generation_dir(storage, run_id)
    if not gen.is_dir():
        return False
    now = current_dir(storage)
    if now != storage and run_info(now).get("started", 0) > run_info(gen).get("started", 0):
        return False
    previous = now.name if now != storage else None
    _replace_symlink(storage / CURRENT, f"{GENERATIONS}/{run_id}")
    for name in _artifact_names():
        top = storage / name
        wanted = f"{CURRENT}/{name}"
        if (gen / name).is_file() and not (top.is_symlink() and os.readlink(top) == wanted):
            _replace_symlink(top, wanted)  # also replaces a plain file of the old layout
    prune(storage, keep={run_id, *([previous] if previous else [])})
    return True


def discard(storage: str | Path, run_id: str) -> None:
    """Remove a failed run's generation (never the published one)."""
    gen = generation_dir(storage, run_id)
    if gen.is_dir() and gen.resolve() != current_dir(storage):
        shutil.rmtree(gen, ignore_errors=True)


def prune(storage: str | Path, keep: set[str]) -> list[str]:
    """Remove generations not in ``keep`` (failed or killed runs' folders, temporary files in
    them, stale older ones) and stray temporary files; returns what was removed."""
    storage = Path(storage)
    removed = []
    root = storage / GENERATIONS
    for path in root.iterdir() if root.is_dir() else []:
        if path.name not in keep:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
    for path in storage.glob(".*.tmp*"):  # an interrupted write or symlink switch
        path.unlink(missing_ok=True)
        removed.append(path.name)
    return removed


# --- who refreshes the folder ------------------------------------------------------------------


def describe_owner(owner: dict[str, Any]) -> str:
    parts = [owner.get("what", "a refresh")]
    if owner.get("run_id"):
        parts.append(f"run {owner['run_id']}")
    parts.append(f"pid {owner.get('pid')} on {owner.get('host')}")
    if owner.get("since"):
        since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(owner["since"]))
        parts.append(f"since {since}")
    return ", ".join(parts)


def lock_holder(storage: str | Path) -> dict[str, Any] | None:
    """Who holds the folder's lock now (None when nobody does). Must not be called by the
    process that holds it (an OS lock is per open file)."""
    path = Path(storage) / LOCK
    if not path.exists():
        return None
    with open(path, "r+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                return json.loads(fh.read() or "{}")
            except json.JSONDecodeError:
                return {}
        fcntl.flock(fh, fcntl.LOCK_UN)
        return None


@contextmanager
def storage_lock(storage: str | Path, what: str, *, wait: bool = False) -> Iterator[dict[str, Any]]:
    """Hold the folder's lock for a refresh; yields the owner record (update ``run_id`` with
    ``record_run``). Busy: waits with ``wait``, else raises StorageBusyError naming the holder.
    The lock is the OS's (``flock``), so a killed process never leaves it held."""
    storage = Path(storage)
    storage.mkdir(parents=True, exist_ok=True)
    fh = open(storage / LOCK, "a+")  # noqa: SIM115 - held for the whole refresh
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            fh.seek(0)
            try:
                holder = json.loads(fh.read() or "{}")
            except json.JSONDecodeError:
                holder = {}
            raise StorageBusyError(
                f"{storage} is being refreshed by {describe_owner(holder)}; wait for it to finish "
                "(or use --wait)"
            ) from None
        owner = {"what": what, "pid": os.getpid(), "host": socket.gethostname()}
        owner["since"] = time.time()
        _write_owner(fh, owner)
        try:
            yield {**owner, "_fh": fh}
        finally:
            fh.seek(0)
            fh.truncate()
            fcntl.flock(fh, fcntl.LOCK_UN)
    finally:
        fh.close()


def record_run(owner: dict[str, Any], run_id: str) -> None:
    """Name the run in the lock file once it is known (what a busy message will say)."""
    owner["run_id"] = run_id
    _write_owner(owner["_fh"], {k: v for k, v in owner.items() if k != "_fh"})


def _write_owner(fh: Any, owner: dict[str, Any]) -> None:
    fh.seek(0)
    fh.truncate()
    fh.write(json.dumps(owner))
    fh.flush()
