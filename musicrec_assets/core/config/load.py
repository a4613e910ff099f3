"""Reading a config file: the TOML parsed into :class:`Config`, relative paths resolved against
the file's folder, and the sources checked to exist before a run starts."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .rules import build_engine, build_section, check_schedule
from .settings import (
    ARTIST_FORMATS,
    DEFAULT_CONTEXTS,
    GENERATORS,
    LISTENS_FORMATS,
    TRACK_FORMATS,
    TUNED,
    ALSConfig,
    BlendConfig,
    CandidatesConfig,
    Config,
    ContextConfig,
    EASEConfig,
    EvaluationConfig,
    ItemKNNConfig,
    MatchingConfig,
    PlaylistConfig,
    RerankerConfig,
    RP3betaConfig,
    ScheduleConfig,
    SourceConfig,
    SourcesConfig,
    SplitConfig,
    TuningConfig,
)


def _source(data: dict[str, Any], name: str, formats: tuple[str, ...], base: Path, file: Path):
    if "format" not in data or "path" not in data:
        raise ConfigError(f"{file}: [sources.{name}] needs both 'format' and 'path'")
    if data["format"] not in formats:
        raise ConfigError(
            f"{file}: [sources.{name}] format {data['format']!r} is not one of {', '.join(formats)}"
        )
    data = dict(data)
    for key in ("path", "genres_path"):
        if key in data and not isinstance(data[key], str):
            raise ConfigError(
                f"{file}: [sources.{name}] {key} = {data[key]!r} is not allowed: expected a string"
            )
    data["path"] = base / data["path"]
    if data.get("genres_path"):
        data["genres_path"] = base / data["genres_path"]
    return build_section(SourceConfig, data, f"sources.{name}", file)


def load_config(path: str | Path) -> Config:
    """Read and validate a musicrec TOML config; relative paths resolve against its folder."""
    file = Path(path).resolve()
    if not file.is_file():
        raise ConfigError(f"config file not found: {file}")
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from exc
    base = file.parent
    raw = dict(raw)
    known = {f.name for f in dataclasses.fields(Config)} | {"storage"}
    unknown = sorted(set(raw) - known - {"path", "storage_dir", "fixed"})
    if unknown:
        raise ConfigError(f"{file}: unknown section(s): {', '.join(unknown)}")

    src = raw.get("sources", {})
    if "listens" not in src:
        raise ConfigError(f"{file}: [sources.listens] is required")
    extra = sorted(set(src) - {"listens", "tracks", "artists"})
    if extra:
        raise ConfigError(f"{file}: unknown source(s): {', '.join(extra)}")
    sources = SourcesConfig(
        listens=_source(src["listens"], "listens", LISTENS_FORMATS, base, file),
        tracks=_source(src["tracks"], "tracks", TRACK_FORMATS, base, file)
        if "tracks" in src
        else None,
        artists=_source(src["artists"], "artists", ARTIST_FORMATS, base, file)
        if "artists" in src
        else None,
    )
    storage = raw.get("storage", {})
    if not isinstance(storage, dict) or set(storage) - {"dir"}:
        extra = sorted(set(storage) - {"dir"}) if isinstance(storage, dict) else [repr(storage)]
        raise ConfigError(f"{file}: unknown key(s) in [storage]: {', '.join(extra)} (known: dir)")
    if not isinstance(storage.get("dir", ""), str):
        raise ConfigError(
            f"{file}: [storage] dir = {storage['dir']!r} is not allowed: expected a string"
        )
    storage_dir = base / storage.get("dir", "derived")
    seed = raw.get("seed", 42)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ConfigError(f"{file}: seed = {seed!r} is not allowed: expected an integer")
    threads = raw.get("threads", 0)
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 0:
        raise ConfigError(
            f"{file}: threads = {threads!r} is not allowed: expected an integer >= 0 "
            "(0: the machine's cores)"
        )

    playlist_raw = dict(raw.get("playlist", {}))
    contexts = dict(DEFAULT_CONTEXTS)
    for name, ctx in playlist_raw.pop("contexts", {}).items():
        contexts[name] = build_section(ContextConfig, ctx, f"playlist.contexts.{name}", file)
    playlist = build_section(PlaylistConfig, playlist_raw, "playlist", file)
    playlist = dataclasses.replace(playlist, contexts=contexts)

    blend = build_section(BlendConfig, raw.get("blend", {}), "blend", file)
    if blend.alpha != "auto" and (isinstance(blend.alpha, str) or not 0 <= blend.alpha <= 1):
        raise ConfigError(
            f'{file}: [blend] alpha = {blend.alpha!r} is not allowed: "auto" or a number in [0, 1]'
        )
    tuning = build_section(TuningConfig, raw.get("tuning", {}), "tuning", file)
    if set(tuning.trials) - set(TUNED):
        raise ConfigError(
            f"{file}: [tuning] trials = {tuning.trials!r} is not allowed: keys must be among "
            f"{', '.join(TUNED)}"
        )
    tuning = dataclasses.replace(tuning, trials={**TuningConfig().trials, **tuning.trials})
    candidates = build_section(CandidatesConfig, raw.get("candidates", {}), "candidates", file)
    if "als" not in candidates.generators:
        raise ConfigError(
            f"{file}: [candidates] generators = {list(candidates.generators)!r} is not allowed: "
            "it must include als"
        )
    candidates = dataclasses.replace(
        candidates, generators=tuple(g for g in GENERATORS if g in candidates.generators)
    )
    reranker = build_section(RerankerConfig, raw.get("reranker", {}), "reranker", file)
    if not reranker.objectives:
        raise ConfigError(f"{file}: [reranker] objectives is empty: name at least one")
    split = build_section(SplitConfig, raw.get("split", {}), "split", file)
    if split.val + split.test >= 1:
        raise ConfigError(
            f"{file}: [split] val = {split.val} and test = {split.test} leave nothing to train "
            "on: val + test must be below 1"
        )
    schedule = build_section(ScheduleConfig, raw.get("schedule", {}), "schedule", file)
    check_schedule(schedule, file)
    engine = build_engine(raw.get("engine", {}), base, storage_dir, file)

    return Config(
        path=file,
        sources=sources,
        storage_dir=storage_dir,
        seed=seed,
        threads=threads,
        matching=build_section(MatchingConfig, raw.get("matching", {}), "matching", file),
        split=split,
        als=build_section(ALSConfig, raw.get("als", {}), "als", file),
        ease=build_section(EASEConfig, raw.get("ease", {}), "ease", file),
        rp3beta=build_section(RP3betaConfig, raw.get("rp3beta", {}), "rp3beta", file),
        itemknn=build_section(ItemKNNConfig, raw.get("itemknn", {}), "itemknn", file),
        tuning=tuning,
        candidates=candidates,
        reranker=reranker,
        blend=blend,
        evaluation=build_section(EvaluationConfig, raw.get("evaluation", {}), "evaluation", file),
        playlist=playlist,
        schedule=schedule,
        engine=engine,
        fixed={g: dict(raw[g]) for g in TUNED if raw.get(g)},
    )


def check_sources(cfg: Config) -> None:
    """Every configured source file or folder exists (globs match at least one file), so a run
    that would fail on a missing file is refused before anything starts."""
    for name in ("listens", "tracks", "artists"):
        src = getattr(cfg.sources, name)
        if src is None:
            continue
        for key in ("path", "genres_path"):
            path = getattr(src, key)
            if path is None:
                continue
            found = (
                path.exists() or any(path.parent.glob(path.name)) if path.parent.exists() else False
            )
            if not found:
                raise ConfigError(
                    f"{cfg.path}: [sources.{name}] {key} = {str(path)!r}: no such file or folder"
                    + (
                        " (the pattern matches nothing)"
                        if any(c in path.name for c in "*?[")
                        else ""
                    )
                )
