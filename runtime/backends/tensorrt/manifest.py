"""The manifest beside every TensorRT engine, the engine cache key, and the check that refuses a mismatch.

A serialized engine only runs on the TensorRT version, GPU model and platform it was built on, and
TensorRT cannot tell which those were without deserializing it (which fails with a log line and
returns None). So each engine gets a JSON manifest with those facts, the ModelSpec, the precision and
the sha256 of the ONNX file it was compiled from, and the loader compares it with this machine first.

Torch-free and tensorrt-free: the builder (export) and the runtime both use it, and the facts about
this machine (TensorRT version, GPU name) are passed in by whoever has TensorRT and CUDA at hand.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from asl_edge.artifacts import cache_dir, sha256_file
from asl_edge.errors import AslEdgeError, EngineMismatchError, ModelError
from asl_edge.machine import L4T_RELEASE_FILE, read_l4t_release
from asl_edge.spec import PRECISIONS, ModelSpec

MANIFEST_VERSION = 1
# What an engine is in the chain. Manifests written before roles existed are classifiers.
ROLES = ("classifier", "palm_detector", "hand_landmarks")
CLASSIFIER = "classifier"
# Shown when the ONNX file behind an engine is unknown (manifest missing or unreadable).
GENERIC_REBUILD = "asl-edge build MODEL.onnx"


def default_engine_cache() -> Path:
    """~/.cache/asl-edge/engines, or $ASL_EDGE_CACHE/engines."""
    return cache_dir("engines")


def manifest_path(engine_path: str | os.PathLike[str]) -> Path:
    """model.engine -> model.engine.json"""
    path = Path(engine_path)
    return path.with_name(path.name + ".json")


@dataclass(frozen=True)
class DeviceFacts:
    """What an engine is tied to: the TensorRT library, the GPU model and the platform."""

    tensorrt_version: str
    gpu_name: str
    compute_capability: str  # "8.7" on Orin, "7.2" on Xavier
    cpu_arch: str
    l4t_release: str | None = None

    @classmethod
    def here(cls, tensorrt_version: str, gpu_name: str, compute_capability: str,
             l4t_file: str | os.PathLike[str] = L4T_RELEASE_FILE) -> DeviceFacts:
        return cls(tensorrt_version=tensorrt_version, gpu_name=gpu_name, compute_capability=compute_capability,
                   cpu_arch=platform.machine(), l4t_release=release.tag if (release := read_l4t_release(l4t_file))
                   else None)

    def describe(self) -> str:
        jetson = f", L4T {self.l4t_release}" if self.l4t_release else ""
        return (f"{self.gpu_name} (compute {self.compute_capability}), TensorRT {self.tensorrt_version}, "
                f"{self.cpu_arch}{jetson}")


@dataclass(frozen=True)
class BuildOptions:
    """The builder settings that change the engine (and so are part of its cache key)."""

    workspace_mib: int = 1024
    max_batch: int = 1
    opt_batch: int = 1
    dla_core: int | None = None

    def __post_init__(self) -> None:
        if self.workspace_mib < 1:
            raise AslEdgeError(f"--workspace must be at least 1 MiB, got {self.workspace_mib}")
        if self.max_batch < 1:
            raise AslEdgeError(f"--max-batch must be at least 1, got {self.max_batch}")
        if not 1 <= self.opt_batch <= self.max_batch:
            raise AslEdgeError(f"--opt-batch must be in 1..{self.max_batch} (--max-batch), got {self.opt_batch}")
        if self.dla_core is not None and self.dla_core < 0:
            raise AslEdgeError(f"--dla-core must be 0 or more, got {self.dla_core}")

    def cli_args(self) -> list[str]:
        """The `asl-edge build` options that reproduce these settings (defaults left out)."""
        defaults = BuildOptions()
        args: list[str] = []
        if self.workspace_mib != defaults.workspace_mib:
            args += ["--workspace", str(self.workspace_mib)]
        if self.max_batch != defaults.max_batch:
            args += ["--max-batch", str(self.max_batch)]
        if self.opt_batch != defaults.opt_batch:
            args += ["--opt-batch", str(self.opt_batch)]
        if self.dla_core is not None:
            args += ["--dla-core", str(self.dla_core)]
        return args

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BuildOptions:
        return cls(workspace_mib=int(data["workspace_mib"]), max_batch=int(data["max_batch"]),
                   opt_batch=int(data["opt_batch"]),
                   dla_core=None if data.get("dla_core") is None else int(data["dla_core"]))


def cache_key(onnx_sha256: str, device: DeviceFacts, precision: str, options: BuildOptions) -> str:
    """16 hex digits naming one engine: same ONNX, TensorRT, GPU, platform, precision and options."""
    identity = {"onnx_sha256": onnx_sha256, "device": asdict(device), "precision": precision,
                "build_options": asdict(options)}
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]


def cached_engine_path(cache_dir: str | os.PathLike[str], onnx_path: str | os.PathLike[str], key: str) -> Path:
    return Path(cache_dir) / f"{Path(onnx_path).stem}.{key}.engine"


@dataclass(frozen=True)
class EngineManifest:
    device: DeviceFacts
    precision: str
    strongly_typed: bool
    spec: ModelSpec | None  # None for the hand models, which are not classifiers
    onnx_path: str  # the graph TensorRT compiled (for a hand model on TensorRT 11: its FP16 conversion)
    onnx_sha256: str
    engine_sha256: str
    options: BuildOptions = field(default_factory=BuildOptions)
    timing_cache: str | None = None
    built_at: str = ""
    asl_edge_version: str = ""
    role: str = CLASSIFIER
    # The shipped ONNX the compiled graph was converted from, when they differ (hand models on TensorRT 11).
    source_onnx_path: str | None = None
    source_onnx_sha256: str | None = None
    # The checkpoint the ONNX was exported from (its asl_edge.checkpoint_sha256 metadata); None when it
    # records none (the hand models, ONNX files from elsewhere or from before provenance was recorded).
    checkpoint_sha256: str | None = None

    def rebuild_command(self) -> str:
        if self.role != CLASSIFIER:
            variant = "lite" if "_lite" in Path(self.source_onnx_path or self.onnx_path).name else "full"
            return f"asl-edge build --hand-models {variant}"
        return " ".join(["asl-edge", "build", self.onnx_path, *self.options.cli_args()])

    # -- JSON -------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "manifest_version": MANIFEST_VERSION,
            **asdict(self.device),
            "precision": self.precision,
            "strongly_typed": self.strongly_typed,
            "onnx_path": self.onnx_path,
            "onnx_sha256": self.onnx_sha256,
            "engine_sha256": self.engine_sha256,
            "build_options": asdict(self.options),
            "timing_cache": self.timing_cache,
            "model_spec": None if self.spec is None else self.spec.to_dict(),
            "role": self.role,
            "source_onnx_path": self.source_onnx_path,
            "source_onnx_sha256": self.source_onnx_sha256,
            "checkpoint_sha256": self.checkpoint_sha256,
            "built_at": self.built_at or datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "asl_edge_version": self.asl_edge_version,
        }

    @classmethod
    def from_dict(cls, data: Any) -> EngineManifest:
        """Parse a manifest; any missing or malformed field raises ModelError naming it."""
        if not isinstance(data, dict):
            raise ModelError(f"expected a JSON object, got {type(data).__name__}")
        version = data.get("manifest_version")
        if version != MANIFEST_VERSION:
            raise ModelError(f"manifest_version {version!r} is not {MANIFEST_VERSION}")
        try:
            device = DeviceFacts(**{name: data[name] for name in DeviceFacts.__dataclass_fields__})
            role = data.get("role", CLASSIFIER)  # manifests from before roles are classifiers
            if role not in ROLES:
                raise ModelError(f"role {role!r} is not one of {', '.join(ROLES)}")
            raw_spec = data["model_spec"]
            if raw_spec is None and role == CLASSIFIER:
                raise ModelError("a classifier engine's model_spec is null")
            manifest = cls(device=device, precision=data["precision"], strongly_typed=bool(data["strongly_typed"]),
                           spec=None if raw_spec is None else ModelSpec.from_dict(raw_spec),
                           onnx_path=data["onnx_path"],
                           onnx_sha256=data["onnx_sha256"], engine_sha256=data["engine_sha256"],
                           options=BuildOptions.from_dict(data["build_options"]),
                           timing_cache=data.get("timing_cache"), built_at=data.get("built_at", ""),
                           asl_edge_version=data.get("asl_edge_version", ""), role=role,
                           source_onnx_path=data.get("source_onnx_path"),
                           source_onnx_sha256=data.get("source_onnx_sha256"),
                           checkpoint_sha256=data.get("checkpoint_sha256"))
        except KeyError as exc:
            raise ModelError(f"field {exc.args[0]!r} is missing") from exc
        except (TypeError, ValueError, AttributeError) as exc:
            raise ModelError(f"a field has the wrong type ({exc})") from exc
        except AslEdgeError as exc:  # a bad ModelSpec or build option
            raise ModelError(str(exc)) from exc
        if manifest.precision not in PRECISIONS:
            raise ModelError(f"precision {manifest.precision!r} is not one of {', '.join(PRECISIONS)}")
        for name in ("onnx_sha256", "engine_sha256", "source_onnx_sha256", "checkpoint_sha256"):
            value = getattr(manifest, name)
            if value is None and name in ("source_onnx_sha256", "checkpoint_sha256"):
                continue
            if not isinstance(value, str) or not re.fullmatch(r"[0-9a-f]{64}", value):
                raise ModelError(f"{name} is not a sha256 hex digest")
        return manifest

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"


def read_manifest(engine_path: str | os.PathLike[str]) -> EngineManifest:
    """The manifest beside an engine, or EngineMismatchError saying why it cannot be used."""
    path = manifest_path(engine_path)
    refuse = f"Refusing engine {engine_path}"
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise EngineMismatchError(f"{refuse}: its manifest {path.name} is missing, so nothing says which TensorRT "
                                  f"and GPU it was built for; rebuild with: {GENERIC_REBUILD}") from None
    except OSError as exc:
        raise EngineMismatchError(f"{refuse}: cannot read its manifest {path}: {exc.strerror or exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise EngineMismatchError(f"{refuse}: its manifest {path.name} is not valid JSON ({exc.msg} at line "
                                  f"{exc.lineno}); rebuild with: {GENERIC_REBUILD}") from exc
    try:
        return EngineManifest.from_dict(data)
    except ModelError as exc:
        rebuild = data.get("onnx_path") if isinstance(data, dict) else None
        command = f"asl-edge build {rebuild}" if isinstance(rebuild, str) and rebuild else GENERIC_REBUILD
        raise EngineMismatchError(f"{refuse}: its manifest {path.name} is corrupt ({exc}); "
                                  f"rebuild with: {command}") from exc


def mismatches(built: DeviceFacts, here: DeviceFacts) -> list[str]:
    """Each way an engine built on `built` cannot run `here`, as a short phrase."""
    problems = []
    if built.tensorrt_version != here.tensorrt_version:
        problems.append(f"built with TensorRT {built.tensorrt_version}, this is {here.tensorrt_version}")
    # NVIDIA advises against moving plans between GPU models even with equal compute capability.
    if (built.gpu_name, built.compute_capability) != (here.gpu_name, here.compute_capability):
        problems.append(f"built for {built.gpu_name} (compute {built.compute_capability}), this is "
                        f"{here.gpu_name} (compute {here.compute_capability})")
    if built.cpu_arch != here.cpu_arch:
        problems.append(f"built on {built.cpu_arch}, this is {here.cpu_arch}")
    return problems


def check_engine(engine_path: str | os.PathLike[str], here: DeviceFacts,
                 onnx_sha256: str | None = None) -> EngineManifest:
    """Return the engine's manifest if it can run here, else raise one line naming every difference.

    Runs before deserializing, so a mismatch is reported instead of TensorRT's log line and a None.
    `onnx_sha256` (when the caller has the ONNX at hand) also refuses an engine of an older export;
    without it the ONNX named in the manifest is hashed when it still exists there.
    """
    manifest = read_manifest(engine_path)
    problems = mismatches(manifest.device, here)
    try:
        engine_sha = sha256_file(engine_path)
    except OSError as exc:
        raise ModelError(f"cannot read engine {engine_path}: {exc.strerror or exc}") from exc
    if engine_sha != manifest.engine_sha256:
        problems.append("the engine file is not the one its manifest describes (sha256 differs: truncated, "
                        "corrupt or replaced)")
    if onnx_sha256 is None and os.path.isfile(manifest.onnx_path):
        onnx_sha256 = sha256_file(manifest.onnx_path)
    if onnx_sha256 is not None and onnx_sha256 != manifest.onnx_sha256:
        problems.append(f"{manifest.onnx_path} has changed since the engine was built (sha256 differs)")
    if problems:
        raise EngineMismatchError(f"Refusing engine {engine_path}: {'; '.join(problems)}; "
                                  f"rebuild with: {manifest.rebuild_command()}")
    return manifest
