"""system_info's parsers on real sample output of JetPack, V4L2 and NVIDIA tools, and its probes on this machine."""

from __future__ import annotations

import json
import os
import platform

import cv2
import numpy as np

from asl_edge import machine
from asl_edge.doctor import parsers, system_info
from tests.conftest import run_without_torch

# Real first lines of /etc/nv_tegra_release on JetPack 6.1 and JetPack 5.1.2.
TEGRA_R36 = ("# R36 (release), REVISION: 4.0, GCID: 37537400, BOARD: generic, EABI: aarch64, "
             "DATE: Fri Sep 13 04:36:44 UTC 2024\n# KERNEL_VARIANT: oot\nTARGET_USERSPACE_LIB_DIR=nvidia\n")
TEGRA_R35 = ("# R35 (release), REVISION: 4.1, GCID: 33958178, BOARD: t186ref, EABI: aarch64, "
             "DATE: Tue Aug  1 19:57:35 UTC 2023\n")

# `sudo jetson_clocks --show` on a Jetson Nano before `jetson_clocks` (min below max: not locked).
CLOCKS_NANO = """SOC family:tegra210  Machine:jetson-nano
Online CPUs: 0-3
CPU Cluster Switching: Disabled
cpu0: Online=1 Governor=schedutil MinFreq=102000 MaxFreq=1428000 CurrentFreq=1428000 IdleStates: WFI=1 c7=1
cpu1: Online=1 Governor=schedutil MinFreq=102000 MaxFreq=1428000 CurrentFreq=1428000 IdleStates: WFI=1 c7=1
cpu2: Online=1 Governor=schedutil MinFreq=102000 MaxFreq=1428000 CurrentFreq=1428000 IdleStates: WFI=1 c7=1
cpu3: Online=1 Governor=schedutil MinFreq=102000 MaxFreq=1428000 CurrentFreq=1428000 IdleStates: WFI=1 c7=1
GPU MinFreq=76800000 MaxFreq=921600000 CurrentFreq=153600000
EMC MinFreq=204000000 MaxFreq=1600000000 CurrentFreq=1600000000 FreqOverride=0
Fan: speed=0
NV Power Mode: MAXN
"""

# `v4l2-ctl --list-formats-ext` of a USB webcam (v4l-utils >= 1.14 layout).
V4L2_USB = """ioctl: VIDIOC_ENUM_FMT
\tType: Video Capture

\t[0]: 'MJPG' (Motion-JPEG, compressed)
\t\tSize: Discrete 1920x1080
\t\t\tInterval: Discrete 0.033s (30.000 fps)
\t\tSize: Discrete 1280x720
\t\t\tInterval: Discrete 0.033s (30.000 fps)
\t\t\tInterval: Discrete 0.067s (15.000 fps)
\t[1]: 'YUYV' (YUYV 4:2:2)
\t\tSize: Discrete 640x480
\t\t\tInterval: Discrete 0.033s (30.000 fps)
\t\tSize: Discrete 1280x720
\t\t\tInterval: Discrete 0.100s (10.000 fps)
"""

# The older layout (v4l-utils before 1.14).
V4L2_OLD = """ioctl: VIDIOC_ENUM_FMT
\tIndex       : 0
\tType        : Video Capture
\tPixel Format: 'YUYV'
\tName        : YUYV 4:2:2
\t\tSize: Discrete 1280x720
\t\t\tInterval: Discrete 0.100s (10.000 fps)
\t\t\tInterval: Discrete 0.200s (5.000 fps)
\t\tSize: Discrete 640x480
\t\t\tInterval: Discrete 0.033s (30.000 fps)

\tIndex       : 1
\tType        : Video Capture
\tPixel Format: 'MJPG' (compressed)
\tName        : Motion-JPEG
\t\tSize: Discrete 1280x720
\t\t\tInterval: Discrete 0.033s (30.000 fps)
"""

# A Raspberry Pi camera v2 (IMX219) on a Jetson's CSI port: raw Bayer only.
V4L2_CSI = """ioctl: VIDIOC_ENUM_FMT
\tType: Video Capture

\t[0]: 'RG10' (10-bit Bayer RGRG/GBGB)
\t\tSize: Discrete 3280x2464
\t\t\tInterval: Discrete 0.048s (21.000 fps)
\t\tSize: Discrete 1920x1080
\t\t\tInterval: Discrete 0.033s (30.000 fps)
"""


