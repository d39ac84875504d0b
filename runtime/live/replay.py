"""One frame through the hand chain and a decoder, and a whole recorded clip the same way.

`decode_frame` is the step the live loop and `spell_clip` share: the chain reads the frame, the decoder gets
its probabilities, the hand's landmarks and the frame's time. `spell_clip` replays a file's frames through
that step as `eval --videos` measures them, optionally faster (`speed`: timestamps divided, every frame
kept: fluent signing from slow recordings) or thinned (`stride`: every N-th frame, a device that cannot keep
up with the camera), and keeps what scoring needs: each frame's time and the classifier's top-1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from asl_edge.errors import AslEdgeError, SourceError
from asl_edge.preprocess import Roi
from asl_edge.runtime.hand.chain import ChainOutput, HandChain
from asl_edge.runtime.live.decoding import Decoder, hand_inputs
from asl_edge.runtime.live.frames import FrameSource
from asl_edge.runtime.live.spelling import Commit

NO_HAND = -1  # ClipTrace.top1 of a frame where the hand stage found no hand


@dataclass
class FrameStep:
    """What one frame gave: the chain's output (probabilities (num_labels,) float32, the hand or None) and the
    commits the decoder made on it."""

    output: ChainOutput
    commits: list[Commit]


def decode_frame(chain: HandChain, decoder: Decoder, image: np.ndarray, timestamp: float,
                 fixed_box: Roi | None = None) -> FrameStep:
    """A BGR frame (H, W, 3) uint8 at `timestamp` seconds of source time through the chain into the decoder;
    `fixed_box` is where the chain's fallback looks when no hand is found (None: the whole frame)."""
    output = chain.classify(image, fixed_box)
    return FrameStep(output, decoder.update(output.probs, *hand_inputs(output.hand), timestamp))


@dataclass
class ClipTrace:
    """A clip as the chain read it and the decoder spelled it.

    times: (F,) float64 seconds of replayed time (the file's timestamps / speed) of each frame decoded;
    top1: (F,) int16 index into the classifier's labels of each frame's top-1, NO_HAND where no hand was
    found (a fallback model's guess on the fixed box is not a reading of the hand); commits: every commit,
    including those `Decoder.finish` made at the end; text: the decoder's text; frames_read: frames decoded
    from the file before `stride` dropped any."""

    times: np.ndarray
    top1: np.ndarray
    commits: list[Commit] = field(default_factory=list)
    text: str = ""
    frames_read: int = 0

    @property
    def duration_s(self) -> float:
        return float(self.times[-1] - self.times[0]) if len(self.times) else 0.0


def spell_clip(source: FrameSource, chain: HandChain, decoder: Decoder, speed: float = 1.0, stride: int = 1,
               fixed_box: Callable[[int, int], Roi] | None = None, max_frames: int | None = None) -> ClipTrace:
    """Replay an unopened file source through `decode_frame` with a fresh decoder; opens and closes the source.

    speed: timestamps are divided by it (every frame kept); stride: only frames 0, N, 2N, ... are decoded;
    fixed_box(width, height): the fallback's box for a frame size (None: the whole frame); max_frames: only
    the clip's first N frames are read (before `stride` drops any). The tracker is reset first, so nothing
    carries over from the previous clip. Raises SourceError when the file cannot be decoded, or stops before
    its container's end (truncated)."""
    if speed <= 0:
        raise AslEdgeError(f"--speed {speed} must be positive")
    if stride < 1:
        raise AslEdgeError(f"--stride {stride} must be at least 1")
    if max_frames is not None and max_frames < 1:
        raise AslEdgeError(f"--max-frames {max_frames} must be at least 1")
    chain.tracker.reset()
    times: list[float] = []
    top1: list[int] = []
    commits: list[Commit] = []
    read = 0
    source.open()
    try:
        while (max_frames is None or read < max_frames) and (frame := source.read()) is not None:
            read += 1
            if (read - 1) % stride:
                continue
            timestamp = frame.timestamp / speed
            box = None if fixed_box is None else fixed_box(frame.image.shape[1], frame.image.shape[0])
            step = decode_frame(chain, decoder, frame.image, timestamp, box)
            commits += step.commits
            times.append(timestamp)
            top1.append(NO_HAND if step.output.hand is None else int(np.argmax(step.output.probs)))
        # Stopped at max_frames, the file is short of its end on purpose, not truncated.
        played_out = max_frames is None or read < max_frames
        truncated = source.ended_early if played_out else None
    finally:
        source.close()
    if truncated is not None:
        raise SourceError(truncated)
    if not times:
        raise SourceError(f"{source.describe()} gave no frame (not a readable video, or empty)")
    if played_out:  # as `run`: only the file's own end commits a letter still forming
        commits += decoder.finish(times[-1])
    return ClipTrace(np.asarray(times, np.float64), np.asarray(top1, np.int16), commits, decoder.text, read)
