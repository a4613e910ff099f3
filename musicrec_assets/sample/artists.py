"""The artist roster: who exists where, popularity, genres, sound, names and their spellings.

The Last.fm spellings differ from Spotify's in the documented ways (package docstring, "Mess").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .draws import _SD, _base62_ids, _draw, _rng, _s, _segment_cdf, _weighted_pick, _words
from .params import (
    _ARTIST_SD,
    _GENRE_MEAN,
    _HIGH,
    _LOW,
    _PREVALENCE,
    _VARIANT_CODES,
    _ZIPF_S,
    GENRES,
    KIND_LASTFM_ONLY,
    KIND_MATCHED,
    KIND_TWIN,
    SHARE_ACCENT_KEPT,
    SHARE_FORMS,
    SHARE_VARIANTS,
    _quota,
    mess_quantities,
)

_SUFFIXES = np.array(
    ["Band", "Trio", "Quartet", "Orchestra", "Collective", "Club", "Project", "Ensemble", "Crew"],
    dtype=np.dtypes.StringDType(),
)
_PREFIXES = np.array(["DJ", "MC", "Lil", "Big", "Young"], dtype=np.dtypes.StringDType())
_TITLES = np.array(["Mr.", "Dr.", "St."], dtype=np.dtypes.StringDType())
_ACCENTS = (("e", "é"), ("o", "ö"), ("a", "á"), ("u", "ü"), ("i", "í"))

# Name forms.
(
    _F_ONE,
    _F_TWO,
    _F_THE,
    _F_PLURAL,
    _F_SUFFIX,
    _F_PREFIX,
    _F_AMP,
    _F_APOS,
    _F_COMMA,
    _F_BANG,
    _F_SLASH,
    _F_DOT,
    _F_HYPHEN,
) = range(13)
_FORM_OF_SHARE = {
    "apostrophe": _F_APOS,
    "comma": _F_COMMA,
    "ampersand": _F_AMP,
    "the": _F_THE,
    "suffix": _F_SUFFIX,
    "prefix": _F_PREFIX,
    "two_words": _F_TWO,
}
_PUNCT_FORMS = (_F_BANG, _F_SLASH, _F_DOT, _F_HYPHEN)


@dataclass
class Artists:
    """Per artist (index 0 = most popular): who exists where, names, genres, sound."""

    kind: np.ndarray  # KIND_MATCHED / KIND_LASTFM_ONLY / KIND_TWIN
    variant: np.ndarray  # 0 or a _VARIANT_CODES value (Last.fm spelling differs)
    twin_of: np.ndarray  # for KIND_TWIN: the listened artist with the same name; else -1
    spotify_name: np.ndarray
    lastfm_name: np.ndarray
    lastfm_alt: np.ndarray  # second Last.fm spelling ("" if none)
    spotify_id: np.ndarray
    weight: np.ndarray  # Zipf weight
    popularity: np.ndarray
    followers: np.ndarray
    genres: np.ndarray  # (n, 3) genre indices, -1 padded; main first
    genre_w: np.ndarray  # (n, 3)
    genres_listed: np.ndarray  # False: artists.csv shows []
    center: np.ndarray  # (n, len(SAMPLE_AUDIO_FEATURES)) audio centre; duration as log seconds
    track_start: np.ndarray
    track_count: np.ndarray


def _build_artists(artists: int, tracks: int, seed: int) -> Artists:
    """Artist roster: kinds, popularity, genres, audio centres, names, ids."""
    rng = _rng(seed, "artists")
    n = artists
    q = mess_quantities(artists, tracks)
    idx = np.arange(n)
    weight = (idx + 1.0) ** -_ZIPF_S

    kind = np.zeros(n, dtype=np.int8)
    lfm_only = _weighted_pick(rng, (idx + 1.0) ** 1.0 * (idx >= 3), q["lastfm_only_artists"])
    kind[lfm_only] = KIND_LASTFM_ONLY
    spotify = np.flatnonzero(kind == KIND_MATCHED)
    half = n // 2
    n_twins = q["namesake_pairs"]
    targets = rng.permutation(spotify[spotify < half])[:n_twins]
    twins = rng.permutation(spotify[spotify >= half])[:n_twins]
    kind[twins] = KIND_TWIN
    twin_of = np.full(n, -1, dtype=np.int64)
    twin_of[twins] = targets

    variant = np.zeros(n, dtype=np.int8)
    pool = np.setdiff1d(np.flatnonzero(kind == KIND_MATCHED), targets)
    pool = rng.permutation(pool)
    at = 0
    for name in SHARE_VARIANTS:
        k = q[f"variant_{name}"]
        variant[pool[at : at + k]] = _VARIANT_CODES[name]
        at += k

    # Genres: main by prevalence, others among similar-sounding genres.
    G = len(GENRES)
    main = rng.choice(G, size=n, p=_PREVALENCE)
    n_genres = rng.choice([1, 2, 3], size=n, p=[0.45, 0.35, 0.20])
    scale = np.array([0.1, 0.1, 3.0, 0.05, 0.15, 0.2, 1.0, 0.12, 15.0, 1.0])
    z = _GENRE_MEAN / scale
    dist = np.sqrt(((z[:, None, :] - z[None, :, :]) ** 2).sum(-1))
    related = _PREVALENCE[None, :] * np.exp(-dist / 2.0)
    np.fill_diagonal(related, 0.0)
    rel_cdf = _segment_cdf(related.ravel(), np.full(G, G))
    second = _draw(rel_cdf, main, rng) % G
    third = _draw(rel_cdf, main, rng) % G
    n_genres = np.where((n_genres == 3) & (third == second), 2, n_genres)
    genres = np.stack([main, second, third], axis=1)
    genres[n_genres < 2, 1] = -1
    genres[n_genres < 3, 2] = -1
    w_main = np.where(n_genres == 1, 1.0, rng.uniform(0.55, 0.8, n))
    genre_w = np.stack([w_main, (1 - w_main) / (n_genres - 1 + (n_genres == 1)), np.zeros(n)], 1)
    genre_w[:, 2] = np.where(n_genres == 3, genre_w[:, 1], 0.0)
    genre_w[n_genres < 2, 1] = 0.0

    mix = sum(genre_w[:, [k]] * _GENRE_MEAN[np.maximum(genres[:, k], 0)] for k in range(3))
    center = np.clip(mix + rng.normal(size=mix.shape) * _ARTIST_SD, _LOW, _HIGH)

    listed = np.ones(n, dtype=bool)
    sp = np.flatnonzero(kind != KIND_LASTFM_ONLY)
    empty = sp[_weighted_pick(rng, (sp + 1.0) ** 0.5, q["empty_genres"])]
    listed[empty] = False

    pop_score = np.log(weight)
    pop_score = (pop_score - pop_score.min()) / max(np.ptp(pop_score), 1e-9)
    popularity = np.clip(np.round(20 + 75 * pop_score + rng.normal(0, 5, n)), 0, 100)
    followers = np.round(np.exp(3.0 + 0.12 * popularity + rng.normal(0, 0.8, n)))
    # The listened namesake is always the more popular and the more followed one.
    popularity[twins] = np.maximum(0, np.minimum(popularity[twins], popularity[targets] - 10))
    followers[twins] = np.minimum(followers[twins], np.floor(followers[targets] / 3))

    spotify_name, lastfm_name, lastfm_alt = _artist_names(seed, kind, variant, twin_of, n)
    ids = _base62_ids(rng, n)
    return Artists(
        kind=kind,
        variant=variant,
        twin_of=twin_of,
        spotify_name=spotify_name,
        lastfm_name=lastfm_name,
        lastfm_alt=lastfm_alt,
        spotify_id=ids,
        weight=weight,
        popularity=popularity.astype(np.int64),
        followers=followers.astype(np.int64),
        genres=genres,
        genre_w=genre_w,
        genres_listed=listed,
        center=center,
        track_start=np.zeros(n, dtype=np.int64),
        track_count=np.zeros(n, dtype=np.int64),
    )


def _build_names(forms: np.ndarray, accent: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Fake artist names of the given forms (syllable words), accented where asked."""
    n = len(forms)
    w1, s1a, s1b = _words(rng, n)
    w2, _, _ = _words(rng, n)
    w3, _, _ = _words(rng, n)
    pick = rng.integers(0, 3, n)
    out = w1.copy()
    plural = _s(w2, "s")
    apos = np.where(
        pick == 0,
        _s(w1, " N' ", plural),
        np.where(pick == 1, _s(w1, "'s ", w2), _s("O'", np.strings.capitalize(s1b), s1a)),
    )
    cases = {
        _F_TWO: _s(w1, " ", w2),
        _F_THE: _s("The ", plural),
        _F_PLURAL: plural,
        _F_SUFFIX: _s(w1, " ", _SUFFIXES[rng.integers(0, len(_SUFFIXES), n)]),
        _F_PREFIX: _s(_PREFIXES[rng.integers(0, len(_PREFIXES), n)], " ", w1),
        _F_AMP: _s(w1, " & the ", plural),
        _F_APOS: apos,
        _F_COMMA: _s(w1, ", ", w2, " & ", w3),
        _F_BANG: _s(np.strings.slice(w1, 0, 2), "!", np.strings.slice(w1, 2, None)),
        _F_SLASH: _s(np.strings.upper(s1a), "/", np.strings.upper(s1b)),
        _F_DOT: _s(_TITLES[rng.integers(0, len(_TITLES), n)], " ", w1),
        _F_HYPHEN: _s(w1, "-", w2),
    }
    for form, values in cases.items():
        mask = forms == form
        out[mask] = values[mask]
    todo = accent.copy()
    for plain, marked in _ACCENTS:
        hit = todo & (np.strings.find(out, plain) >= 0)
        out[hit] = np.strings.replace(out[hit], plain, marked, 1)
        todo &= ~hit
    return out


