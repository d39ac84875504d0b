"""Facts about this machine: CPU, OS, Python, packages, OpenCV build, cameras, NVIDIA GPU, CUDA, TensorRT, Jetson.

`asl-edge doctor` judges these facts and the benchmark records them beside its numbers. Every probe returns
a value or None and never raises; the parsing lives in `system_parsers` as pure functions of text. torch is
never imported here: its version comes from the package metadata, its CUDA state only when a caller has
already imported it.
"""

from __future__ import annotations

import glob
import importlib
import importlib.metadata
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from types import ModuleType
from typing import Any

from asl_edge import machine
from asl_edge.doctor import parsers

# Distribution names to try per package, first installed wins (a Jetson's apt OpenCV has none of them).
DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "asl-edge": ("asl-edge",),
    "numpy": ("numpy",),
    "opencv": ("opencv-python", "opencv-python-headless", "opencv-contrib-python",
               "opencv-contrib-python-headless"),
    "onnxruntime": ("onnxruntime-gpu", "onnxruntime"),
    "onnx": ("onnx",),
    "onnxconverter-common": ("onnxconverter-common",),
    "onnxslim": ("onnxslim",),
    "torch": ("torch",),
    "torchvision": ("torchvision",),
    "tensorrt": ("tensorrt", "tensorrt-cu13", "tensorrt-cu12", "tensorrt-cu11"),
    "pycuda": ("pycuda",),
    "cuda-python": ("cuda-python", "cuda-bindings"),
}

CUDA_HOME = Path(os.environ.get("CUDA_HOME", "/usr/local/cuda"))


def run_command(args: list[str], timeout: float = 5.0) -> str | None:
    """stdout of a command that exits 0, or None when it is missing, fails or hangs."""
    if shutil.which(args[0]) is None:
        return None
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def read_text(path: str | Path) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def package_version(name: str) -> str | None:
    """Installed version of a package (by its DISTRIBUTIONS names), from metadata: nothing is imported."""
    for dist in DISTRIBUTIONS.get(name, (name,)):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def import_optional(name: str) -> tuple[ModuleType | None, str | None]:
    """(module, None), or (None, why) when it is missing or its import fails.

    Third-party imports fail in many ways (ImportError, OSError for a missing libnvinfer, RuntimeError from
    a CUDA mismatch); each is reported by type and message rather than hidden.
    """
    try:
        return importlib.import_module(name), None
    except ImportError as exc:
        return None, f"not installed ({exc})" if "No module named" not in str(exc) else "not installed"
    except Exception as exc:  # a third-party loader: report it, whatever it raised
        return None, f"import failed: {type(exc).__name__}: {exc}"


def cpu_info() -> dict[str, Any]:
    model = parsers.parse_cpuinfo_model(read_text("/proc/cpuinfo") or "")
    if model is None:
        model = parsers.parse_lscpu_model(run_command(["lscpu"]) or "")
    return {"model": model or platform.processor() or None, "cores": os.cpu_count(), "arch": platform.machine()}


def os_info() -> dict[str, Any]:
    pretty = None
    for line in (read_text("/etc/os-release") or "").splitlines():
        if line.startswith("PRETTY_NAME="):
            pretty = line.split("=", 1)[1].strip().strip('"')
    return {"system": platform.system(), "release": platform.release(), "distribution": pretty,
            "arch": platform.machine()}


def python_info() -> dict[str, Any]:
    return {"version": platform.python_version(), "executable": sys.executable,
            "implementation": platform.python_implementation()}


def package_versions() -> dict[str, str | None]:
    return {name: package_version(name) for name in DISTRIBUTIONS}


def opencv_info() -> dict[str, Any]:
    cv2, error = import_optional("cv2")
    if cv2 is None:
        return {"error": error}
    build = machine.opencv_build()
    return {"version": cv2.__version__, "path": getattr(cv2, "__file__", None), **asdict(build),
            "has_gstreamer": build.has_gstreamer, "has_v4l2": build.has_v4l2, "has_ffmpeg": build.has_ffmpeg}


