"""Output files that would write over one of the command's inputs or over each other, refused before anything is
opened for writing (`run`, `demo`, `collect`): `--save self.mp4` on `--source self.mp4` replaced the clip being read,
and `--events model.onnx` appended JSON lines to the model, which then no longer loaded."""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from pathlib import Path

from asl_edge.errors import DataError

# A name beside the clashing path for each output, for the error's fix.
ELSEWHERE = {"--save": ".annotated{suffix}", "--events": ".events.jsonl", "--transcript": ".txt"}


def same_file(a: str, b: str) -> bool:
    """Whether two paths name one file: equal once `./`, `..` and symlinks are resolved, or one file under two
    names (a hard link; only when both exist)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist yet
        return False


def source_file(uri: str) -> str | None:
    """The local file a --source names (a video or a photo, plain or file://), else None (cameras, streams and
    folders: nothing an output could overwrite)."""
    text = uri.strip()
    scheme, sep, rest = text.partition("://")
    if sep:
        if scheme.lower() != "file":
            return None
        text = rest
    path = os.path.expanduser(text)
    return path if os.path.isfile(path) else None


def refuse_overwrites(outputs: Sequence[tuple[str, object]], inputs: Sequence[tuple[str, object]],
                      protected: Path | None = None) -> None:
    """`outputs`: (option, path) the command will write, None or "-" (standard output) for none; `inputs`: (what,
    value) it reads: an option ("--source" as given, only a local file counting; the others paths) or a description
    of a file it finds itself ("the spec beside the model"), None for none; `protected`: a folder no output may be
    in (the package's bundled files: the default models, the hand models, the demo clip). Raises DataError naming
    the first output that is an input file, in `protected`, or another output."""
    written = [(option, str(path)) for option, path in outputs if path is not None and str(path) != "-"]
    read = []
    for what, value in inputs:
        path = None if value is None else source_file(str(value)) if what == "--source" else str(value)
        if path is not None and os.path.isfile(path):
            read.append((f"the {what} file" if what.startswith("--") else what, str(value), path))
    for option, path in written:
        stem, suffix = os.path.splitext(path)
        elsewhere = stem + ELSEWHERE[option].format(suffix=suffix)
        for what, given, input_path in read:
            if same_file(path, input_path):
                raise DataError(f"{option} {path} is {what} ({given}): this would write over its own input; write "
                                f"elsewhere, e.g. {option} {elsewhere}")
        if protected is not None and Path(os.path.realpath(path)).is_relative_to(os.path.realpath(protected)):
            raise DataError(f"{option} {path} is inside asl-edge's bundled files ({protected}), which it reads; write "
                            "elsewhere, e.g. in your home folder")
    for (first, path), (second, other) in itertools.combinations(written, 2):
        if same_file(path, other):
            also = f" (as {other})" if other != path else ""
            raise DataError(f"{first} and {second} both name {path}{also}; give each its own file")
