"""asl-edge spec MODEL.onnx: write a ModelSpec template from an ONNX file's own inputs and outputs.

For models brought from elsewhere (e.g. a Keras CNN converted with tf2onnx). The template is written beside
the model as MODEL.spec.json (the sidecar that run, eval, benchmark and build read automatically) or to
--out; it never replaces an existing file. The lines it prints say which fields were guessed.

A model exported by asl-edge carries its spec; a sidecar overrides that spec, so for such a model the file
written is an exact copy of it (editing the copy changes only what the user edits) rather than guesses that
would silently replace the real labels and normalisation.

Nothing is written that the commands would then refuse: the graph must be one asl-edge can run
(model_io.check_drivable), and the spec passes the ONNX Runtime backend's own checks, against the graph
(model_io.check_spec) and on one test batch of zeros (the shape of the scores it returns). Where the graph leaves the
batch open, a batch of 2 is run too: a model that runs 1 input but fails on 2 (a Reshape to a fixed [1, ...]) gets
"batch": 1, which every command honours.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from asl_edge.artifacts import atomic_write_text
from asl_edge.errors import AslEdgeError, ModelError, SpecError
from asl_edge.onnx_header import open_cpu_session, sidecar_spec_path, spec_from_metadata
from asl_edge.runtime.backends.base import InferenceError, OutputShapeError
from asl_edge.runtime.backends.model_io import DRIVABLE, ModelIO, check_drivable, template_spec
from asl_edge.spec import ONNX_METADATA_KEY, ModelSpec


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, help="the ONNX model to describe")
    parser.add_argument("--out", type=Path, default=None,
                        help="where to write the spec (default: MODEL.spec.json beside the model, read automatically)")
    parser.add_argument("--labels", default=None, metavar="A,B,C",
                        help="class labels in output order, comma-separated (default: guessed from the number of "
                             "outputs: 24 Sign Language MNIST letters, 26 A-Z, 29 ASL Alphabet; else placeholders)")
    parser.add_argument("--size", type=int, nargs=2, default=None, metavar=("HEIGHT", "WIDTH"),
                        help="input size in pixels, for a model whose height and width are not fixed in the graph")


def run(args: argparse.Namespace) -> int:
    if args.model.suffix.lower() != ".onnx":
        raise ModelError(f"{args.model} is not an .onnx file; `asl-edge spec` reads an ONNX model's inputs and outputs")
    out = args.out if args.out is not None else sidecar_spec_path(args.model)
    if out.is_dir():
        raise AslEdgeError(f"--out {out} is a folder; --out names the spec file to write, e.g. "
                           f"--out {out / sidecar_spec_path(args.model).name}")
    if out.exists():
        raise AslEdgeError(f"{out} already exists and is kept; edit it, delete it, or choose another --out")
    labels = _parse_labels(args.labels) if args.labels is not None else None
    if args.size is not None and min(args.size) < 1:
        raise AslEdgeError(f"--size {args.size[0]} {args.size[1]} must be positive pixel counts")
    session = open_cpu_session(args.model)
    io = ModelIO.from_session(session, str(args.model))
    check_drivable(io)
    embedded, notes = _embedded_spec(args.model, dict(session.get_modelmeta().custom_metadata_map))
    if embedded is not None:
        try:
            _test_run(session, embedded, args.model)
        except (SpecError, OutputShapeError) as exc:  # the spec disagrees with the graph: as for an invalid one
            notes.append(f"the spec embedded in the model does not fit its graph ({exc}); this template replaces it")
            embedded = None
    if embedded is not None:
        if labels is not None or args.size is not None:
            raise AslEdgeError(f"{args.model} carries its own spec (embedded by `asl-edge export`), so --labels and "
                               f"--size do not apply; drop them: `asl-edge spec {args.model}` writes a copy of that "
                               "spec to edit")
        spec = embedded
    else:
        spec, guesses = template_spec(io, labels, tuple(args.size) if args.size else None)
        notes += guesses
        spec, checked = _check_template(session, io, spec, args.model, labels is not None)
        notes += checked
    atomic_write_text(out, json.dumps(spec.to_dict(), indent=2, sort_keys=True) + "\n")
    if embedded is not None:
        print(f"wrote {out}: a copy of the spec embedded in {args.model} by `asl-edge export` (nothing guessed)")
        print("  it overrides the embedded spec: change only what should differ, or delete it to use the "
              "embedded spec again")
    else:
        print(f"wrote {out}")
    for note in notes:
        print(f"  {note}")
    where = "check it" if embedded is None else "edit it"
    if out == sidecar_spec_path(args.model):
        print(f"{where}: run, eval, benchmark and build read it automatically beside the model")
    else:
        print(f"{where}, then name it in run, eval, benchmark and build, e.g. `asl-edge run --spec {out} ...`")
    return 0


def _embedded_spec(model: Path, metadata: dict[str, str]) -> tuple[ModelSpec | None, list[str]]:
    """The spec `asl-edge export` embedded in the model, if any, and a note when one is there but invalid
    (then a template is the fix: a sidecar replaces the embedded spec without parsing it)."""
    if ONNX_METADATA_KEY not in metadata:
        return None, []
    try:
        return spec_from_metadata(metadata, str(model)), []
    except SpecError as exc:
        return None, [f"the spec embedded in the model is invalid ({exc}); this template replaces it"]


def _parse_labels(text: str) -> list[str]:
    """--labels A,B,C as a list, refused (with the fix) when a label is empty or listed twice."""
    labels = [x.strip() for x in text.split(",")]
    if not all(labels):
        raise AslEdgeError(f"--labels {text} has an empty label; list every class once, comma-separated, in output "
                           "order (e.g. --labels A,B,C)")
    twice = sorted({label for label in labels if labels.count(label) > 1})
    if twice:
        raise AslEdgeError(f"--labels {text} lists {', '.join(map(repr, twice))} more than once; list each label "
                           "once, in output order")
    return labels


def _test_run(session: Any, spec: ModelSpec, model: Path) -> None:
    """What every command does with the model and `spec` before and while it runs: the ONNX Runtime backend's
    check of the spec against the graph (SpecError, ModelError), then one batch of zeros (the fixed batch, or 1)
    through it and the check of the scores' shape (OutputShapeError); a failure of
    onnxruntime's own is a ModelError."""
    from asl_edge.runtime.backends.onnxruntime_backend import OnnxRuntimeBackend

    with OnnxRuntimeBackend(session, spec, "fp32", str(model)) as backend:  # the precision is only a label here
        batch = np.zeros((backend.fixed_batch or 1, *spec.input_shape), np.float32)
        try:
            backend.infer(batch)
        except InferenceError as exc:  # onnxruntime failed to run the batch
            raise ModelError(f"{model} fails a test run on a {'x'.join(map(str, batch.shape))} batch of zeros, the "
                             f"input asl-edge would feed it ({exc.reason}); {DRIVABLE}") from None


