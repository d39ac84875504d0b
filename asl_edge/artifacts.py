"""Artifact I/O shared by every stage: atomic writes, file hashes, the cache folder.

(The ModelSpec inside ONNX files is read and written by asl_edge.onnx_header.)

Checkpoints, ONNX models, engines and reports are written to a temporary file in the destination
folder and renamed into place, so an interrupted run never leaves a half-written artifact behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from asl_edge.errors import AslEdgeError


def cache_dir(name: str) -> Path:
    """A folder under asl-edge's cache: $ASL_EDGE_CACHE, else ~/.cache/asl-edge."""
    return Path(os.environ.get("ASL_EDGE_CACHE", Path.home() / ".cache" / "asl-edge")) / name


def ensure_writable_dir(path: str | os.PathLike[str]) -> Path:
    """Create a folder (and parents) and prove it is writable, or raise a one-line error."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise AslEdgeError(f"cannot write to output folder {folder}: {exc.strerror or exc}; "
                           "choose another folder with --out") from exc
    return folder


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file beside `path`; on success rename it over `path`, on error remove it."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    try:
        fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise AslEdgeError(f"cannot write {target}: {exc.strerror or exc}; check the folder exists "
                           "and is writable") from exc
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp makes the file private (0600); give it the permissions a plain open() would.
        os.chmod(tmp_name, 0o666 & ~_current_umask())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise


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
