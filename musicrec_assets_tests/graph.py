"""Helpers for tests that materialize the whole graph."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from musicrec_assets.core import generations
from musicrec_assets.core.artifacts import ARTIFACTS, artifact_path
from musicrec_assets.core.config import load_config


def materialize_all(
    config: Path, selection: str | None = None, instance: dg.DagsterInstance | None = None
) -> dg.ExecuteInProcessResult:
    """Materialize every asset (with checks) of the real code location for ``config`` (on
    ``instance`` when given: its event log then holds the run's log lines)."""
    from musicrec_assets.definitions import defs as load_defs

    old = os.environ.get("MUSICREC_CONFIG")
    os.environ["MUSICREC_CONFIG"] = str(config)
    try:
        defs = load_defs()
        job = defs.resolve_implicit_global_asset_job_def()
        keys = None
        if selection:
            keys = list(
                dg.AssetSelection.from_string(selection).resolve(defs.resolve_asset_graph())
            )
        result = job.execute_in_process(
            asset_selection=keys, raise_on_error=False, instance=instance
        )
        storage = load_config(config).storage_dir  # published or discarded as the CLI does
        if result.success:
            generations.publish(storage, result.run_id)
        else:
            generations.discard(storage, result.run_id)
        return result
    finally:
        if old is None:
            os.environ.pop("MUSICREC_CONFIG", None)
        else:
            os.environ["MUSICREC_CONFIG"] = old


def artifact_files(storage: Path) -> dict[str, Path]:
    """The artifact file of every asset that exists in ``storage``."""
    out = {}
    for name in ARTIFACTS:
        path = artifact_path(storage, name)
        if path.exists():
            out[name] = path
    return out
