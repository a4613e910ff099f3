"""The settings a config file can hold: one frozen dataclass per section, with its defaults.

Kept apart from the loading (``load.py``) and the value checks (``rules.py``) so the stages can
import their settings without the TOML machinery.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..parallel import THREADS

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
ENGINE_KINDS: tuple[str, ...] = ("local", "spark")


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
class SparkALSConfig:
    """pyspark.ml ALS's own values (``[engine.spark.als]``). Spark regularises differently from
    implicit (λ times each row's count of rated items; confidence 1 + α·weight), so implicit's
    ``[als]`` values do not carry over; weighting, k-core and scoring still come from ``[als]``."""

    # Chosen by benchmarks/tune_spark_als.py on HetRec 2011 dev validation (24 seeded TPE fits,
    # log1p weighting; val NDCG@10 0.1593 vs 0.1562 for the previous 64 / 1.0 / 1.0 / 10).
    rank: int = 32
    reg_param: float = 0.87
    alpha: float = 2.0
    max_iter: int = 15
    checkpoint_interval: int = 5  # iterations between checkpoints (cuts the lineage)
    blocks: int = 0  # user and item blocks; 0: Spark's default (10)


@dataclass(frozen=True)
class SparkConfig:
    """Where and how the Spark engine's jobs run (``[engine.spark]``); read only when
    ``[engine] kind = "spark"``. Moving to a real cluster is a change of ``master``."""

    # local[N] | local[*] | local-cluster[workers,cores,memory_mb] | spark://host:port | k8s://...
    master: str = "local[2]"
    conf: dict[str, str] = field(default_factory=dict)  # extra spark.* settings, as strings
    executor_memory: str = "1g"  # a JVM size: 512m, 2g, ...
    python: Path | None = None  # the jobs' interpreter; None: the one running musicrec
    scratch_dir: Path | None = None  # checkpoints, intermediate Parquet; None: <storage.dir>/spark
    als: SparkALSConfig = SparkALSConfig()


@dataclass(frozen=True)
class EngineConfig:
    """Which engine runs the heavy stages: ``local`` (pandas / NumPy on this machine, the
    default) or ``spark``; the asset graph and its artifacts are the same either way."""

    kind: str = "local"
    spark: SparkConfig = SparkConfig()


@dataclass(frozen=True)
class Config:
    path: Path  # the config file itself
    sources: SourcesConfig
    storage_dir: Path
    seed: int = 42
    threads: int = 0  # threads of every stage; 0: the machine's cores (core.parallel.THREADS)
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
    engine: EngineConfig = EngineConfig()
    # generator -> the values its section sets explicitly (these are never searched)
    fixed: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def num_threads(self) -> int:
        """The thread count every stage runs with."""
        return self.threads or THREADS

    @property
    def tracks_keyed_by_name(self) -> bool:
        """The track source credits artists by name only (see catalog.track_credits)."""
        src = self.sources.tracks
        return src is not None and src.format in NAME_KEYED_TRACK_FORMATS
