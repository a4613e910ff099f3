"""The sample files in the seed's Kaggle layouts, and the musicrec.toml that reads them.

CSV as those exports write it: minimal quoting, ``\\n`` line ends, lists as Python reprs.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .artists import Artists
from .draws import _SD, _rng, _s
from .params import _F, _YEAR_DAYS, _YEAR_START, GENRES, KIND_LASTFM_ONLY
from .simulate import simulate
from .tracks import _AUDIO_COLUMNS, Tracks
from .world import SampleWorld, build_world

LASTFM_PATH = "lastfm/Last.fm_data.csv"
PLAYS_PATH = "lastfm/plays.parquet"
TRACKS_PATH = "spotify/tracks.csv"
ARTISTS_PATH = "spotify/artists.csv"
CONFIG_NAME = "musicrec.toml"

LASTFM_COLUMNS: tuple[str, ...] = ("", "Username", "Artist", "Track", "Album", "Date", "Time")
TRACKS_COLUMNS: tuple[str, ...] = (
    "id",
    "name",
    "popularity",
    "duration_ms",
    "explicit",
    "artists",
    "id_artists",
    "release_date",
    "danceability",
    "energy",
    "key",
    "loudness",
    "mode",
    "speechiness",
    "acousticness",
    "instrumentalness",
    "liveness",
    "valence",
    "tempo",
    "time_signature",
)
ARTISTS_COLUMNS: tuple[str, ...] = ("id", "followers", "genres", "name", "popularity")

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _py_repr(names: np.ndarray) -> np.ndarray:
    """Python's ``repr`` of each string (our names never hold a double quote or a backslash)."""
    has_apos = np.strings.find(names, "'") >= 0
    return np.where(has_apos, _s('"', names, '"'), _s("'", names, "'"))


def _list_repr(parts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``repr(list)`` per row of ``parts`` (already repr'd strings, ``counts`` of them used)."""
    n, width = parts.shape
    out = np.full(n, "[]", dtype=_SD)
    joined = parts[:, 0]
    for k in range(1, width + 1):
        if k > 1:
            joined = _s(joined, ", ", parts[:, k - 1])
        mask = counts == k
        out[mask] = _s("[", joined[mask], "]")
    return out


def _cells_text(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """CSV cells of one column: numbers as text, nulls empty, strings quoted only when needed."""
    if isinstance(arr, pa.ChunkedArray):  # pa.array may chunk large string inputs
        arr = arr.combine_chunks()
    if pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.string())
    if not pa.types.is_string(arr.type):
        return pc.fill_null(pc.cast(arr, pa.string()), "")
    needs = pc.match_substring_regex(arr, '[",\r\n]')
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(arr, '"', '""'), '"', "")
    return pc.fill_null(pc.if_else(needs, quoted, arr), "")


def _write_rows(
    sink: BinaryIO, columns: list[pa.Array], *, rendered: bool = False, batch: int = 500_000
) -> None:
    """Append CSV rows (minimal quoting, ``\\n`` line ends) for equally long columns.

    ``rendered``: the columns already went through :func:`_cells_text` (e.g. taken from a rendered
    dictionary, which is much cheaper than escaping every row).
    """
    columns = [c.combine_chunks() if isinstance(c, pa.ChunkedArray) else c for c in columns]
    n = len(columns[0])
    for lo in range(0, n, batch):
        cells = [
            c.slice(lo, batch) if rendered else _cells_text(c.slice(lo, batch)) for c in columns
        ]
        cells[-1] = pc.binary_join_element_wise(cells[-1], "", "\n")
        lines = pc.binary_join_element_wise(*cells, ",")
        offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)
        start, end = offsets[lines.offset], offsets[lines.offset + len(lines)]
        sink.write(memoryview(lines.buffers()[2])[start:end])


def _header(columns: tuple[str, ...]) -> bytes:
    """The header line, written as is (the Last.fm index column's name is empty)."""
    return (",".join(columns) + "\n").encode()


def _float_col(values: np.ndarray, decimals: int, missing: np.ndarray | None = None) -> pa.Array:
    """Rounded like Spotify's export; ``missing`` cells become empty."""
    return pa.array(np.round(values, decimals), mask=missing)


def _int_col(values: np.ndarray, missing: np.ndarray | None = None) -> pa.Array:
    """Integers written without a decimal point; ``missing`` cells become empty."""
    return pa.array(values.astype(np.int64), mask=missing)


