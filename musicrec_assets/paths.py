"""Where musicrec keeps its own state: the embedded sample, its config and the Dagster instance.

Everything lives under ``MUSICREC_HOME`` (default ``.musicrec`` in the current directory, i.e. the
repo root when run from it), so CLI runs and ``dagster dev`` share one instance and the runs show
in the UI.
"""

from __future__ import annotations

import os
from pathlib import Path

CONFIG_ENV = "MUSICREC_CONFIG"
# The project's Dagster instance: no telemetry; runs queued one at a time, so a schedule, the
# sensor and the UI never refresh the same storage folder at once (musicrec materialize holds a
# lock of its own and waits for, or refuses beside, Dagster's runs); and run monitoring, so a run
# whose worker was killed is marked failed (and its generation discarded) instead of holding the
# queue forever.
INSTANCE_YAML = """telemetry:
  enabled: false
concurrency:
  runs:
    max_concurrent_runs: 1
run_monitoring:
  enabled: true
  poll_interval_seconds: 10
"""
OLD_INSTANCE_YAML = "telemetry:\n  enabled: false\n"  # what earlier versions wrote


def musicrec_home() -> Path:
    return Path(os.environ.get("MUSICREC_HOME", Path.cwd() / ".musicrec")).resolve()


def sample_config_path() -> Path:
    return musicrec_home() / "sample" / "musicrec.toml"


def ensure_sample_config() -> Path:
    """The bundled sample config, generating the (deterministic) sample data on first use."""
    path = sample_config_path()
    if not path.exists():
        from .sample import generate_sample

        generate_sample(path.parent)
    return path


def config_path(explicit: str | Path | None = None, *, generate: bool = True) -> Path:
    """The config in force: an explicit path, else ``$MUSICREC_CONFIG``, else the sample's
    (generated on first use unless ``generate`` is false)."""
    if explicit:
        return Path(explicit).resolve()
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV]).resolve()
    return ensure_sample_config() if generate else sample_config_path()


def ensure_dagster_home() -> Path:
    """Use the caller's ``DAGSTER_HOME`` if set, else a project one with telemetry off.

    Dagster needs an absolute, existing directory; without one it uses a temporary instance and
    CLI runs vanish from ``dagster dev``.
    """
    if os.environ.get("DAGSTER_HOME"):
        home = Path(os.environ["DAGSTER_HOME"]).resolve()
    else:
        home = musicrec_home() / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    yaml = home / "dagster.yaml"
    if not yaml.exists() or yaml.read_text() == OLD_INSTANCE_YAML:
        yaml.write_text(INSTANCE_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    return home
