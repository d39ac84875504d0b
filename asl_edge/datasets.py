"""Labelled images from disk, without torch: image folders and the Kaggle Sign Language MNIST CSV.

Training wraps these in a torch Dataset with augmentation; export, evaluation and the benchmark use
them directly. The stratified split is a pure function of labels and seed, so every stage evaluates on
exactly the same held-out images.
"""

from __future__ import annotations

import csv
import itertools
import os
import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from asl_edge.errors import DataError
from asl_edge.progress import track
from asl_edge.spec import SIGN_MNIST_LETTERS

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}
# Photo formats OpenCV's decoders do not take (or not in every build): named when skipped, never silently.
OTHER_IMAGE_SUFFIXES = {".gif", ".heic", ".heif", ".avif", ".jxl", ".svg", ".dng", ".cr2", ".nef", ".arw"}
SIGN_MNIST_PIXELS = 28 * 28
SIGN_MNIST_UNUSED = (9, 25)  # J and Z need motion; labels 9 and 25 never occur
# The held-out split every stage uses unless told otherwise: a fifth of each class, drawn with seed 0.
DEFAULT_VAL_FRACTION = 0.2
DEFAULT_SPLIT_SEED = 0
# Which images an evaluation scores: the held-out split ("val"), every image ("all"), or "auto": the held-out
# split when the data is what the model was trained on, else all (asl-edge eval --split).
EVAL_SPLITS = ("auto", "val", "all")
# Loaded photos keep at most this many times the model's input side (their shorter side): room for
# training's zoom/rotate margin (1.25x) and area-resampling, while memory stays bounded by the model's
# resolution, not the camera's (a 4032x3024 phone photo is 36 MB decoded).
MAX_SIDE_FACTOR = 2
# ...but never below this: photos of dataset scale (asl-alphabet-mini's are 200x200) load as they are, so the
# augmentation samples the same pixels as before the bound and the documented training results still reproduce;
# a phone photo kept at 256 px is 0.26 MB.
MIN_KEPT_SIDE = 256


def kept_side(input_side: int) -> int:
    """The shorter side, in pixels, that loaded photos are shrunk to for a model with `input_side`-pixel inputs."""
    return max(MAX_SIDE_FACTOR * input_side, MIN_KEPT_SIDE)


@dataclass
class LabelledImages:
    """Decoded uint8 images (BGR HxWx3 or gray HxW), their class indices, and where each came from."""

    images: list[np.ndarray]
    labels: np.ndarray
    classes: tuple[str, ...]
    sources: list[str]

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, indices: Sequence[int] | np.ndarray) -> LabelledImages:
        idx = [int(i) for i in indices]
        return LabelledImages([self.images[i] for i in idx], self.labels[idx].copy(), self.classes,
                              [self.sources[i] for i in idx])

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.labels, minlength=len(self.classes))
        return {name: int(c) for name, c in zip(self.classes, counts, strict=True)}

    def relabel(self, classes: Sequence[str]) -> LabelledImages:
        """The same images with indices into another class list (e.g. a model's labels)."""
        classes = tuple(classes)
        missing = sorted(set(self.classes) - set(classes))
        if missing:
            raise DataError(f"classes {', '.join(missing)} of the dataset are not among the model's labels; "
                            "evaluate on data with the model's classes")
        mapping = np.array([classes.index(name) for name in self.classes], np.int64)
        return LabelledImages(self.images, mapping[self.labels], classes, self.sources)


def shrink_to(image: np.ndarray, max_side: int | None) -> np.ndarray:
    """`image` scaled down (area resampling, aspect kept) so its shorter side is at most `max_side` pixels;
    unchanged when already that small or `max_side` is None."""
    height, width = image.shape[:2]
    short = min(height, width)
    if max_side is None or short <= max_side:
        return image
    factor = max_side / short
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def read_image(path: str | os.PathLike[str], max_side: int | None = None) -> np.ndarray | None:
    """The photo at `path` as a BGR uint8 (H, W, 3) array (gray and alpha images converted, EXIF orientation
    applied), shrunk with `shrink_to(max_side)`; None when it cannot be read: an empty file, one no decoder
    takes (a truncated JPEG with OpenCV 5), a folder, a broken link. Every command reads photos through
    this, so a file one of them skips is skipped by all."""
    # imdecode(fromfile), not imread: imread crashes the interpreter on a file name that is not valid UTF-8
    # (OpenCV 5.1) and fails on non-ASCII paths on some platforms.
    try:
        data = np.fromfile(os.fspath(path), np.uint8)
    except (OSError, ValueError):
        return None
    if data.size == 0:
        return None
    try:
        image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    except cv2.error:
        return None
    # Shrunk right after decoding, so only `workers` full-size images ever exist at once.
    return shrink_to(image, max_side) if image is not None and image.size else None


