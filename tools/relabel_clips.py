"""A corrected view of a folder of labelled clips, leaving the source untouched (it may be read-only or shared).

OUT/ gets a symbolic link to each clip the source's labels.csv names, that labels.csv with the given letters
changed, and relabelled.json recording where it came from: the source folder, the sha256 of its labels.csv and
each change. `asl-edge train --data OUT`, `eval --videos OUT` and tools/letters_loso.py read OUT as they read the
source.

Why it exists: `fingerspelling-dev/letters` labels D_s3.mp4 "D" and E_s3.mp4 "E", but the clips show each other's
handshape from start to end (D_s3 a closed hand, fingertips curled onto the thumb; E_s3 the index finger up, the
other fingertips on the thumb); every model that never saw signer s3 reads D_s3 as S/E and E_s3 as D. Trained
as labelled, the pair teaches "a fist is D" (cse535-s3 spelled WHEN as WHDN). The bundled model trains on:

    python tools/relabel_clips.py ../shared/data/fingerspelling-dev/letters runs/letters-fixed \\
        --set D_s3.mp4=E --set E_s3.mp4=D

Changing a label that is already what --set asks, naming a file labels.csv does not list, or an OUT that
exists with different content is refused (one `error:` line, exit 2). Running it again with the same
arguments rewrites nothing and succeeds.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import sys
from pathlib import Path

from asl_edge.artifacts import atomic_write_files
from asl_edge.errors import AslEdgeError, DataError

LABELS = "labels.csv"
RECORD = "relabelled.json"


def parse_changes(pairs: list[str]) -> dict[str, str]:
    """["FILE=LETTER", ...] -> {file: letter}; DataError for a malformed pair or a file named twice."""
    changes: dict[str, str] = {}
    for pair in pairs:
        file, sep, letter = pair.partition("=")
        if not sep or not file or not letter.strip():
            raise DataError(f"--set {pair!r} is not FILE=LETTER; e.g. --set D_s3.mp4=E")
        if file in changes:
            raise DataError(f"--set names {file} twice; give each file one letter")
        changes[file] = letter.strip()
    return changes


def relabel(source: Path, out: Path, changes: dict[str, str]) -> list[dict[str, str]]:
    """Write OUT (module docstring); returns the changes made ({file, from, to} each), as relabelled.json records
    them."""
    labels_path = source / LABELS
    if not labels_path.is_file():
        raise DataError(f"{source} has no {LABELS}; pass the folder of clips it lists (file,letter,...)")
    raw = labels_path.read_bytes()
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8"))))
    if not rows or not {"file", "letter"} <= set(rows[0]):
        raise DataError(f"{labels_path} needs the columns file,letter")
    by_file = {row["file"]: row for row in rows}
    unknown = sorted(set(changes) - set(by_file))
    if unknown:
        raise DataError(f"{labels_path} lists no {', '.join(unknown)}; --set names a file in its `file` column")
    record_changes = []
    for file, letter in changes.items():
        row = by_file[file]
        if row["letter"] == letter:
            raise DataError(f"{file} is already labelled {letter} in {labels_path}; drop --set {file}={letter}")
        record_changes.append({"file": file, "from": row["letter"], "to": letter})
        row["letter"] = letter
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    record = {"source": str(source.resolve()), "source_labels_sha256": hashlib.sha256(raw).hexdigest(),
              "changes": record_changes}
    files = {LABELS: text.getvalue().encode(), RECORD: (json.dumps(record, indent=1) + "\n").encode()}
    _check_out(out, files)
    out.mkdir(parents=True, exist_ok=True)
    for row in rows:
        link, target = out / row["file"], (source / row["file"]).resolve()
        if not link.is_symlink():
            os.symlink(target, link)
    atomic_write_files({out / name: data for name, data in files.items()})
    return record_changes


def _check_out(out: Path, files: dict[str, bytes]) -> None:
    """An existing OUT must be this same view (a rerun), never someone else's folder."""
    if not out.exists():
        return
    if not out.is_dir():
        raise DataError(f"{out} exists and is not a folder; pass a new folder for the view")
    for name, data in files.items():
        if (out / name).exists() and (out / name).read_bytes() != data:
            raise DataError(f"{out} holds a different {name}; pass a new folder, or remove {out} first")
    if any(out.iterdir()) and not (out / RECORD).exists():
        raise DataError(f"{out} is not empty and was not written by this tool; pass a new folder")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path, help="folder of clips with labels.csv")
    parser.add_argument("out", type=Path, help="new folder for the corrected view")
    parser.add_argument("--set", dest="changes", action="append", default=[], metavar="FILE=LETTER", required=True,
                        help="give FILE the label LETTER (repeatable)")
    args = parser.parse_args(argv)
    try:
        made = relabel(args.source, args.out, parse_changes(args.changes))
    except AslEdgeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}: " + ", ".join(f"{c['file']} {c['from']}->{c['to']}" for c in made))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
