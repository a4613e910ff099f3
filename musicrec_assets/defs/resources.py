"""Resources: the musicrec config in force and the IO manager that writes readable artifacts."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import dagster as dg

from musicrec_assets import paths
from musicrec_assets.core.artifacts import load_artifact, save_artifact
from musicrec_assets.core.config import Config, load_config

READ_COLUMNS_TAG = "musicrec/read_columns"


@cache
def _load(path: Path, mtime: float) -> Config:
    return load_config(path)


class MusicrecConfig(dg.ConfigurableResource):
    """The musicrec TOML config (empty path: ``$MUSICREC_CONFIG``, else the embedded sample's)."""

    config_path: str = ""

    def load(self) -> Config:
        path = paths.config_path(self.config_path or None)
        return _load(path, path.stat().st_mtime if path.exists() else 0.0)


class ArtifactIOManager(dg.ConfigurableIOManager):
    """Stores each asset as ``<storage.dir>/<asset>.<ext>``: Parquet, npz, JSON or LightGBM text.

    Writes are atomic (temp file + rename), so the web page and a crashed run never see half a file;
    nothing is pickled.
    """

    musicrec: MusicrecConfig

    def _dir(self) -> Path:
        return self.musicrec.load().storage_dir

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        name = context.asset_key.path[-1]
        path = save_artifact(self._dir(), name, obj)
        context.add_output_metadata({"path": dg.MetadataValue.path(str(path))})

    def load_input(self, context: dg.InputContext) -> Any:
        """The artifact; of a table, only the columns the op lists for this input (``read_only``)."""
        wanted = json.loads(context.op_def.tags.get(READ_COLUMNS_TAG, "{}")).get(context.name)
        return load_artifact(self._dir(), context.asset_key.path[-1], columns=wanted)


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
