"""asl-edge spec MODEL.onnx: write a ModelSpec template from an ONNX file's own inputs and outputs.

For models brought from elsewhere (e.g. a Keras CNN converted with tf2onnx). The template is written beside
the model as MODEL.spec.json (the sidecar that run, eval, benchmark and build read automatically) or to
--out; it never replaces an existing file. The lines it prints say which fields were guessed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from asl_edge.artifacts import atomic_write_text
from asl_edge.errors import AslEdgeError, ModelError
from asl_edge.onnx_header import sidecar_spec_path
from asl_edge.runtime.backends.model_io import ModelIO, template_spec


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
    if out.exists():
        raise AslEdgeError(f"{out} already exists and is kept; edit it, delete it, or choose another --out")
    labels = [x.strip() for x in args.labels.split(",")] if args.labels is not None else None
    if args.size is not None and min(args.size) < 1:
        raise AslEdgeError(f"--size {args.size[0]} {args.size[1]} must be positive pixel counts")
    spec, notes = template_spec(ModelIO.from_path(args.model), labels, tuple(args.size) if args.size else None)
    atomic_write_text(out, json.dumps(spec.to_dict(), indent=2, sort_keys=True) + "\n")
    print(f"wrote {out}")
    for note in notes:
        print(f"  {note}")
    if out == sidecar_spec_path(args.model):
        print("check it: run, eval, benchmark and build read it automatically beside the model")
    else:
        print(f"check it, then name it in run, eval, benchmark and build, e.g. `asl-edge run --spec {out} ...`")
    return 0
