"""The latent world of a sample: artists, tracks and listeners built from the sizes and the seed."""

from __future__ import annotations

from dataclasses import dataclass

from .artists import Artists, _build_artists
from .listeners import Listeners, _build_listeners
from .params import KIND_TWIN, SHARE_LASTFM_ONLY, _quota
from .tracks import Tracks, _build_tracks


@dataclass
class SampleWorld:
    """The latent truth behind a sample (for tests and diagnostics); ``generate_sample`` writes it."""

    seed: int
    artists: Artists
    tracks: Tracks
    listeners: Listeners


def _check_sizes(users: int, artists: int, tracks: int, scrobbles: int, seed: int) -> None:
    """Refuse sizes the generator cannot honour, with the fix in the message."""
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    if users < 1:
        raise ValueError(f"users must be >= 1, got {users}")
    if artists < 40:
        raise ValueError(f"artists must be >= 40 (room for every kind of mess), got {artists}")
    spotify = artists - _quota(artists, SHARE_LASTFM_ONLY)
    if tracks < spotify:
        raise ValueError(
            f"tracks ({tracks}) must be >= the number of Spotify artists ({spotify}): "
            f"every Spotify artist has a track; pass e.g. tracks={10 * spotify}"
        )
    if scrobbles < users:
        raise ValueError(f"scrobbles ({scrobbles}) must be >= users ({users})")


def build_world(
    *,
    users: int = 300,
    artists: int = 600,
    tracks: int = 6000,
    scrobbles: int = 120_000,
    seed: int = 42,
    pairs: int | None = None,
) -> SampleWorld:
    """The latent catalogue and listeners of a sample (what :func:`generate_sample` writes from)."""
    _check_sizes(users, artists, tracks, scrobbles, seed)
    art = _build_artists(artists, tracks, seed)
    trk = _build_tracks(art, tracks, seed)
    playable = int((art.kind != KIND_TWIN).sum())
    lis = _build_listeners(users, scrobbles, pairs, playable, seed)
    return SampleWorld(seed=seed, artists=art, tracks=trk, listeners=lis)
