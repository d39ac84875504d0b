"""ModelSpec: how a model sees the world, carried by every artifact (checkpoint, ONNX, engine manifest).

A spec is small, versioned and JSON-serialisable. It is validated whenever it is built or loaded, and a
bad field is reported by name, so a model file with a broken spec fails on load instead of producing
wrong letters on the camera.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from asl_edge.errors import SpecError

SCHEMA_VERSION = 1
COLORS = ("gray", "rgb")
RESIZE_POLICIES = ("stretch", "center_crop", "letterbox")
# Where the channel axis of an image model's input sits: NCHW (PyTorch, asl-edge's own exports) or NHWC
# (Keras/TensorFlow models converted with tf2onnx). Specs written before `layout` existed load as NCHW.
LAYOUTS = ("NCHW", "NHWC")
# What a model consumes: preprocessed pixels (N, C, H, W) or (N, H, W, C) by `layout`, or landmark feature
# vectors (N, num_features) made by asl_edge.landmark_features from the hand stage's 21 landmarks.
INPUT_KINDS = ("image", "landmarks")
# Where the spec is stored inside an ONNX file's metadata_props.
ONNX_METADATA_KEY = "asl_edge.model_spec"
# The precision of the graph (fp32, fp16, int8) in the same metadata_props.
ONNX_PRECISION_KEY = "asl_edge.precision"
# Every precision asl-edge exports, builds and measures, in that order.
PRECISIONS = ("fp32", "fp16", "int8")

# The fingerspelled alphabet: what collect records and a one-letter clip may be labelled.
ASL_LETTERS = tuple(chr(ord("A") + i) for i in range(26))
# Classes that edit the spelled text instead of adding a letter.
SPACE, DELETE, NOTHING = "space", "del", "nothing"

# The Kaggle "Sign Language MNIST" label order: 0..24 for A..Y, 9 (J) unused; Z is absent too.
SIGN_MNIST_LETTERS = tuple(chr(ord("A") + i) for i in range(25))


@dataclass(frozen=True)
class ModelSpec:
    labels: tuple[str, ...]
    input_height: int
    input_width: int
    channels: int = 3
    color: str = "rgb"
    resize: str = "stretch"
    scale: float = 1.0 / 255.0
    mean: tuple[float, ...] = (0.0, 0.0, 0.0)
    std: tuple[float, ...] = (1.0, 1.0, 1.0)
    layout: str = "NCHW"
    arch: str = "aslcnn"
    input_name: str = "input"
    output_name: str = "probabilities"
    # Free-form provenance: dataset, split, seed, date, metrics summary, tool version.
    trained_on: Mapping[str, Any] = field(default_factory=dict)
    version: int = SCHEMA_VERSION
    # "image" or "landmarks". A landmarks model reads (N, num_features) float32 vectors from
    # asl_edge.landmark_features; its image fields (size, colour, normalisation) are unused placeholders
    # that are still validated, so every spec stays a valid image spec too.
    inputs: str = "image"
    num_features: int = 0
    # Samples per call the model takes: 0 for any number (a dynamic batch dimension, asl-edge's exports);
    # N for a graph whose batch dimension is fixed at N (e.g. 1 in many tf2onnx conversions). Backends then
    # send exactly N at a time, splitting larger batches and padding the last part.
    batch: int = 0

    def __post_init__(self) -> None:
        for name in ("labels", "mean", "std"):
            value = getattr(self, name)
            if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
                raise SpecError(f"invalid ModelSpec field '{name}': expected a list, got {value!r}")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (*self.mean, *self.std)):
            raise SpecError("invalid ModelSpec field 'mean' or 'std': values must be numbers")
        # Accept lists from JSON and keep the spec hashable and immutable.
        object.__setattr__(self, "labels", tuple(self.labels))
        object.__setattr__(self, "mean", tuple(float(m) for m in self.mean))
        object.__setattr__(self, "std", tuple(float(s) for s in self.std))
        object.__setattr__(self, "trained_on", dict(self.trained_on))
        self.validate()

    # -- validation -------------------------------------------------------------------------------
    def validate(self) -> None:
        def bad(name: str, why: str) -> SpecError:
            return SpecError(f"invalid ModelSpec field '{name}': {why}")

        if self.version != SCHEMA_VERSION:
            raise bad("version", f"{self.version!r} is not supported (this asl-edge reads {SCHEMA_VERSION})")
        if len(self.labels) < 2:
            raise bad("labels", "a classifier needs at least 2 labels")
        if not all(isinstance(label, str) and label for label in self.labels):
            raise bad("labels", "every label must be a non-empty string")
        if len(set(self.labels)) != len(self.labels):
            twice = sorted({label for label in self.labels if self.labels.count(label) > 1})
            raise bad("labels", f"labels must be unique, but {', '.join(map(repr, twice))} "
                                f"{'is' if len(twice) == 1 else 'are'} listed more than once; list each label once")
        for name in ("input_height", "input_width"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not 8 <= value <= 4096:
                raise bad(name, f"{value!r} is not an integer in 8..4096")
        if self.color not in COLORS:
            raise bad("color", f"{self.color!r} is not one of {', '.join(COLORS)}")
        expected_channels = 1 if self.color == "gray" else 3
        if self.channels != expected_channels:
            raise bad("channels", f"{self.channels!r} does not match color {self.color!r}")
        if self.resize not in RESIZE_POLICIES:
            raise bad("resize", f"{self.resize!r} is not one of {', '.join(RESIZE_POLICIES)}")
        if self.layout not in LAYOUTS:
            raise bad("layout", f"{self.layout!r} is not one of {', '.join(LAYOUTS)}")
        if not (isinstance(self.scale, (int, float)) and math.isfinite(self.scale) and self.scale > 0):
            raise bad("scale", f"{self.scale!r} must be a positive number")
        for name in ("mean", "std"):
            values = getattr(self, name)
            if len(values) != self.channels:
                raise bad(name, f"needs {self.channels} value(s), one per channel, got {len(values)}")
            if not all(math.isfinite(v) for v in values):
                raise bad(name, "values must be finite")
        if not all(s > 0 for s in self.std):
            raise bad("std", "values must be positive")
        if not self.arch:
            raise bad("arch", "must name the architecture")
        if self.inputs not in INPUT_KINDS:
            raise bad("inputs", f"{self.inputs!r} is not one of {', '.join(INPUT_KINDS)}")
        if not isinstance(self.num_features, int) or isinstance(self.num_features, bool):
            raise bad("num_features", f"{self.num_features!r} is not an integer")
        if self.inputs == "landmarks" and not 1 <= self.num_features <= 65536:
            raise bad("num_features", f"{self.num_features!r} must be a positive count for a landmarks model")
        if self.inputs == "image" and self.num_features != 0:
            raise bad("num_features", f"{self.num_features!r} must be 0 for an image model (it is for landmarks)")
        for name in ("input_name", "output_name"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise bad(name, "must be a non-empty tensor name (the model's own, e.g. from `asl-edge spec`)")
        if not isinstance(self.batch, int) or isinstance(self.batch, bool) or not 0 <= self.batch <= 65536:
            raise bad("batch", f"{self.batch!r} must be 0 (any batch size) or the model's fixed batch size")

    # -- derived ----------------------------------------------------------------------------------
    @property
    def num_classes(self) -> int:
        return len(self.labels)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """One sample's shape: (C, H, W) for an NCHW image model, (H, W, C) for an NHWC one,
        (num_features,) for a landmarks model."""
        if self.inputs == "landmarks":
            return (self.num_features,)
        if self.layout == "NHWC":
            return (self.input_height, self.input_width, self.channels)
        return (self.channels, self.input_height, self.input_width)

    @property
    def fixed_batch(self) -> int | None:
        """The batch size every call must have, or None when the model takes any."""
        return self.batch or None

    def with_provenance(self, **items: Any) -> ModelSpec:
        return replace(self, trained_on={**self.trained_on, **items})

    # -- serialisation ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["labels"] = list(self.labels)
        data["mean"] = list(self.mean)
        data["std"] = list(self.std)
        data["trained_on"] = dict(self.trained_on)
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelSpec:
        if not isinstance(data, Mapping):
            raise SpecError(f"invalid ModelSpec: expected a JSON object, got {type(data).__name__}")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise SpecError(f"invalid ModelSpec field '{unknown[0]}': unknown field (is the model newer "
                            "than this asl-edge? upgrade asl-edge)")
        required = ("labels", "input_height", "input_width")
        missing = [name for name in required if name not in data]
        if missing:
            raise SpecError(f"invalid ModelSpec field '{missing[0]}': missing")
        try:
            return cls(**dict(data))
        except (TypeError, ValueError) as exc:
            raise SpecError(f"invalid ModelSpec: {exc}") from exc

    @classmethod
    def from_json(cls, text: str | bytes) -> ModelSpec:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError(f"invalid ModelSpec: not JSON ({exc.msg} at line {exc.lineno})") from exc
        return cls.from_dict(data)


def default_normalisation(color: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Mean/std for models trained from scratch on [0, 1] pixels: centred, unit-ish spread."""
    if color == "gray":
        return (0.5,), (0.5,)
    return (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)


IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def make_spec(labels: Sequence[str], arch: str, size: int | tuple[int, int], color: str,
              imagenet_stats: bool = False, resize: str = "stretch", **trained_on: Any) -> ModelSpec:
    """Build a spec with the usual normalisation for a colour mode."""
    height, width = (size, size) if isinstance(size, int) else size
    mean: tuple[float, ...]
    std: tuple[float, ...]
    if imagenet_stats and color == "rgb":
        mean, std = IMAGENET_MEAN, IMAGENET_STD
    else:
        mean, std = default_normalisation(color)
    return ModelSpec(labels=tuple(labels), input_height=height, input_width=width,
                     channels=1 if color == "gray" else 3, color=color, resize=resize,
                     mean=mean, std=std, arch=arch, trained_on=trained_on)


# The image fields of a landmarks spec: unused, but valid, so the spec passes every image-era check.
LANDMARK_PLACEHOLDER_SIZE = 8


def make_landmark_spec(labels: Sequence[str], num_features: int, arch: str = "landmark_mlp",
                       **trained_on: Any) -> ModelSpec:
    """A spec for a model that reads (N, num_features) landmark feature vectors (asl_edge.landmark_features)."""
    return ModelSpec(labels=tuple(labels), input_height=LANDMARK_PLACEHOLDER_SIZE,
                     input_width=LANDMARK_PLACEHOLDER_SIZE, channels=1, color="gray", mean=(0.0,), std=(1.0,),
                     scale=1.0, arch=arch, input_name="features", inputs="landmarks", num_features=num_features,
                     trained_on=trained_on)
