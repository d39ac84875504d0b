"""What an ONNX model's inputs and outputs are, checked against a ModelSpec, and a spec template made from them.

Models from elsewhere (a Keras CNN converted with tf2onnx, a PyTorch model exported by hand) carry no
asl-edge metadata and name their tensors as they like, lay out pixels NHWC or NCHW and often fix the batch
dimension at 1. `ModelIO` records what the graph itself says (read with onnxruntime, which a Jetson has
even without the onnx package); `check_spec` compares a spec with it and raises one SpecError per kind of
disagreement, naming the field to change; `template_spec` guesses a spec from the graph for `asl-edge spec`.
Both start from the checks of what asl-edge can drive at all, whatever a spec says (`check_drivable`: one
float32 input of 2 or 4 dims, an output; `classifier_classes`: an output shaped (N, classes)), so `asl-edge
spec` refuses exactly the graphs the backends refuse.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from asl_edge.errors import AslEdgeError, MissingDependencyError, ModelError, SpecError
from asl_edge.landmark_features import NUM_FEATURES
from asl_edge.onnx_header import load_onnx_model, open_cpu_session, set_missing_spec_advice, sidecar_spec_path
from asl_edge.spec import ASL_LETTERS, SIGN_MNIST_LETTERS, ModelSpec

# onnx.TensorProto element types as onnxruntime names them (the ones a classifier's input may have).
ONNX_TYPES = {1: "tensor(float)", 2: "tensor(uint8)", 3: "tensor(int8)", 6: "tensor(int32)", 7: "tensor(int64)",
              10: "tensor(float16)", 11: "tensor(double)"}

# A dimension the graph leaves open (a name such as "N" or "unk__12", or nothing) is None here.
Dim = int | None

# What asl-edge can run, for the messages about a graph it cannot: the fix is the model, not a spec.
DRIVABLE = ("asl-edge drives a model with one float32 input, an image batch (N,3,H,W) or (N,H,W,3) (1 channel for "
            "gray) or feature vectors (N,F), and one class-score output (N, classes)")


# The size a side of an image input may have (ModelSpec's input_height/input_width).
MIN_SIDE, MAX_SIDE = 8, 4096


class NeedsOptionError(ModelError):
    """`template_spec` cannot guess a field the graph leaves open, and `option` of `asl-edge spec` gives it."""

    def __init__(self, message: str, option: str) -> None:
        super().__init__(message)
        self.option = option


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[Dim, ...]
    dtype: str  # onnxruntime's type string, e.g. "tensor(float)"

    def describe(self) -> str:
        if not self.shape:  # onnxruntime shows a scalar and a tensor of unknown rank alike
            return f"'{self.name}' (no shape in the graph)"
        return f"'{self.name}' {'x'.join('?' if d is None else str(d) for d in self.shape)}"


def _dims(shape: Sequence[Any] | None) -> tuple[Dim, ...]:
    # onnxruntime gives ints for fixed dims and strings or None for symbolic ones; -1, and 0 on the batch axis,
    # also mean unknown. A 0 elsewhere is a real empty axis (e.g. an output of no classes), kept to be refused.
    return tuple(d if isinstance(d, int) and (d > 0 or (d == 0 and axis > 0)) else None
                 for axis, d in enumerate(shape or ()))


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
            listed = f" ({', '.join(t.describe() for t in self.inputs)})" if self.inputs else ""
            raise ModelError(f"{self.source} has {len(self.inputs)} inputs{listed}, so no spec can make asl-edge "
                             f"run it: {DRIVABLE}")
        return self.inputs[0]

    @property
    def fixed_batch(self) -> int | None:
        """The input's batch size when the graph fixes it (e.g. 1), else None."""
        shape = self.input.shape
        return shape[0] if shape else None

    def output_for(self, spec: ModelSpec) -> TensorInfo:
        """The output the spec names (`output_name`); a SpecError naming the graph's outputs when it has none of
        that name, as for a wrong input_name."""
        named = [o for o in self.outputs if o.name == spec.output_name]
        if named:
            return named[0]
        if len(self.outputs) == 1:
            name = self.outputs[0].name
            raise SpecError(f"{self.source}'s output is named '{name}' but the spec says output_name "
                            f"'{spec.output_name}'; set \"output_name\": \"{name}\" in the spec")
        raise SpecError(f"the spec's output_name '{spec.output_name}' is none of {self.source}'s outputs "
                        f"({', '.join(o.describe() for o in self.outputs)}); set \"output_name\" to the one that "
                        "gives class probabilities")


