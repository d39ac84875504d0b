"""What an ONNX model's inputs and outputs are, checked against a ModelSpec, and a spec template made from them.

Models from elsewhere (a Keras CNN converted with tf2onnx, a PyTorch model exported by hand) carry no
asl-edge metadata and name their tensors as they like, lay out pixels NHWC or NCHW and often fix the batch
dimension at 1. `ModelIO` records what the graph itself says (read with onnxruntime, which a Jetson has
even without the onnx package); `check_spec` compares a spec with it and raises one SpecError per kind of
disagreement, naming the field to change; `template_spec` guesses a spec from the graph for `asl-edge spec`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from asl_edge.errors import ModelError, SpecError
from asl_edge.onnx_header import open_cpu_session
from asl_edge.spec import ASL_LETTERS, SIGN_MNIST_LETTERS, ModelSpec

# onnx.TensorProto element types as onnxruntime names them (the ones a classifier's input may have).
ONNX_TYPES = {1: "tensor(float)", 2: "tensor(uint8)", 3: "tensor(int8)", 6: "tensor(int32)", 7: "tensor(int64)",
              10: "tensor(float16)", 11: "tensor(double)"}

# A dimension the graph leaves open (a name such as "N" or "unk__12", or nothing) is None here.
Dim = int | None


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[Dim, ...]
    dtype: str  # onnxruntime's type string, e.g. "tensor(float)"

    def describe(self) -> str:
        return f"'{self.name}' {'x'.join('?' if d is None else str(d) for d in self.shape)}"


def _dims(shape: Sequence[Any] | None) -> tuple[Dim, ...]:
    # onnxruntime gives ints for fixed dims and strings or None for symbolic ones; 0 or -1 also mean unknown.
    return tuple(d if isinstance(d, int) and d > 0 else None for d in (shape or ()))


@dataclass(frozen=True)
class ModelIO:
    """The graph inputs and outputs of one ONNX model, in graph order."""

    source: str
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]

    @classmethod
    def from_session(cls, session: Any, source: str) -> ModelIO:
        """From an onnxruntime.InferenceSession (or anything with its get_inputs/get_outputs)."""
        return cls(source,
                   tuple(TensorInfo(i.name, _dims(i.shape), str(i.type)) for i in session.get_inputs()),
                   tuple(TensorInfo(o.name, _dims(o.shape), str(o.type)) for o in session.get_outputs()))

    @classmethod
    def from_onnx(cls, model: Any, source: str) -> ModelIO:
        """From an in-memory onnx.ModelProto (workstation side, and builds where onnxruntime is absent)."""
        weights = {t.name for t in model.graph.initializer}

        def info(value: Any) -> TensorInfo:
            tensor = value.type.tensor_type
            shape = tuple(int(d.dim_value) if d.HasField("dim_value") else None for d in tensor.shape.dim)
            dtype = ONNX_TYPES.get(tensor.elem_type, f"elem_type {tensor.elem_type}")
            return TensorInfo(value.name, _dims(shape), dtype)

        return cls(source, tuple(info(v) for v in model.graph.input if v.name not in weights),
                   tuple(info(v) for v in model.graph.output))

    @classmethod
    def from_path(cls, path: str | os.PathLike[str]) -> ModelIO:
        return cls.from_session(open_cpu_session(path), str(path))

    @property
    def input(self) -> TensorInfo:
        if len(self.inputs) != 1:
            raise ModelError(f"{self.source} has {len(self.inputs)} inputs "
                             f"({', '.join(t.describe() for t in self.inputs)}); an asl-edge classifier takes one "
                             "image or landmark-feature tensor")
        return self.inputs[0]

    @property
    def fixed_batch(self) -> int | None:
        """The input's batch size when the graph fixes it (e.g. 1), else None."""
        shape = self.input.shape
        return shape[0] if shape else None

    def output_for(self, spec: ModelSpec) -> TensorInfo:
        """The output the spec names; the only output when there is one."""
        named = [o for o in self.outputs if o.name == spec.output_name]
        if named:
            return named[0]
        if len(self.outputs) == 1:
            return self.outputs[0]
        raise SpecError(f"the spec's output_name '{spec.output_name}' is none of {self.source}'s outputs "
                        f"({', '.join(o.describe() for o in self.outputs)}); set \"output_name\" to the one that "
                        "gives class probabilities")


def _other_layout(spec: ModelSpec) -> str:
    return "NHWC" if spec.layout == "NCHW" else "NCHW"


