"""The dataset `asl-edge collect` writes: a signer's own samples, one folder per letter plus their landmarks.

    OUT/frames/<LETTER>/<id>.jpg   full frames (absent when collected with --no-frames)
    OUT/crops/<LETTER>/<id>.jpg    the hand crop of `chain.hand_crop` (left hands mirrored): an image-folder dataset
    OUT/strokes/<J|Z>/<id>.stroke.npz  a J or Z drawn: the hand's trajectory over the stroke (strokes.py); the
                                   motion letters' samples, not rows of landmarks.npz
    OUT/landmarks.npz              landmarks (N, 21, 3) float32, full-frame pixels as `Hand.landmarks` gives them;
                                   handedness (N,) float32 (`Hand.handedness`, probability of a right hand);
                                   labels (N,) str; ids (N,) str (the jpg stems); frame_size (N, 2) int32 (w, h)
    OUT/collect.json               the manifest: format and version, created/updated (UTC), sessions (source, hand
                                   models with sha256, settings, samples), letter counts, stroke counts (`strokes`:
                                   letter -> files), whether frames are stored,
                                   flagged (id -> {looks_like, sample, distance}: samples `read_collected` leaves out)

Every write is atomic (a temporary file renamed into place) and comes in this order: the sample's jpgs, then
landmarks.npz with all rows (old and new), then the manifest. A session killed at any point therefore keeps every
sample whose npz row was written; at worst the last sample's jpgs exist without a row (`orphans()` lists them).
The npz is the truth for counts: the manifest's are recomputed from it on every write.

It lives in the hand stage's package because training (`asl_edge.train`) reads it and the live app writes it.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import zipfile
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from asl_edge import __version__
from asl_edge.artifacts import atomic_write, atomic_write_bytes, atomic_write_json, ensure_writable_dir, sha256_file
from asl_edge.errors import DataError
from asl_edge.runtime.hand.chain import hand_crop
from asl_edge.runtime.hand.models import NUM_LANDMARKS
from asl_edge.runtime.hand.strokes import Stroke, read_strokes, stroke_files, stroke_path, write_stroke
from asl_edge.runtime.hand.tracker import Hand
from asl_edge.spec import ASL_LETTERS

FORMAT = "asl-edge-collect"
FORMAT_VERSION = 1
LANDMARKS_FILE = "landmarks.npz"
MANIFEST_FILE = "collect.json"
LOCK_FILE = ".collect.lock"  # held (flock) by the session writing the folder
FRAMES_DIR, CROPS_DIR = "frames", "crops"
JPEG_QUALITY = 95
ARRAYS = ("landmarks", "handedness", "labels", "ids", "frame_size")


@dataclass(frozen=True)
class CollectedSamples:
    """The rows of landmarks.npz (see the module docstring for shapes, dtypes and units)."""

    landmarks: np.ndarray
    handedness: np.ndarray
    labels: np.ndarray
    ids: np.ndarray
    frame_size: np.ndarray

    @classmethod
    def empty(cls) -> CollectedSamples:
        return cls(np.zeros((0, NUM_LANDMARKS, 3), np.float32), np.zeros(0, np.float32), np.zeros(0, "<U1"),
                   np.zeros(0, "<U1"), np.zeros((0, 2), np.int32))

    def __len__(self) -> int:
        return len(self.ids)

    def counts(self) -> dict[str, int]:
        """Samples per label, labels sorted."""
        return dict(sorted(Counter(str(label) for label in self.labels).items()))

    def appended(self, label: str, sample_id: str, hand: Hand, width: int, height: int) -> CollectedSamples:
        return CollectedSamples(
            np.concatenate([self.landmarks, hand.landmarks[None].astype(np.float32)]),
            np.concatenate([self.handedness, np.array([hand.handedness], np.float32)]),
            np.array([*map(str, self.labels), label]), np.array([*map(str, self.ids), sample_id]),
            np.concatenate([self.frame_size, np.array([[width, height]], np.int32)]))

    def only(self, sample_ids: list[str]) -> CollectedSamples:
        """The samples with these ids, in recording order; an id not here is a DataError (e.g. the held-out ids a
        personalised model records, read against another folder)."""
        missing = sorted(set(sample_ids) - {str(i) for i in self.ids})
        if missing:
            raise DataError(f"{len(missing)} of the {len(set(sample_ids))} samples asked for are not in this collect "
                            f"dataset (e.g. {missing[0]}); pass the --data folder the model was personalised on")
        keep = np.isin(self.ids, sample_ids)
        return CollectedSamples(self.landmarks[keep], self.handedness[keep], self.labels[keep], self.ids[keep],
                                self.frame_size[keep])

    def without(self, sample_id: str) -> CollectedSamples:
        keep = self.ids != sample_id
        return CollectedSamples(self.landmarks[keep], self.handedness[keep], self.labels[keep], self.ids[keep],
                                self.frame_size[keep])


def read_collected(folder: str | os.PathLike[str], include_flagged: bool = False) -> CollectedSamples:
    """The samples of a collect dataset; DataError when the folder or its landmarks.npz is missing or malformed.
    Samples the manifest flags (`flagged`: they look like another letter's, runtime/live/collect/review.py) are
    left out unless `include_flagged`: training must not take them silently."""
    path = Path(folder) / LANDMARKS_FILE
    if not path.is_file() and (Path(folder) / MANIFEST_FILE).is_file():  # a session that ended before a sample
        raise DataError(f"{folder} is an `asl-edge collect` folder with no still-letter samples yet; record some with "
                        f"`asl-edge collect --source 0 --out {folder}`")
    if not path.is_file():
        raise DataError(f"{folder} has no {LANDMARKS_FILE}: it is not a dataset written by `asl-edge collect` "
                        "(collect some samples with `asl-edge collect --source 0 --out FOLDER`)")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in ARRAYS}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        # A truncated or overwritten npz is a BadZipFile or EOFError, neither an OSError nor a ValueError.
        raise DataError(f"{path} is not a readable collect landmarks file ({exc}); restore it from a backup or "
                        "collect into a new folder") from None
    samples = CollectedSamples(arrays["landmarks"].astype(np.float32), arrays["handedness"].astype(np.float32),
                               arrays["labels"].astype(str), arrays["ids"].astype(str),
                               arrays["frame_size"].astype(np.int32))
    n = len(samples.ids)
    shapes = {"landmarks": (n, NUM_LANDMARKS, 3), "handedness": (n,), "labels": (n,), "frame_size": (n, 2)}
    for name, shape in shapes.items():
        if getattr(samples, name).shape != shape:
            raise DataError(f"{path}: {name} has shape {getattr(samples, name).shape}, expected {shape}; the file "
                            "is damaged - restore it or collect into a new folder")
    bad = ~np.isfinite(samples.landmarks).all(axis=(1, 2))
    if bad.any():  # a NaN row would turn every weight of a personalised model into NaN
        raise DataError(f"{path}: {int(bad.sum())} samples have non-finite landmarks (e.g. {samples.ids[bad][0]}); "
                        "the file is damaged - restore it or collect into a new folder")
    odd = sorted({str(label) for label in samples.labels if label not in ASL_LETTERS})
    if odd:  # collect records the letters A-Z only; anything else would train as a class of its own
        raise DataError(f"{path}: labels {', '.join(map(repr, odd[:5]))} are not letters A-Z, the only ones collect "
                        "records; the file was edited or damaged - restore it or collect into a new folder")
    ids, counts = np.unique(samples.ids, return_counts=True)
    if (counts > 1).any():  # ids name the jpgs and pick eval --compare's held-out samples: one row each
        raise DataError(f"{path}: sample id {ids[counts > 1][0]} is on {counts.max()} rows; the file is damaged - "
                        "restore it or collect into a new folder")
    flagged = set() if include_flagged else flagged_ids(folder)
    return samples.only([str(i) for i in samples.ids if str(i) not in flagged]) if flagged else samples


def flagged_ids(folder: str | os.PathLike[str]) -> set[str]:
    """The ids collect.json flags as looking like another letter's samples (none without a manifest)."""
    if not (Path(folder) / MANIFEST_FILE).is_file():
        return set()
    return set(read_manifest(folder).get("flagged") or {})


def read_manifest(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The folder's collect.json; DataError naming the file (and the field) when it is unreadable, not a collect
    manifest, newer than this asl-edge, or a field has the wrong type."""
    path = Path(folder) / MANIFEST_FILE
    try:
        manifest: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {path} ({exc}); restore it or collect into a new folder") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise DataError(f"{path} is not an asl-edge collect manifest; collect into another folder with --out")
    version = manifest.get("version", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        raise DataError(f"{path} has version {version!r}, not a whole number; restore the manifest from a backup or "
                        "collect into a new folder with --out")
    if version > FORMAT_VERSION:
        raise DataError(f"{path} is format version {version}, newer than this asl-edge reads "
                        f"({FORMAT_VERSION}); upgrade asl-edge")
    for key, kind, what in (("flagged", dict, "an object (id -> finding)"), ("samples", int, "a whole number")):
        if manifest.get(key) is not None and (not isinstance(manifest[key], kind) or isinstance(manifest[key], bool)):
            raise DataError(f"{path}: `{key}` is {manifest[key]!r}, not {what}; restore the manifest from a backup "
                            "or collect into a new folder with --out")
    # Every manifest collect writes has the list; a session appends itself to it and reads `samples` from each entry.
    sessions = manifest.get("sessions")
    if not isinstance(sessions, list) or not all(isinstance(session, dict) for session in sessions):
        found = "missing" if "sessions" not in manifest else repr(sessions)
        raise DataError(f"{path}: `sessions` is {found}, not a list of objects (one per session); restore the "
                        "manifest from a backup or collect into a new folder with --out")
    return manifest


def sample_paths(folder: str | os.PathLike[str], label: str, sample_id: str) -> tuple[Path, Path]:
    """(frame jpg, crop jpg) of one sample."""
    root = Path(folder)
    return root / FRAMES_DIR / label / f"{sample_id}.jpg", root / CROPS_DIR / label / f"{sample_id}.jpg"


def hand_model_record(paths: tuple[Path, Path], variant: str, description: str) -> dict[str, Any]:
    """What the manifest says about the hand models a session used: variant, runtime, each file and its sha256."""
    return {"variant": variant, "runtime": description,
            **{role: {"file": path.name, "sha256": sha256_file(path)}
               for role, path in zip(("palm_detector", "hand_landmarks"), paths, strict=True)}}


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class CollectedWriter:
    """Appends samples to a collect dataset (new or existing), one atomic write sequence per sample.

    folder: created if missing; an existing non-empty folder must be a collect dataset. session: what this
    session records in the manifest (source, hand models, settings); `add` and `remove` keep it up to date."""

    folder: Path
    store_frames: bool = True
    session: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.folder = Path(self.folder)
        if (self.folder.is_dir() and any(p.name != LOCK_FILE for p in self.folder.iterdir())
                and not (self.folder / MANIFEST_FILE).is_file()):
            raise DataError(f"{self.folder} is not empty and holds no {MANIFEST_FILE}: not a collect dataset; "
                            "choose a new or empty folder with --out")
        self._created = not self.folder.exists()  # a session that records nothing removes what it made
        ensure_writable_dir(self.folder)
        self._lock = _lock_folder(self.folder)
        try:
            self._open()
        except BaseException:
            self._lock.close()
            raise

    def _open(self) -> None:
        now = utc_now()
        self._manifest_before: bytes | None = None  # put back as it was by a session that records nothing
        if (self.folder / MANIFEST_FILE).is_file():
            self._manifest_before = (self.folder / MANIFEST_FILE).read_bytes()
            self.manifest = read_manifest(self.folder)
            landmarks = self.folder / LANDMARKS_FILE
            recorded = int(self.manifest.get("samples") or 0)
            if not landmarks.is_file() and recorded:
                # Writing a fresh npz would drop the recorded rows for good (their jpgs would be orphans).
                raise DataError(f"{landmarks} is missing but {self.folder / MANIFEST_FILE} records {recorded} "
                                "samples; restore it from a backup or collect into a new folder with --out")
            self.samples = (read_collected(self.folder, include_flagged=True) if landmarks.is_file()
                            else CollectedSamples.empty())
            # A damaged stroke would otherwise surface only at `train`, after this session added to the folder.
            read_strokes(self.folder)
        else:
            self.manifest = {"format": FORMAT, "version": FORMAT_VERSION, "created": now.isoformat(),
                             "sessions": []}
            self.samples = CollectedSamples.empty()
        self.session = {"started": now.isoformat(), "frames_stored": self.store_frames, "samples": 0,
                        **self.session}
        self.manifest["sessions"].append(self.session)
        self.added: list[str] = []  # ids written by this session (samples and strokes), in order
        self._strokes: dict[str, str] = {}  # id -> letter of the strokes this session wrote
        self._next = 0
        self._stamp = now.strftime("%Y%m%dT%H%M%S")
        self._write_manifest()

    def add(self, label: str, frame: np.ndarray, hand: Hand) -> str:
        """Write one sample (frame, crop, landmarks row) and return its id: `<LABEL>-<session UTC start>-<n>`."""
        sample_id = self._new_id(label)
        frame_path, crop_path = sample_paths(self.folder, label, sample_id)
        if self.store_frames:
            _write_jpeg(frame_path, frame)
        _write_jpeg(crop_path, hand_crop(frame, hand.landmarks, hand.handedness))
        height, width = frame.shape[:2]
        self.samples = self.samples.appended(label, sample_id, hand, width, height)
        self.added.append(sample_id)
        self._write_npz()
        self.session["samples"] = len(self.added)
        self._write_manifest()
        return sample_id

    def add_stroke(self, label: str, stroke: Stroke, frame_size: tuple[int, int]) -> str:
        """Write one J or Z stroke (strokes.py) and return its id, formed like a sample's."""
        sample_id = self._new_id(label)
        write_stroke(stroke_path(self.folder, label, sample_id),
                     replace(stroke, source=str(self.session.get("source") or ""), frame_size=frame_size))
        self.added.append(sample_id)
        self._strokes[sample_id] = label
        self.session["samples"] = len(self.added)
        self._write_manifest()
        return sample_id

    def flag(self, flagged: dict[str, dict[str, Any]]) -> None:
        """Record which samples look like another letter's (review.py); they stay on disk, training skips them."""
        self.manifest["flagged"] = flagged
        self._write_manifest()

    def remove(self, sample_id: str) -> None:
        """Drop a sample of this session (redo): its row first, then its files, so no row ever lacks its jpgs."""
        if sample_id not in self.added:
            raise ValueError(f"{sample_id} was not added by this session")
        if sample_id in self._strokes:
            stroke_path(self.folder, self._strokes.pop(sample_id), sample_id).unlink(missing_ok=True)
            self.added.remove(sample_id)
            self.session["samples"] = len(self.added)
            self._write_manifest()
            return
        label = str(self.samples.labels[self.samples.ids == sample_id][0])
        self.samples = self.samples.without(sample_id)
        self.added.remove(sample_id)
        self._write_npz()
        for path in sample_paths(self.folder, label, sample_id):
            path.unlink(missing_ok=True)
        self.session["samples"] = len(self.added)
        self._write_manifest()

    def close(self) -> None:
        """End the session. One that recorded nothing leaves no trace (issue 21: a failed collect left a
        collect.json behind, so the folder looked like a dataset): the manifest is put back byte for byte as it
        was, or deleted when this session wrote the first one, with the folder when this session created it."""
        self.session["ended"] = utc_now().isoformat()
        try:
            if self.added:
                self._write_manifest()
            else:
                self._forget_session()
        finally:
            self._lock.close()  # releases the flock
            if not self.added and not (self.folder / MANIFEST_FILE).exists():
                (self.folder / LOCK_FILE).unlink(missing_ok=True)
                if self._created:
                    _remove_empty_tree(self.folder)

    def _forget_session(self) -> None:
        self.manifest["sessions"] = [s for s in self.manifest["sessions"] if s is not self.session]
        if self._manifest_before is not None:
            atomic_write_bytes(self.folder / MANIFEST_FILE, self._manifest_before)
        else:
            (self.folder / MANIFEST_FILE).unlink(missing_ok=True)

    def orphans(self) -> list[Path]:
        """Sample jpgs without a landmarks row (a session killed between a sample's jpgs and its row)."""
        known = {str(i) for i in self.samples.ids}
        return sorted(path for sub in (FRAMES_DIR, CROPS_DIR) for path in (self.folder / sub).glob("*/*.jpg")
                      if path.stem not in known)

    def _new_id(self, label: str) -> str:
        # Unique across sessions by the session's start time; the check covers two sessions in one second.
        taken = {str(i) for i in self.samples.ids} | {path.name.split(".")[0] for path in stroke_files(self.folder)}
        while f"{label}-{self._stamp}-{self._next}" in taken:
            self._next += 1
        self._next += 1
        return f"{label}-{self._stamp}-{self._next - 1}"

    def _write_npz(self) -> None:
        with atomic_write(self.folder / LANDMARKS_FILE) as handle:
            np.savez(handle, **{name: getattr(self.samples, name) for name in ARRAYS})

    def _write_manifest(self) -> None:
        sessions = self.manifest["sessions"]
        self.manifest.update({
            "updated": utc_now().isoformat(), "asl_edge_version": __version__,
            "source": self.session.get("source"), "hand_models": self.session.get("hand_models"),
            "letters": self.samples.counts(), "samples": len(self.samples),
            "strokes": dict(Counter(path.parent.name for path in stroke_files(self.folder))),
            # Whether every sample of the dataset has its full frame (False once any session used --no-frames).
            "frames_stored": all([s.get("frames_stored", True) for s in sessions if s.get("samples")]
                                 or [self.store_frames]),
        })
        atomic_write_json(self.folder / MANIFEST_FILE, self.manifest)


def _lock_folder(folder: Path) -> Any:
    """An exclusive flock on FOLDER/.collect.lock, held until the returned file is closed (or the process ends,
    even by kill -9). Two sessions on one folder would each rewrite landmarks.npz with only their own rows."""
    handle = open(folder / LOCK_FILE, "a+")  # noqa: SIM115 - held open for the session's life
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise DataError(f"another `asl-edge collect` is writing to {folder}; let it finish (or stop it) first, "
                        "or collect into another folder with --out") from None
    return handle


def _remove_empty_tree(folder: Path) -> None:
    """Remove folder and the empty folders under it; anything with a file in it stays."""
    for path in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    if not any(folder.iterdir()):
        folder.rmdir()


def _write_jpeg(path: Path, image: np.ndarray) -> None:
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise DataError(f"OpenCV could not encode {path.name} as JPEG")
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buffer.tobytes())