def check_drivable(io: ModelIO) -> TensorInfo:
    """Raise a ModelError for a graph asl-edge cannot run whatever its spec says (so the message offers no spec
    as the fix): other than one input, an input that is not float32, or not 2 dims (N, features) or 4 (an image
    batch), an empty input axis, no output. Return the input. The backends check this before asking for a spec,
    `asl-edge spec` before writing one."""
    tensor = io.input
    where = f"{io.source} input {tensor.describe()}"
    if tensor.dtype != "tensor(float)":
        raise ModelError(f"{where} takes {tensor.dtype}; asl-edge feeds float32 pixels or features, so export the "
                         "model with a float32 input (an FP16 graph keeps float32 inputs and outputs)")
    if len(tensor.shape) not in (2, 4):
        what = f"{where} has {len(tensor.shape)} dims" if tensor.shape else \
            f"{io.source} input '{tensor.name}' has no shape in the graph (rank unknown)"
        raise ModelError(f"{what}, so no spec can make asl-edge run it: {DRIVABLE}; export the model with such an "
                         "input")
    if 0 in tensor.shape:
        raise ModelError(f"{where} has an empty axis, so no spec can make asl-edge run it: {DRIVABLE}")
    if not io.outputs:
        raise ModelError(f"{io.source} has no outputs, so no spec can make asl-edge run it: {DRIVABLE}")
    return tensor


def _other_layout(spec: ModelSpec) -> str:
    return "NHWC" if spec.layout == "NCHW" else "NCHW"


def check_spec(io: ModelIO, spec: ModelSpec) -> TensorInfo:
    """Raise a SpecError naming the first disagreement between the graph and the spec (one kind per message,
    each with the field to change); return the output tensor to read."""
    tensor = check_drivable(io)
    where = f"{io.source} input {tensor.describe()}"
    if tensor.name != spec.input_name:
        raise SpecError(f"{io.source}'s input is named '{tensor.name}' but the spec says input_name "
                        f"'{spec.input_name}'; set \"input_name\": \"{tensor.name}\" in the spec")
    output = io.output_for(spec)  # output_name is checked where input_name is
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
    classes = classifier_classes(io, output)
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


