"""The musicrec config file (TOML): typed, validated, with defaults for every key but the sources.

Paths in the file are relative to the file itself. Unknown keys are errors, so a typo never
silently falls back to a default. ``settings`` holds the sections, ``rules`` what each key
allows, ``load`` reads a file; everything a caller needs is importable from here.
"""

from ..errors import ConfigError
from .load import check_sources, load_config
from .settings import (
    ARTIST_FORMATS,
    DEFAULT_CONTEXTS,
    GENERATORS,
    ITEMKNN_KINDS,
    LISTENS_FORMATS,
    NAME_KEYED_TRACK_FORMATS,
    OBJECTIVES,
    TRACK_FORMATS,
    TUNED,
    WEIGHTINGS,
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

__all__ = [
    "ARTIST_FORMATS",
    "DEFAULT_CONTEXTS",
    "GENERATORS",
    "ITEMKNN_KINDS",
    "LISTENS_FORMATS",
    "NAME_KEYED_TRACK_FORMATS",
    "OBJECTIVES",
    "TRACK_FORMATS",
    "TUNED",
    "WEIGHTINGS",
    "ALSConfig",
    "BlendConfig",
    "CandidatesConfig",
    "Config",
    "ConfigError",
    "ContextConfig",
    "EASEConfig",
    "EvaluationConfig",
    "ItemKNNConfig",
    "MatchingConfig",
    "PlaylistConfig",
    "RP3betaConfig",
    "RerankerConfig",
    "ScheduleConfig",
    "SourceConfig",
    "SourcesConfig",
    "SplitConfig",
    "TuningConfig",
    "check_sources",
    "load_config",
]
