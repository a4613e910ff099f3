"""Data-quality checks on the ingest assets.

They are blocking: bad data stops the run before any model or served artifact is rebuilt from it,
so the previous artifacts stay in place and the web page keeps serving them.
"""

from __future__ import annotations

from collections.abc import Callable

import dagster as dg
import numpy as np
import pandas as pd

from musicrec_assets.core.evaluation.report import gate_sentence
from musicrec_assets.core.grouping import duplicate_count, group_sizes, keys_in, sorted_in
from musicrec_assets.core.ids import frame_keys, shared_categories, shared_codes
from musicrec_assets.core.schema import (
    LISTENS_COLUMNS,
    SPLITS,
    SPOTIFY_ARTIST_COLUMNS,
    SPOTIFY_TRACK_COLUMNS,
)
from musicrec_assets.defs.resources import MusicrecConfig, read_only

Extra = Callable[[pd.DataFrame, dict[str, pd.DataFrame]], list[str]]


def table_problems(
    df: pd.DataFrame, required: tuple[str, ...], key: tuple[str, ...], positive: str | None
) -> list[str]:
    """What is wrong with a table: missing columns, duplicated keys, non-positive counts."""
    missing = [c for c in required if c not in df.columns]
    if missing:
        return [f"missing columns: {', '.join(missing)}"]
    problems = []
    dups = duplicate_count(frame_keys([df], key)[0]) if key else 0
    if dups:
        problems.append(f"{dups} rows share a key ({', '.join(key)})")
    if positive:
        bad = int((~(pd.to_numeric(df[positive], errors="coerce") > 0)).sum())
        if bad:
            problems.append(f"{bad} rows have {positive} <= 0 or missing")
    return problems


def table_check(
    asset: str,
    required: tuple[str, ...],
    key: tuple[str, ...] = (),
    positive: str | None = None,
    allow_empty: bool = False,
    extra: Extra | None = None,
    extra_ins: dict[str, tuple[str, ...]] | None = None,
) -> dg.AssetChecksDefinition:
    """A blocking check: required columns, unique keys, positive counts, not empty, plus ``extra``.

    Only the columns checked are read (``extra_ins``: the other assets ``extra`` needs, and
    their columns): at 17.5M rows, reading the unchecked columns took longer than the checks.
    """
    extra_ins = extra_ins or {}
    columns = list(dict.fromkeys([*required, *key, *([positive] if positive else [])]))
    desc = f"columns {', '.join(required)}"
    if key:
        desc += f"; unique ({', '.join(key)})"
    if positive:
        desc += f"; {positive} > 0"

    @dg.multi_asset_check(
        name=f"{asset}_valid",
        specs=[
            dg.AssetCheckSpec(
                f"{asset}_valid",
                asset=asset,
                blocking=True,
                description=desc,
                additional_deps=list(extra_ins),
            )
        ],
        ins={"df": dg.AssetIn(asset), **{n: dg.AssetIn(n) for n in extra_ins}},
        op_tags=read_only({"df": columns, **extra_ins}),
    )
    def _check(df: pd.DataFrame, **others: pd.DataFrame):
        problems = table_problems(df, required, key, positive)
        if not allow_empty and df.empty:
            problems.append("table is empty")
        if not problems and extra is not None:
            problems += extra(df, others)
        yield dg.AssetCheckResult(
            passed=not problems,
            description="; ".join(problems) or "ok",
            metadata={"rows": len(df), "problems": len(problems)},
        )

    return _check


def _one_id_per_artist(df: pd.DataFrame, _: dict) -> list[str]:
    ids = df.dropna(subset=["spotify_id"]).groupby("artist")["spotify_id"].nunique()
    bad = int((ids > 1).sum())
    return [f"{bad} artist keys resolve to several Spotify ids"] if bad else []


