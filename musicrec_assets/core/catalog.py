"""Spotify artist vectors, the Last.fm → Spotify artist catalogue, and listener × artist plays.

Fixes the seed's join (docs/architecture.md, "What the seed project got wrong"): a track counts for
every credited artist, genres are ranked by their real share instead of alphabetically, a Last.fm
name resolves to at most one Spotify artist (namesakes never duplicate plays), and artists without a
Spotify match are kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .ids import factorize_sorted
from .names import normalise_names
from .schema import AUDIO_FEATURES

MATCH_KINDS = ("exact", "normalised", "ambiguous", "none")


@dataclass
class Counts:
    """Rows in, rows out and the reasons rows were dropped or merged, for asset metadata."""

    rows_in: int = 0
    rows_out: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    extra: dict[str, float | int] = field(default_factory=dict)


def _explode_credits(tracks: pd.DataFrame) -> pd.DataFrame:
    """One row per (track, credited artist); featured artists count fully."""
    credits = tracks[["track_id", "artist_ids", "artist_names"]].explode(
        ["artist_ids", "artist_names"], ignore_index=True
    )
    credits = credits.dropna(subset=["artist_ids"])
    return credits.rename(columns={"artist_ids": "artist_id", "artist_names": "credit_name"})


def _genre_shares(credits: pd.DataFrame, own: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Per artist, its genres ranked by share of the genre mass on its tracks.

    Each track carries the genres of all its credited artists (each artist's genres split evenly),
    so a genre an artist shares with its collaborators weighs more than one it alone lists; an
    artist with no genres of its own inherits those of its collaborators, weighted by how many
    tracks they share (order-independent, unlike the seed's file-order propagation). Ties go to
    the genre more common in the whole catalogue, then to the name, never plain alphabetical order.
    Returns (artist_id, genre, share) rows and the imputed flag per artist.
    """
    own_pairs = own[["artist_id", "genres"]].explode("genres").dropna(subset=["genres"])
    own_pairs = own_pairs.rename(columns={"genres": "genre"}).drop_duplicates()
    own_pairs["w"] = 1.0 / own_pairs.groupby("artist_id")["genre"].transform("size")

    track_genre = credits[["track_id", "artist_id"]].merge(own_pairs, on="artist_id")
    track_genre = track_genre.groupby(["track_id", "genre"], as_index=False)["w"].sum()
    mass = credits[["track_id", "artist_id"]].drop_duplicates().merge(track_genre, on="track_id")
    mass = mass.groupby(["artist_id", "genre"], as_index=False)["w"].sum()

    # Artists with genres of their own rank those (their listing counts like one more track);
    # artists without inherit the genres on their tracks.
    has_own = pd.Index(own_pairs["artist_id"].unique()).get_indexer(mass["artist_id"]) >= 0
    with_own = own_pairs.merge(mass, on=["artist_id", "genre"], how="left", suffixes=("_own", ""))
    with_own["w"] = with_own["w"].fillna(0.0) + with_own["w_own"]
    imputed = mass[~has_own]
    shares = pd.concat([with_own[["artist_id", "genre", "w"]], imputed], ignore_index=True)
    shares["share"] = shares["w"] / shares.groupby("artist_id")["w"].transform("sum")

    popularity = shares.groupby("genre")["w"].sum().rename("genre_mass")
    shares = shares.merge(popularity, left_on="genre", right_index=True)
    shares = shares.sort_values(
        ["artist_id", "share", "genre_mass", "genre"], ascending=[True, False, False, True]
    )
    flag = pd.Series(True, index=pd.Index(imputed["artist_id"].unique(), name="artist_id"))
    return shares[["artist_id", "genre", "share"]], flag


def _resolve_credit_names(credits: pd.DataFrame, artists: pd.DataFrame) -> pd.Series:
    """Artist ids for credits of a source keyed by name (no Spotify artist ids).

    A credit goes to the artist-table artist with the same normalised name (the most popular one
    among namesakes), so "Tool" on a track and "TOOL" in the artist table are one artist; credits
    the table does not know merge under their most frequent spelling.
    """
    table = artists.assign(key=normalise_names(artists["artist_name"]))
    table = table.sort_values(["key", "popularity", "artist_id"], ascending=[True, False, True])
    by_key = table.drop_duplicates("key").set_index("key")["artist_id"]
    keys = normalise_names(credits["credit_name"])
    spelling = (
        credits.assign(key=keys)
        .groupby(["key", "credit_name"])
        .size()
        .rename("n")
        .reset_index()
        .sort_values(["key", "n", "credit_name"], ascending=[True, False, True])
        .drop_duplicates("key")
        .set_index("key")["credit_name"]
    )
    return keys.map(by_key).fillna(keys.map(spelling))


