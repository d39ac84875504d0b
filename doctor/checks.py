"""`asl-edge doctor`'s checks: each a named function of the shared facts (gathered lazily by `system_info`,
see context.py) that says ok, warn or fail, what it found, and how to fix a problem. Which failures stop a
job is decided in verdict.py, not here.
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
from collections.abc import Callable
from typing import Any

from asl_edge.artifacts import cache_dir
from asl_edge.doctor import system_info
from asl_edge.doctor.context import FAIL, OK, WARN, Context, Finding, camera_device, source_kind
from asl_edge.progress import MODES as PROGRESS_MODES

MIN_PYTHON = (3, 10)

WORKSTATION_INSTALL = 'pip install -c constraints.txt -e ".[workstation]"'
JETSON_ORT = "pip install onnxruntime-gpu --extra-index-url https://pypi.jetson-ai-lab.io/jp6/cu126"


# ---------------------------------------------------------------- checks


def check_python(ctx: Context) -> Finding:
    version = platform.python_version()
    if tuple(int(part) for part in platform.python_version_tuple()[:2]) < MIN_PYTHON:
        return Finding(FAIL, f"{version} is too old", "use Python 3.10 or newer (JetPack 6 ships 3.10)")
    return Finding(OK, f"{version} ({sys.executable})")


def check_asl_edge(ctx: Context) -> Finding:
    version = ctx.facts["packages"]["asl-edge"]
    if version is None:
        return Finding(WARN, "running from a source tree without package metadata", "pip install -e . (or --no-deps .)")
    return Finding(OK, version)


def check_numpy(ctx: Context) -> Finding:
    version = ctx.facts["packages"]["numpy"]
    return Finding(OK, version) if version else Finding(FAIL, "not installed", "pip install numpy")


def _probed(ctx: Context, section: str, fix: str, found: Callable[[dict[str, Any]], str]) -> Finding:
    """The probe's import error with `fix`, else what `found` says of the probed facts."""
    info = ctx.facts[section]
    if "error" in info:
        return Finding(FAIL, str(info["error"]), fix)
    return Finding(OK, found(info))


def check_opencv(ctx: Context) -> Finding:
    return _probed(ctx, "opencv", "Jetson: sudo apt install python3-opencv (JetPack's build, with GStreamer); "
                   "workstation: pip install opencv-python-headless",
                   lambda info: f"{info['version']} ({info['path']})")


def check_opencv_gstreamer(ctx: Context) -> Finding:
    info = ctx.facts["opencv"]
    if "error" in info:
        return Finding(FAIL, "OpenCV is not importable", "install OpenCV first (see the opencv line)")
    if info["has_gstreamer"]:
        return Finding(OK, f"GStreamer: {info['gstreamer']}")
    return Finding(FAIL, f"GStreamer: {info['gstreamer'] or 'not in the build information'} (csi:// cameras "
                   "need it)", "use JetPack's OpenCV (sudo apt install python3-opencv) and pip uninstall "
                   "opencv-python opencv-python-headless so the pip wheel does not shadow it")


def check_opencv_v4l2(ctx: Context) -> Finding:
    info = ctx.facts["opencv"]
    if "error" in info:
        return Finding(FAIL, "OpenCV is not importable", "install OpenCV first (see the opencv line)")
    if info["has_v4l2"]:
        return Finding(OK, f"V4L/V4L2: {info['v4l2']}")
    return Finding(FAIL, f"V4L/V4L2: {info['v4l2'] or 'not in the build information'} (USB webcams need it)",
                   "install an OpenCV built with V4L2: pip install opencv-python-headless or apt python3-opencv")


def _describe_camera(camera: dict[str, Any]) -> str:
    if camera["source"] == "opencv":
        mode = camera.get("opencv_mode")
        return f"{camera['device']}: {mode or 'cannot be opened by OpenCV'}"
    formats = camera["formats"]
    if not formats:
        return f"{camera['device']}: no capture formats (a metadata node)"
    shown = "; ".join(f"{fmt['fourcc']} {', '.join(fmt['sizes'][:3])}".strip() for fmt in formats)
    return f"{camera['device']}: {shown}"


