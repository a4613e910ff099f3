"""Synthetic listening worlds with real structure, for the model-core tests and benchmarks.

Listeners like one or two genres and a tempo; artists have a genre mix, an audio profile that
follows their genre and tempo, and a popularity. A listener picks artists without replacement with
probability ∝ exp(affinity) (Gumbel top-k), so collaborative signal (genre, popularity) and
content signal (genre, tempo, valence) both exist. All vectorised; deterministic per seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from musicrec_assets.core.schema import AUDIO_FEATURES
from musicrec_assets.core.splits import split_interactions


@dataclass
class World:
    plays: pd.DataFrame  # user, artist, plays, first_played, last_played
    splits: pd.DataFrame  # interaction_splits
    artist_vectors: pd.DataFrame
    artist_catalog: pd.DataFrame
    artist_genre: np.ndarray  # primary genre per artist
    user_genre: np.ndarray  # favourite genre per user


def make_world(
    n_users: int = 300,
    n_artists: int = 250,
    n_genres: int = 8,
    *,
    seed: int = 0,
    mean_artists: float = 20.0,
    unmatched_share: float = 0.1,
    genre_weight: float = 2.5,
    tempo_sd: float = 12.0,
    pop_weight: float = 0.8,
    chunk_users: int = 2000,
) -> World:
    """Build plays, splits (random, per listener), artist vectors and catalogue."""
    rng = np.random.default_rng(seed)
    genres = np.array([f"genre{g:02d}" for g in range(n_genres)])
    g_tempo = np.linspace(75, 165, n_genres)[rng.permutation(n_genres)]
    g_valence = rng.uniform(0.15, 0.85, n_genres)

    a_genre = rng.integers(0, n_genres, n_artists)
    a_second = (a_genre + rng.integers(1, n_genres, n_artists)) % n_genres
    a_tempo = g_tempo[a_genre] + rng.normal(0, 18, n_artists)
    a_valence = np.clip(g_valence[a_genre] + rng.normal(0, 0.12, n_artists), 0, 1)
    a_pop = rng.normal(0, 1, n_artists)

    u_genre = rng.integers(0, n_genres, n_users)
    u_second = (u_genre + rng.integers(1, n_genres, n_users)) % n_genres
    u_tempo = g_tempo[u_genre] + rng.normal(0, 20, n_users)
    u_n = np.clip(rng.lognormal(np.log(mean_artists), 0.5, n_users), 6, n_artists // 2)
    u_n = u_n.astype(int)

    rows_u, rows_a, rows_p = [], [], []
    for start in range(0, n_users, chunk_users):
        sl = slice(start, min(start + chunk_users, n_users))
        ug, us, ut = u_genre[sl, None], u_second[sl, None], u_tempo[sl, None]
        match = (
            (a_genre[None, :] == ug) * 1.0
            + (a_second[None, :] == ug) * 0.4
            + (a_genre[None, :] == us) * 0.5
        )
        aff = (
            genre_weight * match
            - (a_tempo[None, :] - ut) ** 2 / (2 * tempo_sd**2)
            + pop_weight * a_pop[None, :]
        )
        noisy = aff + rng.gumbel(size=aff.shape)
        order = np.argsort(-noisy, axis=1)
        n = u_n[sl]
        pos = np.arange(n_artists)[None, :]
        chosen = pos < n[:, None]
        uu = np.broadcast_to(np.arange(sl.start, sl.stop)[:, None], order.shape)[chosen]
        aa = order[chosen]
        strength = np.take_along_axis(aff, order, axis=1)[chosen]
        mean_plays = 2.0 + 6.0 / (1.0 + np.exp(-(strength - strength.mean())))
        pp = 1 + rng.poisson(mean_plays)
        rows_u.append(uu)
        rows_a.append(aa)
        rows_p.append(pp)
    u = np.concatenate(rows_u)
    a = np.concatenate(rows_a)
    p = np.concatenate(rows_p).astype(np.int64)

    users = np.array([f"user{i:05d}" for i in range(n_users)])
    names = np.array([f"Artist {j:05d}" for j in range(n_artists)])
    t0 = pd.Timestamp("2024-01-01", tz="UTC")
    first = t0 + pd.to_timedelta(rng.integers(0, 365 * 24 * 3600, len(u)), unit="s")
    plays = pd.DataFrame(
        {
            "user": users[u],
            "artist": names[a],
            "plays": p,
            "first_played": first,
            "last_played": first + pd.to_timedelta(rng.integers(0, 3600 * 24, len(u)), unit="s"),
        }
    )
    splits, _ = split_interactions(plays, method="random", val=0.1, test=0.2, seed=seed)

    matched = rng.random(n_artists) >= unmatched_share
    spotify_ids = np.array([f"sp{j:05d}" for j in range(n_artists)])
    audio = _audio(rng, a_tempo, a_valence, a_genre, n_genres)
    vec = pd.DataFrame({"artist_id": spotify_ids, "artist_name": names})
    vec["n_tracks"] = rng.integers(1, 30, n_artists).astype(float)
    for f in AUDIO_FEATURES:
        vec[f] = audio[f]
    vec["popularity"] = np.clip(50 + 15 * a_pop, 0, 100)
    vec["explicit"] = np.clip(rng.beta(1, 4, n_artists) + 0.3 * (a_genre % 3 == 0), 0, 1)
    g_lists = np.empty(n_artists, dtype=object)
    s_lists = np.empty(n_artists, dtype=object)
    g_lists[:] = [[genres[x], genres[y]] for x, y in zip(a_genre, a_second, strict=True)]
    s_lists[:] = [[0.7, 0.3]] * n_artists
    vec["genres"] = g_lists
    vec["genre_shares"] = s_lists
    vec["top_genres"] = genres[a_genre] + ", " + genres[a_second]
    vec["has_audio"] = True
    # Spotify artists nobody listens to (they must not break the keyed join).
    extra = vec.iloc[:3].copy()
    extra["artist_id"] = ["spx0", "spx1", "spx2"]
    extra["artist_name"] = ["Nobody 0", "Nobody 1", "Nobody 2"]
    vec = pd.concat([vec[matched], extra], ignore_index=True)

    listened = np.unique(a)
    catalog = pd.DataFrame(
        {
            "artist_name": names[listened],
            "artist": names[listened],
            "spotify_id": np.where(matched[listened], spotify_ids[listened], None),
            "spotify_name": np.where(matched[listened], names[listened], None),
            "match": np.where(matched[listened], "exact", "none"),
            "n_namesakes": matched[listened].astype(np.int64),
        }
    )
    return World(plays, splits, vec, catalog, a_genre, u_genre)


def _audio(
    rng: np.random.Generator,
    tempo: np.ndarray,
    valence: np.ndarray,
    genre: np.ndarray,
    n_genres: int,
) -> dict[str, np.ndarray]:
    n = len(tempo)
    energy = np.clip((tempo - 60) / 130 + rng.normal(0, 0.08, n), 0, 1)
    g = genre / max(n_genres - 1, 1)
    return {
        "danceability": np.clip(0.3 + 0.4 * valence + rng.normal(0, 0.08, n), 0, 1),
        "energy": energy,
        "key": rng.uniform(0, 11, n),
        "loudness": -18 + 12 * energy + rng.normal(0, 1.5, n),
        "mode": np.clip(0.4 + 0.3 * valence + rng.normal(0, 0.1, n), 0, 1),
        "speechiness": np.clip(0.05 + 0.3 * (g > 0.7) + rng.normal(0, 0.03, n), 0, 1),
        "acousticness": np.clip(1 - energy + rng.normal(0, 0.1, n), 0, 1),
        "instrumentalness": np.clip(0.5 * (g < 0.3) + rng.normal(0, 0.1, n), 0, 1),
        "liveness": np.clip(rng.normal(0.2, 0.05, n), 0, 1),
        "valence": valence,
        "tempo": tempo,
        "duration_ms": rng.normal(220_000, 30_000, n) + 40_000 * g,
        "time_signature": np.clip(rng.normal(3.9, 0.1, n), 3, 5),
    }


def model_config(**sections: object):
    """A Config for the model-core tests: small models, tiny search and reranker budgets (no
    source file is read; the sections given replace the defaults)."""
    import dataclasses
    from pathlib import Path

    from musicrec_assets.core.config import (
        ALSConfig,
        Config,
        EvaluationConfig,
        RerankerConfig,
        SourceConfig,
        SourcesConfig,
        TuningConfig,
    )

    base = Config(
        path=Path("test.toml"),
        sources=SourcesConfig(listens=SourceConfig("plays_table", Path("plays.csv"))),
        storage_dir=Path("derived"),
        als=ALSConfig(factors=16, iterations=8),
        tuning=TuningConfig(
            trials={"als": 3, "ease": 2, "rp3beta": 2, "itemknn": 2}, seconds=120.0
        ),
        reranker=RerankerConfig(n_estimators=40, min_child_samples=5, folds=3),
        evaluation=EvaluationConfig(bootstrap=50),
    )
    return dataclasses.replace(base, **sections)


def run_pipeline(world: World, cfg: object | None = None, *, n: int = 50, k: int = 10) -> dict:
    """Every model artefact of the two-stage recommender on a world, in asset order."""
    import dataclasses

    from musicrec_assets.core.evaluation.evaluate import evaluate
    from musicrec_assets.core.model.candidates import build_candidates
    from musicrec_assets.core.model.features import build_content_features
    from musicrec_assets.core.model.generators.stages import fit_generator_models
    from musicrec_assets.core.model.rerank_dataset import build_rerank_dataset
    from musicrec_assets.core.model.reranker import fit_reranker
    from musicrec_assets.core.model.selection import select_models
    from musicrec_assets.core.model.serve import reranked_topk

    cfg = cfg or model_config()
    cfg = dataclasses.replace(
        cfg,
        candidates=dataclasses.replace(cfg.candidates, n=n),
        evaluation=dataclasses.replace(cfg.evaluation, k=k),
    )
    out: dict = {"cfg": cfg}
    out["selection"], _ = select_models(world.splits, cfg)
    out["models"] = fit_generator_models(world.splits, cfg, out["selection"])
    out["candidates"], out["candidate_info"] = build_candidates(
        world.splits, out["models"], cfg, out["selection"]
    )
    out["user_profiles"], out["item_features"] = build_content_features(
        world.splits, world.artist_vectors, world.artist_catalog
    )
    out["dataset"] = build_rerank_dataset(
        out["candidates"],
        out["user_profiles"],
        out["item_features"],
        world.splits,
        world.artist_vectors,
        world.artist_catalog,
        cfg,
    )
    out["booster"], out["choice"] = fit_reranker(out["dataset"], world.splits, cfg)
    out["reranked_topk"], out["serve_info"] = reranked_topk(
        world.splits,
        out["models"]["serve"],
        out["user_profiles"],
        out["item_features"],
        out["booster"],
        out["choice"],
        k,
        n,
    )
    out["evaluation_topk"], out["report"] = evaluate(
        world.splits,
        out["candidates"],
        out["user_profiles"],
        out["item_features"],
        out["booster"],
        out["choice"],
        k=k,
        bootstrap=cfg.evaluation.bootstrap,
        seed=cfg.seed,
        max_users=cfg.evaluation.max_users,
    )
    return out
