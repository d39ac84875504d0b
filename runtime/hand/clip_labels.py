"""`labels.csv` of a folder of spelling clips: which file shows which word or letter, and who signs it.

Two layouts (as in fingerspelling-dev): `file,word,...` (a word per clip) or `file,letter,...` (one letter per
clip, optionally with a `motion` column); an optional `signer` column groups the results. Every problem is
one DataError naming the row and the fix, found before any clip is decoded.
"""

from __future__ import annotations

import csv
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from asl_edge.datasets import IMAGE_SUFFIXES
from asl_edge.errors import DataError

LABELS_FILE = "labels.csv"
TRUTH_COLUMNS = ("word", "letter")
# Files OpenCV would open as a one-frame "video" (an image) or that are text: listed by mistake.
NOT_CLIPS = frozenset(IMAGE_SUFFIXES | {".csv", ".txt", ".json", ".md"})


@dataclass(frozen=True)
class ClipLabel:
    """One row: `line` its line number in labels.csv (the header is line 1), `path` the clip, `truth` the
    upper-case letters signed, `kind` "word" or "letter", `signer` and `motion` as written ("" when absent)."""

    line: int
    path: Path
    truth: str
    kind: str
    signer: str = ""
    motion: str = ""

    @property
    def file(self) -> str:
        return self.path.name


def read_clip_labels(folder: str | Path, labels: Sequence[str], option: str = "--videos",
                     speller: str = "the model") -> list[ClipLabel]:
    """The rows of FOLDER/labels.csv, checked: every file exists, no file twice (however its path is spelled),
    every truth non-empty and made only of letters among the model's `labels`. Raises DataError naming the
    first bad row. `option` (the command-line option FOLDER came from) and `speller` (what `labels` belong to)
    only word the messages."""
    folder = Path(folder)
    table = folder / LABELS_FILE
    if not folder.is_dir():
        raise DataError(f"{option} {folder} is not a folder; pass a folder of clips with a {LABELS_FILE}")
    if not table.is_file():
        what = "is not a file" if table.exists() or table.is_symlink() else "does not exist"
        raise DataError(f"{table} {what}; write one with a header `file,word` (or `file,letter`) and a row per clip")
    try:
        with table.open(newline="", encoding="utf-8-sig") as handle:
            # strict: an unclosed quote is an error, not the rest of the file swallowed into one field
            rows = list(csv.reader(handle, strict=True))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"cannot read {table} ({exc}); write it as UTF-8 CSV with a header `file,word`") from exc
    if not rows:
        raise DataError(f"{table} is empty; write a header `file,word` (or `file,letter`) and a row per clip")
    header = [name.strip().lower() for name in rows[0]]
    if "file" not in header:
        raw = ",".join(name.strip() for name in rows[0])  # as written: a clip name read as a header keeps its case
        # A spreadsheet saved with a locale's list separator reads as one column named e.g. "file;word".
        separator = next((name for char, name in ((";", "semicolons"), ("\t", "tabs")) if char in raw), None)
        hint = f"; this one looks separated by {separator}: save it comma-separated" if separator else ""
        shown = raw.replace("\t", "<tab>") or "none"
        raise DataError(f"{table} has no `file` column (header: {shown}); its first line must name the columns, "
                        f"separated by commas, e.g. `file,word,signer`{hint}")
    kinds = [name for name in TRUTH_COLUMNS if name in header]
    if len(kinds) != 1:
        raise DataError(f"{table} needs exactly one of the columns `word` (a word per clip) or `letter` (a letter "
                        f"per clip); its header is {','.join(header)}")
    kind = kinds[0]
    letters = {label for label in labels if len(label) == 1}
    column = {name: header.index(name) for name in ("file", kind, "signer", "motion") if name in header}
    clips: list[ClipLabel] = []
    seen: dict[Path, tuple[int, str]] = {}  # resolved: `./X.mp4` and `sub/../X.mp4` are X.mp4 again
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue  # a blank line (a trailing newline too many)
        cells = {name: row[index].strip() if index < len(row) else "" for name, index in column.items()}
        where = f"{table} line {line}"
        if len(row) > len(header) and any(cell.strip() for cell in row[len(header):]):
            raise DataError(f"{where} has {len(row)} fields, the header {len(header)}; quote a field that holds a "
                            "comma, or name the extra column in the header")
        name, truth = cells["file"], cells[kind].upper()
        if not name:
            raise DataError(f"{where}: no file name; fill in the `file` column or remove the row")
        path = folder / name
        key = Path(os.path.realpath(path))  # unlike Path.resolve() (before 3.13), no error on a symlink loop
        if key in seen:
            first_line, first_name = seen[key]
            spelled = "" if first_name == name else f" as {first_name}"
            raise DataError(f"{where}: {name} is listed again (first on line {first_line}{spelled}); remove one "
                            "of the rows")
        seen[key] = (line, name)
        if path.is_dir():
            raise DataError(f"{where}: {path} is a folder, not a video file; name a clip file or remove the row")
        if not path.is_file():
            raise DataError(f"{where}: {path} does not exist; fix the file name or remove the row")
        if key == Path(os.path.realpath(table)) or path.suffix.lower() in NOT_CLIPS:
            raise DataError(f"{where}: {name} is not a video clip; name a clip (e.g. .mp4) or remove the row "
                            "(photos are scored with --data)")
        if not truth:
            raise DataError(f"{where}: the {kind} of {name} is empty; write the {kind} it signs")
        if kind == "letter" and len(truth) != 1:
            raise DataError(f"{where}: letter {truth!r} of {name} is not one letter; use a `word` column for words")
        unknown = sorted({c for c in truth if c not in letters})
        if unknown:
            # A letter clip's truth is the one bad character: name it once.
            what = (f"letter {truth!r} of {name} is not one {speller} can spell" if kind == "letter" else
                    f"word {truth!r} of {name} has {', '.join(map(repr, unknown))}, which {speller} cannot spell")
            raise DataError(f"{where}: {what} (its letters: {''.join(sorted(letters))}); fix the {kind} or remove "
                            "the row")
        clips.append(ClipLabel(line, path, truth, kind, cells.get("signer", ""), cells.get("motion", "")))
    if not clips:
        raise DataError(f"{table} lists no clips; add a row per clip under its header")
    unlisted = sorted(path.name for path in folder.iterdir()
                      if path.is_file() and not path.name.startswith(".") and path.suffix.lower() not in NOT_CLIPS
                      and Path(os.path.realpath(path)) not in seen)
    if unlisted:
        print(f"note: {len(unlisted)} file(s) in {folder} that {LABELS_FILE} does not list are left out: "
              f"{', '.join(unlisted[:5])}{' ...' if len(unlisted) > 5 else ''} (add a row for each clip to use it)",
              file=sys.stderr)
    return clips
