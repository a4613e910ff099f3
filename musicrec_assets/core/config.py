"""The musicrec config file (TOML): typed, validated, with defaults for every key but the sources.

Paths in the file are relative to the file itself. Unknown keys are errors, so a typo never
silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Union, get_args, get_origin, get_type_hints

from .errors import ConfigError

WEIGHTINGS: tuple[str, ...] = ("binary", "log1p", "none")  # of item-item generators' histories
ITEMKNN_KINDS: tuple[str, ...] = ("cosine", "bm25", "tfidf")  # implicit's item-item recommenders

LISTENS_FORMATS = ("lastfm_kaggle", "lastfm_export", "plays_table", "hetrec2011", "audioscrobbler")
TRACK_FORMATS = ("spotify_600k_tracks", "spotify_track_table")
NAME_KEYED_TRACK_FORMATS = ("spotify_track_table",)  # credit artists by name, no Spotify ids
ARTIST_FORMATS = ("spotify_600k_artists", "spotify_artist_table")
# Candidate generators, in the order their columns appear; the first four have settings that
# model_selection searches on validation.
GENERATORS: tuple[str, ...] = ("als", "ease", "rp3beta", "itemknn", "popularity")
TUNED: tuple[str, ...] = ("als", "ease", "rp3beta", "itemknn")
OBJECTIVES: tuple[str, ...] = ("binary", "lambdarank")


@dataclass(frozen=True)
class SourceConfig:
    format: str
    path: Path
    encoding: str = "auto"  # "auto" detects UTF-8 (with or without BOM), else cp1252/latin-1
    delimiter: str | None = None  # None: the format's own
    genres_path: Path | None = None  # spotify_artist_table: optional separate `artists,genres`
    # plays_table column names
    user_column: str = "user"
    artist_column: str = "artist"
    plays_column: str = "plays"


@dataclass(frozen=True)
class SourcesConfig:
    listens: SourceConfig
    tracks: SourceConfig | None = None
    artists: SourceConfig | None = None


@dataclass(frozen=True)
class MatchingConfig:
    coverage_warn: float = 0.5  # warn when fewer plays than this share match a Spotify artist


@dataclass(frozen=True)
class SplitConfig:
    method: str = "auto"  # auto | temporal | random (auto: temporal when timestamps exist)
    val: float = 0.1
    test: float = 0.2
    min_artists: int = 5  # listeners with fewer artists stay in train only
    seed: int | None = None  # None: the config's top-level seed


@dataclass(frozen=True)
class ALSConfig:
    """implicit's ALS. The searched values (weighting, K1, B, factors, regularization, alpha,
    iterations) are where model_selection starts; the rest are fixed structure."""

    factors: int = 64
    regularization: float = 10.0
    alpha: float = 0.5
    iterations: int = 20
    warm_start: bool = True  # test/serve fits start from the previous stage's factors
    warm_iterations: int = 7  # sweeps of a warm-started fit (benchmarks/tune_warm_start.py)
    weighting: str = "log1p"  # bm25 | log1p | none
    bm25_k1: float = 100.0
    bm25_b: float = 0.8
    cosine: bool = False
    pop_blend: float = 0.0
    min_user_artists: int = 1  # k-core filter on the train matrix
    min_artist_listeners: int = 1


@dataclass(frozen=True)
class EASEConfig:
    """EASE on the ``max_artists`` most-listened artists (a dense solve cubic in that number)."""

    regularization: float = 500.0
    weighting: str = "binary"  # binary | log1p | none
    max_artists: int = 2500


@dataclass(frozen=True)
class RP3betaConfig:
    alpha: float = 1.0
    beta: float = 0.3
    neighbours: int = 200
    weighting: str = "binary"


@dataclass(frozen=True)
class ItemKNNConfig:
    kind: str = "bm25"  # cosine | bm25 | tfidf (implicit's item-item recommenders)
    neighbours: int = 100
    bm25_k1: float = 1.2
    bm25_b: float = 0.75
    weighting: str = "none"  # of a listener's history when scored


@dataclass(frozen=True)
class TuningConfig:
    """The validation search (model_selection): trials per generator and a wall-clock cap for
    the whole search (seconds); a result depends on the machine only if the cap cuts it."""

    enabled: bool = True
    seconds: float = 120.0
    trials: dict[str, int] = field(
        default_factory=lambda: {"als": 40, "ease": 8, "rp3beta": 14, "itemknn": 12}
    )
    max_users: int = 10_000  # validation listeners scored per trial (seeded sample above)


@dataclass(frozen=True)
class CandidatesConfig:
    n: int = 100  # per generator; the candidates are the union
    generators: tuple[str, ...] = GENERATORS
    max_val_users: int = 50_000  # validation listeners sampled (seeded) to train the reranker


@dataclass(frozen=True)
class RerankerConfig:
    """LightGBM on the union candidates. The objective is chosen on validation among
    ``objectives``; ``folds`` validation folds (disjoint held-out parts of each listener's
    history, generators refit per fold) give it enough listeners, used only while fewer than
    ``fold_listeners`` listener-folds are available; the gate serves it only when a paired
    bootstrap over validation listeners shows it better than the best single generator with
    ``gate_confidence``, judged by at least ``gate_min_listeners`` listeners."""

    objectives: tuple[str, ...] = OBJECTIVES
    folds: int = 4
    fold_listeners: int = 20_000
    crossfit: int = 3  # listener groups of the out-of-fold predictions (objective, α, gate)
    gate_confidence: float = 0.9
    gate_min_listeners: int = 100  # fewer judging listeners: the reranker is never served
    n_estimators: int = 500
    learning_rate: float = 0.05
    num_leaves: int = 15
    min_child_samples: int = 20
    feature_fraction: float = 0.9
    bagging_fraction: float = 0.9
    lambda_l2: float = 1.0
    early_stopping_rounds: int = 15
    valid_fraction: float = 0.25  # share of validation listeners held out for early stopping
    eval_at: int = 10


@dataclass(frozen=True)
class BlendConfig:
    alpha: float | str = "auto"  # weight of the reranker score; "auto" = chosen on validation
    grid: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


@dataclass(frozen=True)
class EvaluationConfig:
    k: int = 10
    bootstrap: int = 1000
    topk: int = 50  # rows per listener kept in reranked_topk (serving)
    max_users: int = 50_000  # test listeners evaluated (seeded sample above this; 0 = all)


@dataclass(frozen=True)
class ContextConfig:
    """A listening context: where it moves the listener's targets and how it weighs the parts."""

    w_base: float = 0.6
    w_tempo: float = 0.2
    w_valence: float = 0.2
    tempo: float | None = None  # target tempo (BPM) of the context; None = listener's own
    valence: float | None = None
    pull: float = 0.0  # 0 = listener's own target, 1 = the context's target
    description: str = ""