def test_nv_tegra_release_gives_l4t_and_jetpack() -> None:
    r36 = machine.parse_nv_tegra_release(TEGRA_R36)
    assert r36 is not None
    assert (r36.version, r36.jetpack, r36.board) == ("36.4.0", "6.1", "generic")
    r35 = machine.parse_nv_tegra_release(TEGRA_R35)
    assert r35 is not None and (r35.version, r35.jetpack, r35.board) == ("35.4.1", "5.1.2", "t186ref")
    unknown = machine.parse_nv_tegra_release("# R38 (release), REVISION: 2.0, GCID: 1, BOARD: generic")
    assert unknown is not None and unknown.version == "38.2.0" and unknown.jetpack is None
    assert machine.parse_nv_tegra_release("Ubuntu 22.04.4 LTS") is None


def test_nvpmodel_query() -> None:
    assert parsers.parse_nvpmodel_query("NV Power Mode: MAXN\n0\n") == parsers.PowerMode("MAXN", 0)
    warned = "NVPM WARN: power mode is not set!\nNV Power Mode: 15W\n1\n"
    assert parsers.parse_nvpmodel_query(warned) == parsers.PowerMode("15W", 1)
    assert parsers.parse_nvpmodel_query("NV Power Mode: MAXN_SUPER") == parsers.PowerMode("MAXN_SUPER", None)
    assert parsers.parse_nvpmodel_query("nvpmodel: command not found") is None


def test_jetson_clocks_show_locked_only_when_min_equals_max() -> None:
    assert parsers.parse_jetson_clocks_show(CLOCKS_NANO) is False
    locked = CLOCKS_NANO.replace("MinFreq=102000", "MinFreq=1428000").replace("MinFreq=76800000",
                                                                             "MinFreq=921600000")
    assert parsers.parse_jetson_clocks_show(locked) is True
    cpus_only = locked.replace("GPU MinFreq=921600000", "GPU MinFreq=76800000")
    assert parsers.parse_jetson_clocks_show(cpus_only) is False  # the GPU still scales
    assert parsers.parse_jetson_clocks_show("Fan: speed=0\n") is None
    assert parsers.clocks_locked_from_limits([(1728000, 1728000)] * 6) is True
    assert parsers.clocks_locked_from_limits([(115200, 1728000), (1728000, 1728000)]) is False
    assert parsers.clocks_locked_from_limits([]) is None


def test_v4l2_formats_both_layouts_and_bayer() -> None:
    usb = parsers.parse_v4l2_formats(V4L2_USB)
    assert [fmt.fourcc for fmt in usb] == ["MJPG", "YUYV"]
    assert usb[0].sizes == ("1920x1080@30", "1280x720@30")  # the highest rate per size
    assert usb[1].sizes == ("640x480@30", "1280x720@10")
    assert usb[0].description == "Motion-JPEG, compressed" and not usb[0].raw_bayer
    old = parsers.parse_v4l2_formats(V4L2_OLD)
    assert [(fmt.fourcc, fmt.description) for fmt in old] == [("YUYV", "YUYV 4:2:2"), ("MJPG", "Motion-JPEG")]
    assert old[0].sizes == ("1280x720@10", "640x480@30")
    csi = parsers.parse_v4l2_formats(V4L2_CSI)
    assert [fmt.fourcc for fmt in csi] == ["RG10"] and csi[0].raw_bayer
    assert csi[0].summary(max_sizes=1) == "RG10 3280x2464@21, ..."
    assert parsers.parse_v4l2_formats("Failed to open /dev/video0: No such file or directory") == []


def test_opencv_build_lines_from_this_opencv_and_a_jetpack_one() -> None:
    here = machine.parse_opencv_build(cv2.getBuildInformation())
    assert here.gstreamer is not None and here.v4l2 is not None  # the lines exist in every OpenCV 4/5 build
    assert here.has_gstreamer == here.gstreamer.startswith("YES")
    jetpack = machine.parse_opencv_build("  Video I/O:\n    DC1394:                      NO\n"
                                         "    FFMPEG:                      YES\n"
                                         "    GStreamer:                   YES (1.20.3)\n"
                                         "    v4l/v4l2:                    YES (linux/videodev2.h)\n")
    assert jetpack.has_gstreamer and jetpack.has_v4l2 and jetpack.gstreamer == "YES (1.20.3)"
    assert not machine.parse_opencv_build("GStreamer: NO\n").has_gstreamer