def check_spec(io: ModelIO, spec: ModelSpec) -> TensorInfo:
    """Raise a SpecError naming the first disagreement between the graph and the spec (one kind per message,
    each with the field to change); return the output tensor to read."""
    tensor = io.input
    where = f"{io.source} input {tensor.describe()}"
    if tensor.name != spec.input_name:
        raise SpecError(f"{io.source}'s input is named '{tensor.name}' but the spec says input_name "
                        f"'{spec.input_name}'; set \"input_name\": \"{tensor.name}\" in the spec")
    if tensor.dtype != "tensor(float)":
        raise ModelError(f"{where} takes {tensor.dtype}; asl-edge feeds float32 pixels or features, so export the "
                         "model with a float32 input (an FP16 graph keeps float32 inputs and outputs)")
    sample = spec.input_shape
    if len(tensor.shape) != 1 + len(sample):
        kind = "(N, features)" if spec.inputs == "landmarks" else f"{spec.layout} (4 dims)"
        raise SpecError(f"{where} has {len(tensor.shape)} dims but the spec describes a {spec.inputs} model {kind}; "
                        "fix \"inputs\"/\"layout\" in the spec or write a new one with `asl-edge spec`")
    batch = tensor.shape[0]
    if spec.batch and batch is not None and spec.batch != batch:
        raise SpecError(f"{where} has a fixed batch of {batch} but the spec says batch {spec.batch}; "
                        f"set \"batch\": {batch}")
    graph = tensor.shape[1:]
    if spec.inputs == "landmarks":
        if graph[0] is not None and graph[0] != spec.num_features:
            raise SpecError(f"{where} takes {graph[0]} features but the spec says num_features {spec.num_features}")
    else:
        _check_image_dims(where, graph, spec)
    output = io.output_for(spec)
    classes = _class_axis(output.shape)[-1] if output.shape else None
    if classes is not None and classes != spec.num_classes:
        raise SpecError(f"the spec lists {spec.num_classes} labels but {io.source}'s output {output.describe()} "
                        f"gives {classes} classes; list exactly {classes} labels, in output order")
    return output


def _check_image_dims(where: str, graph: tuple[Dim, ...], spec: ModelSpec) -> None:
    def agrees(expected: tuple[int, ...]) -> bool:
        return all(d is None or d == e for d, e in zip(graph, expected, strict=True))

    if agrees(spec.input_shape):
        return
    swapped = (spec.input_height, spec.input_width, spec.channels) if spec.layout == "NCHW" \
        else (spec.channels, spec.input_height, spec.input_width)
    if agrees(swapped):
        raise SpecError(f"{where} is {_other_layout(spec)} but the spec says layout {spec.layout}; "
                        f"set \"layout\": \"{_other_layout(spec)}\"")
    channel_axis, hw_axes = (0, (1, 2)) if spec.layout == "NCHW" else (2, (0, 1))
    channels = graph[channel_axis]
    if channels is not None and channels != spec.channels:
        color = "gray" if channels == 1 else "rgb"
        raise SpecError(f"{where} has {channels} channel(s) ({spec.layout}) but the spec says channels "
                        f"{spec.channels} (color {spec.color}); set \"color\": \"{color}\", \"channels\": {channels} "
                        f"and {channels} mean/std value(s)")
    height, width = (graph[a] for a in hw_axes)
    raise SpecError(f"{where} takes {height or '?'}x{width or '?'} pixels ({spec.layout}) but the spec says "
                    f"input_height {spec.input_height}, input_width {spec.input_width}; set them to the model's size")


# -- templates ---------------------------------------------------------------------------------------------
# Label lists recognised by their length: the class orders of the datasets asl-edge reads.
KNOWN_LABELS: dict[int, tuple[tuple[str, ...], str]] = {
    24: (tuple(c for c in SIGN_MNIST_LETTERS if c != "J"), "Sign Language MNIST's 24 letters (A-Y without J)"),
    26: (ASL_LETTERS, "A-Z"),
    29: ((*ASL_LETTERS, "del", "nothing", "space"),
         "the ASL Alphabet set's A-Z, del, nothing, space (sorted folder names)"),
}


def _class_axis(shape: tuple[Dim, ...]) -> tuple[Dim, ...]:
    # A classifier's scores may keep trailing 1s (N x classes x 1 x 1 from a conv head); the backend flattens
    # them, so the class count is the last dim before them.
    while len(shape) > 2 and shape[-1] == 1:
        shape = shape[:-1]
    return shape


def classifier_classes(io: ModelIO, output: TensorInfo) -> Dim:
    """The number of classes of a classifier's output (N, classes), trailing 1s allowed; None when the graph
    leaves it open or states no shape. Raises ModelError for any other shape (not a classifier's scores)."""
    if not output.shape:  # no shape in the graph: nothing to check, --labels gives the count
        return None
    shape = _class_axis(output.shape)
    if len(shape) != 2:
        raise ModelError(f"{io.source}'s output {output.describe()} is not a classifier's: asl-edge expects class "
                         "scores shaped (N, classes), 2 dims or with trailing 1s such as Nx24x1x1; export the "
                         "model up to its class-score output")
    return shape[1]