DEFAULT_CONTEXTS: dict[str, ContextConfig] = {
    "default": ContextConfig(description="your own tempo and mood"),
    "workout": ContextConfig(
        w_base=0.4,
        w_tempo=0.35,
        w_valence=0.25,
        tempo=150.0,
        valence=0.75,
        pull=0.8,
        description="fast and bright",
    ),
    "focus": ContextConfig(
        w_base=0.5,
        w_tempo=0.25,
        w_valence=0.25,
        tempo=100.0,
        valence=0.35,
        pull=0.7,
        description="moderate tempo, calm",
    ),
    "chill": ContextConfig(
        w_base=0.5,
        w_tempo=0.3,
        w_valence=0.2,
        tempo=80.0,
        valence=0.35,
        pull=0.8,
        description="slow and mellow",
    ),
    "walk": ContextConfig(
        w_base=0.5,
        w_tempo=0.3,
        w_valence=0.2,
        tempo=115.0,
        valence=0.6,
        pull=0.6,
        description="steady mid tempo, light",
    ),
}


@dataclass(frozen=True)
class PlaylistConfig:
    length: int = 20
    per_artist_cap: int = 2
    artists_per_user: int = 30  # recommended artists expanded to tracks
    tracks_per_artist: int = 10  # candidate tracks considered per artist before scoring
    tempo_smooth: bool = False
    contexts: dict[str, ContextConfig] = field(default_factory=lambda: dict(DEFAULT_CONTEXTS))


@dataclass(frozen=True)
class ScheduleConfig:
    cron: str = "0 4 * * *"
    timezone: str = "UTC"


