"""Artifact I/O shared by every stage: atomic writes, file hashes, the cache folder.

(The ModelSpec inside ONNX files is read and written by asl_edge.onnx_header.)

Checkpoints, ONNX models, engines and reports are written to a temporary file in the destination
folder and renamed into place, so an interrupted run never leaves a half-written artifact behind.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from asl_edge.errors import AslEdgeError, DataError


def cache_dir(name: str) -> Path:
    """A folder under asl-edge's cache: $ASL_EDGE_CACHE (a leading ~ is the home folder), else (unset, empty or
    blank) ~/.cache/asl-edge."""
    # An empty value is unset, as for XDG_CACHE_HOME: Path("") would make the cache the current directory.
    value = os.environ.get("ASL_EDGE_CACHE", "").strip()
    return (Path(value).expanduser() if value else Path.home() / ".cache" / "asl-edge") / name


# What to do about a failed write, by errno; anything else gets the generic advice.
_WRITE_FIXES = {
    errno.ENOSPC: "free space on that drive or write somewhere else",
    errno.EDQUOT: "free space within your disk quota or write somewhere else",
    errno.EFBIG: "the file exceeds a size limit (ulimit -f or the file system's); write somewhere else",
    errno.EROFS: "that file system is mounted read-only; write somewhere else",
    errno.EACCES: "you lack permission there; write somewhere you own",
    errno.EPERM: "you lack permission there; write somewhere you own",
    errno.ENOTDIR: "a part of that path is a file, not a folder; pick a path inside a folder",
    errno.EISDIR: "that path is a folder; name a file",
    errno.ENOENT: "a folder on that path does not exist; create it or pick another path",
}


def write_error(path: str | os.PathLike[str], exc: OSError, what: str = "") -> AslEdgeError:
    """The one-line error for an OSError while writing `path`: the path, the errno's meaning and name
    (e.g. "No space left on device [ENOSPC]") and what to do about it."""
    code = exc.errno or 0
    name = errno.errorcode.get(code, "")
    meaning = f"{exc.strerror or exc}{f' [{name}]' if name else ''}"
    fix = _WRITE_FIXES.get(code, "check that the folder exists, is writable and has free space")
    return AslEdgeError(f"cannot write {what}{path}: {meaning}; {fix}")


def ensure_writable_dir(path: str | os.PathLike[str]) -> Path:
    """Create a folder (and parents) and prove it is writable, or raise a one-line error (`write_error`)."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise AslEdgeError(f"cannot write to output folder {folder}: it is a file, not a folder; "
                           "name a folder (or a path that does not exist yet)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise write_error(folder, exc, what="to output folder ") from exc
    return folder


@contextlib.contextmanager
def output_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """`ensure_writable_dir(path)` for the block that fills it: a folder this call created is removed again
    when the block raises before writing anything into it, so a failed job leaves no empty folder behind (an
    empty folder inside a dataset would even read as a class without images)."""
    folder = Path(path)
    created = not folder.exists()
    ensure_writable_dir(folder)
    try:
        yield folder
    except BaseException:
        if created:
            with contextlib.suppress(OSError):
                folder.rmdir()  # only when empty: OSError (ENOTEMPTY) keeps whatever was written
        raise


def current_umask() -> int:
    """The process's file-creation mask (read by setting it and setting it back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _temp_beside(target: Path) -> tuple[int, str]:
    """(fd, name) of a new private temporary file in `target`'s folder, named after it; OSError as mkstemp."""
    folder = target.parent if str(target.parent) else Path(".")
    return tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")


def _seal(handle: IO[Any], tmp_name: str) -> None:
    """Flush a written temporary file to disk and give it the permissions a plain open() would (mkstemp makes
    it 0600), ready to be renamed into place."""
    handle.flush()
    os.fsync(handle.fileno())
    os.chmod(tmp_name, 0o666 & ~current_umask())


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file beside `path`; on success rename it over `path`, on error remove it (and keep
    the old `path` as it was). An OSError while writing (disk full, read-only, quota) becomes one
    AslEdgeError naming `path` and the errno (`write_error`)."""
    target = Path(path)
    try:
        fd, tmp_name = _temp_beside(target)
    except OSError as exc:
        raise write_error(target, exc) from exc
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            _seal(handle, tmp_name)
        os.replace(tmp_name, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        if isinstance(exc, OSError) and exc.errno is not None:
            raise write_error(target, exc) from exc
        raise


def atomic_write_files(files: Mapping[Path, bytes]) -> None:
    """Write several files as one report: every file to a temporary beside it first, then all renamed into place.
    On an error nothing of this call is left: the temporaries are removed and so is any file already renamed
    into place (a report half old, half new would read as one run). Errors as `atomic_write`."""
    staged: list[tuple[str, Path]] = []
    placed: list[Path] = []
    target = Path()
    try:
        for target, data in files.items():
            fd, tmp_name = _temp_beside(target)
            staged.append((tmp_name, target))
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                _seal(handle, tmp_name)
        for tmp_name, target in staged:
            os.replace(tmp_name, target)
            placed.append(target)
    except BaseException as exc:
        for tmp_name, _ in staged:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)  # gone already for the ones renamed
        for path in placed:
            with contextlib.suppress(OSError):
                os.unlink(path)
        if isinstance(exc, OSError) and exc.errno is not None:
            raise write_error(target, exc) from exc
        raise


def append_line(path: str | os.PathLike[str], line: str) -> None:
    """Append one line to a log file (not atomic: a log grows); a failed write raises `write_error`."""
    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
    except OSError as exc:
        raise write_error(path, exc) from exc


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes | memoryview) -> None:
    with atomic_write(path, "wb") as handle:
        handle.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    with atomic_write(path, "w") as handle:
        handle.write(text)


def atomic_write_json(path: str | os.PathLike[str], data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def read_json(path: str | os.PathLike[str], what: str, fix: str) -> Any:
    """A JSON file's content. Raises DataError "cannot read {what} {path} (...); {fix}" when it is missing,
    unreadable or not JSON."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"cannot read {what} {path} ({type(exc).__name__}); {fix}") from exc
