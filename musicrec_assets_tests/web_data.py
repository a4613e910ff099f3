"""A small but realistic fake artifact folder for the web tests and the web benchmark.

Writes exactly the artifact files and columns the page reads (docs/architecture.md), so the tests
need neither the pipeline nor ../shared. Two taste clusters (fast and bright vs slow and mellow)
make listener profiles differ; the data also holds the cases the page must survive: "Gala" next to
"Sigala", a remaster/live variant, a featured credit, tracks without tempo, an artist without a
Spotify match, and hostile names (HTML/script) that must show as text.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from musicrec_assets.core.artifacts import write_json, write_parquet
from musicrec_assets.core.playlist import artist_tracks
from musicrec_assets.core.schema import AUDIO_FEATURES

HOSTILE_ARTIST = "<b>x</b><script>alert(1)</script>"
HOSTILE_USER = "<i>eve</i><script>"
NAMED_ARTISTS = (
    "Radiohead",
    "Gala",
    "Sigala",
    "Daft Punk",
    "Nils Frahm",
    "Björk",
    "AC/DC",
    HOSTILE_ARTIST,
)
NAMED_USERS = ("alice", "bob", "carol", "dave", HOSTILE_USER)
UNMATCHED_ARTIST = "Local Garage Band"
GENRES = {
    "fast": ("dance pop", "edm", "electro house", "hard rock", "big beat"),
    "slow": ("ambient", "neo-classical", "art rock", "trip hop", "chamber folk"),
}


GATE = {
    "reranked_ndcg": 0.072,
    "best_ndcg": 0.07,
    "best_generator": "als",
    "diff": 0.002,
    "lower": -0.004,
    "upper": 0.008,
    "confidence": 0.9,
    "listeners": 6,
    "passed": False,
}


@dataclass(frozen=True)
class FakeArtifacts:
    """What was written, for assertions."""

    storage_dir: Path
    users: list[str]
    artists: list[str]
    fast_artists: list[str]
    slow_artists: list[str]


def _write_serving_models(
    storage_dir: Path,
    splits: pd.DataFrame,
    vectors: pd.DataFrame,
    catalog: pd.DataFrame,
    seed: int,
) -> None:
    """Serve-stage generators and item features, exactly as the pipeline writes them (small)."""
    from musicrec_assets.core.artifacts import save_artifact
    from musicrec_assets.core.config import (
        GENERATORS,
        ALSConfig,
        EASEConfig,
        ItemKNNConfig,
        RP3betaConfig,
    )
    from musicrec_assets.core.model.features import build_content_features
    from musicrec_assets.core.model.generators.stages import fit_stages

    settings = {
        "als": ALSConfig(factors=8, iterations=5, weighting="log1p"),
        "ease": EASEConfig(regularization=20.0),
        "rp3beta": RP3betaConfig(),
        "itemknn": ItemKNNConfig(),
        "popularity": None,
    }
    models = fit_stages(splits, settings, seed, stages=("serve",), names=GENERATORS, num_threads=1)
    _, items = build_content_features(splits, vectors, catalog, stages=("serve",))
    save_artifact(storage_dir, "generator_models", models)
    write_parquet(items, storage_dir / "item_features.parquet")


def _spotify_id(prefix: str, i: int) -> str:
    return f"{prefix}{i:020d}"[:22]


def write_fake_artifacts(
    storage_dir: Path,
    *,
    n_users: int = 12,
    n_artists: int = 40,
    tracks_per_artist: int = 8,
    topk: int = 20,
    seed: int = 7,
    with_models: bool = True,
) -> FakeArtifacts:
    """Write the page's artifacts into ``storage_dir`` (created) and describe them.

    ``with_models`` also fits the serve-stage generators and item features with the real core
    code (``generator_models.npz``, ``item_features.parquet``) so the new-listener path runs
    end to end.
    """
    rng = np.random.default_rng(seed)
    storage_dir = Path(storage_dir)
    storage_dir.mkdir(parents=True, exist_ok=True)

    artists = list(NAMED_ARTISTS) + [
        f"Artist {i:04d}" for i in range(n_artists - len(NAMED_ARTISTS))
    ]
    fast = {a for i, a in enumerate(artists) if i % 2 == 0}
    ids = {a: _spotify_id("ar", i) for i, a in enumerate(artists)}

    # spotify_tracks: tempo/valence drawn around the artist's cluster.
    rows = []
    for i, artist in enumerate(artists):
        centre_tempo, centre_valence = (150.0, 0.75) if artist in fast else (78.0, 0.3)
        titles = [f"{artist} Song {j}" for j in range(tracks_per_artist)]
        if artist == "Radiohead":
            titles[:3] = ["Karma Police", "Karma Police - Remastered 2011", "Karma Police (Live)"]
        if artist == "Sigala":
            titles[0] = "Lasting Lover"
        if artist == "Gala":
            titles[0] = "Freed from Desire"
        for j, title in enumerate(titles):
            credits = [artist]
            if artist == "Daft Punk" and j == 1:
                credits = ["Daft Punk", "Radiohead"]  # a featured credit
            rows.append(
                {
                    "track_id": _spotify_id("tr", i * 1000 + j),
                    "track_name": title,
                    "artist_ids": [ids[c] for c in credits],
                    "artist_names": credits,
                    "popularity": float(90 - 3 * j - (i % 7)),
                    "explicit": 0.0,
                    "release_year": float(1990 + (i + j) % 30),
                    "tempo": float(rng.normal(centre_tempo, 12.0)),
                    "valence": float(np.clip(rng.normal(centre_valence, 0.1), 0.0, 1.0)),
                }
            )
    tracks = pd.DataFrame(rows)
    tracks.loc[tracks.index % 17 == 5, ["tempo"]] = np.nan  # some tracks lack audio features
    for col in AUDIO_FEATURES:
        if col not in tracks.columns:
            tracks[col] = rng.uniform(0.0, 1.0, len(tracks))
    tracks["duration_ms"] = rng.integers(120_000, 360_000, len(tracks)).astype(float)
    tracks = tracks[
        [
            "track_id",
            "track_name",
            "artist_ids",
            "artist_names",
            "popularity",
            "explicit",
            "release_year",
            *AUDIO_FEATURES,
        ]
    ]

    # artist_vectors: per-artist means of their credited tracks plus ranked genres.
    credits = tracks.explode(["artist_ids", "artist_names"])
    means = credits.groupby("artist_ids")[list(AUDIO_FEATURES)].mean()
    vectors = pd.DataFrame({"artist_id": [ids[a] for a in artists], "artist_name": artists})
    vectors["n_tracks"] = credits.groupby("artist_ids").size().reindex(vectors["artist_id"]).values
    for col in AUDIO_FEATURES:
        vectors[col] = means[col].reindex(vectors["artist_id"]).values
    vectors["popularity"] = rng.uniform(20, 90, len(vectors)).round(0)
    vectors["explicit"] = 0.0
    genres, shares = [], []
    for artist in artists:
        pool = GENRES["fast" if artist in fast else "slow"]
        picked = list(rng.choice(pool, size=3, replace=False))
        weights = np.sort(rng.dirichlet(np.ones(3)))[::-1]
        genres.append(picked)
        shares.append([float(w) for w in weights])
    vectors["genres"] = genres
    vectors["genre_shares"] = shares
    vectors["top_genres"] = [", ".join(g[:3]) for g in genres]

    # Listeners: each leans to one cluster; play counts are heavy-tailed.
    users = list(NAMED_USERS) + [f"user{i:04d}" for i in range(n_users - len(NAMED_USERS))]
    history_rows = []
    recs_rows = []
    fast_list = [a for a in artists if a in fast]
    slow_list = [a for a in artists if a not in fast]
    for u, user in enumerate(users):
        likes, others = (fast_list, slow_list) if u % 2 == 0 else (slow_list, fast_list)
        n_hist = min(len(likes) - 2, 6 + u % 5)
        own = [*rng.choice(likes, size=n_hist, replace=False), others[u % len(others)]]
        if u % 3 == 0:
            own.append(UNMATCHED_ARTIST)
        plays = np.sort(rng.zipf(1.6, len(own)).clip(1, 500))[::-1]
        for artist, p in zip(own, plays, strict=True):
            split = str(rng.choice(["train", "train", "train", "val", "test"]))
            history_rows.append({"user": user, "artist": artist, "plays": int(p), "split": split})
        # Recommendations mix both clusters (likes first), so contexts have something to choose.
        liked = [a for a in likes if a not in own]
        other = [a for a in others if a not in own]
        unseen = [a for pair in zip(liked, other, strict=False) for a in pair]
        unseen += liked[len(other) :] + other[len(liked) :]
        if user == HOSTILE_USER and HOSTILE_ARTIST not in own:  # must reach their playlist
            unseen = [HOSTILE_ARTIST, *(a for a in unseen if a != HOSTILE_ARTIST)]
        ranked = unseen[:topk]
        for r, artist in enumerate(ranked, start=1):
            als = float(0.9 - 0.03 * r + rng.normal(0, 0.005))
            ranker = float(1.5 - 0.1 * r + rng.normal(0, 0.05))
            recs_rows.append(
                {
                    "user": user,
                    "rank": r,
                    "artist": artist,
                    "score": 0.5 * als + 0.5 * ranker,
                    "als_score": als,
                    "ranker_score": ranker,
                }
            )
    history = pd.DataFrame(history_rows)
    start = pd.Timestamp("2024-01-01", tz="UTC")
    history["first_played"] = start + pd.to_timedelta(rng.integers(0, 200, len(history)), unit="D")
    history["last_played"] = history["first_played"] + pd.Timedelta(days=30)
    recs = pd.DataFrame(recs_rows)
    recs["rank"] = recs.groupby("user").cumcount() + 1

    per_artist = history.groupby("artist").agg(
        plays=("plays", "sum"), listeners=("user", "nunique")
    )
    catalog = pd.DataFrame({"artist_name": [*artists, UNMATCHED_ARTIST]})
    catalog["artist"] = catalog["artist_name"]
    catalog["spotify_id"] = catalog["artist"].map(ids)
    catalog["spotify_name"] = catalog["spotify_id"].map(dict(zip(ids.values(), ids, strict=True)))
    catalog["match"] = np.where(catalog["spotify_id"].notna(), "exact", "none")
    catalog["n_namesakes"] = catalog["spotify_id"].notna().astype("int64")
    catalog["plays"] = (
        per_artist["plays"].reindex(catalog["artist"]).fillna(0).astype("int64").values
    )
    catalog["listeners"] = (
        per_artist["listeners"].reindex(catalog["artist"]).fillna(0).astype("int64").values
    )

    report = {
        "k": 10,
        "users_evaluated": len(users),
        "systems": {
            name: {
                "precision": p,
                "recall": p * 1.6,
                "map": p * 0.8,
                "ndcg": p * 1.2,
                "hit_rate": min(1.0, p * 4),
                "coverage": 0.3,
                "ndcg_ci95": [p * 1.0, p * 1.4],
            }
            for name, p in (
                ("als", 0.09),
                ("ease", 0.085),
                ("rp3beta", 0.07),
                ("itemknn", 0.08),
                ("popularity", 0.05),
                ("reranked", 0.11),
                ("served", 0.09),
            )
        },
        "chosen": {"served": "als", "blend_alpha": 0.5, "use_ranker": False},
        "validation": {"gate": GATE},
        "candidate_recall": {
            "val": {"union": {"micro": 0.58, "users": 6}, "als": {"micro": 0.5}},
            "test": {"union": {"micro": 0.61}, "als": {"micro": 0.52}},
        },
    }
    # No reranker.txt in the fake set: the gate failed, so serving (and cold start) is ALS.
    validation = {
        "k": 10,
        "served": "als",
        "use_ranker": False,
        "blend_alpha": 0.5,
        "objective": "binary",
        "base": "als",
        "best_generator": "als",
        "generators_val_ndcg": {"als": 0.07, "ease": 0.065, "popularity": 0.04},
        "gate": GATE,
    }

    write_parquet(tracks, storage_dir / "spotify_tracks.parquet")
    write_parquet(artist_tracks(catalog, tracks, 10), storage_dir / "artist_tracks.parquet")
    write_parquet(vectors, storage_dir / "artist_vectors.parquet")
    write_parquet(catalog, storage_dir / "artist_catalog.parquet")
    write_parquet(history, storage_dir / "interaction_splits.parquet")
    write_parquet(recs, storage_dir / "reranked_topk.parquet")
    write_json(report, storage_dir / "evaluation_report.json")
    write_json(validation, storage_dir / "reranker_validation.json")
    if with_models:
        _write_serving_models(storage_dir, history, vectors, catalog, seed)
    return FakeArtifacts(
        storage_dir=storage_dir,
        users=users,
        artists=artists,
        fast_artists=fast_list,
        slow_artists=slow_list,
    )
