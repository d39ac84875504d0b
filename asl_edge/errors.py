"""Expected failures: bad input, missing pieces, mismatched artifacts.

Each carries a one-line message that names the problem and what to do. The command line catches
`AslEdgeError` once and exits non-zero without a traceback; anything else is a bug and keeps its traceback.
"""


class AslEdgeError(Exception):
    """Base class of every expected, user-facing failure."""

    exit_code = 2


class DataError(AslEdgeError):
    """A dataset, CSV, image or video that cannot be used as given."""


class SpecError(AslEdgeError):
    """A ModelSpec that is missing or invalid."""


class ModelError(AslEdgeError):
    """A checkpoint, ONNX model or engine that cannot be loaded or used."""


class EngineMismatchError(ModelError):
    """A TensorRT engine built for another TensorRT version, GPU or platform."""


class SourceError(AslEdgeError):
    """A camera, stream, video or folder that cannot be opened or read."""


class MissingDependencyError(AslEdgeError):
    """An optional package (or system library) that this job needs is not installed."""

    exit_code = 3

    def __init__(self, package: str, purpose: str, install_hint: str) -> None:
        super().__init__(f"{purpose} needs {package}, which is not installed: {install_hint}")
        self.package = package


def require(module: str, purpose: str, install_hint: str):  # type: ignore[no-untyped-def]
    """Import an optional module or raise a MissingDependencyError naming how to get it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(module, purpose, install_hint) from exc
