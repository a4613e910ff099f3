"""Lookup files of the id-keyed listens dumps (HetRec, Audioscrobbler): id -> name, bad -> good id.

Read line by line, without CSV quoting rules: the names contain quote characters.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .files import detect_encoding, read_text_lines
from .report import _Tally
from .values import clean_names


def _id_name_lines(
    path: Path, encoding: str, sep: str, tally: _Tally, *, header: bool, what: str
) -> pd.Series:
    """`id<sep>name[<sep>...]` lines -> Series name indexed by id (first of duplicates kept).

    Read line by line (no quoting rules). A line without `sep` but shaped `<digits> <name>` is
    split on its first whitespace; lines with no numeric id or no name are ignored; both noted.
    """
    enc = detect_encoding(path, encoding)
    tally.encodings.append(enc)
    lines = read_text_lines(path, enc, encoding)
    if header and len(lines):
        lines = lines.iloc[1:]
    parts = lines.str.split(sep, n=2, expand=True, regex=False)
    ids = parts[0].str.strip()
    name = parts[1] if parts.shape[1] > 1 else pd.Series(np.nan, index=lines.index, dtype="str")
    no_sep = name.isna() if sep != " " else pd.Series(False, index=lines.index)
    spaced = lines[no_sep].str.extract(r"^\s*(\d+)\s+(\S.*)$")
    repaired = spaced[0].notna()
    tally.note(f"{what} lines split on a space (no tab)", int(repaired.sum()))
    ids = ids.where(~no_sep, spaced[0].reindex(ids.index))
    name = name.where(~no_sep, spaced[1].reindex(ids.index))
    name, n_control, _ = clean_names(name.fillna(""))
    tally.note(f"control characters stripped from {what} names", n_control)
    usable = ids.fillna("").str.fullmatch(r"\d+") & (name != "")
    tally.note(f"{what} lines without a numeric id and a name (ignored)", int((~usable).sum()))
    table = pd.Series(name[usable].to_numpy(), index=ids[usable].to_numpy(), dtype="str")
    dup = table.index.duplicated()
    tally.note(f"{what} duplicate ids (first name kept)", int(dup.sum()))
    return table[~dup]


def _aliases(path: Path, encoding: str, tally: _Tally) -> pd.Series:
    """`badid<TAB>goodid` -> Series goodid indexed by badid (int64), chains resolved."""
    if path.stat().st_size == 0:  # a dataset without known misspellings: legitimately empty
        tally.note("artist_alias file empty (no aliases)", 1)
        return pd.Series([], dtype="int64")
    enc = detect_encoding(path, encoding)
    tally.encodings.append(enc)
    lines = read_text_lines(path, enc, encoding)
    parts = lines.str.extract(r"^\s*(\d+)\s+(\d+)\s*$")
    ok = parts[0].notna()
    tally.note("artist_alias lines that are not two ids (ignored)", int((~ok).sum()))
    bad = parts[0][ok].astype("int64").to_numpy()
    good = parts[1][ok].astype("int64").to_numpy()
    alias = pd.Series(good, index=bad)
    alias = alias[~alias.index.duplicated()]
    alias = alias[alias.index != alias.to_numpy()]
    for _ in range(8):  # a -> b -> c becomes a -> c; cycles stop after a few hops
        nxt = alias.reindex(alias.to_numpy())
        hop = nxt.notna().to_numpy()
        if not hop.any():
            break
        alias = alias.where(~hop, nxt.to_numpy())
    return alias
