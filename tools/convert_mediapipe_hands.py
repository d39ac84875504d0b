"""Convert Google's MediaPipe hand models (TFLite, Apache-2.0) to ONNX, check parity, write them into the package.

The palm detector and the hand-landmark model (full and lite of each) come from the `mediapipe==0.10.14`
wheel on PyPI, the last release that bundles them. This script

1. downloads that wheel with pip (no install) and checks its sha256, extracts the four .tflite files and
   the Apache-2.0 licence text;
2. converts each with tf2onnx (opset 17, input made NCHW, batch fixed at 1), renames inputs and outputs
   to stable names and renames the constants deterministically, so a rerun gives byte-identical files;
3. runs TFLite (tf.lite.Interpreter, XNNPACK, as MediaPipe does) and ONNX Runtime (CPU) on real photos:
   letterboxed 192x192 frames for the palm detector, 224x224 rotated hand crops (cut the way MediaPipe
   cuts them, from the palm detection) for the landmark model, and fails if they differ beyond the
   tolerances below;
4. writes asl_edge/assets/hands/*.onnx, LICENSE and ORIGIN.md (origin, versions, names, shapes, ranges,
   measured parity, sha256) and the test fixture tests/fixtures/hand_reference.npz, each atomically.

TensorFlow, tf2onnx and mediapipe are not dependencies of asl-edge: run this in a throw-away virtualenv
outside the repository (tested on Python 3.11, x86-64 Linux):

    python3 -m venv /tmp/convert-venv
    /tmp/convert-venv/bin/pip install tensorflow-cpu==2.15.1 tf2onnx==1.17.0 onnx==1.17.0 \
        onnxruntime==1.26.0 numpy==1.26.4 opencv-python-headless==4.11.0.86
    /tmp/convert-venv/bin/python tools/convert_mediapipe_hands.py

(pyproject.toml's `convert` extra records the same TensorFlow and tf2onnx pins.) Options: --data (the photographs,
default ../shared/data), --wheel (a local copy of the wheel instead of downloading), --check-only
(convert and compare, write nothing). Bad input or a parity failure ends with one `error:` line.

Each step is a module of tools/mediapipe_hands/ (common, wheel, conversion, inputs, parity, outputs, origin);
this file parses the options and runs them in order.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import os
import sys
import tempfile
import time
from pathlib import Path

from mediapipe_hands.common import (
    ASSETS,
    DATA,
    FIXTURE,
    INSTALL,
    MODELS,
    PAD_FRACTION,
    PALM_SIZE,
    PHOTO_SETS,
    WHEEL_NAME,
    ConversionError,
    sha256,
    write_atomic,
)
from mediapipe_hands.conversion import convert
from mediapipe_hands.inputs import Letterbox, hand_crop, letterbox, palm_anchors, photo_paths, read_rgb, sigmoid
from mediapipe_hands.origin import origin_markdown
from mediapipe_hands.outputs import fixture_bytes, landmark_present, palm_margin_ok, pick_fixture
from mediapipe_hands.parity import (
    Pair,
    Sample,
    check_tolerances,
    input_convention_check,
    landmark_parity,
    palm_parity,
    run_all,
)
from mediapipe_hands.wheel import fetch_wheel, read_wheel

try:
    import cv2
    import numpy as np
except ImportError:  # main() names what to install
    pass


# --- main ----------------------------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA, help="folder holding asl-alphabet-mini and "
                        "asl-letters-multi (default: %(default)s)")
    parser.add_argument("--wheel", type=Path, help=f"a local {WHEEL_NAME} instead of pip download")
    parser.add_argument("--out", type=Path, default=ASSETS, help="where the ONNX files go (default: %(default)s)")
    parser.add_argument("--fixture", type=Path, default=FIXTURE, help="the test fixture (default: %(default)s)")
    parser.add_argument("--per-letter", type=int, default=2, help="photos per letter and set for parity")
    parser.add_argument("--check-only", action="store_true", help="convert and compare, write nothing")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    modules = ("tensorflow", "tf2onnx", "onnx", "onnxruntime", "numpy", "cv2")
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        print(f"error: {', '.join(missing)} not installed; in a throw-away virtualenv run: {INSTALL}",
              file=sys.stderr)
        return 2
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        run(args)
    except ConversionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def run(args: argparse.Namespace) -> None:
    start = time.monotonic()
    paths = photo_paths(args.data, args.per_letter)  # fail on a wrong --data before the slow steps
    with tempfile.TemporaryDirectory(prefix="mediapipe-hands-") as tmp:
        work = Path(tmp)
        wheel = fetch_wheel(work, args.wheel)
        wheel_sha = sha256(wheel.read_bytes())
        tflite, licence = read_wheel(wheel)
        onnx_files: dict[str, bytes] = {}
        pairs: dict[str, Pair] = {}
        for model in MODELS:
            path = work / f"{model.name}.tflite"
            path.write_bytes(tflite[model.name])
            onnx_files[model.name] = convert(model, path, sha256(tflite[model.name]))
            pairs[model.name] = Pair(model, path, onnx_files[model.name])
            print(f"converted {model.name}: {len(onnx_files[model.name]):,} bytes", flush=True)

        anchors = palm_anchors()
        palm: list[Sample] = []
        crops: list[Sample] = []
        framed: list[tuple[np.ndarray, tuple[int, int], Letterbox]] = []
        for path in paths:
            photo = read_rgb(path)
            h, w = photo.shape[:2]
            pad = (round(w * PAD_FRACTION), round(h * PAD_FRACTION))
            padded = cv2.copyMakeBorder(photo, pad[1], pad[1], pad[0], pad[0], cv2.BORDER_CONSTANT, value=(0, 0, 0))
            framed.append((photo, pad, letterbox(padded, PALM_SIZE)))
            palm.append(Sample(str(path.relative_to(args.data)), path.parent.parent.name, framed[-1][2].image))
        run_all(pairs, palm, "palm")
        for sample, (photo, pad, box) in zip(palm, framed, strict=True):
            out = sample.tflite["palm_detection_full"]
            if sigmoid(out["scores"]).max() >= 0.5:
                crop = hand_crop(photo, pad, box, out["regressors"], out["scores"][:, 0], anchors)
                crops.append(Sample(sample.source, sample.photo_set, crop))
        if not crops:
            raise ConversionError("the palm detector found no hand in any photograph")
        run_all(pairs, crops, "landmark")

        results = {m.name: (palm_parity(m.name, palm) if m.kind == "palm" else landmark_parity(m.name, crops))
                   for m in MODELS}
        empty = [read_rgb(p) for p in sorted((args.data / PHOTO_SETS[0] / "nothing").glob("*.jpg"))[::5]]
        convention = input_convention_check(pairs, palm, crops, empty)
        for name, r in results.items():
            print(name, {k: v for k, v in r.items()})
        for k, val in convention.items():
            print(f"input convention: {k}: {val:.3f}")
        check_tolerances(results)
        fixture = fixture_bytes(pick_fixture(palm, palm_margin_ok), pick_fixture(crops, landmark_present))
        origin = origin_markdown(wheel_sha, tflite, onnx_files, results, convention, len(paths), len(empty),
                                 args.per_letter)
        if args.check_only:
            print(f"parity within tolerance; nothing written (--check-only), {time.monotonic() - start:.0f} s")
            return
        for model in MODELS:
            write_atomic(args.out / model.onnx_name, onnx_files[model.name])
        write_atomic(args.out / "LICENSE", licence.encode())
        write_atomic(args.out / "ORIGIN.md", origin.encode())
        write_atomic(args.fixture, fixture)
    print(f"wrote {len(MODELS)} ONNX files, LICENSE and ORIGIN.md to {args.out}, fixture {args.fixture} "
          f"({len(fixture):,} bytes) in {time.monotonic() - start:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