@dataclass(frozen=True)
class Config:
    path: Path  # the config file itself
    sources: SourcesConfig
    storage_dir: Path
    seed: int = 42
    matching: MatchingConfig = MatchingConfig()
    split: SplitConfig = SplitConfig()
    als: ALSConfig = ALSConfig()
    ease: EASEConfig = EASEConfig()
    rp3beta: RP3betaConfig = RP3betaConfig()
    itemknn: ItemKNNConfig = ItemKNNConfig()
    tuning: TuningConfig = TuningConfig()
    candidates: CandidatesConfig = CandidatesConfig()
    reranker: RerankerConfig = RerankerConfig()
    blend: BlendConfig = BlendConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    playlist: PlaylistConfig = PlaylistConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    # generator -> the values its section sets explicitly (these are never searched)
    fixed: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def tracks_keyed_by_name(self) -> bool:
        """The track source credits artists by name only (see catalog.track_credits)."""
        src = self.sources.tracks
        return src is not None and src.format in NAME_KEYED_TRACK_FORMATS


class Rule(NamedTuple):
    """What a key allows beyond its type: a numeric range (each end inclusive unless ``open``)
    or a set of choices; for tuples, each element."""

    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False
    choices: tuple[Any, ...] = ()

    def allows(self, value: Any) -> bool:
        if self.choices:
            return value in self.choices
        if self.low is not None and (value < self.low or (self.open_low and value == self.low)):
            return False
        return self.high is None or (
            value < self.high or (value == self.high and not self.open_high)
        )

    def describe(self) -> str:
        if self.choices:
            return "one of " + ", ".join(map(str, self.choices))
        if self.high is None:
            return f"{'>' if self.open_low else '>='} {self.low:g}"
        left = "(" if self.open_low else "["
        right = ")" if self.open_high else "]"
        return f"in {left}{self.low:g}, {self.high:g}{right}"


AT_LEAST_1 = Rule(1)
NON_NEGATIVE = Rule(0)
POSITIVE = Rule(0, open_low=True)
SHARE = Rule(0, 1)
OPEN_SHARE = Rule(0, 1, open_low=True, open_high=True)
FRACTION = Rule(0, 1, open_low=True)  # (0, 1]

RULES: dict[str, dict[str, Rule]] = {
    "MatchingConfig": {"coverage_warn": SHARE},
    "SplitConfig": {
        "method": Rule(choices=("auto", "temporal", "random")),
        "val": OPEN_SHARE,
        "test": OPEN_SHARE,
        "min_artists": Rule(2),
    },
    "ALSConfig": {
        "factors": AT_LEAST_1,
        "regularization": NON_NEGATIVE,
        "alpha": POSITIVE,
        "iterations": AT_LEAST_1,
        "warm_iterations": AT_LEAST_1,
        "weighting": Rule(choices=("bm25", "log1p", "none")),
        "bm25_k1": NON_NEGATIVE,
        "bm25_b": SHARE,
        "pop_blend": SHARE,
        "min_user_artists": AT_LEAST_1,
        "min_artist_listeners": AT_LEAST_1,
    },
    "EASEConfig": {
        "regularization": POSITIVE,
        "weighting": Rule(choices=WEIGHTINGS),
        "max_artists": AT_LEAST_1,
    },
    "RP3betaConfig": {
        "alpha": POSITIVE,
        "beta": NON_NEGATIVE,
        "neighbours": AT_LEAST_1,
        "weighting": Rule(choices=WEIGHTINGS),
    },
    "ItemKNNConfig": {
        "kind": Rule(choices=ITEMKNN_KINDS),
        "neighbours": AT_LEAST_1,
        "bm25_k1": NON_NEGATIVE,
        "bm25_b": SHARE,
        "weighting": Rule(choices=WEIGHTINGS),
    },
    "TuningConfig": {"seconds": NON_NEGATIVE, "max_users": NON_NEGATIVE, "trials": NON_NEGATIVE},
    "CandidatesConfig": {
        "n": AT_LEAST_1,
        "generators": Rule(choices=GENERATORS),
        "max_val_users": NON_NEGATIVE,
    },
    "RerankerConfig": {
        "objectives": Rule(choices=OBJECTIVES),
        "folds": AT_LEAST_1,
        "fold_listeners": AT_LEAST_1,
        "crossfit": Rule(2),
        "gate_confidence": OPEN_SHARE,
        "gate_min_listeners": NON_NEGATIVE,
        "n_estimators": AT_LEAST_1,
        "learning_rate": POSITIVE,
        "num_leaves": Rule(2),
        "min_child_samples": AT_LEAST_1,
        "feature_fraction": FRACTION,
        "bagging_fraction": FRACTION,
        "lambda_l2": NON_NEGATIVE,
        "early_stopping_rounds": AT_LEAST_1,
        "valid_fraction": OPEN_SHARE,
        "eval_at": AT_LEAST_1,
    },
    "BlendConfig": {"grid": SHARE},
    "EvaluationConfig": {
        "k": AT_LEAST_1,
        "bootstrap": NON_NEGATIVE,
        "topk": AT_LEAST_1,
        "max_users": NON_NEGATIVE,
    },
    "ContextConfig": {
        "w_base": SHARE,
        "w_tempo": SHARE,
        "w_valence": SHARE,
        "tempo": POSITIVE,
        "valence": SHARE,
        "pull": SHARE,
    },
    "PlaylistConfig": {
        "length": AT_LEAST_1,
        "per_artist_cap": AT_LEAST_1,
        "artists_per_user": AT_LEAST_1,
        "tracks_per_artist": AT_LEAST_1,
    },
}


