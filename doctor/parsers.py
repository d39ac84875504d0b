"""Pure parsers of what Linux, JetPack and NVIDIA tools print, kept apart from the probes that run them.

Each takes the text a tool or file gives and returns a value, or None (an empty list) when the text is
not of the expected form, so they are tested on real sample output on any machine.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

# Raw Bayer formats that CSI sensors offer through V4L2: OpenCV cannot debayer them from /dev/videoN,
# so such a camera is read through Argus (nvarguscamerasrc, the csi:// source) instead.
BAYER_FOURCCS = frozenset({
    "RG10", "BG10", "GB10", "BA10", "RG12", "BG12", "GB12", "GR12", "RGGB", "BGGR", "GBRG", "GRBG", "BA81",
    "pRAA", "pBAA", "pgAA", "pGAA",
})


@dataclass(frozen=True)
class PowerMode:
    name: str
    mode_id: int | None


def parse_nvpmodel_query(text: str) -> PowerMode | None:
    """`nvpmodel -q`: "NV Power Mode: MAXN" then the mode's id on its own line (warnings may come first)."""
    match = re.search(r"^NV Power Mode:\s*(\S+)\s*$", text, re.MULTILINE)
    if not match:
        return None
    after = text[match.end():]
    mode_id = re.search(r"^\s*(\d+)\s*$", after, re.MULTILINE)
    return PowerMode(match[1], int(mode_id[1]) if mode_id else None)


_FREQ_LINE = re.compile(r"^(cpu\d+|GPU)\b.*?MinFreq=(\d+)\s+MaxFreq=(\d+)", re.MULTILINE)


def parse_jetson_clocks_show(text: str) -> bool | None:
    """`jetson_clocks --show`: clocks are locked when every online CPU and the GPU run with MinFreq == MaxFreq.

    None when the text has no per-CPU frequency lines (not that tool's output).
    """
    lines = _FREQ_LINE.findall(text)
    if not any(name.startswith("cpu") for name, _, _ in lines):
        return None
    return all(low == high for _, low, high in lines)


def clocks_locked_from_limits(limits: list[tuple[int, int]]) -> bool | None:
    """cpufreq (scaling_min_freq, scaling_max_freq) pairs: locked when each minimum equals its maximum."""
    if not limits:
        return None
    return all(low == high for low, high in limits)


@dataclass(frozen=True)
class CameraFormat:
    fourcc: str
    description: str
    sizes: tuple[str, ...] = field(default_factory=tuple)  # "1920x1080@30" (the highest rate per size)

    @property
    def raw_bayer(self) -> bool:
        return self.fourcc in BAYER_FOURCCS

    def summary(self, max_sizes: int = 3) -> str:
        shown = ", ".join(self.sizes[:max_sizes]) + (", ..." if len(self.sizes) > max_sizes else "")
        return f"{self.fourcc} {shown}".strip()


def parse_v4l2_formats(text: str) -> list[CameraFormat]:
    """`v4l2-ctl --list-formats-ext`, both the "[0]: 'MJPG' (...)" and the older "Pixel Format: 'MJPG'" forms."""
    formats: list[tuple[str, str, dict[str, float]]] = []
    size: str | None = None
    for line in text.splitlines():
        stripped = line.strip()
        new_style = re.match(r"\[\d+\]:\s*'(.{4})'\s*(?:\((.*)\))?", stripped)
        found = new_style or re.match(r"Pixel Format\s*:\s*'(.{4})'", stripped)
        if found:
            description = (new_style[2] or "") if new_style else ""
            formats.append((found[1].strip(), description, {}))
            size = None
        elif formats and stripped.startswith("Name") and ":" in stripped and not formats[-1][1]:
            fourcc, _, sizes = formats[-1]
            formats[-1] = (fourcc, stripped.split(":", 1)[1].strip(), sizes)
        elif formats and (size_match := re.match(r"Size:\s*\w+\s+(\d+x\d+)", stripped)):
            size = size_match[1]
            formats[-1][2].setdefault(size, 0.0)
        elif formats and size and (fps := re.search(r"\(([\d.]+)\s*fps\)", stripped)):
            rates = formats[-1][2]
            rates[size] = max(rates[size], float(fps[1]))
    return [CameraFormat(fourcc, description, tuple(f"{s}@{rate:g}" if rate else s for s, rate in sizes.items()))
            for fourcc, description, sizes in formats]


@dataclass(frozen=True)
class NvidiaGpu:
    name: str
    driver: str | None = None
    memory_mib: int | None = None
    compute_capability: str | None = None


NVIDIA_SMI_QUERY = "name,driver_version,memory.total,compute_cap"


def parse_nvidia_smi_csv(text: str) -> list[NvidiaGpu]:
    """`nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader,nounits`."""
    gpus = []
    for line in text.splitlines():
        # nvidia-smi writes [N/A] for a field the driver cannot report.
        cells = ["" if cell.strip() in ("[N/A]", "N/A") else cell.strip() for cell in line.split(",")]
        if len(cells) < 2 or not cells[0]:
            continue
        memory = cells[2] if len(cells) > 2 else ""
        capability = cells[3] if len(cells) > 3 else ""
        gpus.append(NvidiaGpu(
            name=cells[0],
            driver=cells[1] or None,
            memory_mib=int(memory) if memory.isdigit() else None,
            compute_capability=capability if re.fullmatch(r"\d+\.\d+", capability) else None,
        ))
    return gpus


def parse_nvidia_smi_cuda_version(text: str) -> str | None:
    """The "CUDA Version: 12.4" the driver supports, from plain `nvidia-smi`."""
    match = re.search(r"CUDA Version:\s*([\d.]+)", text)
    return match[1] if match else None


def parse_proc_gpu_information(text: str) -> str | None:
    """`/proc/driver/nvidia/gpus/<bus>/information`: "Model: \t NVIDIA H100 80GB HBM3"."""
    match = re.search(r"^Model:\s*(.+?)\s*$", text, re.MULTILINE)
    return match[1] if match else None


def parse_cuda_version_json(text: str) -> str | None:
    """`/usr/local/cuda/version.json` (CUDA 11.1 and newer)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None
    version = data.get("cuda", {}).get("version") if isinstance(data, dict) else None
    return str(version) if version else None


def parse_nvcc_version(text: str) -> str | None:
    """`nvcc --version`: "Cuda compilation tools, release 12.6, V12.6.77"."""
    match = re.search(r"release [\d.]+, V([\d.]+)", text)
    return match[1] if match else None


def parse_device_tree_model(raw: bytes) -> str | None:
    """`/proc/device-tree/model`, a NUL-terminated string such as b"NVIDIA Jetson AGX Orin Developer Kit\\x00"."""
    model = raw.split(b"\0", 1)[0].decode("utf-8", "replace").strip()
    return model or None


def parse_cpuinfo_model(text: str) -> str | None:
    """`/proc/cpuinfo` "model name" (x86) or "Model" (some ARM boards)."""
    match = re.search(r"^(?:model name|Model)\s*:\s*(.+?)\s*$", text, re.MULTILINE)
    return match[1] if match else None


def parse_lscpu_model(text: str) -> str | None:
    """`lscpu` "Model name:" (gives "Cortex-A78AE" on Orin, where /proc/cpuinfo has no model name)."""
    names = re.findall(r"^\s*Model name:\s*(.+?)\s*$", text, re.MULTILINE)
    return " + ".join(dict.fromkeys(names)) if names else None


def is_jetson_model(model: str | None) -> bool:
    return bool(model) and "jetson" in str(model).lower()