def classifier_classes(io: ModelIO, output: TensorInfo) -> Dim:
    """The number of classes of a classifier's output (N, classes), singleton axes allowed (N x classes x 1 x 1
    from a conv head, N x 1 x 1 x classes from a Keras one: the backends flatten them); None when the graph
    leaves it open or states no shape. Raises ModelError for any other shape (not a classifier's scores): 1 dim,
    two axes of more than one, an empty axis, a single score."""
    if not output.shape:  # no shape in the graph (onnxruntime shows a scalar so too): a test run tells
        return None
    rest = output.shape[1:]
    sized = [d for d in rest if d is not None and d != 1]
    if len(output.shape) < 2 or len(sized) > 1 or 0 in rest:
        raise ModelError(f"{io.source}'s output {output.describe()} is not a classifier's: asl-edge expects class "
                         "scores shaped (N, classes), 2 dims or with singleton axes such as Nx24x1x1; export the "
                         "model up to its class-score output")
    if None in rest:
        return None
    classes = sized[0] if sized else 1
    if classes < 2:
        raise ModelError(f"{io.source}'s output {output.describe()} gives a single score, not one per class; "
                         f"{DRIVABLE} with at least 2 classes")
    return classes


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
    batch. The graph must be one asl-edge can run (`check_drivable`); `size` is refused for a features input, and
    a features input must take the NUM_FEATURES vectors of asl_edge.landmark_features (the only ones asl-edge
    feeds), an image input 8..4096 pixels a side. A field only an option can give raises NeedsOptionError.
    """
    tensor = check_drivable(io)
    notes: list[str] = []
    if size is not None and len(tensor.shape) == 2:
        raise ModelError(f"{io.source} input {tensor.describe()} takes feature vectors (N, features), not images; "
                         f"--size {size[0]} {size[1]} is only for an image model whose height and width the graph "
                         "leaves open: drop --size")
    output = io.outputs[0] if len(io.outputs) == 1 else None
    if output is None:
        names = " or ".join(f"'{o.name}'" for o in io.outputs)
        raise ModelError(f"{io.source} has {len(io.outputs)} outputs ({', '.join(o.describe() for o in io.outputs)}), "
                         "so `asl-edge spec` cannot tell which gives the class scores; write the spec by hand in "
                         f"{sidecar_name(io.source)} (or a file passed with --spec): a JSON object with \"labels\" (in "
                         f"output order), \"input_height\", \"input_width\", \"input_name\": \"{tensor.name}\" and "
                         f"\"output_name\": the class-score output ({names}), plus \"layout\", \"color\", "
                         "\"channels\", \"mean\" and \"std\" for a model that is not NCHW RGB")
    classes = classifier_classes(io, output)
    if labels is not None:
        labels = tuple(labels)
        if classes is not None and len(labels) != classes:
            raise SpecError(f"--labels gives {len(labels)} labels but {io.source}'s output {output.describe()} "
                            f"has {classes} classes")
    elif classes is None:
        raise NeedsOptionError(f"{io.source}'s output {output.describe()} does not say how many classes it has; "
                               "pass --labels A,B,C,... in output order", "--labels A,B,C,...")
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
        if features is not None and features != NUM_FEATURES:
            # asl-edge feeds exactly the vectors of asl_edge.landmark_features, whatever a spec says.
            raise ModelError(f"{io.source} input {tensor.describe()} takes {features} features, but asl-edge feeds a "
                             f"landmarks model the {NUM_FEATURES} features of asl_edge.landmark_features (made from "
                             "the hand stage's 21 landmarks); train the classifier on those features, e.g. with "
                             "`asl-edge train --input landmarks`, and export it")
        if features is None:
            notes.append(f"input: the graph leaves its feature count open: written as {NUM_FEATURES}, the count "
                         "asl_edge.landmark_features makes")
        notes.append("input: landmark feature vectors (asl_edge.landmark_features)")
        return ModelSpec(input_height=8, input_width=8, channels=1, color="gray", mean=(0.0,), std=(1.0,),
                         scale=1.0, inputs="landmarks", num_features=NUM_FEATURES, **common), notes
    sample = tensor.shape[1:]
    layout = guess_layout(sample)
    channels, height, width = (sample[0], sample[1], sample[2]) if layout == "NCHW" \
        else (sample[2], sample[0], sample[1])
    if channels not in (1, 3):
        raise ModelError(f"{io.source} input {tensor.describe()} has {channels or 'open'} channels; asl-edge feeds "
                         "1 (gray) or 3 (RGB), so no spec can make it run this model: export the model with a 1- or "
                         "3-channel input, (N,C,H,W) or (N,H,W,C)")
    if size is not None:
        # --size fills only what the graph leaves open: a spec of another size is rejected by every command.
        if (height is not None and height != size[0]) or (width is not None and width != size[1]):
            raise ModelError(f"{io.source} input {tensor.describe()} fixes its size at {height or '?'}x{width or '?'} "
                             f"({layout}); --size {size[0]} {size[1]} is only for a size the graph leaves open: "
                             "drop --size")
        height, width = size
        if not all(MIN_SIDE <= side <= MAX_SIDE for side in size):
            raise ModelError(f"--size {size[0]} {size[1]} is outside the {MIN_SIDE}..{MAX_SIDE} pixels a side that "
                             "asl-edge feeds; pass the size the model was trained on")
    if height is None or width is None:
        raise NeedsOptionError(f"{io.source} input {tensor.describe()} leaves height/width open; pass --size HEIGHT "
                               "WIDTH", "--size HEIGHT WIDTH")
    if not (MIN_SIDE <= height <= MAX_SIDE and MIN_SIDE <= width <= MAX_SIDE):
        raise ModelError(_size_refusal(io.source, tensor, sample, layout))
    color = "gray" if channels == 1 else "rgb"
    notes.append(f"input: {layout}, {height}x{width} {color}; pixels scaled by 1/255 with mean 0 and std 1: "
                 "change \"scale\", \"mean\" and \"std\" to the model's training normalisation")
    if common["batch"]:
        notes.append(f"batch: fixed at {common['batch']}: inputs are sent {common['batch']} at a time")
    return ModelSpec(input_height=height, input_width=width, channels=channels, color=color, layout=layout,
                     scale=1.0 / 255.0, mean=(0.0,) * channels, std=(1.0,) * channels, **common), notes


def _size_refusal(source: str, tensor: TensorInfo, sample: tuple[Dim, ...], layout: str) -> str:
    """Why an image input with a side outside MIN_SIDE..MAX_SIDE gets no spec: each layout it could be read as,
    and that none gives an image asl-edge feeds (so the fix is the model's input)."""
    readings = []
    for name in ("NCHW", "NHWC"):
        channels, height, width = (sample[0], sample[1], sample[2]) if name == "NCHW" \
            else (sample[2], sample[0], sample[1])
        if channels in (1, 3):
            readings.append(f"as {name}, {height or '?'}x{width or '?'} pixels of {channels} channel(s)")
    told = "cannot tell its layout: read " + " or ".join(readings) if len(readings) > 1 else \
        f"is {layout}: read {readings[0] if readings else 'as ' + layout}"
    return (f"{source} input {tensor.describe()} {told}; asl-edge feeds images of {MIN_SIDE}..{MAX_SIDE} pixels a "
            "side, so no spec can describe this input: export the model with an image input of at least "
            f"{MIN_SIDE}x{MIN_SIDE} pixels, (N,3,H,W) or (N,H,W,3) (1 channel for gray)")


def sidecar_name(source: str) -> str:
    """The sidecar spec file's name for a model path (MODEL.onnx -> MODEL.spec.json), as messages show it."""
    return str(sidecar_spec_path(source))


def missing_spec_advice(source: str) -> str | None:
    """What to do about a model that carries no spec, as the end of onnx_header's "carries no ModelSpec" line:
    None (that line's own fix, `asl-edge spec MODEL.onnx`) when `template_spec` can make one for the graph; the
    option it needs (`--labels`, `--size`) when that is what it lacks; otherwise template_spec's own reason, which
    is what `asl-edge spec` itself would say (a graph no spec can make run, or a spec only a hand can write). None
    too when the graph cannot be read here (the line's own fix then says the rest)."""
    if not os.path.isfile(source):
        return None
    try:
        try:
            io = ModelIO.from_path(source)
        except MissingDependencyError:  # no onnxruntime (a build machine): the onnx package reads the graph
            io = ModelIO.from_onnx(load_onnx_model(source), source)
    except AslEdgeError:
        return None
    try:
        template_spec(io)
    except NeedsOptionError as exc:
        return (f": write one with `asl-edge spec {source} {exc.option}` ({exc}), then check its labels, or pass "
                "--spec SPEC.json")
    except AslEdgeError as exc:
        return f", and `asl-edge spec` cannot write one: {exc}"
    return None


set_missing_spec_advice(missing_spec_advice)