def _type_name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def _typed(value: Any, hint: Any) -> tuple[bool, Any]:
    """(does ``value`` from TOML fit the annotation ``hint``, the value to store): ints are
    accepted where floats are, lists become tuples; bools are never numbers."""
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType):
        for option in args:
            ok, out = _typed(value, option)
            if ok:
                return True, out
        return False, value
    if hint is type(None):
        return value is None, value
    if origin is tuple:
        if not isinstance(value, list | tuple):
            return False, value
        items = [_typed(v, args[0]) for v in value]
        return all(ok for ok, _ in items), tuple(v for _, v in items)
    if origin is dict:
        if not isinstance(value, dict):
            return False, value
        items = {k: _typed(v, args[1]) for k, v in value.items()}
        ok = all(isinstance(k, str) for k in value) and all(v[0] for v in items.values())
        return ok, {k: v[1] for k, v in items.items()}
    if hint is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return ok, float(value) if ok else value
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if hint in (str, bool):
        return isinstance(value, hint), value
    if hint is Path:
        return isinstance(value, str | Path), value
    return True, value


def _expected(hint: Any) -> str:
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType):
        return " or ".join(_expected(a) for a in args if a is not type(None))
    if origin is tuple:
        return f"a list of {_expected(args[0])}"
    if origin is dict:
        return f"a table of {_expected(args[1])}"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(
        hint, _type_name(hint)
    )


def _check(cls: type, key: str, value: Any, where: str, file: Path) -> Any:
    """``value`` as stored, or a ConfigError naming the file, section, key, value and what is
    allowed."""
    hint = get_type_hints(cls)[key]
    ok, out = _typed(value, hint)
    if not ok:
        raise ConfigError(
            f"{file}: [{where}] {key} = {value!r} is not allowed: expected {_expected(hint)}"
        )
    rule = RULES.get(cls.__name__, {}).get(key)
    if rule is None:
        return out
    values = out.values() if isinstance(out, dict) else out if isinstance(out, tuple) else [out]
    for v in values:
        if v is not None and not rule.allows(v):
            what = "each value" if isinstance(out, tuple | dict) else "it"
            raise ConfigError(
                f"{file}: [{where}] {key} = {value!r} is not allowed: {what} must be "
                f"{rule.describe()}"
            )
    return out