def test_nvidia_and_cuda_outputs() -> None:
    csv = "NVIDIA H100 80GB HBM3, 550.54.15, 81559, 9.0\nNVIDIA RTX A6000, 550.54.15, 49140, 8.6\n"
    gpus = parsers.parse_nvidia_smi_csv(csv)
    assert gpus[0] == parsers.NvidiaGpu("NVIDIA H100 80GB HBM3", "550.54.15", 81559, "9.0")
    assert [gpu.name for gpu in gpus] == ["NVIDIA H100 80GB HBM3", "NVIDIA RTX A6000"]
    # Fields the driver cannot report read [N/A].
    assert parsers.parse_nvidia_smi_csv("NVIDIA A2, 550.54.15, [N/A], [N/A]") == [
        parsers.NvidiaGpu("NVIDIA A2", "550.54.15", None, None)]
    header = "| NVIDIA-SMI 550.54.15              Driver Version: 550.54.15      CUDA Version: 12.4     |"
    assert parsers.parse_nvidia_smi_cuda_version(header) == "12.4"
    assert parsers.parse_proc_gpu_information("Model: \t\t NVIDIA H100 80GB HBM3\nIRQ:   \t\t 16\n") == \
        "NVIDIA H100 80GB HBM3"
    version_json = '{\n   "cuda" : {\n      "name" : "CUDA SDK",\n      "version" : "12.6.68"\n   }\n}\n'
    assert parsers.parse_cuda_version_json(version_json) == "12.6.68"
    assert parsers.parse_cuda_version_json("not json") is None
    nvcc = "nvcc: NVIDIA (R) Cuda compiler driver\nCuda compilation tools, release 12.6, V12.6.77\n"
    assert parsers.parse_nvcc_version(nvcc) == "12.6.77"


def test_board_and_cpu_names() -> None:
    assert parsers.parse_device_tree_model(b"NVIDIA Jetson AGX Orin Developer Kit\x00") == \
        "NVIDIA Jetson AGX Orin Developer Kit"
    assert parsers.is_jetson_model("NVIDIA Jetson Orin Nano Engineering Reference Developer Kit Super")
    assert not parsers.is_jetson_model("Raspberry Pi 5 Model B Rev 1.0")
    assert parsers.parse_device_tree_model(b"\x00") is None
    assert parsers.parse_cpuinfo_model("processor\t: 0\nmodel name\t: AMD EPYC 7763 64-Core Processor\n") == \
        "AMD EPYC 7763 64-Core Processor"
    orin_lscpu = "Architecture:  aarch64\n  Model name:  Cortex-A78AE\n    Model:  1\n"
    assert parsers.parse_lscpu_model(orin_lscpu) == "Cortex-A78AE"


def test_probes_on_this_machine_agree_with_python() -> None:
    record = system_info.collect()
    json.dumps(record)  # the benchmark stores it as JSON
    assert record["python"]["version"] == platform.python_version()
    assert record["cpu"]["cores"] == os.cpu_count() and record["cpu"]["arch"] == platform.machine()
    assert record["packages"]["numpy"] == np.__version__
    assert record["opencv"]["version"] == cv2.__version__
    assert "CPUExecutionProvider" in record["onnxruntime"]["providers"]
    assert [camera["device"] for camera in record["cameras"]] == system_info.video_devices()
    if not os.path.exists("/etc/nv_tegra_release"):
        assert record["jetson"] is None


def test_probes_never_import_torch() -> None:
    result = run_without_torch(
        "import json, sys\n"
        "from asl_edge.doctor.system_info import collect\n"
        "record = collect(include_cameras=False)\n"
        "assert 'torch' not in sys.modules\n"
        "print(json.dumps(record['torch']))\n")
    assert result.returncode == 0, result.stderr
    torch_record = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(torch_record) == {"version"}  # metadata only: no CUDA facts without an imported torch


def test_opencv_gui_line() -> None:
    assert not machine.parse_opencv_build("  GUI:                           NONE\n").has_gui
    assert machine.parse_opencv_build("  GUI:                           GTK3\n").has_gui
    assert not machine.parse_opencv_build("").has_gui
