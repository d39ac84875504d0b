"""Finding TensorRT: one clear message when it is absent, broken or too old. Never imports it at import time.

The modules that call TensorRT (library.py, engine.py, export/trt_compile.py) import it at their top
and are themselves imported only after `tensorrt_version()` has vouched for it.
"""

from __future__ import annotations

import importlib

from asl_edge.errors import AslEdgeError, MissingDependencyError

TENSORRT_HINT = ("on a Jetson it comes with JetPack (sudo apt install python3-libnvinfer; make virtualenvs with "
                 "--system-site-packages so they see it); on another NVIDIA machine: pip install tensorrt")
# 8.5 (JetPack 5.1) is the first release with the tensor-name API (set_input_shape, execute_async_v3).
OLDEST_SUPPORTED = (8, 5)


class UnusableDependencyError(MissingDependencyError):
    """Installed, but not usable: its libraries do not load, or it is too old."""

    def __init__(self, package: str, message: str) -> None:
        AslEdgeError.__init__(self, message)
        self.package = package


def parse_version(version: str) -> tuple[int, int]:
    """'10.3.0.30' -> (10, 3)"""
    parts = version.split(".")
    try:
        return int(parts[0]), int(parts[1]) if len(parts) > 1 else 0
    except ValueError:
        raise UnusableDependencyError("tensorrt", f"TensorRT reports an unreadable version {version!r}; "
                                      f"reinstall it: {TENSORRT_HINT}") from None


def tensorrt_version(purpose: str) -> str:
    """Import tensorrt and return its version, or raise MissingDependencyError saying how to get it."""
    try:
        trt = importlib.import_module("tensorrt")
    except ImportError as exc:
        if isinstance(exc, ModuleNotFoundError) and exc.name == "tensorrt":
            raise MissingDependencyError("TensorRT", purpose, TENSORRT_HINT) from exc
        # Installed, but its shared libraries (libnvinfer, CUDA) do not load.
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UnusableDependencyError("tensorrt", f"{purpose} needs TensorRT, which is installed but does not load "
                                      f"({reason}); {TENSORRT_HINT}") from exc
    version = getattr(trt, "__version__", None)
    if not isinstance(version, str):
        # A bare 'tensorrt' folder imports as an empty namespace package, e.g. when only the type stubs
        # (tensorrt-stubs, used by mypy) are installed.
        raise UnusableDependencyError("tensorrt", f"{purpose} needs TensorRT, which is not installed (the "
                                      f"'tensorrt' folder found holds no library, only type stubs?): {TENSORRT_HINT}")
    if parse_version(version) < OLDEST_SUPPORTED:
        raise UnusableDependencyError(
            "tensorrt", f"{purpose} needs TensorRT 8.5 or newer (the tensor-name API); this is TensorRT {version}: "
            "upgrade to JetPack 5.1 or newer")
    return version


def tensorrt_major(version: str) -> int:
    return parse_version(version)[0]