def check_source(ctx: Context) -> Finding | None:
    """A file or folder --source: open it the way `run` will and decode its first frame."""
    if ctx.source is None or source_kind(ctx.source) != "file":
        return None
    from asl_edge.errors import SourceError
    from asl_edge.runtime.live.sources import probe_source

    try:
        source, (width, height) = probe_source(ctx.source)
    except SourceError as exc:
        return Finding(FAIL, str(exc), "pass an existing, readable video file, image or image folder to --source")
    return Finding(OK, f"{source.describe()}: first frame {width}x{height} decoded")


def check_camera(ctx: Context) -> Finding:
    found = ctx.facts["cameras"]
    fix = ("connect a USB webcam or the CSI camera; in Docker pass --device /dev/video0; "
           "list cameras with v4l2-ctl --list-devices (sudo apt install v4l-utils)")
    if not found:
        return Finding(FAIL, "no /dev/video* devices", fix)
    detail = " | ".join(_describe_camera(camera) for camera in found)
    if ctx.source and source_kind(ctx.source) == "camera":
        wanted = camera_device(ctx.source)
        if wanted not in {camera["device"] for camera in found}:
            return Finding(FAIL, f"{wanted} not found; present: {detail}", f"pass one of the devices present; {fix}")
    bayer_only = [camera["device"] for camera in found if camera["source"] == "v4l2-ctl" and camera["formats"]
                  and all(fmt["raw_bayer"] for fmt in camera["formats"])]
    if bayer_only:
        return Finding(WARN, detail, f"{', '.join(bayer_only)} offer(s) only raw Bayer (a CSI sensor): read it "
                       "with --source csi://0, which debayers on the ISP through GStreamer")
    return Finding(OK, detail)


def _package_finding(ctx: Context, name: str, fix: str) -> Finding:
    version = ctx.facts["packages"][name]
    return Finding(OK, version) if version else Finding(FAIL, "not installed", fix)


def check_torch(ctx: Context) -> Finding:
    if ctx.job not in ("train", "export"):
        return _package_finding(ctx, "torch", f"{WORKSTATION_INSTALL} (a Jetson runtime does not need torch)")
    # These jobs import torch, so prove it imports and say whether it sees a GPU.
    torch, error = system_info.import_optional("torch")
    if torch is None:
        return Finding(FAIL, str(error), f"{WORKSTATION_INSTALL} on the workstation that trains and exports")
    if torch.cuda.is_available():
        return Finding(OK, f"{torch.__version__}, CUDA {torch.version.cuda} on {torch.cuda.get_device_name(0)}")
    return Finding(OK, f"{torch.__version__}, CPU only (training is slower but works)")


def check_torchvision(ctx: Context) -> Finding:
    return _package_finding(ctx, "torchvision", WORKSTATION_INSTALL)


def check_onnx(ctx: Context) -> Finding:
    return _package_finding(ctx, "onnx", WORKSTATION_INSTALL)


def check_onnxruntime(ctx: Context) -> Finding:
    info = ctx.facts["onnxruntime"]
    if "error" in info:
        return Finding(FAIL, str(info["error"]), f"workstation: pip install onnxruntime; Jetson: {JETSON_ORT}")
    providers = [p.removesuffix("ExecutionProvider") for p in info["providers"]]
    detail = f"{info['version']}, providers: {', '.join(providers)}"
    gpu_providers = {"Tensorrt", "CUDA"} & set(providers)
    if ctx.facts["gpus"] and not gpu_providers:
        return Finding(WARN, detail + " (an NVIDIA GPU is present but onnxruntime cannot use it)",
                       f"Jetson: {JETSON_ORT}; x86: pip install onnxruntime-gpu")
    return Finding(OK, detail)


def check_tensorrt(ctx: Context) -> Finding:
    return _probed(ctx, "tensorrt", "TensorRT comes with JetPack on a Jetson (sudo apt install nvidia-jetpack; make "
                   "a venv with --system-site-packages to see it); on an x86 machine with an NVIDIA GPU: "
                   "pip install tensorrt", lambda info: str(info["version"]))


