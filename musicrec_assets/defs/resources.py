"""Resources: the musicrec config in force and the IO manager that writes readable artifacts."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import dagster as dg

from musicrec_assets import paths
from musicrec_assets.core import generations
from musicrec_assets.core.artifacts import artifact_path, load_artifact, save_artifact
from musicrec_assets.core.config import Config, load_config

READ_COLUMNS_TAG = "musicrec/read_columns"
SOURCE_TAG = "musicrec/source"  # "cli" on runs of `musicrec materialize` (which holds the lock)


@cache
def _load(path: Path, mtime: float) -> Config:
    return load_config(path)


class MusicrecConfig(dg.ConfigurableResource):
    """The musicrec TOML config (empty path: ``$MUSICREC_CONFIG``, else the embedded sample's)."""

    config_path: str = ""

    def load(self) -> Config:
        path = self.path()
        return _load(path, path.stat().st_mtime if path.exists() else 0.0)

    def path(self) -> Path:
        """The config file in force (the Spark engine's jobs load it too)."""
        return paths.config_path(self.config_path or None)


def _run_id(context: Any) -> str | None:
    """The run of an IO context (an OutputContext has it, an InputContext through its step; a
    hand-built context of a test may have none)."""
    run_id = getattr(context, "run_id", None)
    if run_id:
        return run_id
    try:
        return context.step_context.run_id
    except Exception:
        return None


def _run_tags(context: Any) -> dict[str, str]:
    try:
        return dict(context.step_context.dagster_run.tags)
    except Exception:  # a hand-built context (tests) has no run
        return {}


def input_path(context: dg.AssetExecutionContext, cfg: Config, name: str) -> str:
    """The artifact file an upstream asset's value was read from (a Spark job reads it too)."""
    return str(artifact_path(readable_dir(cfg.storage_dir, context.run.run_id), name))


def writable_dir(storage: Path, run_id: str | None, tags: dict[str, str]) -> Path:
    """The folder a run writes its artifacts to: its own generation (``core.generations``).

    ``musicrec materialize`` holds the storage lock for its whole run; a run launched from
    Dagster (UI, schedule, sensor) is refused here, before it writes anything, while such a
    refresh holds the folder (Dagster's run queue already keeps its own runs one at a time).
    """
    if tags.get(SOURCE_TAG) != "cli":
        holder = generations.lock_holder(storage)
        if holder is not None:
            raise generations.StorageBusyError(
                f"{storage} is being refreshed by {generations.describe_owner(holder)}: this run "
                "stops before writing anything; launch it again when that refresh is done"
            )
    if run_id is None:  # no run: the published folder itself (hand-built contexts in tests)
        return generations.current_dir(storage)
    return generations.open_generation(storage, run_id)


def readable_dir(storage: Path, run_id: str | None) -> Path:
    """Inputs of a run: from its own generation once it wrote anything, else the published one."""
    gen = generations.generation_dir(storage, run_id) if run_id else None
    return gen if gen is not None and gen.is_dir() else generations.current_dir(storage)


class ArtifactIOManager(dg.ConfigurableIOManager):
    """Stores each asset as ``<asset>.<ext>`` in the run's generation of ``<storage.dir>``
    (``core.generations``): Parquet, npz, JSON or LightGBM text.

    Writes are atomic (temp file + rename) and a run's generation is published only when the
    run succeeds, so the web page and a crashed run never see half a file or a mixed set;
    nothing is pickled.
    """

    musicrec: MusicrecConfig

    def _dir(self) -> Path:
        return self.musicrec.load().storage_dir

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        name = context.asset_key.path[-1]
        folder = writable_dir(self._dir(), _run_id(context), _run_tags(context))
        path = save_artifact(folder, name, obj)
        context.add_output_metadata({"path": dg.MetadataValue.path(str(path))})

    def load_input(self, context: dg.InputContext) -> Any:
        """The artifact; of a table, only the columns the op lists for this input (``read_only``)."""
        wanted = json.loads(context.op_def.tags.get(READ_COLUMNS_TAG, "{}")).get(context.name)
        folder = readable_dir(self._dir(), _run_id(context))
        return load_artifact(folder, context.asset_key.path[-1], columns=wanted)


def read_only(columns: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Op tags making ``ArtifactIOManager`` read only these columns of each named table input.

    A tag, not ``AssetIn`` metadata, because Dagster refuses metadata on the input of the asset a
    check checks; at 17.5M rows, reading the columns a check does not use took longer than it.
    """
    return {READ_COLUMNS_TAG: json.dumps({name: list(cols) for name, cols in columns.items()})}


def build_resources(config_path: str = "") -> dict[str, Any]:
    musicrec = MusicrecConfig(config_path=config_path)
    return {"musicrec": musicrec, "io_manager": ArtifactIOManager(musicrec=musicrec)}


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources=build_resources())