def _artist_names(
    seed: int, kind: np.ndarray, variant: np.ndarray, twin_of: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spotify spelling, Last.fm spelling and second Last.fm spelling of every artist."""
    rng = _rng(seed, "names")
    v = _VARIANT_CODES
    forms = np.full(n, _F_ONE, dtype=np.int64)
    # Forms forced by a Last.fm variant.
    forms[variant == v["the_drop"]] = _F_THE
    forms[variant == v["the_add"]] = _F_PLURAL
    punct = np.flatnonzero(variant == v["punct"])
    forms[punct] = np.asarray(_PUNCT_FORMS)[np.arange(len(punct)) % 4]
    ws = np.flatnonzero(variant == v["whitespace"])
    forms[ws[np.arange(len(ws)) % 3 == 2]] = _F_TWO
    free = rng.permutation(np.flatnonzero((forms == _F_ONE) & (variant == 0) & (kind != KIND_TWIN)))
    at = 0
    for name, share in SHARE_FORMS.items():
        k = _quota(n, share)
        forms[free[at : at + k]] = _FORM_OF_SHARE[name]
        at += k
    accent = variant == v["accent"]
    plain = np.flatnonzero((variant == 0) & (kind != KIND_TWIN) & ~np.isin(forms, _PUNCT_FORMS))
    accent[rng.permutation(plain)[: _quota(n, SHARE_ACCENT_KEPT)]] = True

    names = _build_names(forms, accent, rng)
    # Distinct artists must never share a matching key: redraw collisions until none are left.
    real = kind != KIND_TWIN
    for _ in range(100):
        keys = _name_key(names)
        dup = pd.Series(keys).where(real).duplicated(keep="first").to_numpy() & real
        dup |= real & (pd.Series(keys).str.len().to_numpy() < 3)
        if not dup.any():
            break
        names[dup] = _build_names(forms[dup], accent[dup], rng)
    else:  # pragma: no cover - 100 rounds never run out with 770 syllables
        raise RuntimeError("could not make unique artist names")
    twins = np.flatnonzero(kind == KIND_TWIN)
    names[twins] = names[twin_of[twins]]

    lastfm = names.copy()
    case = np.flatnonzero(variant == v["case"])
    lastfm[case] = np.where(
        np.arange(len(case)) % 2 == 0, np.strings.lower(names[case]), np.strings.upper(names[case])
    )
    acc = variant == v["accent"]
    lastfm[acc] = _strip_accents(names[acc])
    drop = variant == v["the_drop"]
    lastfm[drop] = np.strings.slice(names[drop], 4, None)
    add = variant == v["the_add"]
    lastfm[add] = _s("The ", names[add])
    p = variant == v["punct"]
    fixed = np.strings.replace(names[p], "-", " ")
    for ch in "!/.":
        fixed = np.strings.replace(fixed, ch, "")
    lastfm[p] = fixed
    style = np.arange(len(ws)) % 3
    lastfm[ws[style == 0]] = _s(names[ws[style == 0]], " ")
    lastfm[ws[style == 1]] = _s(" ", names[ws[style == 1]])
    lastfm[ws[style == 2]] = np.strings.replace(names[ws[style == 2]], " ", "  ", 1)
    alt = np.full(n, "", dtype=_SD)
    two = variant == v["two_spellings"]
    alt[two] = np.strings.lower(names[two])
    return names, lastfm, alt


def _strip_accents(names: np.ndarray) -> np.ndarray:
    """Drop combining marks (``Beyoncé`` -> ``Beyonce``)."""
    s = pd.Series(names, dtype=object).str.normalize("NFKD")
    s = s.str.replace(r"[\u0300-\u036f]", "", regex=True).str.normalize("NFC")
    return s.to_numpy(dtype=_SD)


def _name_key(names: np.ndarray) -> np.ndarray:
    """A deliberately coarse matching key (coarser than ``names.normalise_names``) for uniqueness."""
    s = pd.Series(_strip_accents(names), dtype=object).str.casefold()
    s = s.str.replace(r"^\s*the\s+", "", regex=True).str.replace("&", " and ", regex=False)
    s = s.str.replace(r"\band\b", "", regex=True).str.replace(r"[\W_]+", "", regex=True)
    return s.to_numpy(dtype=object)