def _ragged(shares: pd.DataFrame, ids: pd.Index) -> tuple[pa.ListArray, pa.ListArray]:
    """Per artist in ``ids``, its genres and their shares as Arrow list arrays (empty where
    none), built from offsets rather than a Python list per artist."""
    pos = pd.Index(ids).get_indexer(shares["artist_id"])
    order = np.argsort(pos, kind="stable")
    lengths = np.bincount(pos, minlength=len(ids))
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))
    genres = pa.array(shares["genre"].to_numpy(dtype=object)[order], type=pa.string())
    values = pa.array(shares["share"].to_numpy(dtype=float)[order], type=pa.float64())
    return pa.ListArray.from_arrays(offsets, genres), pa.ListArray.from_arrays(offsets, values)


def track_credits(
    tracks: pd.DataFrame, artists: pd.DataFrame, *, name_keyed: bool = False
) -> pd.DataFrame:
    """One row per (track, credited artist id): ``track_id, artist_id, credit_name``.

    Featured artists count fully. ``name_keyed``: the track source credits artists by name only
    (Hit Predictor tables), so credits are resolved to artist-table ids by normalised name; the
    artist vectors and the playlist expansion both use this, so they agree on who made a track.
    """
    if not len(tracks):
        return pd.DataFrame(columns=["track_id", "artist_id", "credit_name"])
    credits = _explode_credits(tracks)
    if name_keyed:
        credits["artist_id"] = _resolve_credit_names(credits, artists)
        credits = credits.drop_duplicates(["track_id", "artist_id"])
    return credits.reset_index(drop=True)


def build_artist_vectors(
    tracks: pd.DataFrame, artists: pd.DataFrame, *, name_keyed: bool = False
) -> tuple[pd.DataFrame, Counts]:
    """Per Spotify artist: mean audio profile of its tracks, explicit share, ranked genres.

    Artists from the artist table and artists credited on tracks are both kept; a per-artist
    source (audio means already in ``artists``) passes through where no track data exists.
    ``name_keyed``: see :func:`track_credits`.
    """
    counts = Counts(rows_in=len(tracks))
    credits = track_credits(tracks, artists, name_keyed=name_keyed)
    if name_keyed:
        counts.extra["credits_renamed_to_table_spelling"] = int(
            (credits["artist_id"] != credits["credit_name"]).sum()
        )
    audio_cols = [c for c in AUDIO_FEATURES if c in tracks.columns]
    per_track = credits.merge(
        tracks[["track_id", "popularity", "explicit", *audio_cols]], on="track_id", how="left"
    )
    grouped = per_track.groupby("artist_id", sort=True)
    from_tracks = grouped[[*audio_cols, "popularity", "explicit"]].mean()
    from_tracks["n_tracks"] = grouped["track_id"].nunique().astype(float)
    # Display name for artists only known from track credits: their most frequent credit spelling.
    spelled = credits.groupby(["artist_id", "credit_name"]).size().rename("n").reset_index()
    spelled = spelled.sort_values(["artist_id", "n", "credit_name"], ascending=[True, False, True])
    from_tracks["track_name"] = spelled.drop_duplicates("artist_id").set_index("artist_id")[
        "credit_name"
    ]
    from_tracks = from_tracks.rename(columns={"popularity": "track_popularity"})

    table = artists.set_index("artist_id")
    ids = table.index.union(from_tracks.index)
    t = table.reindex(ids)  # one alignment each: per-column reindexing on string ids is slow
    f = from_tracks.reindex(ids)
    out = pd.DataFrame(index=ids)
    out.index.name = "artist_id"
    out["artist_name"] = t["artist_name"].fillna(f["track_name"])
    for col in AUDIO_FEATURES:  # track means first; a per-artist source fills the rest
        out[col] = pd.Series(f.get(col, np.nan), index=ids).fillna(t.get(col, np.nan))
    out["n_tracks"] = f["n_tracks"].fillna(t["n_tracks"])
    out["popularity"] = t["popularity"].fillna(f["track_popularity"])
    out["followers"] = t.get("followers", np.nan)
    out["explicit"] = f["explicit"]

    shares, imputed = _genre_shares(credits, artists)
    genres, genre_shares = _ragged(shares, ids)
    out["genres"] = genres.to_numpy(zero_copy_only=False)
    out["genre_shares"] = genre_shares.to_numpy(zero_copy_only=False)
    out["genres_imputed"] = imputed.reindex(ids, fill_value=False).to_numpy(dtype=bool)
    out["top_genres"] = pc.binary_join(pc.list_slice(genres, 0, 3), ", ").to_numpy(
        zero_copy_only=False
    )
    out["has_audio"] = out[["tempo", "valence"]].notna().all(axis=1)
    out = out.reset_index()
    out["artist_name"] = out["artist_name"].fillna(out["artist_id"])

    counts.rows_out = len(out)
    counts.extra |= {
        "artists_from_table": len(table),
        "artists_from_tracks_only": len(ids) - len(table),
        "artists_with_audio": int(out["has_audio"].sum()),
        "artists_with_genres": int(pc.sum(pc.greater(pc.list_value_length(genres), 0)).as_py()),
        "artists_with_imputed_genres": int(out["genres_imputed"].sum()),
        "track_credits": len(credits),
        "featured_credits": int(len(credits) - credits["track_id"].nunique()),
    }
    return out, counts


