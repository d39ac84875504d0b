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

A --set FILE is relative to the source folder, and any spelling of a listed file's path is that file
(`./D_s3.mp4` is D_s3.mp4), as labels.csv readers elsewhere read it.

Refused with one `error:` line and exit 2, writing nothing: a letter that is not one of A-Z, a label that is
already what --set asks, a file labels.csv does not list (or lists twice, or names outside the folder, or that
is missing, or is named labels.csv or relabelled.json), a malformed labels.csv, an OUT inside the source, and an
OUT that exists with other content. The view is built in a temporary folder beside OUT and renamed into place, so
an interrupted run (Ctrl-C or SIGTERM: one line, exit 130) leaves no half view. Running it again with the same
changes (in any order) checks OUT, leaves it as it is and succeeds; two runs writing the same view at once both
succeed.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import re
import shutil
import signal
import sys
import tempfile
from collections import Counter
from pathlib import Path

from asl_edge.artifacts import current_umask
from asl_edge.errors import AslEdgeError, DataError

LABELS = "labels.csv"
RECORD = "relabelled.json"
LETTER = re.compile(r"[A-Z]")


def parse_changes(pairs: list[str]) -> dict[str, str]:
    """["FILE=LETTER", ...] -> {file: LETTER} (upper-cased); DataError for a malformed pair, a label that is not
    one letter A-Z, or a file named twice."""
    changes: dict[str, str] = {}
    for pair in pairs:
        file, sep, letter = pair.partition("=")
        if not sep or not file or not letter.strip():
            raise DataError(f"--set {pair!r} is not FILE=LETTER; e.g. --set D_s3.mp4=E")
        letter = letter.strip().upper()
        if not letter.isascii() or not LETTER.fullmatch(letter):
            raise DataError(f"--set {pair!r}: a clip's label is one letter A-Z; e.g. --set {file}=E")
        if file in changes:
            raise DataError(f"--set names {file} twice; give each file one letter")
        changes[file] = letter
    return changes


def read_rows(source: Path) -> tuple[bytes, list[str], list[dict[str, str]]]:
    """labels.csv of `source`: (its bytes, header, rows), checked: the file,letter columns, no ragged row, each
    file once, inside the folder and present."""
    labels_path = source / LABELS
    if not labels_path.is_file():
        raise DataError(f"{source} has no {LABELS}; pass the folder of clips it lists (file,letter,...)")
    raw = labels_path.read_bytes()
    try:
        reader = csv.DictReader(io.StringIO(raw.decode("utf-8-sig")), strict=True)
        header, rows = list(reader.fieldnames or []), list(reader)
    except UnicodeDecodeError as error:
        raise DataError(f"{labels_path} is not UTF-8 ({error.reason} at byte {error.start}); save it as "
                        "UTF-8") from None
    except csv.Error as error:
        raise DataError(f"{labels_path} is not a well-formed CSV ({error}); check its quotes") from None
    if not {"file", "letter"} <= set(header):
        raise DataError(f"{labels_path} needs the columns file,letter; its header is {','.join(header)!r}")
    repeated = sorted({name for name, count in Counter(header).items() if count > 1})
    if repeated:
        raise DataError(f"{labels_path} names the column(s) {', '.join(repeated)} more than once; keep one of each")
    if not rows:
        raise DataError(f"{labels_path} lists no clips; add a row per clip (file,letter)")
    ragged = [i + 2 for i, row in enumerate(rows) if None in row or None in row.values()]
    if ragged:
        raise DataError(f"{labels_path} line {ragged[0]} has {'more' if None in rows[ragged[0] - 2] else 'fewer'} "
                        f"fields than its header; give every row the header's {len(header)} columns")
    files = [row["file"] for row in rows]
    twice = sorted(f for f, count in Counter(files).items() if count > 1)
    if twice:
        raise DataError(f"{labels_path} lists {', '.join(twice)} more than once; keep one row per clip")
    outside = [f for f in files if not f or Path(f).name != f or f in (".", "..")]
    if outside:
        raise DataError(f"{labels_path} names {outside[0]!r}, not a file of {source}; a view links clips of the "
                        "folder itself (file names without folders)")
    reserved = [f for f in files if f in (LABELS, RECORD)]
    if reserved:
        raise DataError(f"{labels_path} lists {reserved[0]} as a clip; a view writes its own {reserved[0]}, so a clip "
                        "cannot have that name")
    missing = [f for f in files if not (source / f).is_file()]
    if missing:
        # This tool never writes the source: the fix is the user's, in the source (or a copy when it is read-only).
        raise DataError(f"{labels_path} names {len(missing)} missing clip(s): {', '.join(missing[:5])}; restore them "
                        f"in {source}, or remove their rows from its {LABELS} (a read-only source: copy the folder and "
                        "fix the copy)")
    return raw, header, rows