def check_pycuda(ctx: Context) -> Finding:
    return _probed(ctx, "pycuda", "pip install pycuda with nvcc on PATH (export PATH=/usr/local/cuda/bin:$PATH), "
                   "or install cuda-python instead",
                   lambda info: f"{info['version']} (built for CUDA {info['cuda_built_against']})")


def check_cuda_python(ctx: Context) -> Finding:
    return _probed(ctx, "cuda_python", "pip install cuda-python (matching the CUDA major version), or use pycuda",
                   lambda info: f"{info['version']}, CUDA runtime {info.get('runtime_version')}, driver "
                                f"{info.get('driver_version') or 'none (no NVIDIA driver)'}")


def check_nvidia_gpu(ctx: Context) -> Finding:
    gpus = ctx.facts["gpus"]
    if not gpus:
        return Finding(FAIL, "no NVIDIA GPU found (nvidia-smi, /proc/driver/nvidia, /proc/device-tree/model)",
                       "engines are built on the GPU that runs them: build on the Jetson (JetPack installs the "
                       "driver); in Docker add --runtime nvidia (Jetson) or --gpus all (workstation)")
    parts = []
    for gpu in gpus:
        extra = [f"sm {gpu['compute_capability']}" if gpu.get("compute_capability") else "",
                 f"driver {gpu['driver']}" if gpu.get("driver") else "",
                 f"{gpu['memory_mib']} MiB" if gpu.get("memory_mib") else ""]
        extras = ", ".join(e for e in extra if e)
        parts.append(f"{gpu['name']}" + (f" ({extras})" if extras else ""))
    return Finding(OK, "; ".join(parts))


def check_cuda(ctx: Context) -> Finding:
    info = ctx.facts["cuda"]
    found = [f"toolkit {info['toolkit']}" if info["toolkit"] else "",
             f"driver supports {info['driver_supports']}" if info["driver_supports"] else ""]
    detail = ", ".join(part for part in found if part)
    if not detail:
        return Finding(FAIL, f"no CUDA toolkit at {system_info.CUDA_HOME} and no nvidia-smi",
                       "Jetson: sudo apt install nvidia-jetpack; workstation: the NVIDIA driver (and the CUDA "
                       "toolkit to build pycuda)")
    return Finding(OK, detail)


def check_inference_backend(ctx: Context) -> Finding:
    usable = []
    if "error" not in ctx.facts["onnxruntime"]:
        usable.append("onnxruntime")
    has_binding = "error" not in ctx.facts["pycuda"] or "error" not in ctx.facts["cuda_python"]
    if "error" not in ctx.facts["tensorrt"] and has_binding:
        usable.append("tensorrt")
    if usable:
        return Finding(OK, f"can run {', '.join(usable)} models")
    return Finding(FAIL, "neither onnxruntime nor TensorRT with pycuda/cuda-python is usable",
                   f"workstation: pip install onnxruntime; Jetson: {JETSON_ORT}, or TensorRT from JetPack "
                   "plus pip install pycuda")


def check_jetson(ctx: Context) -> Finding | None:
    info = ctx.facts["jetson"]
    if info is None:
        return None
    release = "L4T release unknown (/etc/nv_tegra_release unreadable)"
    if info["l4t"]:
        release = f"L4T {info['l4t']}" + (f" (JetPack {info['jetpack']})" if info["jetpack"] else "")
    detail = f"{info['model'] or 'unknown module'}, {release}"
    if info["l4t"] and not info["l4t"].startswith("36."):
        return Finding(WARN, detail, "the images and wheels here target JetPack 6 (L4T r36): flash JetPack 6")
    return Finding(OK, detail)


def check_power_mode(ctx: Context) -> Finding | None:
    info = ctx.facts["jetson"]
    if info is None:
        return None
    mode = info["power_mode"]
    if mode is None:
        return Finding(WARN, "unknown (nvpmodel -q gave nothing)", "run on the Jetson host (not in a container) "
                       "or install nvpmodel with JetPack")
    detail = f"{mode}" + (f" (id {info['power_mode_id']})" if info["power_mode_id"] is not None else "")
    if not mode.upper().startswith("MAXN"):
        return Finding(WARN, detail + ": latency is measured below the module's top clocks",
                       "sudo nvpmodel -m <MAXN id> (the ids are in /etc/nvpmodel.conf; MAXN is 0 on AGX Orin, "
                       "MAXN_SUPER is 2 on an Orin Nano Super)")
    return Finding(OK, detail)


