"""Artifact I/O shared by every stage: atomic writes, file hashes, the ModelSpec inside ONNX files.

Checkpoints, ONNX models, engines and reports are written to a temporary file in the destination
folder and renamed into place, so an interrupted run never leaves a half-written artifact behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from asl_edge.errors import AslEdgeError, ModelError, SpecError
from asl_edge.spec import ONNX_METADATA_KEY, ModelSpec


def cache_dir(name: str) -> Path:
    """A folder under asl-edge's cache: $ASL_EDGE_CACHE, else ~/.cache/asl-edge."""
    return Path(os.environ.get("ASL_EDGE_CACHE", Path.home() / ".cache" / "asl-edge")) / name


def ensure_writable_dir(path: str | os.PathLike[str]) -> Path:
    """Create a folder (and parents) and prove it is writable, or raise a one-line error."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise AslEdgeError(f"cannot write to output folder {folder}: {exc.strerror or exc}; "
                           "choose another folder with --out") from exc
    return folder


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file beside `path`; on success rename it over `path`, on error remove it."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    try:
        fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise AslEdgeError(f"cannot write {target}: {exc.strerror or exc}; check the folder exists "
                           "and is writable") from exc
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp makes the file private (0600); give it the permissions a plain open() would.
        os.chmod(tmp_name, 0o666 & ~_current_umask())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes | memoryview) -> None:
    with atomic_write(path, "wb") as handle:
        handle.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    with atomic_write(path, "w") as handle:
        handle.write(text)


def atomic_write_json(path: str | os.PathLike[str], data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def spec_from_metadata(metadata: dict[str, str], source: str) -> ModelSpec:
    """The ModelSpec stored under ONNX_METADATA_KEY in a model's metadata map."""
    text = metadata.get(ONNX_METADATA_KEY)
    if text is None:
        raise SpecError(f"{source} carries no ModelSpec (metadata key '{ONNX_METADATA_KEY}'); "
                        "export it with `asl-edge export` or pass --spec SPEC.json")
    try:
        return ModelSpec.from_json(text)
    except SpecError as exc:
        raise SpecError(f"{source}: {exc}") from exc


def read_onnx_spec(path: str | os.PathLike[str]) -> ModelSpec:
    """Read the ModelSpec from an ONNX file with the onnx package (workstation side)."""
    from asl_edge.errors import require

    onnx = require("onnx", "reading an ONNX model", "pip install 'asl-edge[workstation]'")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError, OSError and others for a bad file
        raise ModelError(f"{path} is not a readable ONNX model ({type(exc).__name__}); "
                         "re-export it with `asl-edge export`") from exc
    return spec_from_metadata({p.key: p.value for p in model.metadata_props}, str(path))


def set_onnx_metadata(model: Any, key: str, value: str) -> None:
    """Set one entry of an in-memory onnx.ModelProto's metadata_props, replacing an old one."""
    for prop in list(model.metadata_props):
        if prop.key == key:
            model.metadata_props.remove(prop)
    entry = model.metadata_props.add()
    entry.key, entry.value = key, value


def write_onnx_spec(model: Any, spec: ModelSpec) -> None:
    """Store the spec in an in-memory onnx.ModelProto's metadata_props (replacing an old one)."""
    set_onnx_metadata(model, ONNX_METADATA_KEY, spec.to_json())


def load_spec_file(path: str | os.PathLike[str]) -> ModelSpec:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise SpecError(f"cannot read spec file {path}: {exc.strerror or exc}") from exc
    return ModelSpec.from_json(text)