def build_artist_catalog(
    listens: pd.DataFrame, artist_vectors: pd.DataFrame
) -> tuple[pd.DataFrame, Counts]:
    """Resolve every source artist name to at most one Spotify artist by normalised name.

    Rule for namesakes (several Spotify artists with the same normalised name): the one with the
    highest popularity wins, then followers, then number of tracks, then the smaller id; the match
    is marked ``ambiguous`` and ``n_namesakes`` says how many there were. The artist key is the
    Spotify display name when matched, else the most-played source spelling of the normalised name,
    so "radiohead" and "Radiohead" merge even when Spotify does not know them.
    """
    per_name = listens.groupby("artist_name", sort=True).agg(
        plays=("plays", "sum"), listeners=("user", "nunique")
    )
    per_name = per_name.reset_index()
    per_name["key"] = normalise_names(per_name["artist_name"])

    spotify = artist_vectors[["artist_id", "artist_name", "popularity", "followers", "n_tracks"]]
    spotify = spotify.assign(key=normalise_names(spotify["artist_name"]))
    spotify = spotify.sort_values(
        ["key", "popularity", "followers", "n_tracks", "artist_id"],
        ascending=[True, False, False, False, True],
        na_position="last",
    )
    namesakes = spotify.groupby("key").size().rename("n_namesakes")
    best = spotify.drop_duplicates("key")[["key", "artist_id", "artist_name"]]
    best = best.rename(columns={"artist_id": "spotify_id", "artist_name": "spotify_name"})

    cat = per_name.merge(best, on="key", how="left").merge(
        namesakes, left_on="key", right_index=True, how="left"
    )
    cat["n_namesakes"] = cat["n_namesakes"].fillna(0).astype("int64")
    matched = cat["spotify_id"].notna()
    cat["match"] = np.select(
        [~matched, cat["n_namesakes"] > 1, cat["artist_name"] == cat["spotify_name"]],
        ["none", "ambiguous", "exact"],
        default="normalised",
    )
    # Key for unmatched names: the most-played spelling among names sharing the normalised key.
    spelling = (
        cat.sort_values(["key", "plays", "artist_name"], ascending=[True, False, True])
        .drop_duplicates("key")
        .set_index("key")["artist_name"]
    )
    cat["artist"] = cat["spotify_name"].where(matched, cat["key"].map(spelling))
    cat = cat[
        [
            "artist_name",
            "artist",
            "spotify_id",
            "spotify_name",
            "match",
            "n_namesakes",
            "plays",
            "listeners",
        ]
    ].reset_index(drop=True)

    total_plays = float(cat["plays"].sum()) or 1.0
    counts = Counts(rows_in=len(per_name), rows_out=len(cat))
    counts.extra = {
        "source_artist_names": len(cat),
        "artist_keys": int(cat["artist"].nunique()),
        **{f"names_{k}": int((cat["match"] == k).sum()) for k in MATCH_KINDS},
        "names_matched_share": round(float(matched.mean()) if len(cat) else 0.0, 4),
        "plays_matched_share": round(float(cat.loc[matched, "plays"].sum()) / total_plays, 4),
        "spotify_artists": len(artist_vectors),
        "spotify_namesake_groups": int((namesakes > 1).sum()),
    }
    return cat, counts