def check_clocks(ctx: Context) -> Finding | None:
    info = ctx.facts["jetson"]
    if info is None:
        return None
    locked = info["clocks_locked"]
    if locked is None:
        return Finding(WARN, "unknown (jetson_clocks --show needs root; no cpufreq limits readable)",
                       "sudo jetson_clocks --show")
    if not locked:
        return Finding(WARN, "not locked: clocks scale with load, so latencies vary from run to run",
                       "sudo jetson_clocks (before benchmarking)")
    return Finding(OK, "locked at their maximum (jetson_clocks)")


def check_cache(ctx: Context) -> Finding:
    """asl-edge's cache ($ASL_EDGE_CACHE, else ~/.cache/asl-edge): training caches landmarks there and build keeps
    engines there. Proved by writing a temporary file in it (or in the nearest folder above it that exists: the
    check creates nothing)."""
    folder = cache_dir("")
    existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
    fix = "set ASL_EDGE_CACHE to a folder you can write"
    if existing is None or not existing.is_dir():
        where = "" if existing == folder else f"{folder}: "
        return Finding(FAIL, f"{where}{existing} is a file, not a folder", fix)
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        return Finding(FAIL, f"{folder}: cannot write in {existing} ({exc.strerror or exc})", fix)
    return Finding(OK, str(folder) + ("" if existing == folder else " (created when first needed)"))


def check_environment(ctx: Context) -> Finding | None:
    """Environment variables that change how every job runs, when set: a bad value is a warning (libgomp and
    the progress display fall back to their defaults), None when none is set."""
    thread_vars = [name for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS") if name in os.environ]
    problems, seen = [], []
    for name in thread_vars:
        value = os.environ[name]
        seen.append(f"{name}={value}")
        # OpenMP also takes a list, one count per nesting level ("4,2")
        if not all(part.strip().isdigit() and int(part) >= 1 for part in value.split(",")):
            problems.append(f"{name}={value!r} is not a positive whole number (the thread pools ignore it)")
    if "ASL_EDGE_PROGRESS" in os.environ:
        value = os.environ["ASL_EDGE_PROGRESS"]
        seen.append(f"ASL_EDGE_PROGRESS={value}")
        if value.lower() not in PROGRESS_MODES:
            problems.append(f"ASL_EDGE_PROGRESS={value!r} is not one of {', '.join(PROGRESS_MODES)} (auto is used)")
    if problems:
        return Finding(WARN, "; ".join(problems), f"unset them or give valid values: a thread count (this machine has "
                       f"{os.cpu_count() or 1} cores), ASL_EDGE_PROGRESS={'|'.join(PROGRESS_MODES)}")
    return Finding(OK, ", ".join(seen)) if seen else None


# name -> check; the order is the order of the report.
CHECKS: dict[str, Callable[[Context], Finding | None]] = {
    "python": check_python,
    "asl-edge": check_asl_edge,
    "numpy": check_numpy,
    "opencv": check_opencv,
    "opencv-gstreamer": check_opencv_gstreamer,
    "opencv-v4l2": check_opencv_v4l2,
    "camera": check_camera,
    "source": check_source,
    "cache": check_cache,
    "environment": check_environment,
    "torch": check_torch,
    "torchvision": check_torchvision,
    "onnx": check_onnx,
    "onnxruntime": check_onnxruntime,
    "tensorrt": check_tensorrt,
    "pycuda": check_pycuda,
    "cuda-python": check_cuda_python,
    "nvidia-gpu": check_nvidia_gpu,
    "cuda": check_cuda,
    "inference-backend": check_inference_backend,
    "jetson": check_jetson,
    "power-mode": check_power_mode,
    "clocks": check_clocks,
}

