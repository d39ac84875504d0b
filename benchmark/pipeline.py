"""The benchmark's end-to-end row: frames of a video through the whole runtime (decode, ROI and
preprocess, inference, smoothing and spelling, overlay), timed per stage by the pipeline itself.

The video is played several times until enough frames are timed, after a short warm-up pass whose
times are dropped. No sink is attached, so "render" is the overlay drawn into the frame, which a
window or the web view would then show.
"""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path

from asl_edge.benchmark.timing import PipelineMeasurement
from asl_edge.datasets import LabelledImages
from asl_edge.errors import DataError, SourceError
from asl_edge.preprocess import DEFAULT_ROI_FRACTION
from asl_edge.runtime.backends.base import Backend
from asl_edge.runtime.hand.chain import HandChain
from asl_edge.runtime.live.latency import LatencyStats
from asl_edge.runtime.live.pipeline import HAND_STAGES, STAGES, PipelineConfig, run_pipeline
from asl_edge.runtime.live.sample_clip import images_by_label, label_for, make_spelling_clip
from asl_edge.runtime.live.sources import parse_source
from asl_edge.spec import NOTHING

SAMPLE_CLIP = Path(str(resources.files("asl_edge") / "assets" / "sample_clip.mp4"))
WARMUP_FRAMES = 10


def clip_roi_size(video: Path, default: float = DEFAULT_ROI_FRACTION) -> float:
    """The ROI size a spelling clip was made with (from the .json card beside it), else the default."""
    card = video.with_suffix(".json")
    try:
        value = json.loads(card.read_text()).get("roi_size", default)
    except (OSError, json.JSONDecodeError, AttributeError):
        return default
    return float(value) if isinstance(value, (int, float)) else default


def default_video(out_dir: Path, held_out: LabelledImages | None, labels: tuple[str, ...]) -> Path:
    """The bundled sample clip, else a clip built now from held-out photos of the model's first letters."""
    if SAMPLE_CLIP.is_file():
        return SAMPLE_CLIP
    if held_out is None:
        raise DataError("no video for the pipeline row: the bundled sample clip is missing and there is no "
                        "evaluation set to build one from; pass --video or --no-pipeline")
    letters = [label for label in labels if len(label) == 1 and label in held_out.classes][:3]
    if not letters or NOTHING not in held_out.classes:
        raise DataError("cannot build a clip for the pipeline row from this model's classes; pass --video")
    word = "".join(letters)
    images = images_by_label(held_out, [label_for(c) for c in word] + [NOTHING])
    return Path(make_spelling_clip(images, word, out_dir / "pipeline_clip.avi").path)


def frame_size(video: str | os.PathLike[str]) -> tuple[int, int]:
    """(width, height) of the source's first frame."""
    source = parse_source(str(video))
    with source:
        frame = source.read()
    if frame is None:
        raise SourceError(f"{video} holds no frames")
    return int(frame.image.shape[1]), int(frame.image.shape[0])


def measure_pipeline(video: str | os.PathLike[str], backend: Backend, model: str, min_frames: int = 200,
                     warmup_frames: int = WARMUP_FRAMES, chain: HandChain | None = None) -> PipelineMeasurement:
    """Play `video` through run_pipeline until at least `min_frames` frames are timed (after a warm-up);
    with `chain` (whose classifier is `backend`) through the hand stage."""
    video = Path(video)
    config = PipelineConfig(roi_size=clip_roi_size(video))
    size = frame_size(video)
    run_pipeline(parse_source(str(video)), backend, PipelineConfig(roi_size=config.roi_size, max_frames=warmup_frames),
                 chain=chain)
    stages = {name: LatencyStats(window=None) for name in (HAND_STAGES if chain is not None else STAGES)}
    frames, wall_s, text = 0, 0.0, ""
    while frames < min_frames:
        # Every frame's times, not a live run's window: the rows' percentiles are over all timed frames.
        limited = PipelineConfig(roi_size=config.roi_size, max_frames=min_frames - frames, latency_window=None)
        result = run_pipeline(parse_source(str(video)), backend, limited, chain=chain)
        if result.frames == 0:
            raise SourceError(f"{video} gave no frames to the pipeline")
        for name, stats in result.stages.stats.items():
            stages[name].extend(stats.values.tolist())
        frames += result.frames
        wall_s += result.wall_s
        if result.stopped_by == "end" and not text:  # the first whole pass of the clip, not a cut-off replay
            text = result.text
    return PipelineMeasurement(source=str(video), model=model, backend=backend.describe(), frame_size=size,
                               stages=stages, warmup_frames=warmup_frames, wall_s=wall_s, text=text)