def check_dataset_path(path: str | os.PathLike[str], csv_ok: bool = True, option: str | None = None) -> Path:
    """`path` if it can be a dataset (a folder, or with `csv_ok` a .csv file), else one DataError saying
    what it is instead (and, with `option`, which option takes the right thing). Cheap: commands call it
    before importing torch or loading anything."""
    path = Path(path)
    kinds = "a folder of class folders" + (" or a Sign Language MNIST .csv file" if csv_ok else "")
    if path.is_dir() or (csv_ok and path.is_file() and path.suffix.lower() == ".csv"):
        return path
    fix = f"pass {option} with {kinds}" if option else f"pass {kinds}"
    if not path.exists():
        raise DataError(f"dataset {path} does not exist; {fix}")
    what = "a .csv file" if path.suffix.lower() == ".csv" else "a file"
    raise DataError(f"dataset {path} is {what}, not {kinds}; {fix}")


def dataset_holding(path: str | os.PathLike[str], datasets: Sequence[tuple[str | os.PathLike[str], str]]
                    ) -> tuple[str | os.PathLike[str], str] | None:
    """The first (dataset, option) of `datasets` whose folder is `path` or holds it; None when none does (a
    dataset that is not a folder here holds nothing)."""
    target = Path(path).resolve()
    for dataset, option in datasets:
        if Path(dataset).is_dir():
            root = Path(dataset).resolve()
            if target == root or root in target.parents:
                return dataset, option
    return None


def check_out_outside_datasets(out: str | os.PathLike[str], datasets: Sequence[tuple[str | os.PathLike[str], str]],
                               example: str = "runs/NAME") -> None:
    """Raise DataError when `out` (the --out folder or file) is one of the dataset folders or inside one:
    `datasets` are (path, option) pairs. What a job writes there (curves.png in a class folder, a
    previous-N or benchmark folder beside the classes) would be read back as photos or classes by the next
    training, silently. Cheap: no file is read."""
    found = dataset_holding(out, datasets)
    if found is not None:
        path, option = found
        raise DataError(f"--out {out} is inside the dataset {path} ({option}): what is written there would be "
                        f"read back as photos or classes by the next run; name a path outside it, e.g. "
                        f"--out {example}")


def is_hidden(path: Path) -> bool:
    """A name no dataset means: hidden files and folders (.DS_Store, macOS's ._NAME copies of each file's
    metadata) and the __MACOSX folder a zip made on a Mac holds."""
    return path.name.startswith(".") or path.name == "__MACOSX"


def folder_images(folder: Path) -> list[Path]:
    """The image files of one folder, sorted by name, hidden ones left out. A broken link stays in, so that the
    readers count it among the unreadable images their warning lists instead of skipping it unseen."""
    return sorted(p for p in folder.iterdir()
                  if p.suffix.lower() in IMAGE_SUFFIXES and not is_hidden(p) and (p.is_file() or p.is_symlink()))


def warn_other_images(folder: Path) -> None:
    """Name, in one warning, the photos of `folder` in formats asl-edge does not decode (OTHER_IMAGE_SUFFIXES),
    which every reader skips."""
    others = sorted(p.name for p in folder.iterdir() if p.suffix.lower() in OTHER_IMAGE_SUFFIXES and not is_hidden(p))
    if others:
        print(f"warning: {len(others)} photo(s) in {folder} in a format asl-edge does not read skipped: "
              f"{', '.join(others[:5])}{' ...' if len(others) > 5 else ''}; convert them to .jpg or .png to use them",
              file=sys.stderr)