def guess_layout(sample: tuple[Dim, ...]) -> str:
    """NHWC when the last axis looks like channels (1 or 3) and the first does not, else NCHW."""
    first, last = sample[0], sample[-1]
    if last in (1, 3) and first not in (1, 3):
        return "NHWC"
    return "NCHW"


def template_spec(io: ModelIO, labels: Sequence[str] | None = None,
                  size: tuple[int, int] | None = None) -> tuple[ModelSpec, list[str]]:
    """A spec guessed from the graph, and the lines telling the user what to check.

    Layout from the input shape (`guess_layout`), channels 1 -> gray, 3 -> rgb; height/width from the
    graph, or `size` where the graph leaves them open (a different size is refused); the output must be a
    classifier's (N, classes) (`classifier_classes`); labels from `labels`, else a known list of the output's
    length (KNOWN_LABELS), else placeholders class_0..; pixels scaled by 1/255 with mean 0 and std 1 (Keras'
    Rescaling(1./255), the Sign Language MNIST course's convention); the graph's own tensor names and fixed
    batch.
    """
    tensor = io.input
    notes: list[str] = []
    output = io.outputs[0] if len(io.outputs) == 1 else None
    if output is None:
        raise ModelError(f"{io.source} has {len(io.outputs)} outputs ({', '.join(o.describe() for o in io.outputs)}); "
                         "write the spec by hand and set \"output_name\" to the class-probability output")
    classes = classifier_classes(io, output)
    if labels is not None:
        labels = tuple(labels)
        if classes is not None and len(labels) != classes:
            raise SpecError(f"--labels gives {len(labels)} labels but {io.source}'s output {output.describe()} "
                            f"has {classes} classes")
    elif classes is None:
        raise ModelError(f"{io.source}'s output {output.describe()} does not say how many classes it has; "
                         "pass --labels A,B,C,... in output order")
    elif classes in KNOWN_LABELS:
        labels, described = KNOWN_LABELS[classes]
        notes.append(f"labels: guessed {described} from {classes} outputs; check the order")
    else:
        labels = tuple(f"class_{i}" for i in range(classes))
        notes.append(f"labels: {classes} placeholders class_0..class_{classes - 1}: replace them with the letters, "
                     "in output order")
    common: dict[str, Any] = {"labels": labels, "input_name": tensor.name, "output_name": output.name,
                              "batch": (tensor.shape[0] or 0) if tensor.shape else 0, "arch": "external",
                              "trained_on": {"source": "asl-edge spec template"}}
    if len(tensor.shape) == 2:
        features = tensor.shape[1]
        if features is None:
            raise ModelError(f"{io.source} input {tensor.describe()} has an open feature count")
        notes.append("input: landmark feature vectors (asl_edge.landmark_features)")
        return ModelSpec(input_height=8, input_width=8, channels=1, color="gray", mean=(0.0,), std=(1.0,),
                         scale=1.0, inputs="landmarks", num_features=features, **common), notes
    if len(tensor.shape) != 4:
        raise ModelError(f"{io.source} input {tensor.describe()} is neither an image batch (4 dims) nor "
                         "feature vectors (2 dims)")
    sample = tensor.shape[1:]
    layout = guess_layout(sample)
    channels, height, width = (sample[0], sample[1], sample[2]) if layout == "NCHW" \
        else (sample[2], sample[0], sample[1])
    if channels not in (1, 3):
        raise ModelError(f"{io.source} input {tensor.describe()} has {channels or 'open'} channels; asl-edge feeds "
                         "1 (gray) or 3 (RGB)")
    if size is not None:
        # --size fills only what the graph leaves open: a spec of another size is rejected by every command.
        if (height is not None and height != size[0]) or (width is not None and width != size[1]):
            raise ModelError(f"{io.source} input {tensor.describe()} fixes its size at {height or '?'}x{width or '?'} "
                             f"({layout}); --size {size[0]} {size[1]} is only for a size the graph leaves open: "
                             "drop --size")
        height, width = size
    if height is None or width is None:
        raise ModelError(f"{io.source} input {tensor.describe()} leaves height/width open; pass --size HEIGHT WIDTH")
    color = "gray" if channels == 1 else "rgb"
    notes.append(f"input: {layout}, {height}x{width} {color}; pixels scaled by 1/255 with mean 0 and std 1: "
                 "change \"scale\", \"mean\" and \"std\" to the model's training normalisation")
    if common["batch"]:
        notes.append(f"batch: fixed at {common['batch']}: inputs are sent {common['batch']} at a time")
    return ModelSpec(input_height=height, input_width=width, channels=channels, color=color, layout=layout,
                     scale=1.0 / 255.0, mean=(0.0,) * channels, std=(1.0,) * channels, **common), notes
