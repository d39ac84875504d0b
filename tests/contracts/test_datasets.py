"""asl_edge.datasets on real photographs: image folders, the Sign Language MNIST CSV, splits."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from asl_edge.datasets import load_dataset, load_splits, per_class_sample, stratified_split
from asl_edge.errors import DataError


def test_image_folder_loads_real_photos(small_image_folder: Path) -> None:
    data = load_dataset(small_image_folder)
    assert data.classes == ("A", "B", "C", "L", "nothing")
    assert len(data) == 60 and data.class_counts() == dict.fromkeys(data.classes, 12)
    assert data.images[0].dtype == np.uint8 and data.images[0].shape == (200, 200, 3)


def test_csv_from_real_photos(sign_mnist_csv: Path, data_dir: Path) -> None:
    import cv2

    data = load_dataset(sign_mnist_csv)
    assert len(data.classes) == 24 and "J" not in data.classes and "Z" not in data.classes
    assert len(data) == 40 and data.images[0].shape == (28, 28) and data.images[0].dtype == np.uint8
    # Y is label 24 in the file and the last of the 24 classes once J is left out.
    assert data.classes[int(data.labels[-1])] == "Y" and int(data.labels[-1]) == 23
    # The first row holds A's first photograph, shrunk to 28x28 gray.
    color = cv2.imread(str(sorted((data_dir / "A").glob("*.jpg"))[0]))
    assert color is not None
    photo = cv2.cvtColor(color, cv2.COLOR_BGR2GRAY)
    expected = cv2.resize(photo, (28, 28), interpolation=cv2.INTER_AREA)
    assert np.array_equal(data.images[0], expected)


@pytest.mark.parametrize(("header", "row", "message"), [
    ("label,pixel1", "1,0", "wrong column count"),
    (None, "30," + ",".join(["0"] * 784), "label 30 out of range"),
    (None, "9," + ",".join(["0"] * 784), "label 9 out of range"),
    (None, "1," + ",".join(["0"] * 783), "wrong column count"),
    (None, "1," + ",".join(["300"] * 784), "pixel values must be in 0..255"),
    (None, "1," + ",".join(["x"] * 784), "values must be integers"),
])
def test_bad_csv_gives_one_line_error(tmp_path: Path, header: str | None, row: str, message: str) -> None:
    header = header or "label," + ",".join(f"pixel{i}" for i in range(1, 785))
    path = tmp_path / "bad.csv"
    path.write_text(f"{header}\n{row}\n")
    with pytest.raises(DataError, match=message) as info:
        load_dataset(path)
    assert "\n" not in str(info.value)


def test_header_less_csv_is_read_from_its_first_line(tmp_path: Path, sign_mnist_csv: Path) -> None:
    """Rows only (as some converters write the Kaggle format): the same images, sources from line 1."""
    with_header = load_dataset(sign_mnist_csv)
    rows_only = tmp_path / "rows.csv"
    rows_only.write_text("\n".join(sign_mnist_csv.read_text().splitlines()[1:]) + "\n")
    data = load_dataset(rows_only)
    assert data.classes == with_header.classes and np.array_equal(data.labels, with_header.labels)
    assert all(np.array_equal(a, b) for a, b in zip(data.images, with_header.images, strict=True))
    assert data.sources[0] == f"{rows_only}:1"
    garbage = tmp_path / "garbage.csv"
    garbage.write_text("name," + ",".join(["x"] * 784) + "\n")
    with pytest.raises(DataError, match=r"neither the header label,pixel1\.\.pixel784 nor a row of integers"):
        load_dataset(garbage)


def test_photos_are_shrunk_at_decode_to_max_side(small_image_folder: Path) -> None:
    """Memory follows the model's input size: the shorter side is capped, the aspect ratio kept."""
    full = load_dataset(small_image_folder)
    small = load_dataset(small_image_folder, max_side=50)
    assert full.images[0].shape[:2] == (200, 200) and small.images[0].shape[:2] == (50, 50)
    assert np.array_equal(small.labels, full.labels)


def test_a_file_is_not_taken_for_a_missing_folder(tmp_path: Path) -> None:
    note = tmp_path / "notes.txt"
    note.write_text("x")
    with pytest.raises(DataError, match="is a file, not a folder of class folders"):
        load_dataset(note)


