"""What each config key allows beyond its type, and the checks that turn a TOML table into a
settings section: every error names the file, the section, the key and the value."""

from __future__ import annotations

import dataclasses
import re
import types
from pathlib import Path
from typing import Any, NamedTuple, Union, get_args, get_origin, get_type_hints

from ..errors import ConfigError
from .settings import (
    ENGINE_KINDS,
    GENERATORS,
    ITEMKNN_KINDS,
    OBJECTIVES,
    WEIGHTINGS,
    EngineConfig,
    ScheduleConfig,
    SparkALSConfig,
    SparkConfig,
)


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
    "EngineConfig": {"kind": Rule(choices=ENGINE_KINDS)},
    "SparkALSConfig": {
        "rank": AT_LEAST_1,
        "reg_param": NON_NEGATIVE,
        "alpha": POSITIVE,
        "max_iter": AT_LEAST_1,
        "checkpoint_interval": AT_LEAST_1,
        "blocks": NON_NEGATIVE,
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


def _checked_value(cls: type, key: str, value: Any, where: str, file: Path) -> Any:
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


def build_section(cls: type, data: dict[str, Any], where: str, file: Path) -> Any:
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
    kwargs = {key: _checked_value(cls, key, value, where, file) for key, value in data.items()}
    return cls(**kwargs)


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


def check_schedule(schedule: ScheduleConfig, file: Path) -> None:
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


# Spark master URLs musicrec can launch against (spark-submit --master).
_MASTERS = (
    ("local[N] or local[*] (optionally local[N,F])", r"local(\[(\*|[1-9]\d*)(,[1-9]\d*)?\])?"),
    ("local-cluster[workers,cores,memory_mb]", r"local-cluster\[[1-9]\d*,[1-9]\d*,[1-9]\d*\]"),
    ("spark://host:port[,host:port...]", r"spark://[\w.-]+:\d{1,5}(,[\w.-]+:\d{1,5})*"),
    ("k8s://[https://]host[:port]", r"k8s://(https?://)?[\w.-]+(:\d{1,5})?/?"),
)
_JVM_SIZE = re.compile(r"[1-9]\d*[kmgtp]?b?", re.IGNORECASE)
# Spark confs that [engine.spark] sets by its own keys: one place for each setting.
_OWN_KEYS = {
    "spark.master": "master",
    "spark.executor.memory": "executor_memory",
    "spark.pyspark.python": "python",
    "spark.pyspark.driver.python": "python",
    "spark.local.dir": "scratch_dir",
}


def _spark_conf(conf: Any, file: Path) -> Any:
    """Spark confs as strings: TOML numbers and booleans are accepted (``8``, ``true``) and
    written the way Spark reads them; keys must be ``spark.*`` and not one of the section's own."""
    if not isinstance(conf, dict):
        return conf  # build_section names the type error
    out: dict[str, Any] = {}
    for key, value in conf.items():
        where = f"{file}: [engine.spark] conf key {key!r}"
        if not key.startswith("spark."):
            raise ConfigError(f"{where} is not allowed: Spark settings start with 'spark.'")
        if key in _OWN_KEYS:
            raise ConfigError(
                f"{where} is not allowed: set [engine.spark] {_OWN_KEYS[key]} instead"
            )
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, int | float):
            value = str(value)
        out[key] = value
    return out


def build_engine(data: Any, base: Path, storage_dir: Path, file: Path) -> EngineConfig:
    """``[engine]`` and ``[engine.spark]``: the engine kind, and a Spark master URL, confs and
    memory size Spark would accept, so a bad cluster setting fails here and not minutes into a
    run. Relative paths resolve against the config's folder; the scratch folder defaults to
    ``<storage.dir>/spark``."""
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: [engine] must be a table, not {data!r}")
    data = dict(data)
    spark_raw = data.pop("spark", {})
    engine = build_section(EngineConfig, data, "engine", file)
    if not isinstance(spark_raw, dict):
        raise ConfigError(f"{file}: [engine.spark] must be a table, not {spark_raw!r}")
    spark_raw = dict(spark_raw)
    als = build_section(SparkALSConfig, spark_raw.pop("als", {}), "engine.spark.als", file)
    if "conf" in spark_raw:
        spark_raw["conf"] = _spark_conf(spark_raw["conf"], file)
    for key in ("python", "scratch_dir"):
        if key in spark_raw and not isinstance(spark_raw[key], str):
            raise ConfigError(
                f"{file}: [engine.spark] {key} = {spark_raw[key]!r} is not allowed: "
                "expected a string"
            )
    spark = build_section(SparkConfig, spark_raw, "engine.spark", file)
    if not any(re.fullmatch(pattern, spark.master) for _, pattern in _MASTERS):
        allowed = "; ".join(name for name, _ in _MASTERS)
        raise ConfigError(
            f"{file}: [engine.spark] master = {spark.master!r} is not allowed: a Spark master URL, "
            f"one of {allowed}"
        )
    if not _JVM_SIZE.fullmatch(spark.executor_memory):
        raise ConfigError(
            f"{file}: [engine.spark] executor_memory = {spark.executor_memory!r} is not allowed: "
            'a JVM memory size such as "512m" or "2g"'
        )
    python = base / spark.python if spark.python is not None else None
    if python is not None and spark.master.startswith("local") and not python.is_file():
        raise ConfigError(
            f"{file}: [engine.spark] python = {str(spark.python)!r} is not allowed: no such file "
            f"({python}); a local master runs this machine's interpreter"
        )
    scratch = base / spark.scratch_dir if spark.scratch_dir is not None else storage_dir / "spark"
    if scratch.resolve() == storage_dir.resolve():
        raise ConfigError(
            f"{file}: [engine.spark] scratch_dir = {str(spark.scratch_dir)!r} is not allowed: "
            "it must not be [storage] dir itself (the published artifacts live there)"
        )
    spark = dataclasses.replace(spark, python=python, scratch_dir=scratch, als=als)
    return dataclasses.replace(engine, spark=spark)
