"""asl-edge build MODEL.onnx: compile the graph's precision to a TensorRT engine for this GPU (cached).

With --hand-models full|lite (automatically "full" for a landmarks model) the MediaPipe palm detector and
landmark model are built as FP16 engines too, through the same compile step and cache, so the engine
manifests cover every model of the chain. `asl-edge build --hand-models full` builds only those two.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from asl_edge.apps.options import add_spec_option, spec_from_args
from asl_edge.runtime.backends.tensorrt.manifest import BuildOptions, default_engine_cache
from asl_edge.runtime.hand.models import VARIANTS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("onnx", type=Path, nargs="?", default=None,
                        help="ONNX model from `asl-edge export` (fp32, fp16 or int8 graph); "
                             "optional with --hand-models")
    add_spec_option(parser)
    parser.add_argument("--hand-models", choices=VARIANTS, default=None,
                        help="also build FP16 engines of the bundled hand models (palm detector and landmark model); "
                             "default: full for a landmarks model, none for an image model")
    parser.add_argument("--out", type=Path, default=None,
                        help="also copy the engine (and its manifest) to this file or folder")
    parser.add_argument("--cache", type=Path, default=None,
                        help=f"engine cache folder (default: {default_engine_cache()}; $ASL_EDGE_CACHE overrides)")
    defaults = BuildOptions()
    parser.add_argument("--workspace", type=int, default=defaults.workspace_mib, metavar="MIB",
                        help=f"builder workspace limit in MiB (default: {defaults.workspace_mib})")
    parser.add_argument("--max-batch", type=int, default=defaults.max_batch,
                        help="largest batch the engine accepts: its profile is batch 1..N (default: 1)")
    parser.add_argument("--opt-batch", type=int, default=defaults.opt_batch,
                        help="batch size TensorRT tunes for (default: 1, the live camera's)")
    parser.add_argument("--timing-cache", type=Path, default=None,
                        help="timing cache file, read if present and updated: later builds are faster")
    parser.add_argument("--dla-core", type=int, default=None,
                        help="build for this DLA core (Jetson Xavier/Orin), with GPU fallback; fp16/int8 graphs")
    parser.add_argument("--device", type=int, default=0, help="CUDA device index (default: 0)")
    parser.add_argument("--force", action="store_true", help="rebuild even when the cache has a matching engine")


def run(args: argparse.Namespace) -> int:
    from asl_edge.export.trt_builder import build_chain

    options = BuildOptions(workspace_mib=args.workspace, max_batch=args.max_batch, opt_batch=args.opt_batch,
                           dla_core=args.dla_core)
    results = build_chain(args.onnx, args.hand_models, options, cache_dir=args.cache, out=args.out,
                          timing_cache=args.timing_cache, force=args.force, device_index=args.device,
                          spec=spec_from_args(args))
    for result in results:
        for copy in result.copies:
            print(f"copied to {copy}")
    for result in results:  # the classifier's engine, when there is one, is the last line
        print(result.engine_path)
    return 0
