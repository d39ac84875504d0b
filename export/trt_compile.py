"""The version-adaptive TensorRT compiler: ONNX file in, serialized engine (plan) out.

Thin on purpose; every decision (typing, precision flags) is made in trt_builder and passed in.
Imports tensorrt at the top: import this module only after tensorrt_version() has vouched for it.

What differs between versions (shared/reference/tensorrt.md §1):
- 8.5/8.6: EXPLICIT_BATCH network; precision from builder flags (FP16; INT8+FP16 for Q/DQ graphs).
- 10.x: explicit batch always; STRONGLY_TYPED network when the graph carries its precision.
- 11.x: always strongly typed; EXPLICIT_BATCH and the precision flags are gone.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import tensorrt as trt

from asl_edge.artifacts import atomic_write_bytes
from asl_edge.errors import AslEdgeError, ModelError
from asl_edge.runtime.backends.tensorrt.library import LOGGER, TRT_MAJOR
from asl_edge.runtime.backends.tensorrt.manifest import BuildOptions


def network_flags(strongly_typed: bool) -> int:
    if TRT_MAJOR < 10:
        return 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)  # required for ONNX on 8.x
    if TRT_MAJOR == 10 and strongly_typed:
        # The flag's value changed between 10 and 11: never hard-code the shift.
        return 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    return 0  # 10.x weakly typed, or 11.x where strong typing is always on


def parse_onnx(network: trt.INetworkDefinition, onnx_path: Path,
               node_names: Sequence[str]) -> trt.OnnxParser:
    """Parse into `network`; on failure list every parser error with its node in one line."""
    parser = trt.OnnxParser(network, LOGGER)
    # parse_from_file (not parse(bytes)) also finds external-data weights beside the .onnx.
    if parser.parse_from_file(str(onnx_path)):
        return parser
    problems = []
    for i in range(parser.num_errors):
        error = parser.get_error(i)
        index = error.node()
        where = f"node {index} ({node_names[index]})" if 0 <= index < len(node_names) else "graph"
        problems.append(f"{where}: {error.desc()} [{error.code()}]")
    raise ModelError(f"TensorRT {trt.__version__} cannot parse {onnx_path}: {'; '.join(problems) or 'no reason given'}")


def add_batch_profile(builder: trt.Builder, network: trt.INetworkDefinition, config: trt.IBuilderConfig,
                      input_name: str, options: BuildOptions) -> None:
    """One optimization profile: batch 1 .. max_batch, tuned for opt_batch."""
    inputs = [network.get_input(i) for i in range(network.num_inputs)]
    if [t.name for t in inputs] != [input_name]:
        raise ModelError(f"ONNX inputs are {[t.name for t in inputs]}; its ModelSpec expects one named "
                         f"'{input_name}'; re-export the model")
    shape = tuple(int(d) for d in (inputs[0].shape[i] for i in range(len(inputs[0].shape))))
    if all(d >= 0 for d in shape):
        if options.max_batch > shape[0]:
            raise ModelError(f"the ONNX input has a fixed batch of {shape[0]}, so --max-batch {options.max_batch} "
                             "cannot be built; re-export with a dynamic batch dimension")
        return  # static shapes need no profile
    if any(d < 0 for d in shape[1:]):
        raise ModelError(f"ONNX input {input_name} has dynamic dims besides the batch: {shape}; re-export it")
    sample = shape[1:]
    profile = builder.create_optimization_profile()
    profile.set_shape(input_name, trt.Dims([1, *sample]), trt.Dims([options.opt_batch, *sample]),
                      trt.Dims([options.max_batch, *sample]))
    if config.add_optimization_profile(profile) < 0:
        raise ModelError(f"TensorRT rejected the batch profile 1..{options.max_batch} for {input_name}")


def set_precision_flags(config: trt.IBuilderConfig, flag_names: Sequence[str]) -> None:
    """8.x and weakly typed 10.x only: the names come from trt_builder.PRECISION_FLAGS (checked by tests)."""
    for name in flag_names:
        if not hasattr(trt.BuilderFlag, name):
            raise AslEdgeError(f"TensorRT {trt.__version__} has no builder flag {name}; build from an ONNX graph "
                               "that carries its precision (asl-edge export --precision ...)")
        config.set_flag(getattr(trt.BuilderFlag, name))


def use_dla(builder: trt.Builder, config: trt.IBuilderConfig, core: int) -> None:
    if builder.num_DLA_cores <= core:
        raise AslEdgeError(f"--dla-core {core}: this device has {builder.num_DLA_cores} DLA core(s) "
                           "(Jetson AGX Xavier/Orin and Orin NX have 2, Orin Nano none)")
    config.default_device_type = trt.DeviceType.DLA
    config.DLA_core = core
    config.set_flag(trt.BuilderFlag.GPU_FALLBACK)  # layers DLA cannot run go to the GPU instead of failing


def load_timing_cache(config: trt.IBuilderConfig, path: Path) -> None:
    blob = path.read_bytes() if path.is_file() else b""
    cache = config.create_timing_cache(blob)
    # ignore_mismatch=False: a cache from another GPU is discarded, not trusted.
    config.set_timing_cache(cache, False)


def watch_phases(config: trt.IBuilderConfig, on_phase: Callable[[str], None]) -> object | None:
    """Report build phases through IProgressMonitor (TensorRT 10+); returns the monitor to keep alive."""
    if TRT_MAJOR < 10 or not hasattr(trt, "IProgressMonitor"):
        return None

    class PhaseMonitor(trt.IProgressMonitor):
        def __init__(self) -> None:
            trt.IProgressMonitor.__init__(self)  # the binding needs its base initialised

        def phase_start(self, phase_name: str, parent_phase: str, num_steps: int) -> None:
            on_phase(phase_name)

        def step_complete(self, phase_name: str, step: int) -> bool:
            return True  # False would cancel the build

        def phase_finish(self, phase_name: str) -> None:
            pass

    monitor = PhaseMonitor()
    config.progress_monitor = monitor
    return monitor


def compile_onnx(onnx_path: str | os.PathLike[str], input_name: str, options: BuildOptions, strongly_typed: bool,
                 flag_names: Sequence[str], node_names: Sequence[str] = (),
                 timing_cache: str | os.PathLike[str] | None = None,
                 on_phase: Callable[[str], None] = lambda phase: None) -> bytes:
    """Compile the ONNX file to a serialized engine for the GPU that is current."""
    builder = trt.Builder(LOGGER)
    network = builder.create_network(network_flags(strongly_typed))
    parser = parse_onnx(network, Path(onnx_path), node_names)
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, options.workspace_mib << 20)
    add_batch_profile(builder, network, config, input_name, options)
    if TRT_MAJOR < 11 and not strongly_typed:
        set_precision_flags(config, flag_names)
    if options.dla_core is not None:
        use_dla(builder, config, options.dla_core)
    if timing_cache is not None:
        load_timing_cache(config, Path(timing_cache))
    monitor = watch_phases(config, on_phase)
    plan = builder.build_serialized_network(network, config)
    del monitor, parser
    if plan is None:
        raise ModelError(f"TensorRT {trt.__version__} could not build an engine from {onnx_path}; the TensorRT "
                         "log above says why (try a larger --workspace, or a smaller --max-batch)")
    if timing_cache is not None:
        atomic_write_bytes(timing_cache, memoryview(config.get_timing_cache().serialize()))
    return bytes(memoryview(plan))