def listed_changes(source: Path, changes: dict[str, str], listed: list[str]) -> dict[str, str]:
    """`changes` keyed by the names labels.csv lists: a --set name is taken relative to SOURCE, and any spelling of
    a listed file's path (`./D_s3.mp4`, SOURCE/D_s3.mp4) is that file, as labels.csv readers elsewhere
    (read_clip_labels) read paths. DataError for a name that is no listed file or one file named twice."""
    by_path: dict[str, list[str]] = {}
    for file in listed:
        by_path.setdefault(os.path.realpath(source / file), []).append(file)
    resolved: dict[str, str] = {}
    spelled: dict[str, str] = {}  # listed file -> the --set name that named it
    unknown = []
    for name, letter in changes.items():
        matches = [name] if name in listed else by_path.get(os.path.realpath(source / name), [])
        if len(matches) > 1:  # links in the folder: two rows of one clip, and the name is neither of them
            raise DataError(f"--set {name} is the clip of {' and '.join(matches)} in {source / LABELS}; name the row "
                            "to change as its `file` column spells it")
        if not matches:
            unknown.append(name)
            continue
        file = matches[0]
        if file in resolved:
            raise DataError(f"--set names {file} twice (as {spelled[file]} and {name}); give each file one letter")
        resolved[file], spelled[file] = letter, name
    if unknown:
        raise DataError(f"{source / LABELS} lists no {', '.join(sorted(unknown))}; --set names a file in its `file` "
                        f"column (relative to {source})")
    return resolved


def relabel(source: Path, out: Path, changes: dict[str, str]) -> list[dict[str, str]]:
    """Write OUT (module docstring); returns the changes ({file, from, to} each, sorted by file), as
    relabelled.json records them, or [] when OUT already is this view (nothing written)."""
    raw, header, rows = read_rows(source)
    by_file = {row["file"]: row for row in rows}
    changes = listed_changes(source, changes, list(by_file))
    made = []
    for file in sorted(changes):
        row = by_file[file]
        if row["letter"].strip().upper() == changes[file]:
            raise DataError(f"{file} is already labelled {row['letter']} in {source / LABELS}; drop --set "
                            f"{file}={changes[file]}")
        made.append({"file": file, "from": row["letter"], "to": changes[file]})
        row["letter"] = changes[file]
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    record = {"source": str(source.resolve()), "source_labels_sha256": hashlib.sha256(raw).hexdigest(),
              "changes": made}
    files = {LABELS: text.getvalue().encode(), RECORD: (json.dumps(record, indent=1) + "\n").encode()}
    links = {row["file"]: (source / row["file"]).resolve() for row in rows}
    if _same_view(source, out, files, links):
        return []
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    except OSError as error:
        raise AslEdgeError(f"cannot create the view {out}: {error.strerror}; pass a new folder you can write") from None
    try:
        for name, target in links.items():
            os.symlink(target, staging / name)
        for name, data in files.items():
            (staging / name).write_bytes(data)
        staging.chmod(0o777 & ~current_umask())  # mkdtemp's folder is private; a view is a folder like any other
        os.rename(staging, out)  # atomic; refused when OUT appeared meanwhile (or is a non-empty folder)
    except BaseException as error:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(error, OSError):
            if _same_view(source, out, files, links):  # another run wrote the same view first
                return []
            raise AslEdgeError(f"cannot write the view {out}: {error.strerror}; pass a new folder you can "
                               "write") from None
        raise
    return made


def _same_view(source: Path, out: Path, files: dict[str, bytes], links: dict[str, Path]) -> bool:
    """True when OUT already is this view, whole (a rerun); False when it does not exist or is an empty folder;
    DataError for anything else."""
    if source.resolve() in (out.resolve(), *out.resolve().parents):
        raise DataError(f"{out} is {'the source folder' if out.resolve() == source.resolve() else 'inside it'}; a "
                        "view leaves the source untouched: pass a new folder outside it")
    if not out.exists() and not out.is_symlink():
        return False
    if not out.is_dir():
        raise DataError(f"{out} exists and is not a folder; pass a new folder for the view")
    if not any(out.iterdir()):
        return False
    if not (out / RECORD).is_file():
        raise DataError(f"{out} exists and was not written by this tool; pass a new folder for the view")
    for name, data in files.items():
        if not (out / name).is_file() or (out / name).read_bytes() != data:
            raise DataError(f"{out} is a view with other changes or of another source ({name} differs); pass a "
                            "new folder for this one")
    broken = [name for name, target in links.items()
              if not (out / name).is_symlink() or (out / name).resolve() != target]
    extra = sorted({p.name for p in out.iterdir()} - set(links) - set(files))
    if broken or extra:
        raise DataError(f"{out} is this view but changed since ({', '.join((broken + extra)[:3])}); remove it and "
                        "run again")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path, help="folder of clips with labels.csv")
    parser.add_argument("out", type=Path, help="new folder for the corrected view")
    parser.add_argument("--set", dest="changes", action="append", default=[], metavar="FILE=LETTER", required=True,
                        help="give FILE the label LETTER, one of A-Z (either case; repeatable)")
    args = parser.parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _terminated)  # as Ctrl-C: the staging folder is removed on the way out
    try:
        made = relabel(args.source, args.out, parse_changes(args.changes))
    except AslEdgeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"error: interrupted; {args.out} was not written", file=sys.stderr)
        return 130
    except OSError as error:
        print(f"error: {error.filename or args.out}: {error.strerror or error}; pass a source you can read and a new "
              "folder you can write", file=sys.stderr)
        return 2
    finally:
        signal.signal(signal.SIGTERM, previous)
    if not made:
        print(f"{args.out} is already this view; left as it is")
        return 0
    print(f"wrote {args.out}: " + ", ".join(f"{c['file']} {c['from']}->{c['to']}" for c in made))
    return 0


def _terminated(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    raise SystemExit(main())