def class_folders(root: Path) -> list[Path]:
    """The class folders of a dataset folder, sorted by name; DataError when it has none."""
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not is_hidden(p))
    if not folders:
        raise DataError(f"dataset folder {root} has no class sub-folders; expected e.g. {root}/A/*.jpg")
    return folders


def class_images(folder: Path) -> list[Path]:
    """`folder_images` of a class folder; DataError when it has none (a class no model could learn). Photos in
    formats that are not read are named in one warning."""
    images = folder_images(folder)
    warn_other_images(folder)
    if not images:
        raise DataError(f"class folder {folder} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))}); "
                        "add images or remove the folder")
    return images


def load_image_folder(root: str | os.PathLike[str], classes: Sequence[str] | None = None,
                      workers: int = 4, max_side: int | None = None) -> LabelledImages:
    """One sub-folder per class; any image size, colour or gray. Unreadable files are skipped with one
    warning that lists them. `classes` fixes the class order (default: sorted folder names). `max_side`:
    shrink each photo as it is decoded so its shorter side is at most this (`shrink_to`); None keeps
    full resolution (memory grows with the photos' resolution: 36 MB per 12 MP photo)."""
    root = check_dataset_path(root, csv_ok=False)
    folders = class_folders(root)
    names = tuple(classes) if classes is not None else tuple(p.name for p in folders)
    by_name = {p.name: p for p in folders}
    files: list[tuple[Path, int]] = []
    for index, name in enumerate(names):
        folder = by_name.get(name)
        if folder is None:
            raise DataError(f"class folder {root / name} is missing")
        files.extend((p, index) for p in class_images(folder))
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:  # cv2 decodes without the GIL
        decoded = list(track(pool.map(lambda item: read_image(item[0], max_side), files), f"loading {root}",
                             total=len(files), unit="image"))
    kept = [(img, label, str(path)) for img, (path, label) in zip(decoded, files, strict=True) if img is not None]
    bad = [str(path) for img, (path, _) in zip(decoded, files, strict=True) if img is None]
    if bad:
        shown = ", ".join(bad[:10]) + (f" and {len(bad) - 10} more" if len(bad) > 10 else "")
        print(f"warning: skipped {len(bad)} unreadable image(s): {shown}", file=sys.stderr)
    if not kept:
        raise DataError(f"no readable images under {root}")
    counts = np.bincount([label for _, label, _ in kept], minlength=len(names))
    empty = [names[i] for i in np.flatnonzero(counts == 0)]
    if empty:
        raise DataError(f"class folder {root / empty[0]} has no readable images (see the warning above); replace "
                        "them with photos that open, or remove the folder")
    return LabelledImages([k[0] for k in kept], np.array([k[1] for k in kept], np.int64), names,
                          [k[2] for k in kept])


