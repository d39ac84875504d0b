"""A run folder belongs to one training, and to one writer at a time.

`folder_lock(folder, job)` is an exclusive, non-blocking `fcntl.flock` on FOLDER/.asl-edge.lock, taken by
every job that writes into a run folder (train, export, build --out). A second process gets one line naming
the holder (pid, job, start time, read from the lock file). The kernel drops a flock when its process dies,
even by kill -9, so a lock file left behind by a dead process never blocks. A job removes the lock file when
it ends (still holding the lock); whoever locked the old file meanwhile sees that the path now names another
inode and tries again, so two processes never hold two files of the same name. Within one process the lock is
re-entrant: `asl-edge benchmark` exporting into a folder, or `train` calling `fit`, nest freely.

`claim_training_folder(folder, resume, exist_ok)` adds the training rule: a folder that already holds a
training (checkpoint.pt, last.pt or metrics.json) is refused unless the new job continues it (--resume) or
asks for the old run to be kept aside (--exist-ok: every old file moves to FOLDER/previous-N/, nothing is
deleted).

POSIX only (fcntl): asl-edge targets Linux (Jetson and workstations).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from asl_edge.errors import AslEdgeError

LOCK_NAME = ".asl-edge.lock"
# The files that make a folder a training run: the best weights, the resume state, the final report.
TRAINING_FILES = ("checkpoint.pt", "last.pt", "metrics.json")
PREVIOUS_PREFIX = "previous-"

# Folders this process holds: resolved path -> [open lock file descriptor, nesting depth].
_held: dict[Path, list[int]] = {}
_held_guard = threading.Lock()


class FolderInUseError(AslEdgeError):
    """Another process holds the folder's lock."""


class RunFolderError(AslEdgeError):
    """A run folder that already holds another training."""


HOLDER_WAIT_S = 0.5  # the holder writes its description just after taking the lock


def _holder(fd: int) -> str:
    """'pid N, JOB, started TIME' from the lock file's content. A holder that took the lock a moment ago may
    not have written it yet: read again for up to HOLDER_WAIT_S before saying "pid unknown"."""
    deadline = time.monotonic() + HOLDER_WAIT_S
    while True:
        try:
            info = json.loads(os.pread(fd, 4096, 0).decode("utf-8"))
            return f"pid {info['pid']}, {info['job']}, started {info['started']}"
        except (OSError, ValueError, KeyError, TypeError):
            if time.monotonic() >= deadline:
                return "pid unknown"
            time.sleep(0.02)


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike[str], job: str) -> Iterator[Path]:
    """Hold FOLDER/.asl-edge.lock exclusively while the block runs (creating the folder if needed).

    `job` names what holds it (train, export, build) in the message a second process gets. Raises
    FolderInUseError at once, without waiting, when another live process holds it; AslEdgeError when the
    folder cannot be created or written."""
    path = Path(folder)
    created = not path.exists()
    try:
        path.mkdir(parents=True, exist_ok=True)
        key = path.resolve()
    except OSError as exc:
        raise AslEdgeError(f"cannot write to output folder {path}: {exc.strerror or exc}; choose another "
                           "folder with --out") from exc
    with _held_guard:
        if key in _held:
            _held[key][1] += 1
            nested = True
        else:
            nested = False
    if nested:
        try:
            yield path
        finally:
            with _held_guard:
                _held[key][1] -= 1
        return
    fd = _acquire(key / LOCK_NAME, path)
    try:
        started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "job": job, "started": started}).encode() + b"\n", 0)
    except OSError:
        pass  # the lock holds without its description; a second process then says "pid unknown"
    with _held_guard:
        _held[key] = [fd, 1]
    try:
        yield path
    finally:
        with _held_guard:
            del _held[key]
        with contextlib.suppress(OSError):
            # Unlinked while still locked: a process that opened the old file re-checks the inode (_acquire).
            os.unlink(key / LOCK_NAME)
            if created and not any(key.iterdir()):
                key.rmdir()  # a job that failed before writing anything leaves no empty folder behind
        os.close(fd)  # closing the last descriptor releases the flock