def _build(cls: type, data: dict[str, Any], where: str, file: Path) -> Any:
    """A config section from its TOML table: unknown keys, wrong types and values outside
    ``RULES`` are ConfigErrors that name the file, the section, the key and the value."""
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: [{where}] must be a table, not {data!r}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(
            f"{file}: unknown key(s) in [{where}]: {', '.join(unknown)} "
            f"(known: {', '.join(sorted(names))})"
        )
    kwargs = {key: _check(cls, key, value, where, file) for key, value in data.items()}
    return cls(**kwargs)


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
    return _build(SourceConfig, data, f"sources.{name}", file)


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

    playlist_raw = dict(raw.get("playlist", {}))
    contexts = dict(DEFAULT_CONTEXTS)
    for name, ctx in playlist_raw.pop("contexts", {}).items():
        contexts[name] = _build(ContextConfig, ctx, f"playlist.contexts.{name}", file)
    playlist = _build(PlaylistConfig, playlist_raw, "playlist", file)
    playlist = dataclasses.replace(playlist, contexts=contexts)

    blend = _build(BlendConfig, raw.get("blend", {}), "blend", file)
    if blend.alpha != "auto" and (isinstance(blend.alpha, str) or not 0 <= blend.alpha <= 1):
        raise ConfigError(
            f'{file}: [blend] alpha = {blend.alpha!r} is not allowed: "auto" or a number in [0, 1]'
        )
    tuning = _build(TuningConfig, raw.get("tuning", {}), "tuning", file)
    if set(tuning.trials) - set(TUNED):
        raise ConfigError(
            f"{file}: [tuning] trials = {tuning.trials!r} is not allowed: keys must be among "
            f"{', '.join(TUNED)}"
        )
    tuning = dataclasses.replace(tuning, trials={**TuningConfig().trials, **tuning.trials})
    candidates = _build(CandidatesConfig, raw.get("candidates", {}), "candidates", file)
    if "als" not in candidates.generators:
        raise ConfigError(
            f"{file}: [candidates] generators = {list(candidates.generators)!r} is not allowed: "
            "it must include als"
        )
    candidates = dataclasses.replace(
        candidates, generators=tuple(g for g in GENERATORS if g in candidates.generators)
    )
    reranker = _build(RerankerConfig, raw.get("reranker", {}), "reranker", file)
    if not reranker.objectives:
        raise ConfigError(f"{file}: [reranker] objectives is empty: name at least one")
    split = _build(SplitConfig, raw.get("split", {}), "split", file)
    if split.val + split.test >= 1:
        raise ConfigError(
            f"{file}: [split] val = {split.val} and test = {split.test} leave nothing to train "
            "on: val + test must be below 1"
        )
    schedule = _build(ScheduleConfig, raw.get("schedule", {}), "schedule", file)
    _check_schedule(schedule, file)

    return Config(
        path=file,
        sources=sources,
        storage_dir=storage_dir,
        seed=seed,
        matching=_build(MatchingConfig, raw.get("matching", {}), "matching", file),
        split=split,
        als=_build(ALSConfig, raw.get("als", {}), "als", file),
        ease=_build(EASEConfig, raw.get("ease", {}), "ease", file),
        rp3beta=_build(RP3betaConfig, raw.get("rp3beta", {}), "rp3beta", file),
        itemknn=_build(ItemKNNConfig, raw.get("itemknn", {}), "itemknn", file),
        tuning=tuning,
        candidates=candidates,
        reranker=reranker,
        blend=blend,
        evaluation=_build(EvaluationConfig, raw.get("evaluation", {}), "evaluation", file),
        playlist=playlist,
        schedule=schedule,
        fixed={g: dict(raw[g]) for g in TUNED if raw.get(g)},
    )


_CRON_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31))
_CRON_FIELDS += (("month", 1, 12), ("day of week", 0, 7))
_CRON_NAMES = {
    3: ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
    4: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
}
_CRON_ALIASES = ("@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@annually", "@midnight")


def _cron_ok(cron: str) -> bool:
    """A standard five-field cron expression (numbers, ranges, steps, lists, *, names)."""
    if cron.strip() in _CRON_ALIASES:
        return True
    parts = cron.split()
    if len(parts) != 5:
        return False
    for i, (part, (_, low, high)) in enumerate(zip(parts, _CRON_FIELDS, strict=True)):
        names = _CRON_NAMES.get(i, [])
        for item in part.lower().split(","):
            span, _, step = item.partition("/")
            if step and not step.isdigit():
                return False
            ends = [] if span == "*" else span.split("-")
            if len(ends) > 2:
                return False
            for end in ends:
                value = names.index(end) + (i == 3) if end in names else end
                if not str(value).isdigit() or not low <= int(value) <= high:
                    return False
    return True


def _check_schedule(schedule: ScheduleConfig, file: Path) -> None:
    import zoneinfo

    if not _cron_ok(schedule.cron):
        raise ConfigError(
            f"{file}: [schedule] cron = {schedule.cron!r} is not allowed: a five-field cron "
            'expression such as "0 4 * * *"'
        )
    try:
        zoneinfo.ZoneInfo(schedule.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"{file}: [schedule] timezone = {schedule.timezone!r} is not allowed: an IANA time "
            'zone such as "UTC" or "Europe/Berlin"'
        ) from None


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