def build_user_artist_plays(
    listens: pd.DataFrame, catalog: pd.DataFrame
) -> tuple[pd.DataFrame, Counts]:
    """Listener × artist plays (with first/last play time when known), unmatched artists kept.

    Spellings that resolve to the same artist key are summed once each; no row is duplicated,
    so plays are never multiplied by namesakes.
    """
    # On integer codes: at Last.fm-360K scale a merge and a groupby on 17.5M string pairs took
    # over a minute. Codes are sorted like the keys, so the output order is (user, artist).
    names, name_values = pd.factorize(listens["artist_name"])
    row = pd.Index(catalog["artist_name"]).get_indexer(pd.Index(name_values))[names]
    known = row >= 0
    missing = int((~known).sum())  # cannot happen when the catalogue came from the same listens
    u, users = factorize_sorted(listens["user"][known])
    a_cat, artists = factorize_sorted(catalog["artist"])
    a = a_cat[row[known]]
    has_id = catalog["spotify_id"].notna().to_numpy()[row[known]]
    # One Spotify id per artist key (checked by artist_catalog_valid): the id of any spelling.
    id_code, id_values = pd.factorize(catalog["spotify_id"])  # -1 for no id
    key_id = np.full(len(artists), -1, dtype=np.int64)
    key_id[a_cat[id_code >= 0]] = id_code[id_code >= 0]
    pair, inverse = np.unique(u * np.int64(max(len(artists), 1)) + a, return_inverse=True)
    pu, pa = pair // max(len(artists), 1), pair % max(len(artists), 1)
    played = listens["played_at"][known].reset_index(drop=True).groupby(inverse)
    with_id = np.bincount(inverse, weights=has_id, minlength=len(pair)) > 0
    plays = pd.DataFrame(
        {
            "user": pd.Categorical.from_codes(pu, categories=pd.Index(users, dtype=object)),
            "artist": pd.Categorical.from_codes(pa, categories=pd.Index(artists, dtype=object)),
            "plays": np.bincount(
                inverse, weights=listens["plays"].to_numpy(np.float64)[known], minlength=len(pair)
            ).astype("int64"),
            "first_played": played.min().array,
            "last_played": played.max().array,
            "spotify_id": pd.Categorical.from_codes(
                np.where(with_id, key_id[pa], -1), categories=pd.Index(id_values, dtype=object)
            ),
        }
    )
    plays["has_spotify"] = plays["spotify_id"].notna()
    return plays, plays_counts(plays, catalog, rows_in=len(listens), missing=missing)


def plays_counts(
    plays: pd.DataFrame, catalog: pd.DataFrame, *, rows_in: int, missing: int
) -> Counts:
    """The ``user_artist_plays`` asset's figures of a finished table: one function, so the
    Spark engine (which counts rows in / dropped on the cluster) reports what the local one does."""
    counts = Counts(rows_in=rows_in, rows_out=len(plays))
    counts.dropped = {"listens without catalogue entry": missing}
    total = float(plays["plays"].sum()) or 1.0
    counts.extra = {
        "listeners": int(plays["user"].nunique()),
        "artists": int(plays["artist"].nunique()),
        "artists_with_spotify": int(plays.loc[plays["has_spotify"], "artist"].nunique()),
        "pairs_with_spotify_share": round(float(plays["has_spotify"].mean()), 4)
        if len(plays)
        else 0.0,
        "plays_with_spotify_share": round(
            float(plays.loc[plays["has_spotify"], "plays"].sum()) / total, 4
        ),
        "total_plays": int(plays["plays"].sum()),
        "spellings_merged": int(len(catalog) - catalog["artist"].nunique()),
    }
    return counts