def _write_artists(path: Path, art: Artists, rng: np.random.Generator) -> None:
    """artists.csv: every Spotify artist (namesake twins included), in random order."""
    rows = rng.permutation(np.flatnonzero(art.kind != KIND_LASTFM_ONLY))
    genre_repr = _py_repr(np.array(GENRES, dtype=_SD))
    g = art.genres[rows]
    parts = genre_repr[np.maximum(g, 0)]
    counts = np.where(art.genres_listed[rows], (g >= 0).sum(1), 0)
    cols = [
        pa.array(art.spotify_id[rows]),
        _int_col(art.followers[rows]),
        pa.array(_list_repr(parts, counts)),
        pa.array(art.spotify_name[rows]),
        _int_col(art.popularity[rows]),
    ]
    with path.open("wb") as sink:
        sink.write(_header(ARTISTS_COLUMNS))
        _write_rows(sink, cols)


def _write_tracks(path: Path, art: Artists, trk: Tracks, rng: np.random.Generator) -> None:
    """tracks.csv: every visible track, in random order, credits as Python list reprs."""
    rows = rng.permutation(np.flatnonzero(trk.visible))
    cr = trk.credits[rows]
    n_credits = (cr >= 0).sum(1)
    safe = np.maximum(cr, 0)
    names = _list_repr(_py_repr(art.spotify_name[safe]), n_credits)
    ids = _list_repr(_s("'", art.spotify_id[safe], "'"), n_credits)
    au = trk.audio[rows]
    miss = trk.missing[rows]

    def m(col: str) -> np.ndarray:
        return miss[:, _AUDIO_COLUMNS.index(col)]

    f = _F
    cols = [
        pa.array(trk.spotify_id[rows]),
        pa.array(trk.title[rows]),
        _int_col(trk.popularity[rows]),
        _int_col(np.round(au[:, f["duration_s"]] * 1000)),
        _int_col(trk.explicit[rows]),
        pa.array(names),
        pa.array(ids),
        pa.array(trk.release_date[rows]),
        _float_col(au[:, f["danceability"]], 3, m("danceability")),
        _float_col(au[:, f["energy"]], 3, m("energy")),
        _int_col(trk.key[rows], m("key")),
        _float_col(au[:, f["loudness"]], 3, m("loudness")),
        _int_col(trk.mode[rows], m("mode")),
        _float_col(au[:, f["speechiness"]], 4, m("speechiness")),
        _float_col(au[:, f["acousticness"]], 3, m("acousticness")),
        _float_col(au[:, f["instrumentalness"]], 6, m("instrumentalness")),
        _float_col(au[:, f["liveness"]], 3, m("liveness")),
        _float_col(au[:, f["valence"]], 3, m("valence")),
        _float_col(au[:, f["tempo"]], 3, m("tempo")),
        _int_col(trk.time_signature[rows], m("time_signature")),
    ]
    with path.open("wb") as sink:
        sink.write(_header(TRACKS_COLUMNS))
        _write_rows(sink, cols)


