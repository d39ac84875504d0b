"""Engine manifests, cache keys and the refusal of mismatched engines — no GPU, no TensorRT needed."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import platform
from pathlib import Path

import pytest

from asl_edge.errors import AslEdgeError, EngineMismatchError
from asl_edge.machine import read_l4t_release
from asl_edge.runtime.backends.tensorrt.manifest import (
    BuildOptions,
    DeviceFacts,
    EngineManifest,
    cache_key,
    cached_engine_path,
    check_engine,
    default_engine_cache,
    manifest_path,
    read_manifest,
)
from tests.tensorrt.onnx_models import SPEC, tiny_classifier

ORIN = DeviceFacts(tensorrt_version="10.3.0", gpu_name="Orin", compute_capability="8.7",
                   cpu_arch=platform.machine(), l4t_release="R36.4.3")
PLAN = b"serialized engine bytes"


def write_engine(folder: Path, device: DeviceFacts = ORIN, onnx: Path | None = None,
                 options: BuildOptions | None = None) -> Path:
    onnx = onnx or tiny_classifier(folder / "model.onnx")
    engine = folder / "model.engine"
    engine.write_bytes(PLAN)
    manifest = EngineManifest(device=device, precision="fp16", strongly_typed=True, spec=SPEC, onnx_path=str(onnx),
                              onnx_sha256=hashlib.sha256(onnx.read_bytes()).hexdigest(),
                              engine_sha256=hashlib.sha256(PLAN).hexdigest(), options=options or BuildOptions())
    manifest_path(engine).write_text(manifest.to_json())
    return engine


def test_manifest_round_trips_through_json(tmp_path: Path) -> None:
    engine = write_engine(tmp_path, options=BuildOptions(workspace_mib=512, max_batch=8, opt_batch=2, dla_core=1))
    data = json.loads(manifest_path(engine).read_text())
    for name in ("tensorrt_version", "gpu_name", "compute_capability", "cpu_arch", "l4t_release", "precision",
                 "model_spec", "onnx_sha256", "build_options", "engine_sha256"):
        assert name in data, name
    manifest = read_manifest(engine)
    assert manifest.device == ORIN
    assert manifest.spec == SPEC
    assert manifest.options == BuildOptions(workspace_mib=512, max_batch=8, opt_batch=2, dla_core=1)
    assert manifest.rebuild_command().endswith(
        "model.onnx --workspace 512 --max-batch 8 --opt-batch 2 --dla-core 1")


def test_matching_engine_is_accepted(tmp_path: Path) -> None:
    engine = write_engine(tmp_path)
    assert check_engine(engine, ORIN).precision == "fp16"


@pytest.mark.parametrize(("field", "value", "expected"), [
    ("tensorrt_version", "10.7.0", "built with TensorRT 10.3.0, this is 10.7.0"),
    ("gpu_name", "RTX 3060", "built for Orin (compute 8.7), this is RTX 3060 (compute 8.7)"),
    ("compute_capability", "7.2", "built for Orin (compute 8.7), this is Orin (compute 7.2)"),
    ("cpu_arch", "riscv64", f"built on {platform.machine()}, this is riscv64"),
])
def test_each_mismatch_is_named_with_the_rebuild_command(tmp_path: Path, field: str, value: str,
                                                          expected: str) -> None:
    engine = write_engine(tmp_path)
    here = dataclasses.replace(ORIN, **{field: value})
    with pytest.raises(EngineMismatchError) as info:
        check_engine(engine, here)
    message = str(info.value)
    assert message == f"Refusing engine {engine}: {expected}; rebuild with: asl-edge build {tmp_path / 'model.onnx'}"
    assert "\n" not in message


def test_several_mismatches_are_all_listed(tmp_path: Path) -> None:
    engine = write_engine(tmp_path)
    here = dataclasses.replace(ORIN, tensorrt_version="8.6.2", cpu_arch="x86_64-other")
    with pytest.raises(EngineMismatchError, match=r"TensorRT 10.3.0, this is 8.6.2; built on .*, this is x86_64-other"):
        check_engine(engine, here)


def test_other_l4t_alone_is_not_a_mismatch(tmp_path: Path) -> None:
    # The TensorRT version and GPU decide; an L4T point release with the same TensorRT runs the engine.
    engine = write_engine(tmp_path)
    check_engine(engine, dataclasses.replace(ORIN, l4t_release="R36.4.4"))


def test_missing_manifest(tmp_path: Path) -> None:
    engine = write_engine(tmp_path)
    manifest_path(engine).unlink()
    with pytest.raises(EngineMismatchError, match=r"its manifest model.engine.json is missing.*rebuild with: "
                                                  r"asl-edge build MODEL.onnx"):
        check_engine(engine, ORIN)


def test_manifest_that_is_not_json(tmp_path: Path) -> None:
    engine = write_engine(tmp_path)
    manifest_path(engine).write_text('{"tensorrt_version": "10.3.0",')
    with pytest.raises(EngineMismatchError, match=r"is not valid JSON \(.* at line 1\)"):
        check_engine(engine, ORIN)


@pytest.mark.parametrize(("change", "reason"), [
    (lambda d: d.pop("gpu_name"), "field 'gpu_name' is missing"),
    (lambda d: d.update(precision="int4"), "precision 'int4' is not one of fp32, fp16, int8"),
    (lambda d: d.update(onnx_sha256="abc"), "onnx_sha256 is not a sha256 hex digest"),
    (lambda d: d.update(manifest_version=99), "manifest_version 99 is not 1"),
    (lambda d: d["model_spec"].update(labels=["A"]), "invalid ModelSpec field 'labels'"),
    (lambda d: d.update(build_options={"workspace_mib": 0, "max_batch": 1, "opt_batch": 1}), "--workspace"),
])
def test_corrupt_manifest_fields(tmp_path: Path, change, reason: str) -> None:  # type: ignore[no-untyped-def]
    engine = write_engine(tmp_path)
    data = json.loads(manifest_path(engine).read_text())
    change(data)
    manifest_path(engine).write_text(json.dumps(data))
    with pytest.raises(EngineMismatchError) as info:
        check_engine(engine, ORIN)
    assert "manifest model.engine.json is corrupt" in str(info.value)
    assert reason in str(info.value)
    assert f"rebuild with: asl-edge build {tmp_path / 'model.onnx'}" in str(info.value)


def test_wrong_onnx_sha_refuses(tmp_path: Path) -> None:
    engine = write_engine(tmp_path)
    with pytest.raises(EngineMismatchError, match=r"model.onnx has changed since the engine was built"):
        check_engine(engine, ORIN, onnx_sha256="0" * 64)


def test_reexported_onnx_on_disk_refuses_a_stale_engine(tmp_path: Path) -> None:
    engine = write_engine(tmp_path)
    tiny_classifier(tmp_path / "model.onnx", seed=1)  # a new export over the old file
    with pytest.raises(EngineMismatchError, match=r"has changed since the engine was built"):
        check_engine(engine, ORIN)


def test_engine_file_that_differs_from_its_manifest(tmp_path: Path) -> None:
    engine = write_engine(tmp_path)
    engine.write_bytes(PLAN[:5])  # truncated copy
    with pytest.raises(EngineMismatchError, match=r"not the one its manifest describes"):
        check_engine(engine, ORIN)


def test_cache_key_is_stable_and_changes_with_every_input() -> None:
    base = ("a" * 64, ORIN, "fp16", BuildOptions())
    key = cache_key(*base)
    assert key == cache_key(*base) and len(key) == 16
    variants = [
        ("b" * 64, ORIN, "fp16", BuildOptions()),
        *[("a" * 64, dataclasses.replace(ORIN, **{f: "x"}), "fp16", BuildOptions())
          for f in ("tensorrt_version", "gpu_name", "compute_capability", "cpu_arch", "l4t_release")],
        ("a" * 64, ORIN, "int8", BuildOptions()),
        ("a" * 64, ORIN, "fp16", BuildOptions(workspace_mib=2048)),
        ("a" * 64, ORIN, "fp16", BuildOptions(max_batch=4)),
        ("a" * 64, ORIN, "fp16", BuildOptions(max_batch=4, opt_batch=4)),
        ("a" * 64, ORIN, "fp16", BuildOptions(dla_core=0)),
    ]
    keys = {cache_key(*v) for v in variants}
    assert key not in keys and len(keys) == len(variants)


def test_cache_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASL_EDGE_CACHE", str(tmp_path))
    assert default_engine_cache() == tmp_path / "engines"
    assert cached_engine_path(tmp_path, "/models/model.fp16.onnx", "0123456789abcdef") == \
        tmp_path / "model.fp16.0123456789abcdef.engine"


@pytest.mark.parametrize(("kwargs", "flag"), [
    ({"workspace_mib": 0}, "--workspace"), ({"max_batch": 0}, "--max-batch"),
    ({"max_batch": 2, "opt_batch": 3}, "--opt-batch"), ({"dla_core": -1}, "--dla-core"),
])
def test_build_options_are_validated(kwargs: dict[str, int], flag: str) -> None:
    with pytest.raises(AslEdgeError, match=flag):
        BuildOptions(**kwargs)


def test_l4t_release_is_read_from_nv_tegra_release(tmp_path: Path) -> None:
    release = tmp_path / "nv_tegra_release"
    release.write_text("# R36 (release), REVISION: 4.3, GCID: 38968081, BOARD: generic, EABI: aarch64, "
                       "DATE: Wed Jan  8 01:49:37 UTC 2025\n# KERNEL_VARIANT: oot\n")
    read = read_l4t_release(release)
    assert read is not None and read.tag == "R36.4.3" and read.version == "36.4.3"
    assert read_l4t_release(tmp_path / "absent") is None
    assert DeviceFacts.here("10.3.0", "Orin", "8.7", l4t_file=release).l4t_release == "R36.4.3"
