"""Scheduled refresh and the data-arrival sensor (both stopped by default, as Dagster users
expect), and the two run sensors that publish a successful run's artifacts or discard a failed
run's (running by default: without them a run launched from Dagster would never be served)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import dagster as dg

from musicrec_assets import paths
from musicrec_assets.core import generations
from musicrec_assets.core.config import ScheduleConfig, load_config
from musicrec_assets.core.fingerprint import changed_files, fingerprint
from musicrec_assets.defs.resources import SOURCE_TAG

refresh_job = dg.define_asset_job(
    "refresh_all",
    selection=dg.AssetSelection.all(),
    description="Re-materialize the whole graph: ingest, model, evaluation, playlists.",
)


def _schedule_config() -> ScheduleConfig:
    """The [schedule] section of the config in force; defaults if it does not exist yet."""
    path = (
        paths.config_path()
        if paths.os.environ.get(paths.CONFIG_ENV)
        else paths.sample_config_path()
    )
    return load_config(path).schedule if path.exists() else ScheduleConfig()


_sched = _schedule_config()

daily_refresh = dg.ScheduleDefinition(
    name="daily_refresh",
    job=refresh_job,
    cron_schedule=_sched.cron,
    execution_timezone=_sched.timezone,
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description=f"Refresh everything on cron '{_sched.cron}' ([schedule] cron in the config).",
)


@dg.sensor(
    job=refresh_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Requests a refresh run when a source file's content changes (SHA-256, not mtime).",
)
def source_files_changed(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    cfg = load_config(paths.config_path())
    old = json.loads(context.cursor) if context.cursor else None
    new = fingerprint(cfg, old)
    cursor = json.dumps(new, sort_keys=True)
    if old is None:
        return dg.SensorResult(
            skip_reason=f"recorded the fingerprint of {len(new)} source files", cursor=cursor
        )
    changed = changed_files(old, new)
    if not changed:
        return dg.SensorResult(skip_reason="no source file content changed", cursor=cursor)
    run_key = hashlib.sha256(cursor.encode()).hexdigest()[:16]
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(run_key=run_key, tags={"musicrec/changed": ", ".join(changed)[:200]})
        ],
        cursor=cursor,
    )


def _storage() -> Path:
    return load_config(paths.config_path()).storage_dir


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    name="publish_generation",
    minimum_interval_seconds=5,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Publishes the artifacts of a run launched from Dagster once it succeeded (the "
    "page then serves its complete set); musicrec materialize publishes its own runs.",
)
def publish_generation(context: dg.RunStatusSensorContext):
    run = context.dagster_run
    if run.tags.get(SOURCE_TAG) == "cli":
        return dg.SkipReason("musicrec materialize publishes its own runs")
    if not generations.publish(_storage(), run.run_id):
        return dg.SkipReason(f"run {run.run_id} wrote no artifacts or a newer run is published")
    return None


@dg.run_failure_sensor(
    name="discard_failed_generation",
    minimum_interval_seconds=5,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Removes what a failed run launched from Dagster wrote; the published "
    "artifacts stay as they were.",
)
def discard_failed_generation(context: dg.RunFailureSensorContext):
    run = context.dagster_run
    if run.tags.get(SOURCE_TAG) != "cli":
        generations.discard(_storage(), run.run_id)
