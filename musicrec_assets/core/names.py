"""The one artist-name key used to match Last.fm spellings to Spotify artists.

``normalise_names`` folds the differences real data shows between the two catalogues: case, accents
and other combining marks, a leading "The", "&" versus "and", punctuation and whitespace
("The Go-Go's" and "Go‐Go’s" both become ``gogos``, "Beyoncé" and "BEYONCE" both ``beyonce``).
Letters of every script are kept, so Cyrillic or Japanese names still have a key. A name that is
nothing but punctuation ("!!!") keeps its case-folded spelling as its key rather than becoming empty.
"""

from __future__ import annotations

import pandas as pd

# Combining marks left behind by NFKD decomposition (accents, umlauts, cedillas...): removed
# from artist names here and from track titles (playlist.tracks.normalise_titles).
COMBINING_MARKS = r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]"


def normalise_names(names: pd.Series) -> pd.Series:
    """Matching key for each name (vectorised over unique values; NaN stays NaN)."""
    uniques = pd.Series(names.dropna().unique(), dtype=object)
    if uniques.empty:
        return pd.Series(pd.NA, index=names.index, dtype=object)
    base = uniques.astype(str).str.normalize("NFKD").str.replace(COMBINING_MARKS, "", regex=True)
    folded = base.str.casefold().str.strip()
    key = (
        folded.str.replace("&", " and ", regex=False)
        .str.replace(r"^the\s+", "", regex=True)
        .str.replace(r"[\W_]+", "", regex=True)
    )
    key = key.where(key.str.len() > 0, folded.str.replace(r"\s+", " ", regex=True))
    mapping = dict(zip(uniques, key, strict=True))
    return names.map(mapping)


def normalise_name(name: str) -> str:
    """Matching key of one name (same rule as :func:`normalise_names`)."""
    return str(normalise_names(pd.Series([name])).iloc[0])