def _write_lastfm(path: Path | None, world: SampleWorld, plays_path: Path | None = None) -> int:
    """Stream the scrobble log block by block; returns the number of scrobbles.

    ``plays_path``: also (or, with ``path=None``, only) write the listens aggregated per listener
    and Last.fm spelling as a ``plays_table`` Parquet (``user, artist, plays``), from the same
    simulation pass.
    """
    art, trk, lis = world.artists, world.tracks, world.listeners
    # Render each dictionary once; rows are then plain takes.
    users = _cells_text(pa.array(lis.name))
    names = _cells_text(pa.array(np.concatenate([art.lastfm_name, art.lastfm_alt])))
    titles = _cells_text(pa.array(trk.title))
    albums = _cells_text(pa.array(trk.album))
    days = [_YEAR_START + dt.timedelta(days=d) for d in range(_YEAR_DAYS)]
    day_text = pa.array([f"{d.day:02d} {_MONTHS[d.month - 1]} {d.year}" for d in days])
    clock = pa.array([f"{h:02d}:{mi:02d}" for h in range(24) for mi in range(60)])
    plays = _PlaysWriter(plays_path, world) if plays_path is not None else None
    written = 0
    with path.open("wb") if path is not None else contextlib.nullcontext() as sink:
        if sink is not None:
            sink.write(_header(LASTFM_COLUMNS))
        for block in simulate(world):
            n = len(block["user"])
            if plays is not None:
                plays.add(block)
            if sink is not None:
                minute = block["minute"]
                cols = [
                    pc.cast(pa.array(np.arange(written, written + n, dtype=np.int64)), pa.string()),
                    users.take(pa.array(block["user"])),
                    names.take(pa.array(block["name"])),
                    titles.take(pa.array(block["track"])),
                    albums.take(pa.array(block["track"])),
                    day_text.take(pa.array(minute // 1440)),
                    clock.take(pa.array(minute % 1440)),
                ]
                _write_rows(sink, cols, rendered=True)
            written += n
    if plays is not None:
        plays.close()
    return written


class _PlaysWriter:
    """The listens as a play-count table (what Last.fm-360K ships): one row per listener and
    Last.fm spelling with its number of scrobbles, rows in listener block order, written to
    Parquet block by block (blocks hold whole listeners, so every row is final)."""

    def __init__(self, path: Path, world: SampleWorld) -> None:
        art = world.artists
        self.users = pa.array(world.listeners.name).cast(pa.string())
        self.names = pa.array(np.concatenate([art.lastfm_name, art.lastfm_alt])).cast(pa.string())
        self.n_names = len(self.names)
        self.schema = pa.schema(
            [("user", pa.string()), ("artist", pa.string()), ("plays", pa.int64())]
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        self.writer = pq.ParquetWriter(path, self.schema, compression="zstd")
        self.rows = 0

    def add(self, block: dict[str, np.ndarray]) -> None:
        key = block["user"].astype(np.int64) * self.n_names + block["name"]
        keys, counts = np.unique(key, return_counts=True)
        table = pa.table(
            {
                "user": self.users.take(pa.array(keys // self.n_names)),
                "artist": self.names.take(pa.array(keys % self.n_names)),
                "plays": pa.array(counts.astype(np.int64)),
            },
            schema=self.schema,
        )
        self.writer.write_table(table, row_group_size=1_000_000)
        self.rows += len(table)

    def close(self) -> None:
        if self.rows == 0:  # keep a valid (empty) file
            self.writer.write_table(self.schema.empty_table())
        self.writer.close()


LISTENS_OPTIONS: tuple[str, ...] = ("scrobbles", "plays_table", "both")


def _listens_source(listens: str) -> str:
    """The ``[sources.listens]`` keys: the scrobble log, or the play-count Parquet."""
    if listens == "scrobbles":
        return f'format = "lastfm_kaggle"\npath = "{LASTFM_PATH}"'
    return f'format = "plays_table"\npath = "{PLAYS_PATH}"'


def _config_text(seed: int, sizes: dict[str, int | None], listens: str = "scrobbles") -> str:
    """The sample's musicrec.toml (paths relative to it, artifacts under ``derived``)."""
    described = ", ".join(f"{k}={v}" for k, v in sizes.items() if v is not None)
    return f"""# musicrec config for the synthetic sample written by musicrec_assets.sample
# ({described}, seed={seed}). Paths are relative to this file.
seed = {seed}

[storage]
dir = "derived"

[sources.listens]
{_listens_source(listens)}

[sources.tracks]
format = "spotify_600k_tracks"
path = "{TRACKS_PATH}"

[sources.artists]
format = "spotify_600k_artists"
path = "{ARTISTS_PATH}"
"""


def generate_sample(
    out_dir: str | Path,
    *,
    users: int = 300,
    artists: int = 600,
    tracks: int = 6000,
    scrobbles: int = 120_000,
    seed: int = 42,
    pairs: int | None = None,
    listens: str = "scrobbles",
) -> Path:
    """Write lastfm/Last.fm_data.csv, spotify/tracks.csv, spotify/artists.csv and musicrec.toml; return the toml path.

    ``artists`` counts every artist of the synthetic world (15 % of them exist on Last.fm only),
    ``tracks`` the rows of tracks.csv, ``scrobbles`` the rows of the Last.fm log. ``pairs`` optionally
    sets the number of distinct listener-artist pairs to aim for (default: Heaps' law, see the package
    docstring); a few listeners may end slightly short if their taste cannot reach that many artists.

    ``listens`` chooses the listening data, the way real data sets come: ``"scrobbles"`` (default)
    the scrobble log above; ``"plays_table"`` instead of it ``lastfm/plays.parquet``, the same
    scrobbles aggregated to ``user, artist, plays`` per listener and Last.fm spelling (the layout of
    Last.fm-360K, no timestamps), with the toml's listens source ``format = "plays_table"``;
    ``"both"`` writes both files and points the toml at the Parquet.
    """
    if listens not in LISTENS_OPTIONS:
        raise ValueError(f"listens must be one of {LISTENS_OPTIONS}, got {listens!r}")
    out = Path(out_dir)
    world = build_world(
        users=users, artists=artists, tracks=tracks, scrobbles=scrobbles, seed=seed, pairs=pairs
    )
    (out / "lastfm").mkdir(parents=True, exist_ok=True)
    (out / "spotify").mkdir(parents=True, exist_ok=True)
    write_rng = _rng(seed, "tracks", 1)
    _write_artists(out / ARTISTS_PATH, world.artists, write_rng)
    _write_tracks(out / TRACKS_PATH, world.artists, world.tracks, write_rng)
    _write_lastfm(
        out / LASTFM_PATH if listens in ("scrobbles", "both") else None,
        world,
        out / PLAYS_PATH if listens in ("plays_table", "both") else None,
    )
    toml = out / CONFIG_NAME
    sizes = {
        "users": users,
        "artists": artists,
        "tracks": tracks,
        "scrobbles": scrobbles,
        "pairs": pairs,
    }
    toml.write_text(_config_text(seed, sizes, listens), encoding="utf-8")
    return toml