def _splits_cover_plays(df: pd.DataFrame, others: dict[str, pd.DataFrame]) -> list[str]:
    """Splits and plays hold the same pairs, and every held-out listener also trains.

    Pairs and listeners are compared as integer codes: at 17.5M rows an outer merge of the string
    keys and Python sets of listeners took 90 s.
    """
    problems = []
    present = set(df["split"].unique())
    unknown = sorted(present - set(SPLITS))
    if unknown:
        problems.append(f"unknown split values: {unknown}")
    split_keys, play_keys = frame_keys([df, others["user_artist_plays"]])
    split_keys.sort()
    play_keys.sort()
    lost = int(np.count_nonzero(~sorted_in(play_keys, split_keys)))
    extra = int(np.count_nonzero(~sorted_in(split_keys, play_keys)))
    if lost or extra:
        problems.append(f"splits do not cover the plays: {lost} pairs missing, {extra} unknown")
    if not {"val", "test"} <= present:
        problems.append(
            "no listener has validation and test artists (each needs at least [split] "
            "min_artists artists): the models cannot be validated or evaluated; lower "
            "min_artists or add listening data"
        )
    (users,), vocab = shared_codes([df["user"]])
    users = users.astype(np.int64) + 1  # a missing listener (-1) counts once, as in a set
    train = (df["split"] == "train").to_numpy()
    trained = np.bincount(users[train], minlength=len(vocab) + 1) > 0
    held = np.bincount(users[~train], minlength=len(vocab) + 1) > 0
    untrained = int(np.count_nonzero(held & ~trained))
    if untrained:
        problems.append(f"{untrained} listeners have held-out artists but no training ones")
    return problems


checks = [
    table_check("listens", LISTENS_COLUMNS, positive="plays"),
    table_check("spotify_tracks", SPOTIFY_TRACK_COLUMNS, key=("track_id",), allow_empty=True),
    table_check("spotify_artists", SPOTIFY_ARTIST_COLUMNS, key=("artist_id",), allow_empty=True),
    table_check(
        "artist_vectors",
        ("artist_id", "artist_name", "genres"),
        key=("artist_id",),
        allow_empty=True,
    ),
    table_check(
        "artist_catalog",
        ("artist_name", "artist", "spotify_id", "match"),
        key=("artist_name",),
        extra=_one_id_per_artist,
    ),
    table_check(
        "user_artist_plays", ("user", "artist", "plays"), key=("user", "artist"), positive="plays"
    ),
    table_check(
        "interaction_splits",
        ("user", "artist", "plays", "split"),
        key=("user", "artist"),
        positive="plays",
        extra=_splits_cover_plays,
        extra_ins={"user_artist_plays": ("user", "artist")},
    ),
]


@dg.asset_check(
    asset="artist_catalog",
    description="Share of plays whose artist matched a Spotify artist; warns below matching.coverage_warn.",
)
def artist_catalog_match_coverage(
    musicrec: MusicrecConfig, artist_catalog: pd.DataFrame
) -> dg.AssetCheckResult:
    threshold = musicrec.load().matching.coverage_warn
    total = float(artist_catalog["plays"].sum()) or 1.0
    matched = artist_catalog["spotify_id"].notna()
    play_share = float(artist_catalog.loc[matched, "plays"].sum()) / total
    return dg.AssetCheckResult(
        passed=play_share >= threshold,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{play_share:.1%} of plays and {matched.mean():.1%} of artist names matched "
        f"(warn below {threshold:.0%} of plays)",
        metadata={
            "plays_matched_share": round(play_share, 4),
            "names_matched_share": round(float(matched.mean()), 4),
            "threshold": threshold,
        },
    )


