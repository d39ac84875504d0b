from pathlib import Path

import cv2
import numpy as np
import pytest

from asl_edge.errors import DataError
from asl_edge.preprocess import Roi, as_uint8_image, preprocess, preprocess_batch
from asl_edge.spec import make_spec

GRAY = make_spec(["A", "B"], "aslcnn", 28, "gray")
RGB = make_spec(["A", "B"], "mobilenet_v3_small", (32, 48), "rgb", imagenet_stats=True)


def test_real_photo_to_gray_tensor(data_dir: Path) -> None:
    frame = cv2.imread(str(next((data_dir / "A").glob("*.jpg"))))
    assert frame is not None
    out = preprocess(frame, GRAY)
    assert out.shape == (1, 28, 28) and out.dtype == np.float32
    # Same as doing it by hand: area resize, gray, (x/255 - 0.5)/0.5.
    expected = cv2.cvtColor(cv2.resize(frame, (28, 28), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)
    np.testing.assert_allclose(out[0], (expected / 255.0 - 0.5) / 0.5, atol=1e-6)


def test_rgb_channel_order_and_normalisation() -> None:
    frame = np.zeros((10, 10, 3), np.uint8)
    frame[..., 2] = 255  # pure red in BGR
    out = preprocess(frame, RGB)
    assert out.shape == (3, 32, 48)
    np.testing.assert_allclose(out[0], (1.0 - 0.485) / 0.229, rtol=1e-5)
    np.testing.assert_allclose(out[2], (0.0 - 0.406) / 0.225, rtol=1e-5)


@pytest.mark.parametrize("shape", [(50, 60), (50, 60, 1), (50, 60, 3), (50, 60, 4)])
def test_any_layout_is_accepted(shape: tuple[int, ...]) -> None:
    frame = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    assert preprocess(frame, GRAY).shape == (1, 28, 28)
    assert preprocess(frame, RGB).shape == (3, 32, 48)


def test_roi_crops_before_resizing() -> None:
    frame = np.zeros((100, 200, 3), np.uint8)
    frame[20:60, 120:160] = 255
    out = preprocess(frame, GRAY, Roi(120, 20, 40, 40))
    assert np.all(out == 1.0)  # the ROI is all white
    roi = Roi.centered_square(640, 480, fraction=0.5)
    assert roi == Roi(200, 120, 240, 240)


def test_roi_outside_frame_is_an_error() -> None:
    with pytest.raises(DataError, match="outside"):
        preprocess(np.zeros((10, 10), np.uint8), GRAY, (20, 20, 5, 5))


def test_letterbox_and_center_crop_keep_aspect() -> None:
    frame = np.full((40, 80, 3), 255, np.uint8)
    letterbox = make_spec(["A", "B"], "aslcnn", 20, "gray", resize="letterbox")
    out = preprocess(frame, letterbox)
    assert out[0, 0, 10] == -1.0 and out[0, 10, 10] == 1.0  # padded top, image in the middle
    crop = make_spec(["A", "B"], "aslcnn", 20, "gray", resize="center_crop")
    assert np.all(preprocess(frame, crop) == 1.0)


def test_batch_and_bad_input() -> None:
    frames = [np.zeros((30, 30, 3), np.uint8)] * 3
    assert preprocess_batch(frames, GRAY).shape == (3, 1, 28, 28)
    with pytest.raises(DataError):
        preprocess(np.zeros((0, 0), np.uint8), GRAY)
    with pytest.raises(DataError):
        preprocess(np.zeros((5, 5, 2), np.uint8), GRAY)


def test_uint16_frames_are_scaled_not_clipped() -> None:
    frame16 = np.array([[0, 257, 32896, 65535]], np.uint16)
    np.testing.assert_array_equal(as_uint8_image(frame16)[:, :, 0], [[0, 1, 128, 255]])


@pytest.mark.parametrize(("frame", "message"), [
    (np.full((4, 4, 3), 200.0, np.float32), "float frames must hold pixels in \\[0, 1\\]"),
    (np.full((4, 4, 3), np.nan, np.float32), "float frames must hold pixels in \\[0, 1\\]"),
    (np.full((4, 4, 3), 5, np.int32), "dtype int32 is not supported"),
])
def test_ambiguous_frames_are_refused_with_the_fix(frame: np.ndarray, message: str) -> None:
    with pytest.raises(DataError, match=message):
        as_uint8_image(frame)


def test_float_frames_in_unit_range_match_uint8() -> None:
    pixels = np.arange(256, dtype=np.uint8).reshape(16, 16)
    np.testing.assert_array_equal(as_uint8_image(pixels.astype(np.float32) / 255)[:, :, 0], pixels)