def onnxruntime_info() -> dict[str, Any]:
    ort, error = import_optional("onnxruntime")
    if ort is None:
        return {"error": error}
    return {"version": ort.__version__, "providers": list(ort.get_available_providers()),
            "device": ort.get_device()}


def torch_info() -> dict[str, Any]:
    """torch's version from metadata; CUDA facts only if the caller already imported torch."""
    info: dict[str, Any] = {"version": package_version("torch")}
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "cuda"):
        info["cuda_available"] = bool(torch.cuda.is_available())
        info["cuda_build"] = torch.version.cuda
        if info["cuda_available"]:
            info["device"] = torch.cuda.get_device_name(0)
    return info


def tensorrt_info() -> dict[str, Any]:
    trt, error = import_optional("tensorrt")
    # tensorrt-stubs (type hints only) leave an importable namespace package with no __version__.
    if trt is not None and getattr(trt, "__version__", None) is None:
        return {"error": "not installed (only type stubs found)"}
    if trt is None:
        return {"error": error}
    return {"version": trt.__version__, "path": getattr(trt, "__file__", None)}


def pycuda_info() -> dict[str, Any]:
    pycuda, error = import_optional("pycuda")
    if pycuda is None:
        return {"error": error}
    driver, driver_error = import_optional("pycuda.driver")
    if driver is None:
        return {"version": getattr(pycuda, "VERSION_TEXT", None), "error": driver_error}
    return {"version": getattr(pycuda, "VERSION_TEXT", None) or package_version("pycuda"),
            "cuda_built_against": ".".join(map(str, driver.get_version()))}


def cuda_python_info() -> dict[str, Any]:
    """cuda-python's runtime binding, and the CUDA runtime and driver versions it sees (0 = no driver)."""
    cudart, error = import_optional("cuda.bindings.runtime")
    if cudart is None:
        cudart, error = import_optional("cuda.cudart")  # cuda-python 11.8 / 12.x layout
    if cudart is None:
        return {"error": error}
    info: dict[str, Any] = {"version": package_version("cuda-python")}
    for key, call in (("runtime", "cudaRuntimeGetVersion"), ("driver", "cudaDriverGetVersion")):
        try:
            status, value = getattr(cudart, call)()
        except (RuntimeError, OSError) as exc:  # the binding loads libcudart on first call
            info[f"{key}_error"] = f"{type(exc).__name__}: {exc}"
            continue
        if int(status) == 0:
            info[f"{key}_version"] = f"{value // 1000}.{value % 1000 // 10}" if value else None
    return info


def nvidia_gpus() -> list[dict[str, Any]]:
    """GPUs from nvidia-smi, else the driver's /proc entries, else a Jetson's integrated GPU."""
    smi = run_command(["nvidia-smi", f"--query-gpu={parsers.NVIDIA_SMI_QUERY}", "--format=csv,noheader,nounits"])
    gpus = parsers.parse_nvidia_smi_csv(smi or "")
    if gpus:
        return [{**asdict(gpu), "source": "nvidia-smi"} for gpu in gpus]
    found = []
    for info_file in sorted(glob.glob("/proc/driver/nvidia/gpus/*/information")):
        name = parsers.parse_proc_gpu_information(read_text(info_file) or "")
        if name:
            found.append({"name": name, "source": info_file})
    if found:
        return found
    model = jetson_model()
    if parsers.is_jetson_model(model):
        return [{"name": f"{model} (integrated GPU)", "source": "/proc/device-tree/model"}]
    return []


def cuda_info() -> dict[str, Any]:
    toolkit = parsers.parse_cuda_version_json(read_text(CUDA_HOME / "version.json") or "")
    if toolkit is None:
        nvcc = shutil.which("nvcc") or str(CUDA_HOME / "bin" / "nvcc")
        toolkit = parsers.parse_nvcc_version(run_command([nvcc, "--version"]) or "") if os.path.exists(nvcc) else None
    driver_cuda = parsers.parse_nvidia_smi_cuda_version(run_command(["nvidia-smi"]) or "")
    return {"toolkit": toolkit, "driver_supports": driver_cuda, "home": str(CUDA_HOME) if CUDA_HOME.exists() else None}