@dg.multi_asset_check(
    name="reranker_gate",
    specs=[
        dg.AssetCheckSpec(
            "reranker_gate",
            asset="reranker",
            blocking=True,
            additional_deps=["reranker_validation"],
            description="The reranker is served only when a paired bootstrap over validation "
            "listeners shows its blend better than the best single generator with the "
            "configured confidence (out-of-fold scores, full catalogue). Otherwise the check "
            "warns and reranked_topk serves that generator; a validation that could not be "
            "computed is an error and blocks.",
        )
    ],
    ins={"validation": dg.AssetIn("reranker_validation")},
)
def reranker_gate(validation: dict):
    gate = validation.get("gate", {})
    reranked, best = gate.get("reranked_ndcg"), gate.get("best_ndcg")
    listeners = gate.get("listeners") or 0
    meta = {
        "val_ndcg_reranked": reranked,
        "val_ndcg_best_generator": best,
        "best_generator": gate.get("best_generator"),
        "lower_bound": gate.get("lower"),
        "listeners": listeners,
    }
    meta = {k: v for k, v in meta.items() if v is not None}
    numbers = (reranked, best, gate.get("lower"))
    if not listeners or any(v is None or v != v for v in numbers):
        yield dg.AssetCheckResult(
            passed=False,
            severity=dg.AssetCheckSeverity.ERROR,
            description=f"no usable validation: reranked={reranked}, best generator={best}, "
            f"{listeners} validation listeners",
            metadata=meta,
        )
        return
    detail = ""
    if not validation.get("training", {}).get("trainable", True):
        detail = " (no validation listener has a held-out artist among its candidates)"
    yield dg.AssetCheckResult(
        passed=bool(gate["passed"]),
        severity=dg.AssetCheckSeverity.WARN,
        description=gate_sentence(validation, validation, validation.get("k", 10)) + detail,
        metadata=meta,
    )


def _group_sizes(df: pd.DataFrame, columns: tuple[str, ...]) -> np.ndarray:
    """``df.groupby(columns).size()`` values (rows with a missing key are dropped, as groupby
    does)."""
    complete = np.logical_and.reduce([df[c].notna().to_numpy() for c in columns])
    return group_sizes(frame_keys([df], columns)[0][complete])


@dg.multi_asset_check(
    name="playlists_valid",
    specs=[
        dg.AssetCheckSpec(
            "playlists_valid",
            asset="playlists",
            additional_deps=["reranked_topk", "artist_tracks"],
            description="Every track belongs to one of the listener's recommended artists by "
            "Spotify id (no name collisions), the per-artist cap holds, and the listed parts add "
            "up to the final score.",
        )
    ],
    ins={
        "playlists": dg.AssetIn("playlists"),
        "recs": dg.AssetIn("reranked_topk"),
        "tracks": dg.AssetIn("artist_tracks"),
    },
    op_tags=read_only(
        {
            "playlists": [
                *("user", "context", "artist", "track_id"),
                *("base_part", "tempo_part", "valence_part", "final"),
            ],
            "recs": ("user", "artist"),
            "tracks": ("artist", "track_id"),
        }
    ),
)
def playlists_valid(
    musicrec: MusicrecConfig, playlists: pd.DataFrame, recs: pd.DataFrame, tracks: pd.DataFrame
):
    cap = musicrec.load().playlist.per_artist_cap
    if playlists.empty:
        yield dg.AssetCheckResult(
            passed=False,
            description="no playlist could be built: none of the recommended artists has tracks "
            "matched by Spotify id (see artist_catalog's match coverage and artist_tracks)",
            metadata={"tracks": 0},
        )
        return
    problems = []
    playlists, recs, tracks = shared_categories(
        [playlists, recs, tracks], ("user", "artist", "context", "track_id")
    )
    stray = int(np.count_nonzero(~keys_in(*frame_keys([playlists, recs], ("user", "artist")))))
    if stray:
        problems.append(f"{stray} tracks of artists not recommended to that listener")
    listed, credited = frame_keys([playlists, tracks], ("artist", "track_id"))
    foreign = int(np.count_nonzero(~keys_in(listed, credited)))
    if foreign:
        problems.append(f"{foreign} tracks not credited to their artist's Spotify id")
    per_artist = _group_sizes(playlists, ("user", "context", "artist"))
    over = int(np.count_nonzero(per_artist > cap))
    if over:
        problems.append(f"{over} playlists exceed {cap} tracks per artist")
    parts = playlists[["base_part", "tempo_part", "valence_part"]].sum(axis=1)
    off = int((~np.isclose(parts, playlists["final"], atol=1e-9)).sum())
    if off:
        problems.append(f"{off} rows whose parts do not add up to the final score")
    yield dg.AssetCheckResult(
        passed=not problems,
        description="; ".join(problems) or f"{len(playlists)} tracks checked",
        metadata={
            "tracks": len(playlists),
            "max_tracks_per_artist": int(per_artist.max(initial=0)),
        },
    )