def _check_template(session: Any, io: ModelIO, spec: ModelSpec, model: Path,
                    labels_given: bool) -> tuple[ModelSpec, list[str]]:
    """A guessed spec through `_test_run`; scores of another shape are said as what the model gave and the fix.
    Where the graph leaves the batch open, a batch of 2 is tried too: a model that runs only one input at a time
    (a Reshape to a fixed [1, ...]) gets "batch": 1, which every command honours. Returns the spec to write and
    the notes to print."""
    try:
        _test_run(session, spec, model)
    except OutputShapeError as exc:
        rows, got = exc.expected[0], exc.shape
        if len(got) == 2 and got[0] == rows and got[1] >= 2 and labels_given:
            raise SpecError(f"{model}'s output '{spec.output_name}' gives {got[1]} class scores in a test run, "
                            f"but --labels lists {spec.num_classes}; pass exactly {got[1]} labels, in output "
                            "order") from None
        raise ModelError(f"{model}'s output '{spec.output_name}' gives shape {got} for a test batch of {rows}, not "
                         f"({rows}, classes) class scores, so no spec can make asl-edge run it: {DRIVABLE}; export the "
                         "model up to its class-score output") from None
    if io.fixed_batch is not None or spec.fixed_batch is not None:
        return spec, []
    from asl_edge.runtime.backends.onnxruntime_backend import OnnxRuntimeBackend

    with OnnxRuntimeBackend(session, spec, "fp32", str(model)) as backend:
        try:
            backend.infer(np.zeros((2, *spec.input_shape), np.float32))
        except InferenceError as exc:  # onnxruntime failed to run 2 at once
            why = exc.reason
        except OutputShapeError as exc:  # scores for 1 whatever the batch
            why = f"its output gives shape {exc.shape} for 2 inputs"
        else:
            return spec, []
    return replace(spec, batch=1), [
        f"batch: the graph leaves the batch open, but the model runs 1 input and fails on 2 at once ({why}); "
        "wrote \"batch\": 1, so every command sends it one input per call"]
