"""The hand stage: palm detection, hand landmarks and tracking, after MediaPipe's hand-tracking graph.

numpy + OpenCV + an inference session per model (ONNX Runtime here, TensorRT on a Jetson); never torch,
TensorFlow or mediapipe. `HandTracker` is the entry point: a BGR frame in, the hand (21 landmarks in
image pixels, presence, handedness, its rotated region) out. The palm detector runs only when no hand
is tracked; otherwise the previous frame's landmarks give the next crop (MediaPipe's
`hand_landmark_tracking_cpu.pbtxt`). The models and their constants are described in
`asl_edge/assets/hands/ORIGIN.md`.
"""

from asl_edge.runtime.hand.geometry import RotatedRect
from asl_edge.runtime.hand.tracker import Hand, HandTracker, TrackerConfig

__all__ = ["Hand", "HandTracker", "RotatedRect", "TrackerConfig"]
