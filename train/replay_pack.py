"""A replay pack: the start model's training landmarks in one small .npz, so personalisation (`asl-edge train
--init-from MODEL --replay-data PACK.npz`) runs where the training photos and the hand models are not, e.g. on
the Jetson. Written on the workstation with `asl-edge train --init-from MODEL --write-replay PACK.npz`.

A pack holds, per photo of every replayed dataset, what `stack_landmark_sets` reads from the hand stage's
landmark cache (`asl_edge.runtime.hand.extract.load_landmark_dataset`): the label (str) and whether a hand was
found for every photo (the split is drawn over all photos, found or not, as training drew it), and for the photos
with a hand their landmarks (21, 3) float32 in image pixels and handedness float32. Replaying a pack therefore
stacks exactly the arrays replaying the folders stacks, training part and original hold-out alike (the hold-out is
kept: personalisation measures forgetting on it). The start model's recorded `HeldOutSplit` is stored as well and
must match the model's at personalise time.

Arrays (N photos of all datasets in order, F of them with a hand): `set` (N,) int16 dataset index, `labels` (N,)
str, `found` (N,) bool, `landmarks` (F, 21, 3) float32, `handedness` (F,) float32; `meta` is a JSON string:
`format`, `datasets` (names as the model records them), `classes` per dataset, `split` (HeldOutSplit
provenance), `sources` (per dataset: folder, photo count, sha256 of its landmark arrays), `created` (UTC),
`asl_edge_version`, `start_model` and its sha256.

The bundled pack (`BUNDLED_PACK`, asl_edge/assets/asl_landmarks.replay.npz, card REPLAY_PACK.md beside it) is this
pack for the bundled landmark model, shipped so that the first personalisation takes seconds instead of the ten
minutes of extracting 6,520 photos' landmarks. `make replay-pack` rebuilds it from the photos (after retraining
the bundled model); `fits` says whether a pack replays a given start model's training data, and a test fails
when the bundled model and pack disagree.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from asl_edge import __version__
from asl_edge.artifacts import atomic_write, sha256_file
from asl_edge.datasets import HeldOutSplit
from asl_edge.errors import DataError
from asl_edge.train.landmarks import LandmarkDatasetLike

FORMAT = "asl-edge replay pack v1"
NUM_LANDMARKS = 21
# The bundled landmark model's replay data (module docstring); found the way the hand models' assets are, without
# importing the hand stage (a Jetson personalising from a pack may not have it).
BUNDLED_PACK = Path(str(resources.files("asl_edge") / "assets")) / "asl_landmarks.replay.npz"


@dataclass(frozen=True)
class PackedSet:
    """One dataset read back from a pack (a LandmarkDatasetLike): landmarks (N, 21, 3) float32 pixels and
    handedness (N,) float32, zeros where no hand was found; found (N,) bool; labels (N,) int64 into classes."""

    landmarks: np.ndarray
    handedness: np.ndarray
    found: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]


def is_replay_pack(path: str | os.PathLike[str]) -> bool:
    """True when `--replay-data` names a file (a pack) rather than a folder of photos."""
    return Path(path).suffix.lower() == ".npz"


def _arrays_sha256(ds: LandmarkDatasetLike) -> str:
    digest = hashlib.sha256()
    for array in (ds.landmarks, ds.handedness, ds.found, ds.labels):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def write_replay_pack(path: str | os.PathLike[str], replay: Sequence[tuple[str, LandmarkDatasetLike]],
                      split: HeldOutSplit, start: str | os.PathLike[str]) -> dict[str, Any]:
    """Write `replay` ((name, dataset) as `load_landmark_sets` returns them) with the start model's `split` to
    the pack `path`, atomically; return its meta. Raises DataError for an empty replay."""
    if not replay:
        raise DataError("no replay data to pack; pass the start model's training folders with --replay-data FOLDER")
    sets, labels, found, lm, hand, sources = [], [], [], [], [], []
    for index, (name, ds) in enumerate(replay):
        hit = np.asarray(ds.found, bool)
        sets.append(np.full(len(hit), index, np.int16))
        labels.append(np.asarray(ds.classes)[np.asarray(ds.labels, np.int64)])
        found.append(hit)
        lm.append(np.asarray(ds.landmarks, np.float32)[hit])
        hand.append(np.asarray(ds.handedness, np.float32)[hit])
        sources.append({"folder": str(Path(name).resolve()), "photos": len(hit), "with_hand": int(hit.sum()),
                        "landmarks_sha256": _arrays_sha256(ds)})
    meta = {"format": FORMAT, "datasets": [name for name, _ in replay],
            "classes": [list(ds.classes) for _, ds in replay], "split": split.provenance(), "sources": sources,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "asl_edge_version": __version__,
            "start_model": str(start), "start_sha256": sha256_file(start) if Path(start).is_file() else None}
    with atomic_write(path) as handle:
        np.savez_compressed(handle, set=np.concatenate(sets), labels=np.concatenate(labels),
                            found=np.concatenate(found), landmarks=np.concatenate(lm),
                            handedness=np.concatenate(hand), meta=np.array(json.dumps(meta)))
    return meta


def read_replay_pack(path: str | os.PathLike[str]) -> tuple[list[tuple[str, PackedSet]], HeldOutSplit, dict[str, Any]]:
    """A pack -> ((name, PackedSet) per dataset, its recorded split, its meta). Raises DataError naming the
    file for a missing, corrupt or foreign one."""
    fix = "write it again on the workstation with `asl-edge train --init-from MODEL --write-replay PACK.npz`"
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in ("set", "labels", "found", "landmarks", "handedness", "meta")}
        meta = json.loads(str(arrays["meta"]))
    except FileNotFoundError:
        raise DataError(f"replay pack {path} does not exist; {fix}") from None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"{path} is not a readable replay pack ({type(exc).__name__}); {fix}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise DataError(f"{path} is not an {FORMAT} (format {meta.get('format') if isinstance(meta, dict) else '?'})"
                        f"; {fix}")
    which, found = arrays["set"].astype(np.int64), arrays["found"].astype(bool)
    names, classes = meta["datasets"], meta["classes"]
    if (arrays["landmarks"].shape != (int(found.sum()), NUM_LANDMARKS, 3) or len(arrays["handedness"]) != found.sum()
            or not len(which) == len(found) == len(arrays["labels"]) or len(names) != len(classes)
            or (len(which) and not 0 <= which.min() <= which.max() < len(names))):
        raise DataError(f"replay pack {path} has arrays of inconsistent sizes; {fix}")
    full_lm = np.zeros((len(found), NUM_LANDMARKS, 3), np.float32)
    full_hand = np.zeros(len(found), np.float32)
    full_lm[found], full_hand[found] = arrays["landmarks"], arrays["handedness"]
    sets = []
    for index, (name, names_of_classes) in enumerate(zip(names, classes, strict=True)):
        rows = which == index
        lookup = {c: i for i, c in enumerate(names_of_classes)}
        try:
            labels = np.array([lookup[str(label)] for label in arrays["labels"][rows]], np.int64)
        except KeyError as exc:
            raise DataError(f"replay pack {path} labels a photo {exc} outside its classes; {fix}") from None
        sets.append((str(name), PackedSet(full_lm[rows], full_hand[rows], found[rows], labels,
                                          tuple(names_of_classes))))
    split = HeldOutSplit.recorded(meta["split"])
    if split is None:
        raise DataError(f"replay pack {path} records no held-out split; {fix}")
    return sets, split, meta


def read_pack_meta(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Only the pack's meta (cheap: the arrays stay unread). Raises DataError like read_replay_pack."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"{path} is not a readable replay pack ({type(exc).__name__}); rebuild it with "
                        "`make replay-pack`") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise DataError(f"{path} is not an {FORMAT}; rebuild it with `make replay-pack`")
    return meta


def fits(meta: dict[str, Any], recorded: HeldOutSplit) -> bool:
    """Whether a pack with this meta replays what a start model recording `recorded` was trained on: some of its
    datasets (by folder name, as the model records them relative to where it ran; the bundled pack leaves out
    the video letters, whose recordings carry no licence to ship) and the same split."""
    split = HeldOutSplit.recorded(meta.get("split") or {})
    names = [Path(d).name for d in meta.get("datasets", [])]
    return (split is not None and bool(names) and set(names) <= {Path(d).name for d in recorded.datasets}
            and (split.val_fraction, split.seed) == (recorded.val_fraction, recorded.seed))
