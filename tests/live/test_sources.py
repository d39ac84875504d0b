"""Frame sources: URI parsing, real OpenCV decoding of files and folders, clear errors for bad sources."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from asl_edge.errors import SourceError
from asl_edge.machine import opencv_build
from asl_edge.runtime.live.frames import CaptureOptions
from asl_edge.runtime.live.opencv_sources import CameraSource, VideoFileSource
from asl_edge.runtime.live.sources import ImageFolderSource, csi_pipeline, parse_source, rtsp_pipeline
from tests.live.helpers import counter_of, write_counter_video


def test_video_file_gives_every_frame_in_order_with_its_position(tmp_path: Path) -> None:
    video = write_counter_video(tmp_path / "clip.avi", 12, fps=5.0)
    source = parse_source(str(video))
    assert isinstance(source, VideoFileSource) and not source.live
    with source:
        frames = list(iter(source.read, None))
        assert source.frame_count == 12 and source.nominal_fps == 5.0
    assert [f.index for f in frames] == list(range(12))
    assert [counter_of(f.image) for f in frames] == list(range(12))
    assert [f.timestamp for f in frames] == pytest.approx([i / 5.0 for i in range(12)])
    assert frames[0].image.shape == (48, 64, 3)


def test_fps_option_overrides_the_file_rate(tmp_path: Path) -> None:
    video = write_counter_video(tmp_path / "clip.avi", 3, fps=5.0)
    with parse_source(f"file://{video}", CaptureOptions(fps=20.0)) as source:
        assert [f.timestamp for f in iter(source.read, None)] == pytest.approx([0.0, 0.05, 0.1])


def test_image_folder_in_name_order_skipping_unreadable(tmp_path: Path, data_dir: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    photos = sorted((data_dir / "B").glob("*.jpg"))[:3]
    for i, photo in enumerate(photos):
        shutil.copy(photo, tmp_path / f"{i:02d}.jpg")
    (tmp_path / "01b.png").write_bytes(b"not an image")
    (tmp_path / "notes.txt").write_text("ignored: not an image suffix")
    source = parse_source(str(tmp_path), CaptureOptions(width=100, height=80, fps=4.0))
    assert isinstance(source, ImageFolderSource)
    with source:
        frames = list(iter(source.read, None))
    assert "skipped unreadable image" in capsys.readouterr().err
    assert len(frames) == 3 and [f.index for f in frames] == [0, 1, 2]
    assert [f.timestamp for f in frames] == pytest.approx([0.0, 0.25, 0.5])
    assert all(f.image.shape == (80, 100, 3) for f in frames)
    original = cv2.imread(str(photos[2]))
    assert original is not None
    expected = cv2.resize(original, (100, 80), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(frames[2].image, expected)


def test_image_folder_plays_numbered_names_in_number_order(tmp_path: Path) -> None:
    # Plain string order would play f1, f10, f11, f12, f2, ... and collect would label frames with the wrong letter.
    colours = {n: (20 * n, 255 - 20 * n, 100) for n in range(1, 13)}
    for n in (12, 3, 1, 10, 2, 11, 4, 9, 5, 8, 6, 7):
        assert cv2.imwrite(str(tmp_path / f"f{n}.jpg"), np.full((24, 32, 3), colours[n], np.uint8))
    with parse_source(str(tmp_path)) as source:
        frames = list(iter(source.read, None))
    assert len(frames) == 12
    # JPEG keeps a solid colour to within a few levels; neighbouring colours here are 20 apart.
    seen = [frame.image.reshape(-1, 3).mean(axis=0) for frame in frames]
    np.testing.assert_allclose(seen, [colours[n] for n in range(1, 13)], atol=4)


def test_single_image_is_a_one_frame_source(data_dir: Path) -> None:
    photo = sorted((data_dir / "C").glob("*.jpg"))[0]
    with parse_source(str(photo)) as source:
        frames = list(iter(source.read, None))
    assert len(frames) == 1 and frames[0].image.shape == (200, 200, 3)


def test_camera_uris_map_to_v4l2_devices() -> None:
    source = parse_source("0", CaptureOptions(width=640, height=480, fps=30))
    assert isinstance(source, CameraSource) and source.live
    assert source.target == 0 and source.api == cv2.CAP_V4L2
    with pytest.raises(SourceError, match=r"does not exist.*v4l2-ctl"):
        parse_source("/dev/video99")
    with pytest.raises(SourceError, match="/dev/video99 does not exist"):
        parse_source("v4l2:///dev/video99")


def test_csi_pipeline_is_the_argus_to_appsink_chain() -> None:
    pipeline = csi_pipeline(1, 1280, 720, 30)
    parts = [p.strip() for p in pipeline.split("!")]
    assert parts[0] == "nvarguscamerasrc sensor-id=1"
    assert parts[1].startswith("video/x-raw(memory:NVMM)") and "width=(int)1280" in parts[1]
    assert "framerate=(fraction)30/1" in parts[1]
    assert parts[2].startswith("nvvidconv") and "BGRx" in parts[3] and parts[4] == "videoconvert"
    assert "format=(string)BGR" in parts[5] and parts[6].startswith("appsink") and "drop=true" in parts[6]
    assert "max-buffers=1" in parts[6]
    assert rtsp_pipeline("rtsp://cam/stream").startswith("rtspsrc location=rtsp://cam/stream ")


@pytest.mark.skipif(opencv_build().has_gstreamer, reason="this OpenCV has GStreamer")
def test_csi_without_gstreamer_says_why() -> None:
    with pytest.raises(SourceError, match=r"without GStreamer.*python3-opencv"):
        parse_source("csi://0")


def test_unopenable_sources_raise_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        parse_source(str(tmp_path / "missing.mp4"))
    with pytest.raises(SourceError, match="unknown source scheme 'gopher://'"):
        parse_source("gopher://x")
    with pytest.raises(SourceError, match="csi://N"):
        parse_source("csi://front")
    fake = tmp_path / "fake.mp4"
    fake.write_text("not a video")
    with pytest.raises(SourceError, match=r"cannot open video file .*fake.mp4: not a readable video"):
        parse_source(str(fake)).open()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SourceError, match="holds no images"):
        parse_source(str(empty)).open()
    # A stream that refuses the connection (nothing listens on port 1 of this machine).
    with pytest.raises(SourceError, match=r"cannot open camera rtsp://127.0.0.1:1/x: is the address right"):
        parse_source("rtsp://127.0.0.1:1/x").open()


def test_bad_capture_options() -> None:
    with pytest.raises(SourceError, match="--width -1 must be a finite positive number"):
        CaptureOptions(width=-1)
    for rate in (float("nan"), float("inf")):  # argparse's float() takes both
        with pytest.raises(SourceError, match=f"--fps {rate} must be a finite positive number"):
            CaptureOptions(fps=rate)


def test_source_kind_reads_the_uri_as_parse_source_does() -> None:
    from asl_edge.doctor.verdict import required_checks
    from asl_edge.runtime.live.sources import source_kind

    assert [source_kind(u) for u in ("0", "/dev/video2", "v4l2:///dev/video0", "csi://0")] == [
        "camera", "camera", "camera", "csi"]
    assert {source_kind(u) for u in ("rtsp://cam/s", "rtsps://cam/s", "RTSPS://cam/s", "https://h/v.mp4",
                                     "rtmp://h/live")} == {"stream"}
    assert source_kind("clip.mp4") == source_kind("file:///tmp/clip.mp4") == "file"
    with pytest.raises(SourceError, match="unknown source scheme"):
        source_kind("gopher://x")
    # The machine checks ask no camera of a secure stream (they used to take rtsps:// for a file, and the
    # CSI checks of csi:// are required only for csi://).
    assert "camera" not in required_checks("run", "rtsps://cam/s")
    assert "opencv-gstreamer" in required_checks("run", "csi://0")
