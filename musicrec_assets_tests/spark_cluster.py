"""A throwaway Spark standalone cluster (one master, two workers) on 127.0.0.1, for tests.

The pyspark wheel ships ``sbin/spark-daemon.sh`` but not ``start-master.sh``, so the daemons are
started with it directly, each on a free port (never 7077 / 8080, which a developer's own cluster
may hold), with pid, log and work folders under the caller's folder. They are stopped by the PID
in their pid files, with the executors they started, whatever happened in between: a test that
leaves JVMs behind would slow or break every later run on the machine.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import psutil

HOST = "127.0.0.1"
MASTER = "org.apache.spark.deploy.master.Master"
WORKER = "org.apache.spark.deploy.worker.Worker"
WORKERS = 2
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 30.0


def free_ports(n: int) -> list[int]:
    """``n`` distinct free TCP ports on 127.0.0.1 (all held open together, so none repeats)."""
    with ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(n)]
        for s in socks:
            s.bind((HOST, 0))
        return [int(s.getsockname()[1]) for s in socks]


def _spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


def _daemon_env(workdir: Path) -> dict[str, str]:
    """The daemons' environment: everything under ``workdir``, an empty conf folder (no
    ``spark-env.sh`` from elsewhere), loopback only, and this interpreter for Python tasks. The
    master's REST submission server is off: it would take the fixed port 6066."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPARK_")}
    for name in ("pids", "logs", "work", "conf"):
        (workdir / name).mkdir(parents=True, exist_ok=True)
    return env | {
        "SPARK_HOME": str(_spark_home()),
        "SPARK_CONF_DIR": str(workdir / "conf"),
        "SPARK_PID_DIR": str(workdir / "pids"),
        "SPARK_LOG_DIR": str(workdir / "logs"),
        "SPARK_WORKER_DIR": str(workdir / "work"),
        "SPARK_LOCAL_IP": HOST,
        "SPARK_MASTER_HOST": HOST,
        "SPARK_MASTER_OPTS": "-Dspark.master.rest.enabled=false",
        "SPARK_IDENT_STRING": f"musicrec-test-{uuid.uuid4().hex[:8]}",
        "PYSPARK_PYTHON": sys.executable,
    }


def _start(env: dict[str, str], command: str, instance: int, *args: str) -> subprocess.Popen:
    """Launch ``spark-daemon.sh start`` (it returns after checking the JVM for about 2.5 s, so
    the three daemons are launched together)."""
    daemon = Path(env["SPARK_HOME"]) / "sbin" / "spark-daemon.sh"
    return subprocess.Popen(
        ["bash", str(daemon), "start", command, str(instance), *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _log_tails(workdir: Path, lines: int = 15) -> str:
    out = []
    for log in sorted((workdir / "logs").glob("*.out")):
        tail = log.read_text(errors="replace").splitlines()[-lines:]
        out.append(f"--- {log.name}\n" + "\n".join(tail))
    return "\n".join(out) or "(no daemon logs)"


def master_state(webui_port: int) -> dict:
    """The master's status page as JSON (workers, their state and cores, applications)."""
    with urllib.request.urlopen(f"http://{HOST}:{webui_port}/json/", timeout=30) as resp:
        return json.load(resp)


@dataclass(frozen=True)
class Cluster:
    url: str  # spark://127.0.0.1:<port>, the master a session connects to
    webui_port: int
    workdir: Path  # pids/, logs/, work/ (the executors' folders), conf/

    def state(self) -> dict:
        """The master's view now: workers, their used cores, and the applications."""
        return master_state(self.webui_port)

    def daemons(self) -> list[psutil.Process]:
        """The running daemons and their children, so a test can check they are gone after."""
        return _daemons(self.workdir)


def _wait_for_workers(workdir: Path, webui_port: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    alive = 0
    while time.monotonic() < deadline:
        try:
            workers = master_state(webui_port)["workers"]
            alive = sum(w["state"] == "ALIVE" for w in workers)
        except OSError:
            pass  # the master's web UI is not up yet
        if alive == WORKERS:
            return
        time.sleep(0.5)
    raise RuntimeError(
        f"the standalone cluster did not come up in {START_TIMEOUT_S:.0f} s "
        f"({alive} of {WORKERS} workers ALIVE); daemon logs:\n{_log_tails(workdir)}"
    )


def _daemons(workdir: Path) -> list[psutil.Process]:
    """The daemons of the pid files, with their children (a worker's executors), skipping a PID
    that no longer is one of our Spark JVMs."""
    procs = []
    for pid_file in sorted((workdir / "pids").glob("*.pid")):
        try:
            proc = psutil.Process(int(pid_file.read_text()))
            if "org.apache.spark.deploy" in " ".join(proc.cmdline()):
                procs += [proc, *proc.children(recursive=True)]
        except (psutil.NoSuchProcess, ValueError):
            continue
    return procs


def _stop(workdir: Path) -> None:
    """SIGTERM every daemon (a worker then stops its executors), SIGKILL what is left after
    ``STOP_TIMEOUT_S``, and fail if anything survives."""
    procs = _daemons(workdir)
    for proc in procs:
        with suppress(psutil.NoSuchProcess):
            proc.terminate()
    _, alive = psutil.wait_procs(procs, timeout=STOP_TIMEOUT_S)
    for proc in alive:
        with suppress(psutil.NoSuchProcess):
            proc.kill()
    _, alive = psutil.wait_procs(alive, timeout=10)
    if alive:
        raise RuntimeError(f"Spark daemons still running after SIGKILL: {[p.pid for p in alive]}")


@contextmanager
def standalone_cluster(workdir: Path, memory: str = "1g") -> Iterator[Cluster]:
    """Start a master and two one-core workers of ``memory`` each on free ports; yield the
    master's URL and web UI port once both workers are ALIVE; stop them all on exit."""
    env = _daemon_env(workdir)
    port, webui, *worker_ports = free_ports(2 + 2 * WORKERS)
    url = f"spark://{HOST}:{port}"
    try:
        launches = [
            _start(env, MASTER, 1, "--host", HOST, "--port", str(port), "--webui-port", str(webui))
        ]
        for i in range(WORKERS):
            w_port, w_webui = worker_ports[2 * i : 2 * i + 2]
            launches.append(
                _start(
                    env,
                    WORKER,
                    i + 1,
                    *("--host", HOST, "--port", str(w_port), "--webui-port", str(w_webui)),
                    *("--cores", "1", "--memory", memory, url),
                )
            )
        for launch in launches:
            launch.wait(timeout=60)
        _wait_for_workers(workdir, webui)
        yield Cluster(url, webui, workdir)
    finally:
        _stop(workdir)