def test_missing_dataset_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_dataset(tmp_path / "nowhere.csv")
    with pytest.raises(DataError, match="does not exist"):
        load_dataset(tmp_path / "nowhere")


def test_empty_class_folder_is_an_error(tmp_path: Path, small_image_folder: Path) -> None:
    root = tmp_path / "data"
    shutil.copytree(small_image_folder, root)
    (root / "empty").mkdir()
    with pytest.raises(DataError, match="empty holds no images"):
        load_dataset(root)


def test_unreadable_image_is_skipped_with_one_warning(tmp_path: Path, small_image_folder: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "data"
    shutil.copytree(small_image_folder, root)
    good = sorted((root / "B").glob("*.jpg"))[0].read_bytes()
    (root / "B" / "truncated.jpg").write_bytes(good[:200])
    (root / "C" / "garbage.jpg").write_bytes(b"this is not a jpeg")
    data = load_dataset(root)
    warning = capsys.readouterr().err.strip().splitlines()
    assert len(warning) == 1 and "skipped 2 unreadable" in warning[0]
    assert "truncated.jpg" in warning[0] and "garbage.jpg" in warning[0]
    assert len(data) == 60 and data.class_counts()["B"] == 12


def test_stratified_split_is_deterministic_and_stratified(small_image_folder: Path) -> None:
    data = load_dataset(small_image_folder)
    train, val = stratified_split(data.labels, 0.25, seed=3)
    again = stratified_split(data.labels, 0.25, seed=3)
    assert np.array_equal(train, again[0]) and np.array_equal(val, again[1])
    assert not set(train) & set(val) and len(train) + len(val) == len(data)
    assert np.bincount(data.labels[val]).tolist() == [3] * 5
    other = stratified_split(data.labels, 0.25, seed=4)[1]
    assert not np.array_equal(val, other)
    assert np.bincount(data.labels[per_class_sample(data.labels, 2)]).tolist() == [2] * 5


def test_load_splits_with_explicit_validation(small_image_folder: Path, sign_mnist_csv: Path) -> None:
    train, val = load_splits(small_image_folder, val_fraction=0.5, seed=0)
    assert len(train) == len(val) == 30
    train, val = load_splits(small_image_folder, val=small_image_folder)
    assert len(train) == len(val) == 60 and val.classes == train.classes


def test_recorded_split_reads_provenance_and_overrides(tmp_path: Path) -> None:
    from asl_edge.datasets import recorded_split

    trained = {"dataset": "photos", "val_fraction": 0.25, "seed": 7, "validation": "stratified 0.25 split, seed 7"}
    split = recorded_split(trained)
    assert split is not None
    assert (split.data, split.val, split.val_fraction, split.seed) == ("photos", None, 0.25, 7)
    assert split.describe() == "held-out split val_fraction=0.25, seed=7"
    # An explicit validation folder that exists is used; an override of the data drops it.
    val_dir = tmp_path / "val"
    val_dir.mkdir()
    with_val = recorded_split({**trained, "validation": str(val_dir)})
    assert with_val is not None and with_val.val == str(val_dir)
    other = recorded_split({**trained, "validation": str(val_dir)}, data="other", seed=1)
    assert other is not None and (other.data, other.val, other.seed) == ("other", None, 1)
    assert recorded_split({}) is None


def test_held_out_split_round_trips_through_provenance_and_reads_older_keys() -> None:
    from asl_edge.datasets import HeldOutSplit

    for split in (HeldOutSplit(("photos",), None, 0.25, 7), HeldOutSplit(("a", "b"), None, 0.2, 3),
                  HeldOutSplit(("photos",), "val_photos", 0.2, 0)):
        assert HeldOutSplit.recorded(split.provenance()) == split
    # Landmark models written before the record named their seed `split_seed` and kept no `validation`.
    older = HeldOutSplit.recorded({"datasets": ["mini", "multi"], "split_seed": 5, "val_fraction": 0.3})
    assert older == HeldOutSplit(("mini", "multi"), None, 0.3, 5)
    labels = np.repeat(np.arange(3), 10)
    assert np.array_equal(older.held_out_indices(labels), stratified_split(labels, 0.3, 5)[1])