def jetson_model() -> str | None:
    try:
        raw = Path("/proc/device-tree/model").read_bytes()
    except OSError:
        return None
    return parsers.parse_device_tree_model(raw)


def cpufreq_limits() -> list[tuple[int, int]]:
    limits = []
    for folder in sorted(glob.glob("/sys/devices/system/cpu/cpu[0-9]*/cpufreq")):
        low, high = read_text(f"{folder}/scaling_min_freq"), read_text(f"{folder}/scaling_max_freq")
        if low and high and low.strip().isdigit() and high.strip().isdigit():
            limits.append((int(low), int(high)))
    return limits


def clocks_locked() -> bool | None:
    """`jetson_clocks --show` (needs root), else cpufreq minimum == maximum on every core."""
    shown = parsers.parse_jetson_clocks_show(run_command(["jetson_clocks", "--show"]) or "")
    return shown if shown is not None else parsers.clocks_locked_from_limits(cpufreq_limits())


def jetson_info() -> dict[str, Any] | None:
    """Module, L4T and JetPack release, power mode and clocks; None when this is not a Jetson."""
    model = jetson_model()
    release = machine.read_l4t_release()
    if not parsers.is_jetson_model(model) and release is None:
        return None
    power = parsers.parse_nvpmodel_query(run_command(["nvpmodel", "-q"]) or "")
    return {
        "model": model,
        "l4t": release.version if release else None,
        "jetpack": release.jetpack if release else None,
        "power_mode": power.name if power else None,
        "power_mode_id": power.mode_id if power else None,
        "clocks_locked": clocks_locked(),
    }


def video_devices() -> list[str]:
    return sorted(glob.glob("/dev/video[0-9]*"), key=lambda dev: int(dev.removeprefix("/dev/video")))


def camera_formats(device: str) -> list[parsers.CameraFormat] | None:
    """Formats a V4L2 device offers, from v4l2-ctl; None when v4l2-ctl is not installed or fails."""
    text = run_command(["v4l2-ctl", "--list-formats-ext", "-d", device])
    return None if text is None else parsers.parse_v4l2_formats(text)


def opencv_camera_mode(device: str) -> str | None:
    """Without v4l2-ctl: open the device with OpenCV and read one frame's size and FOURCC."""
    cv2, _ = import_optional("cv2")
    if cv2 is None:
        return None
    capture = cv2.VideoCapture(device, cv2.CAP_V4L2)
    try:
        if not capture.isOpened():
            return None
        ok, frame = capture.read()
        code = int(capture.get(cv2.CAP_PROP_FOURCC))
        fourcc = "".join(chr((code >> shift) & 0xFF) for shift in (0, 8, 16, 24)).strip("\0 ") or "?"
        return f"{fourcc} {frame.shape[1]}x{frame.shape[0]}" if ok and frame is not None else f"{fourcc} (no frame)"
    finally:
        capture.release()


def cameras() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for device in video_devices():
        formats = camera_formats(device)
        if formats is not None:
            found.append({"device": device, "formats": [asdict(fmt) | {"raw_bayer": fmt.raw_bayer} for fmt in formats],
                          "source": "v4l2-ctl"})
        else:
            found.append({"device": device, "opencv_mode": opencv_camera_mode(device), "source": "opencv"})
    return found


# Each section of the record, by name; `collect` runs them all, doctor runs only those its checks read.
SECTIONS: dict[str, Callable[[], Any]] = {
    "cpu": cpu_info,
    "os": os_info,
    "python": python_info,
    "packages": package_versions,
    "opencv": opencv_info,
    "onnxruntime": onnxruntime_info,
    "torch": torch_info,
    "tensorrt": tensorrt_info,
    "pycuda": pycuda_info,
    "cuda_python": cuda_python_info,
    "gpus": nvidia_gpus,
    "cuda": cuda_info,
    "jetson": jetson_info,
    "cameras": cameras,
}


def collect(include_cameras: bool = True) -> dict[str, Any]:
    """Every section as one JSON-serialisable dict, the record a benchmark keeps beside its numbers.

    Cameras are left out on request: probing one opens it, which a running pipeline may not allow.
    """
    return {name: probe() if include_cameras or name != "cameras" else None for name, probe in SECTIONS.items()}
