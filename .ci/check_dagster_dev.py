"""Start `dagster dev` on a free port, check the code location over GraphQL, stop it cleanly.

`dagster dev` runs in its own session and the whole process group is stopped at the end (a plain
SIGTERM to the parent leaves the webserver holding the port; docs/architecture.md, Operations
notes).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from musicrec_assets.core.artifacts import ARTIFACTS
from musicrec_assets.paths import INSTANCE_YAML

EXPECTED_ASSETS = set(ARTIFACTS)
EXPECTED_SCHEDULES = {"daily_refresh"}
EXPECTED_SENSORS = {"source_files_changed", "publish_generation", "discard_failed_generation"}
EXPECTED_GROUPS = {"ingest", "model", "evaluation", "playlist"}

QUERY = """
{ repositoriesOrError { ... on RepositoryConnection { nodes {
    name location { name }
    assetNodes { assetKey { path } groupName }
    schedules { name }
    sensors { name }
} } } }
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def graphql(port: int) -> dict:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": QUERY}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def main() -> int:
    root = Path(__file__).resolve().parent.parent
    port = free_port()
    env = dict(os.environ)
    home = Path(tempfile.mkdtemp(prefix="dagster_home_"))
    (home / "dagster.yaml").write_text(INSTANCE_YAML)
    env["DAGSTER_HOME"] = str(home)
    proc = subprocess.Popen(
        ["dagster", "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=root,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=open(home / "dagster_dev.log", "w"),  # noqa: SIM115
    )
    try:
        deadline = time.time() + 180
        data = None
        while time.time() < deadline:
            if proc.poll() is not None:
                print((home / "dagster_dev.log").read_text()[-3000:])
                raise SystemExit(f"dagster dev exited early with code {proc.returncode}")
            try:
                data = graphql(port)
                nodes = data["data"]["repositoriesOrError"].get("nodes")
                if nodes:
                    break
            except OSError:
                pass
            time.sleep(1)
        else:
            raise SystemExit("dagster dev did not answer within 180 s")
        repo = nodes[0]
        assets = {"/".join(n["assetKey"]["path"]) for n in repo["assetNodes"]}
        groups = {n["groupName"] for n in repo["assetNodes"]}
        schedules = {s["name"] for s in repo["schedules"]}
        sensors = {s["name"] for s in repo["sensors"]}
        missing = {
            "assets": EXPECTED_ASSETS - assets,
            "groups": EXPECTED_GROUPS - groups,
            "schedules": EXPECTED_SCHEDULES - schedules,
            "sensors": EXPECTED_SENSORS - sensors,
        }
        print(
            f"dagster dev on port {port}: location {repo['location']['name']}, "
            f"{len(assets)} assets in groups {sorted(groups)}, schedules {sorted(schedules)}, "
            f"sensors {sorted(sensors)}"
        )
        if any(missing.values()):
            print(f"missing: {missing}")
            return 1
        return 0
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


if __name__ == "__main__":
    sys.exit(main())