def load_sign_mnist_csv(path: str | os.PathLike[str]) -> LabelledImages:
    """The Kaggle Sign Language MNIST CSV: header `label,pixel1..pixel784`, 28x28 gray, labels 0..24
    for A..Y with 9 (J) unused. Classes are the 24 letters; indices are remapped to 0..23."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"CSV file {path} does not exist")
    expected_columns = 1 + SIGN_MNIST_PIXELS
    with open(path, newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise DataError(f"{path} is empty; expected a header label,pixel1..pixel784 and rows")
        if len(header) != expected_columns:
            raise DataError(f"{path}: wrong column count: expected {expected_columns} columns "
                            f"(label,pixel1..pixel784), got {len(header)}")
        # A header-less file (rows only, as some converters write it) is read as rows from line 1.
        headerless = header[0].strip().lstrip("-").isdigit()
        if not headerless and header[0].strip().lower() != "label":
            raise DataError(f"{path}: the first line is neither the header label,pixel1..pixel784 nor a row of "
                            f"integers (it starts with '{header[0][:20]}'); fix the header line")
        rows = []
        first_rows = [(1, header)] if headerless else []
        for line_number, row in itertools.chain(first_rows, enumerate(reader, start=2)):
            if not row:
                continue
            if len(row) != expected_columns:
                raise DataError(f"{path} line {line_number}: wrong column count: expected {expected_columns}, "
                                f"got {len(row)}")
            try:
                values = [int(v) for v in row]
            except ValueError:
                raise DataError(f"{path} line {line_number}: values must be integers") from None
            label = values[0]
            if not 0 <= label < len(SIGN_MNIST_LETTERS) or label in SIGN_MNIST_UNUSED:
                raise DataError(f"{path} line {line_number}: label {label} out of range (0..24 without 9)")
            if min(values[1:]) < 0 or max(values[1:]) > 255:
                raise DataError(f"{path} line {line_number}: pixel values must be in 0..255")
            rows.append(values)
    if not rows:
        raise DataError(f"{path} has a header but no rows")
    table = np.array(rows, np.int64)
    letters = tuple(letter for i, letter in enumerate(SIGN_MNIST_LETTERS) if i not in SIGN_MNIST_UNUSED)
    remap = {i: letters.index(letter) for i, letter in enumerate(SIGN_MNIST_LETTERS) if letter in letters}
    labels = np.array([remap[int(v)] for v in table[:, 0]], np.int64)
    pixels = table[:, 1:].astype(np.uint8).reshape(-1, 28, 28)
    first = 1 if headerless else 2
    return LabelledImages(list(pixels), labels, letters, [f"{path}:{i + first}" for i in range(len(rows))])


def load_dataset(path: str | os.PathLike[str], classes: Sequence[str] | None = None,
                 max_side: int | None = None) -> LabelledImages:
    """A folder of class folders, or a Sign Language MNIST CSV file. `max_side`: see load_image_folder."""
    path = check_dataset_path(path)
    if path.is_dir():
        return load_image_folder(path, classes, max_side=max_side)
    data = load_sign_mnist_csv(path)
    return data.relabel(classes) if classes is not None else data


def stratified_split(labels: np.ndarray, val_fraction: float = DEFAULT_VAL_FRACTION,
                     seed: int = DEFAULT_SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic per-class split: (train indices, validation indices), each sorted."""
    if not 0.0 < val_fraction < 1.0:
        raise DataError(f"validation fraction {val_fraction} must be between 0 and 1")
    rng = np.random.default_rng(seed)
    train, val = [], []
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        members = members[rng.permutation(len(members))]
        n_val = round(len(members) * val_fraction)
        if len(members) >= 2:
            n_val = min(max(n_val, 1), len(members) - 1)
        val.append(members[:n_val])
        train.append(members[n_val:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def per_class_sample(labels: np.ndarray, per_class: int, seed: int = 0) -> np.ndarray:
    """Up to `per_class` indices of every class, drawn evenly (calibration sets, quick evaluations)."""
    rng = np.random.default_rng(seed)
    chosen = []
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        chosen.append(rng.permutation(members)[:per_class])
    return np.sort(np.concatenate(chosen))


def load_splits(data: str | os.PathLike[str], val: str | os.PathLike[str] | None = None,
                val_fraction: float = DEFAULT_VAL_FRACTION, seed: int = DEFAULT_SPLIT_SEED,
                max_side: int | None = None) -> tuple[LabelledImages, LabelledImages]:
    """(train, validation): an explicit validation set when given, else a stratified split of `data`.
    `max_side`: see load_image_folder. Raises DataError when the split leaves no validation image."""
    full = load_dataset(data, max_side=max_side)
    if val is not None:
        return full, load_dataset(val, classes=full.classes, max_side=max_side)
    train_idx, val_idx = stratified_split(full.labels, val_fraction, seed)
    if len(val_idx) == 0:  # every class has one image: nothing to validate on, and metrics of nothing are NaN
        raise DataError(f"dataset {data} has no validation images: no class has 2 or more images "
                        f"({len(full)} images, {len(full.classes)} classes); add images, or pass a validation "
                        "set with --val")
    return full.subset(train_idx), full.subset(val_idx)


@dataclass(frozen=True)
class HeldOutSplit:
    """Where a model's validation images come from: an explicit set `val`, or a stratified split
    (`stratified_split(labels, val_fraction, seed)`) of each dataset in `datasets`.

    Training stores it in the ModelSpec's `trained_on` (`provenance()`), so it travels in the checkpoint,
    the ONNX metadata and the engine manifest; `recorded()` is the one reader. Paths are as training saw
    them (relative to where it ran)."""

    datasets: tuple[str, ...]
    val: str | None = None
    val_fraction: float = DEFAULT_VAL_FRACTION
    seed: int = DEFAULT_SPLIT_SEED

    @property
    def data(self) -> str:
        """The (first) dataset: image models train on one."""
        return self.datasets[0]

    @property
    def is_stratified(self) -> bool:
        return self.val is None

    def describe(self) -> str:
        if self.val:
            return f"validation set {self.val}"
        return f"held-out split val_fraction={self.val_fraction:g}, seed={self.seed}"

    def provenance(self) -> dict[str, Any]:
        """The `trained_on` entries that record this split (the reverse of `recorded`): `datasets` always,
        and `dataset` too for one dataset, as image models have always recorded it."""
        where: dict[str, Any] = {"datasets": list(self.datasets)}
        if len(self.datasets) == 1:
            where["dataset"] = self.datasets[0]
        return {**where, "validation": self.val or f"stratified {self.val_fraction:g} split, seed {self.seed}",
                "val_fraction": self.val_fraction, "seed": self.seed}

    @classmethod
    def recorded(cls, trained_on: Mapping[str, Any]) -> HeldOutSplit | None:
        """The split recorded in a ModelSpec's `trained_on`; None when it names no dataset. Reads what every
        asl-edge version wrote: `dataset` or `datasets`, `validation` (an explicit set's path, or a description
        of the stratified split), `val_fraction`, and `seed` (`split_seed` in older landmark models)."""
        named = trained_on.get("datasets") or trained_on.get("dataset") or trained_on.get("data")
        if not named:
            return None
        datasets = tuple(str(d) for d in ([named] if isinstance(named, (str, os.PathLike)) else named))
        recorded_val = str(trained_on.get("val") or trained_on.get("validation") or "")
        seed = trained_on.get("seed", trained_on.get("split_seed", DEFAULT_SPLIT_SEED))
        return cls(datasets, None if not recorded_val or recorded_val.startswith("stratified") else recorded_val,
                   float(trained_on.get("val_fraction", DEFAULT_VAL_FRACTION)), int(seed))

    def includes(self, path: str | os.PathLike[str]) -> bool:
        """Whether `path` is one of the training datasets: the same folder, or one of the same name (the recorded
        paths are relative to where training ran, so a run evaluated from elsewhere names its data so)."""
        try:
            target = Path(path).resolve()
        except OSError:
            return False
        return any(Path(dataset).name == target.name or Path(dataset).resolve() == target for dataset in self.datasets)

    def held_out_indices(self, labels: np.ndarray) -> np.ndarray:
        """The sorted held-out indices of a dataset with these class indices (the stratified split)."""
        return stratified_split(labels, self.val_fraction, self.seed)[1]

    def load(self) -> tuple[LabelledImages, LabelledImages]:
        """(train, held-out) of the (first) dataset."""
        return load_splits(self.data, self.val, self.val_fraction, self.seed)


@dataclass(frozen=True)
class EvaluationSet:
    """The images a model is scored on (`held_out`, in its label order), the training part beside them where a
    stage needs it (INT8 calibration), and how they were chosen, as the stage's report records it."""

    held_out: LabelledImages
    description: dict[str, Any]
    train: LabelledImages | None = None


def recorded_split(trained_on: Mapping[str, Any], data: str | os.PathLike[str] | None = None,
                   val: str | os.PathLike[str] | None = None, val_fraction: float | None = None,
                   seed: int | None = None) -> HeldOutSplit | None:
    """The split a model was validated on (`HeldOutSplit.recorded`), with explicit arguments overriding it.
    None when neither names a dataset. A recorded validation set counts only while it exists and `data` was
    not overridden."""
    recorded = HeldOutSplit.recorded(trained_on) or (HeldOutSplit((str(data),)) if data else None)
    if recorded is None:
        return None
    if val is None and data is None:
        val = recorded.val if recorded.val and os.path.exists(recorded.val) else None
    return HeldOutSplit(
        datasets=(str(data),) if data else recorded.datasets,
        val=str(val) if val else None,
        val_fraction=float(val_fraction if val_fraction is not None else recorded.val_fraction),
        seed=int(seed if seed is not None else recorded.seed),
    )
