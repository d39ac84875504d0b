"""Hand-crop datasets from real photos: only the training part, only photos with a found hand, 64x64."""

from __future__ import annotations

from pathlib import Path

import cv2

from asl_edge.datasets import stratified_split
from asl_edge.runtime.hand.extract import load_landmark_dataset
from asl_edge.train.hand_crops import CROP_SIZE, main


def test_crops_of_the_training_part_only(small_image_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "crops"
    assert main(["--data", str(small_image_folder), "--out", str(out)]) == 0
    data = load_landmark_dataset(small_image_folder)
    _, val = stratified_split(data.labels, 0.2, 0)
    expected = {Path(p).stem for i, p in enumerate(data.paths) if data.found[i] and i not in set(val.tolist())}
    written = {p.stem.rsplit("-", 1)[1] for p in out.glob("*/*.png")}
    assert written == expected and len(written) > 10
    image = cv2.imread(str(next(out.glob("*/*.png"))))
    assert image is not None and image.shape == (CROP_SIZE, CROP_SIZE, 3)


def test_missing_folder_is_one_error_line(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["--data", str(tmp_path / "nope"), "--out", str(tmp_path / "crops")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "does not exist" in err[0]
