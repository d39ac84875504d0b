"""Every TensorRT name the code uses exists in each TensorRT version on its path (8.x, 10.13, 11.4).

A removed or misspelled name fails here, in CI, before anyone runs the code on a Jetson.
"""

from __future__ import annotations

import ast

import pytest

from asl_edge.export.trt_builder import PRECISION_FLAGS, flags_for
from tests.tensorrt import trt_names
from tests.tensorrt.trt_names import Use, find_uses, missing, stub_names, trt8_names, trt11_names


def all_uses() -> list[Use]:
    return [use for path in trt_names.tensorrt_modules() for use in find_uses(path.read_text(), path.name)]


def test_the_tensorrt_modules_are_the_ones_scanned() -> None:
    paths = {p.relative_to(trt_names.REPO).as_posix() for p in trt_names.tensorrt_modules()}
    assert {"export/trt_compile.py", "runtime/backends/tensorrt/engine.py"} <= paths
    uses = {use.name for use in all_uses()}
    # The core of each path is seen, so the check below cannot pass by seeing nothing.
    assert {"Builder.build_serialized_network", "IExecutionContext.execute_async_v3", "OnnxParser.num_errors",
            "NetworkDefinitionCreationFlag.EXPLICIT_BATCH", "NetworkDefinitionCreationFlag.STRONGLY_TYPED",
            "IProgressMonitor.step_complete", "IBuilderConfig.set_memory_pool_limit"} <= uses


def test_every_used_name_exists_on_its_version_path() -> None:
    assert missing(all_uses()) == []


def test_version_gates_are_read_from_the_code() -> None:
    by_name = {(u.name, u.versions) for u in all_uses()}
    assert ("NetworkDefinitionCreationFlag.EXPLICIT_BATCH", frozenset({8})) in by_name
    assert ("NetworkDefinitionCreationFlag.STRONGLY_TYPED", frozenset({10})) in by_name
    assert ("IProgressMonitor", frozenset({10, 11})) in by_name


def test_precision_flag_names_exist_where_they_are_set() -> None:
    # trt_compile sets these by name (getattr), only on 8.x and weakly typed 10.x; flags_for never
    # returns them for 11.x.
    for precision, names in PRECISION_FLAGS.items():
        assert flags_for(11, precision, strongly_typed=False) == ()
        for name in names:
            uses = [Use(f"BuilderFlag.{name}", frozenset({8, 10}), "trt_builder.PRECISION_FLAGS")]
            assert missing(uses) == []
    # ... and 11.4 really removed them, which is why the 11 path must not set them.
    assert not trt11_names().has("BuilderFlag.FP16")


def test_a_misspelled_name_is_reported_on_every_path() -> None:
    source = "def build(config):\n    config.set_flag(trt.BuilderFlag.FP61)\n    config.set_memory_pol_limit(1)\n"
    problems = missing(find_uses(source, "typo.py"))
    for label in ("TensorRT 8.x", "TensorRT 10.13", "TensorRT 11.4"):
        assert any(p.startswith(f"typo.py:2: {label}") for p in problems), (label, problems)
        assert any(label in p and "BuilderFlag.FP61" in p for p in problems), (label, problems)
        assert any(label in p and "IBuilderConfig.set_memory_pol_limit" in p for p in problems), (label, problems)


def test_a_name_removed_in_11_is_reported_only_when_not_gated() -> None:
    ungated = "flags = 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)\n"
    assert missing(find_uses(ungated)) == [
        "<source>:1: TensorRT 11.4 (trt11_symbols.txt) has no NetworkDefinitionCreationFlag.EXPLICIT_BATCH"]
    gated = "if TRT_MAJOR < 11:\n    " + ungated
    assert missing(find_uses(gated)) == []


def test_early_return_and_boolean_gates() -> None:
    source = """
def f(strongly_typed):
    if TRT_MAJOR < 10:
        return trt.Eight
    if TRT_MAJOR == 10 and strongly_typed:
        return trt.Ten
    if TRT_MAJOR >= 11 or strongly_typed:
        trt.MaybeAny
    trt.TenOrEleven
"""
    versions = {u.name: u.versions for u in find_uses(source)}
    assert versions == {"Eight": {8}, "Ten": {10}, "MaybeAny": {10, 11}, "TenOrEleven": {10, 11}}


def test_a_misspelled_interface_override_is_reported() -> None:
    source = "class Monitor(trt.IProgressMonitor):\n    def phase_started(self, name, parent, steps):\n        pass\n"
    problems = missing(find_uses(source))
    assert any("IProgressMonitor.phase_started" in p and "10.13" in p for p in problems)


def test_annotations_are_not_uses() -> None:
    # `from __future__ import annotations`: trt.X in a signature is never looked up at run time.
    assert find_uses("def f(x: trt.Nope) -> trt.Nada:\n    y: trt.Never = 1\n") == []


def test_name_sources_hold_what_the_reference_says() -> None:
    stubs, v11, v8 = stub_names(), trt11_names(), trt8_names()
    assert stubs.has("IExecutionContext.execute_async_v3") and stubs.has("Logger.WARNING")
    assert stubs.has("BuilderFlag.FP16")  # deprecated in 10.12, still there in 10.13
    assert not stubs.has("IExecutionContext.execute_async_v2")  # binding API removed in 10.0
    assert v11.has("IExecutionContext.execute_async_v3") and v11.has("OnnxParser.num_errors")
    assert not v11.has("NetworkDefinitionCreationFlag.EXPLICIT_BATCH")  # removed in 11.0
    assert not v11.has("Builder.platform_has_fast_fp16")  # removed in 11.0
    assert v8.has("NetworkDefinitionCreationFlag.EXPLICIT_BATCH") and not v8.has("IProgressMonitor")


def test_stub_repair_makes_the_generated_stubs_parse() -> None:
    tool = trt_names._load_tool("trt_stubs")
    line = "    def f(self, in: list[int], out: int = None, axis: int) -> None:"
    assert tool.repair_def_line(line) == "    def f(self, in_: list[int], out: int = None, axis: int = ...) -> None:"  # type: ignore[attr-defined]
    for text in tool.repaired_stubs().values():  # type: ignore[attr-defined]
        ast.parse(text)


@pytest.mark.parametrize("name", ["set_input_shape", "set_tensor_address", "execute_async_v3", "STRONGLY_TYPED"])
def test_symbol_list_has_the_tensor_api(name: str) -> None:
    assert trt11_names().has(name)
