"""Playlist files: CSV, extended M3U and XSPF."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import quote

import pandas as pd

_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _one_line(value: Any) -> str:
    """Text safe for one line of a line-based format (no line breaks, no control characters)."""
    return _XML_INVALID.sub("", " ".join(str(value).split()))


def track_uri(track_id: str) -> str:
    """The playlist location of a track: ``spotify:track:<id>`` (id percent-encoded if odd)."""
    return "spotify:track:" + quote(str(track_id), safe="")


def to_csv(df: pd.DataFrame) -> str:
    """The playlist as CSV text (UTF-8, header row, no index)."""
    return df.to_csv(index=False, lineterminator="\n")


def to_m3u(df: pd.DataFrame) -> str:
    """Extended M3U: ``#EXTINF:-1,Artist - Title`` then the track's Spotify URI per track."""
    lines = ["#EXTM3U"]
    for artist, title, track_id in zip(df["artist"], df["track_name"], df["track_id"], strict=True):
        lines.append(f"#EXTINF:-1,{_one_line(artist)} - {_one_line(title)}")
        lines.append(track_uri(track_id))
    return "\n".join(lines) + "\n"


def to_xspf(df: pd.DataFrame, title: str = "musicrec playlist") -> str:
    """XSPF (XML Shareable Playlist Format); all text escaped by ElementTree."""
    ns = "http://xspf.org/ns/0/"
    ET.register_namespace("", ns)
    root = ET.Element(f"{{{ns}}}playlist", version="1")
    ET.SubElement(root, f"{{{ns}}}title").text = _one_line(title)
    tracks = ET.SubElement(root, f"{{{ns}}}trackList")
    for i, row in enumerate(df.itertuples(index=False), start=1):
        track = ET.SubElement(tracks, f"{{{ns}}}track")
        ET.SubElement(track, f"{{{ns}}}location").text = track_uri(row.track_id)
        ET.SubElement(track, f"{{{ns}}}title").text = _one_line(row.track_name)
        ET.SubElement(track, f"{{{ns}}}creator").text = _one_line(row.artist)
        if "reason" in df.columns:
            ET.SubElement(track, f"{{{ns}}}annotation").text = _one_line(row.reason)
        ET.SubElement(track, f"{{{ns}}}trackNum").text = str(i)
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"
