"""Entry point of `asl-edge` and `python -m asl_edge`.

Subcommands are imported only when chosen, so `asl-edge run` on a Jetson never imports torch and
`asl-edge --help` is instant. Expected failures (AslEdgeError) become one line on stderr and a
non-zero exit code; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NoReturn

from asl_edge import __version__
from asl_edge.artifacts import write_error
from asl_edge.errors import AslEdgeError, MissingDependencyError
from asl_edge.progress import mode_from_environment

MACHINE_WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG})

# Optional packages (import name -> what it is, how to get it): a command that needs one that is missing ends
# with one line naming the package and the install command instead of an ImportError traceback.
OPTIONAL_PACKAGES: dict[str, tuple[str, str]] = {
    **{name: ("PyTorch", "pip install 'asl-edge[workstation]' (https://pytorch.org for CUDA and Jetson wheels)")
       for name in ("torch", "torchvision")},
    **{name: (name, "pip install 'asl-edge[workstation]'")
       for name in ("onnx", "onnxscript", "onnxslim", "onnxconverter_common", "matplotlib", "tqdm")},
    "onnxruntime": ("ONNX Runtime", "pip install onnxruntime (onnxruntime-gpu on a CUDA machine; "
                                    "Jetson wheels: https://elinux.org/Jetson_Zoo#ONNX_Runtime)"),
}

# name -> (module under asl_edge.apps.commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("train", "train an ASL letter classifier with augmentation"),
    "eval": ("evaluate", "evaluate a checkpoint or ONNX model on a dataset"),
    "augment": ("augment", "write a PNG grid showing what an augmentation preset does"),
    "export": ("export", "export a checkpoint to verified ONNX (fp32, fp16, int8)"),
    "build": ("build", "compile an ONNX model to a TensorRT engine"),
    "spec": ("spec", "write a ModelSpec template (MODEL.spec.json) for an ONNX model from elsewhere"),
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


class CommandParser(argparse.ArgumentParser):
    """argparse with the project's rule for bad input: one `error:` line (argparse prints the usage first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def path_argument(text: str) -> Path:
    """A path option's value; an empty one is refused (Path("") is the current folder: `--out ""` would write
    there, `--videos ""` read it)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path; name a file or folder")
    return Path(text)


def _command_parser(name: str) -> tuple[argparse.ArgumentParser, object]:
    module_name, help_text = COMMANDS[name]
    module = importlib.import_module(f"asl_edge.apps.commands.{module_name}")
    parser = CommandParser(prog=f"asl-edge {name}", description=help_text)
    module.add_arguments(parser)
    parser.add_argument("--verbose", action="store_true",
                        help="also show OpenCV's, FFmpeg's and GStreamer's own warnings")
    for action in parser._actions:  # every command's Path options, without each command remembering to
        if action.type is Path:
            action.type = path_argument
    return parser, module


# OpenCV's cv::utils::logging::LogLevel, the same numbers in every release since 3.4 (SILENT 0 ... VERBOSE 6).
OPENCV_LOG_LEVEL_ERROR = 2
OPENCV_LOG_LEVEL_INFO = 4


def set_opencv_log_level(level: int) -> None:
    """OpenCV's own log level, on every OpenCV a Jetson has: the 4.x bindings (JetPack 5's 4.5.4, JetPack 6's 4.8,
    Ubuntu's and Debian's python3-opencv) expose it as cv2.setLogLevel, the 5.x bindings only as
    cv2.utils.logging.setLogLevel (cv2.setLogLevel is gone there)."""
    import cv2

    logging_module = getattr(cv2.utils, "logging", None)
    # getattr: the 5.x type stubs the dev install checks against have no cv2.setLogLevel
    setter = logging_module.setLogLevel if logging_module is not None else getattr(cv2, "setLogLevel")  # noqa: B009
    setter(level)


def quiet_video_libraries(verbose: bool) -> None:
    """OpenCV's, FFmpeg's and GStreamer's own WARN lines would print before (and contradict) asl-edge's one
    error line; keep their errors only, unless --verbose. The environment variables reach the video
    backends, which read them when they first load (OpenCV's docs: "OPENCV_LOG_LEVEL", "OPENCV_FFMPEG_LOGLEVEL"
    is FFmpeg's av_log level, where 16 is AV_LOG_ERROR); a user's own setting wins."""
    if verbose:
        os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "32")  # AV_LOG_INFO
        set_opencv_log_level(OPENCV_LOG_LEVEL_INFO)
        return
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET: FFmpeg's lines name no fix
    os.environ.setdefault("GST_DEBUG", "0")
    if "OPENCV_LOG_LEVEL" not in os.environ:  # a user's own OPENCV_LOG_LEVEL is left as it is
        os.environ["OPENCV_LOG_LEVEL"] = "ERROR"
        set_opencv_log_level(OPENCV_LOG_LEVEL_ERROR)


def missing_package(exc: ModuleNotFoundError) -> MissingDependencyError | None:
    """The one-line error for an optional package that is not installed; None for anything else (a bug)."""
    root = (exc.name or "").split(".")[0]
    if root not in OPTIONAL_PACKAGES:
        return None
    what, hint = OPTIONAL_PACKAGES[root]
    error = MissingDependencyError(root if what == root else f"{root} ({what})", "this command", hint)
    error.package = root
    return error


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """`docker stop`, systemd and `kill` send SIGTERM: stop the way Ctrl-C does (run closes its --save video and
    --transcript, train keeps its finished epochs), instead of dying with the video still half-written. The
    previous handler comes back afterwards (main may run inside another program, a test runner say)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _dispatch(argv)
    except BrokenPipeError:
        # The reader went away (`| head`): nothing more to say to it. Point stdout at /dev/null so the
        # interpreter's final flush does not raise again (the recipe of Python's signal documentation).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _dispatch(argv: Sequence[str] | None) -> int:
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
        quiet_video_libraries(args.verbose)
        mode_from_environment()  # a bad ASL_EDGE_PROGRESS is said by every command, not only those showing progress
        with _sigterm_as_interrupt():
            return int(module.run(args) or 0)  # type: ignore[attr-defined]
    except AslEdgeError as exc:
        print(f"asl-edge {name}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except ModuleNotFoundError as exc:
        error = missing_package(exc)
        if error is None:
            raise
        print(f"asl-edge {name}: error: {error}", file=sys.stderr)
        return error.exit_code
    except OSError as exc:
        # A full, read-only or over-quota drive is the machine's state, never a bug: one line wherever the
        # write happened (artifacts.atomic_write already turns its own into AslEdgeError with the path).
        if exc.errno not in MACHINE_WRITE_ERRNOS:
            raise
        print(f"asl-edge {name}: error: {write_error(exc.filename or 'a file', exc)}", file=sys.stderr)
        return AslEdgeError.exit_code
    except KeyboardInterrupt:
        print(f"asl-edge {name}: interrupted", file=sys.stderr)
        return 130



if __name__ == "__main__":
    raise SystemExit(main())