def _acquire(lock: Path, folder: Path) -> int:
    """Open and flock `lock` without waiting; the descriptor of the locked file, which is then still the one at
    that path (a holder unlinks it on release, so a lock taken on the old inode is retried on the new file)."""
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise AslEdgeError(f"cannot write to output folder {folder}: {exc.strerror or exc}; choose another "
                               "folder with --out") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise FolderInUseError(f"{folder} is in use by another asl-edge process ({holder}); wait for it or "
                                   "choose another --out") from None
        except OSError as exc:
            os.close(fd)
            raise AslEdgeError(f"cannot lock {lock}: {exc.strerror or exc}; choose another folder with --out "
                               "(one on a local disk)") from exc
        try:
            same = os.stat(lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)


def training_files(folder: str | os.PathLike[str]) -> list[str]:
    """The names of TRAINING_FILES present in `folder`."""
    return [name for name in TRAINING_FILES if (Path(folder) / name).exists()]


def archive_previous(folder: str | os.PathLike[str]) -> Path | None:
    """Move every entry of `folder` (except the lock file and earlier previous-N folders) into a new
    FOLDER/previous-N (N = 1 + the highest present). Returns that folder, or None when there was nothing."""
    root = Path(folder)
    entries = [p for p in sorted(root.iterdir())
               if p.name != LOCK_NAME and not (p.name.startswith(PREVIOUS_PREFIX) and p.is_dir())]
    if not entries:
        return None
    numbers = [int(p.name[len(PREVIOUS_PREFIX):]) for p in root.glob(f"{PREVIOUS_PREFIX}*")
               if p.name[len(PREVIOUS_PREFIX):].isdigit()]
    target = root / f"{PREVIOUS_PREFIX}{max(numbers, default=0) + 1}"
    try:
        target.mkdir()
        for entry in entries:
            os.replace(entry, target / entry.name)  # same file system: a rename, nothing copied or lost
    except OSError as exc:
        raise AslEdgeError(f"cannot move the previous run in {root} to {target}: {exc.strerror or exc}; "
                           "move it yourself or choose another --out") from exc
    return target


def check_training_folder(folder: str | os.PathLike[str], resume: bool, exist_ok: bool,
                          resumable: bool = True) -> Path | None:
    """Apply the one-training rule to `folder` (call it holding the folder's lock).

    `resume` needs FOLDER/last.pt (RunFolderError without it). A folder without TRAINING_FILES passes. One
    with them passes with `resume` (continue that training),
    is moved aside with `exist_ok` (returns the previous-N folder), and is otherwise refused with
    RunFolderError. `resumable` False (landmark training, which restarts in seconds) leaves --exist-ok and a
    new --out as the fixes."""
    present = training_files(folder)
    if resume and resumable and not (Path(folder) / "last.pt").is_file():
        # Refused here, before anything is written: a new folder is removed again when its lock is released.
        raise RunFolderError(f"nothing to resume: {Path(folder) / 'last.pt'} does not exist; drop --resume to "
                             "start a new run")
    if not present or resume:
        return None
    if exist_ok:
        return archive_previous(folder)
    when = max((Path(folder) / name).stat().st_mtime for name in present)
    stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(when))
    fixes = ("continue it with --resume, keep it aside with --exist-ok (moved to "
             f"{Path(folder) / (PREVIOUS_PREFIX + 'N')}), or choose a new --out") if resumable else \
        f"keep it aside with --exist-ok (moved to {Path(folder) / (PREVIOUS_PREFIX + 'N')}) or choose a new --out"
    if (Path(folder) / "checkpoint.pt").is_file() and not (Path(folder) / "model.onnx").is_file():
        # a training that finished but whose export was interrupted (or skipped) needs no new training
        fixes += f"; if only its export is missing, `asl-edge export {folder}` writes it"
    raise RunFolderError(f"{folder} already holds a training ({', '.join(present)}, last written {stamp}); {fixes}")


@contextlib.contextmanager
def claim_training_folder(folder: str | os.PathLike[str], resume: bool = False, exist_ok: bool = False,
                          resumable: bool = True) -> Iterator[Path | None]:
    """Lock `folder` for training and apply `check_training_folder`; yields the previous-N folder the old
    run was moved to (--exist-ok), else None. Re-entrant: a nested claim in the same process only checks."""
    with folder_lock(folder, "train"):
        yield check_training_folder(folder, resume, exist_ok, resumable)
