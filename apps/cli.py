"""Entry point of `asl-edge` and `python -m asl_edge`.

Subcommands are imported only when chosen, so `asl-edge run` on a Jetson never imports torch and
`asl-edge --help` is instant. Expected failures (AslEdgeError) become one line on stderr and a
non-zero exit code; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from asl_edge import __version__
from asl_edge.errors import AslEdgeError

# name -> (module under asl_edge.apps.commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("train", "train an ASL letter classifier with augmentation"),
    "eval": ("evaluate", "evaluate a checkpoint or ONNX model on a dataset"),
    "augment": ("augment", "write a PNG grid showing what an augmentation preset does"),
    "export": ("export", "export a checkpoint to verified ONNX (fp32, fp16, int8)"),
    "build": ("build", "compile an ONNX model to a TensorRT engine"),
    "run": ("run", "run the live letter recogniser on a camera, stream, video or images"),
    "collect": ("collect", "record your own samples of each letter from a camera (teach it your hand)"),
    "demo": ("demo", "spell a word from the bundled sample clip with the bundled model"),
    "benchmark": ("benchmark", "measure latency and accuracy across backends and precisions"),
    "doctor": ("doctor", "check this machine for what each job needs"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="asl-edge", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--version", action="version", version=f"asl-edge {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def _command_parser(name: str) -> tuple[argparse.ArgumentParser, object]:
    module_name, help_text = COMMANDS[name]
    module = importlib.import_module(f"asl_edge.apps.commands.{module_name}")
    parser = argparse.ArgumentParser(prog=f"asl-edge {name}", description=help_text)
    module.add_arguments(parser)
    return parser, module


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    top = build_parser()
    if not argv or argv[0] not in COMMANDS:
        top.parse_args(argv)  # prints help/version or an "invalid choice" error and exits
        top.print_help()
        return 2
    name, rest = argv[0], argv[1:]
    try:
        parser, module = _command_parser(name)
        args = parser.parse_args(rest)
        return int(module.run(args) or 0)  # type: ignore[attr-defined]
    except AslEdgeError as exc:
        print(f"asl-edge {name}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"asl-edge {name}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
