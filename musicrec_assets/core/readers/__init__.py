"""Source readers: every supported input layout -> one of three canonical tables.

`read_listens` -> `listens`, `read_tracks` -> `spotify_tracks`, `read_artists` -> `spotify_artists`
(columns and dtypes in `schema.py` / docs/architecture.md). Each returns the frame and a
`ReadReport` so the Dagster layer can show what was read, what was skipped and why. String
columns use pandas' `str` dtype (missing = NaN), list columns hold Python lists of str, `plays`
is int64 and `played_at` is datetime64[ns, UTC] (NaT where unknown).

Accounting: ``rows_out + sum(skipped.values()) == rows_read`` for every format. `skipped` counts
input rows that do not appear as their own output row; `notes` counts things that were kept but
changed or are worth knowing (placeholder names, stripped control characters, NaT timestamps).

Bad input, case -> decision (row = file line, header = line 1):

| case | decision |
|---|---|
| missing file, empty glob, missing folder / folder member | InputError naming the path |
| several files match one folder member pattern | InputError (never guess which) |
| 0-byte file; file with no header line | InputError |
| unknown format / unknown encoding name | InputError |
| header-only file (no data rows) / every row skipped | InputError for the source; in a multi-file source a header-only member is fine (note) |
| required column missing or misnamed | InputError listing the columns found and the closest name |
| header splits into the columns under `;`, tab or `|` | InputError "looks ';'-separated; set delimiter = ';'" |
| declared encoding cannot decode a byte | InputError with the line; `auto` falls back UTF-8 > cp1252 > latin-1 |
| row with more fields than the header (stray quote, unquoted delimiter) | InputError with the line |
| row with fewer fields (e.g. last line cut outside quotes) | missing fields read as empty, then the blank/timestamp rules apply (pandas cannot tell short rows apart) |
| stray quote inside an unquoted field (`Bad "Artist" x`) | kept literally |
| quoted field never closed (truncated file, stray opening quote) | InputError with the line |
| line that repeats the header | skip "repeated header line" |
| blank user / blank artist name (after cleaning) | skip "blank user name" / "blank artist name" |
| plays non-numeric, empty, fractional, negative | InputError with column and row |
| plays == 0 | skip "zero plays" |
| plays > 1e9 (or inf / beyond int64) | InputError: implausible for one row, likely a wrong column |
| timestamp unparsable: <= 1% of rows | kept with played_at = NaT, note "unparsable timestamp" |
| timestamp unparsable: > 1% of rows | InputError with the first bad row and value |
| timestamp empty | kept with NaT, note "missing timestamp" |
| control characters in a name | stripped (tab/CR/LF -> space), row kept, note |
| HTML-like markup in a name | kept as text, note |
| list cell malformed (`['a', 'b'`, `[a, b]`, ints) | tolerant tokenizer, row kept, note |
| audio feature / popularity non-numeric: <= 1% | NaN, note; > 1%: InputError with the first bad row |
| audioscrobbler artist id without a name | placeholder `artist:<id>`, plays kept, note |
| audioscrobbler `artist_data` line `<id> <name>` (space, no tab) | split on the first space, note |
| audioscrobbler `artist_data`/`artist_alias` line unusable (no id, no name) | ignored, note |
| audioscrobbler 0-byte `artist_alias` file | valid (no aliases), note |
| audioscrobbler rows of the same (user, artist) after aliasing | skip "merged ... (plays summed)" |
| hetrec artistID missing from artists.dat | placeholder `artist:<id>`, plays kept, note |
| spotify_600k_tracks: artists / id_artists lists differ in length or are empty | skip |
| tracks: blank id / blank name / duplicate id or uri | skip (first occurrence kept) |
| spotify_track_table: uri not `spotify:track:<id>` | skip "unparsable uri" |
| artists: duplicate id; spotify_artist_table duplicate name | skip (600k: first kept; table: larger `count` kept) |
| a one-artist catalogue | valid |
"""

from .artists import read_artists
from .listens import read_listens, user_from_filename
from .lists import parse_list_cell
from .report import ReadReport
from .tracks import read_tracks, split_credit

__all__ = [
    "ReadReport",
    "parse_list_cell",
    "read_artists",
    "read_listens",
    "read_tracks",
    "split_credit",
    "user_from_filename",
]
