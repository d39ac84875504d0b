"""`asl-edge doctor` run for real on this machine (no GPU, no camera), and its judgement of a Jetson's facts."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from asl_edge import machine
from asl_edge.doctor import parsers, system_info
from asl_edge.doctor import verdict as doctor
from asl_edge.doctor.checks import CHECKS
from asl_edge.doctor.context import Context, Facts
from asl_edge.runtime.backends.tensorrt.manifest import default_engine_cache
from tests.conftest import REPO, run_without_torch

HAS_TENSORRT_GPU = "error" not in system_info.tensorrt_info() and bool(system_info.nvidia_gpus())
NO_CAMERA = not system_info.video_devices()


def doctor_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "asl_edge", "doctor", *args], capture_output=True, text=True,
                          cwd=REPO, timeout=120, check=False)


def line_of(output: str, name: str) -> str:
    """The report line of one check: status, name, detail."""
    for line in output.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1] == name and parts[0] in ("ok", "warn", "FAIL"):
            return line
    raise AssertionError(f"no '{name}' line in:\n{output}")


@pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                    reason="no torch here (the oldest lane has none, like a Jetson runtime): train cannot be ready")
def test_train_is_ready_here() -> None:
    result = doctor_cli("--job", "train")
    assert result.returncode == 0, result.stdout + result.stderr
    assert line_of(result.stdout, "torch").split()[0] == "ok"
    assert line_of(result.stdout, "numpy").split()[0] == "ok"
    assert result.stdout.rstrip().splitlines()[-1].startswith("verdict: ready to train")


def test_a_cache_that_cannot_be_written_stops_train(tmp_path: Path) -> None:
    """Landmark training caches the hand stage's landmarks there: a cache path that is a file fails it."""
    blocked = tmp_path / "cache"
    blocked.write_text("")
    result = subprocess.run([sys.executable, "-m", "asl_edge", "doctor", "--job", "train"], capture_output=True,
                            text=True, cwd=REPO, timeout=120, check=False,
                            env={**os.environ, "ASL_EDGE_CACHE": str(blocked)})
    assert line_of(result.stdout, "cache").split()[0] == "FAIL", result.stdout
    assert "ASL_EDGE_CACHE" in result.stdout and result.returncode == 1
    assert blocked.read_text() == ""  # the check created nothing


def test_an_empty_cache_variable_means_the_default_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ASL_EDGE_CACHE= (set but empty) is unset, as XDG_CACHE_HOME= is: not the current directory."""
    monkeypatch.setenv("ASL_EDGE_CACHE", "")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    default = tmp_path / "home" / ".cache" / "asl-edge"
    assert default_engine_cache() == default / "engines"
    finding = CHECKS["cache"](Context("train", None, Facts()))
    assert finding is not None and finding.status == "ok" and finding.detail.startswith(str(default)), finding
    assert not (tmp_path / "home").exists()  # the check created nothing
    monkeypatch.setenv("ASL_EDGE_CACHE", "  ")  # blank is empty too, and a leading ~ is the home folder
    assert default_engine_cache() == default / "engines"
    monkeypatch.setenv("ASL_EDGE_CACHE", "~/c")
    assert default_engine_cache() == tmp_path / "home" / "c" / "engines"


@pytest.mark.skipif(HAS_TENSORRT_GPU, reason="this machine has TensorRT and a GPU: build can run")
def test_build_fails_here_with_a_fix_naming_tensorrt_and_jetpack() -> None:
    result = doctor_cli("--job", "build")
    assert result.returncode == 1, result.stdout
    lines = result.stdout.splitlines()
    failed = [line for line in lines if line.lstrip().startswith("FAIL")]
    assert any(line.split()[1] in ("tensorrt", "nvidia-gpu") for line in failed), result.stdout
    fix = "\n".join(lines[lines.index(failed[0]) + 1:])
    assert "fix:" in fix and ("TensorRT" in fix or "JetPack" in fix)
    assert lines[-1].startswith("verdict: build cannot run here")


@pytest.mark.skipif(not NO_CAMERA, reason="a camera is attached here")
def test_camera_is_a_warning_unless_the_run_reads_a_camera() -> None:
    plain = doctor_cli("--job", "run")
    assert plain.returncode == 0, plain.stdout
    assert line_of(plain.stdout, "camera").split()[0] == "warn"
    from_camera = doctor_cli("--job", "run", "--source", "/dev/video0")
    assert from_camera.returncode == 1
    assert line_of(from_camera.stdout, "camera").split()[0] == "FAIL"
    clip = Path(__file__).resolve().parents[2] / "asl_edge" / "assets" / "sample_clip.mp4"
    from_file = doctor_cli("--job", "run", "--source", str(clip))
    assert from_file.returncode == 0, from_file.stdout
    assert line_of(from_file.stdout, "source").split()[0] == "ok"


def test_a_missing_or_undecodable_source_file_is_not_ready(tmp_path: Path) -> None:
    missing = doctor_cli("--job", "run", "--source", str(tmp_path / "missing.mp4"))
    assert missing.returncode == 1, missing.stdout
    assert line_of(missing.stdout, "source").split()[0] == "FAIL" and "does not exist" in missing.stdout
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00" * 4096)
    broken = doctor_cli("--job", "run", "--source", str(garbage))
    assert broken.returncode == 1, broken.stdout
    assert line_of(broken.stdout, "source").split()[0] == "FAIL"
    assert broken.stdout.splitlines()[-1].startswith("verdict: run cannot run here")


def test_an_empty_source_is_refused_like_run_refuses_it() -> None:
    for blank in ("", "  "):
        result = doctor_cli("--source", blank)
        assert result.returncode == 2 and result.stdout == ""
        assert result.stderr.count("error:") == 1 and "--source is empty" in result.stderr


def test_bad_thread_and_progress_variables_are_warnings_with_their_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    check = CHECKS["environment"]
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "ASL_EDGE_PROGRESS"):
        monkeypatch.delenv(name, raising=False)
    assert check(Context(job="run", source=None, facts=Facts())) is None  # nothing set: no line
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    monkeypatch.setenv("ASL_EDGE_PROGRESS", "plain")
    finding = check(Context(job="run", source=None, facts=Facts()))
    assert finding is not None and finding.status == "ok" and "OMP_NUM_THREADS=2" in finding.detail
    monkeypatch.setenv("OMP_NUM_THREADS", "4,2")  # one count per nesting level: valid
    finding = check(Context(job="run", source=None, facts=Facts()))
    assert finding is not None and finding.status == "ok"
    for bad in ("0", "abc", "-1", "4,"):
        monkeypatch.setenv("OMP_NUM_THREADS", bad)
        finding = check(Context(job="run", source=None, facts=Facts()))
        assert finding is not None and finding.status == "warn" and f"OMP_NUM_THREADS={bad!r}" in finding.detail
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    monkeypatch.setenv("ASL_EDGE_PROGRESS", "weird")
    finding = check(Context(job="run", source=None, facts=Facts()))
    assert finding is not None and finding.status == "warn" and "'weird' is not one of auto, bar" in finding.detail
    assert "ASL_EDGE_PROGRESS=auto|bar|plain|off" in finding.fix


def test_a_bad_progress_variable_is_said_once_by_every_command(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-c", "from asl_edge.progress import Progress\n"
                             "for _ in range(3):\n    with Progress(2, 'x') as p: p.update(2)"],
                            capture_output=True, text=True, cwd=REPO, timeout=120, check=False,
                            env={**os.environ, "ASL_EDGE_PROGRESS": "weird"})
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("ASL_EDGE_PROGRESS='weird' is not one of auto, bar, plain, off") == 1
    spec = subprocess.run([sys.executable, "-m", "asl_edge", "spec", "asl_edge/assets/asl_landmarks.onnx", "--out",
                           str(tmp_path / "s.json")], capture_output=True, text=True, cwd=REPO, timeout=120,
                          check=False, env={**os.environ, "ASL_EDGE_PROGRESS": "weird"})
    assert spec.returncode == 0 and spec.stderr.count("ASL_EDGE_PROGRESS='weird'") == 1  # shows no progress itself


def test_csi_source_needs_gstreamer_opencv() -> None:
    has_gstreamer = system_info.opencv_info()["has_gstreamer"]
    result = doctor_cli("--job", "run", "--source", "csi://0")
    assert result.returncode == (0 if has_gstreamer else 1), result.stdout
    assert line_of(result.stdout, "opencv-gstreamer").split()[0] == ("ok" if has_gstreamer else "FAIL")


def test_json_report_matches_the_exit_code() -> None:
    result = doctor_cli("--job", "build", "--json")
    report = json.loads(result.stdout)
    assert report["job"] == "build" and report["ready"] == (result.returncode == 0)
    checks = {check["name"]: check for check in report["checks"]}
    assert checks["tensorrt"]["required"] and not checks["camera"]["required"]
    assert all(check["status"] in ("ok", "warn", "fail") for check in report["checks"])
    assert all(check["fix"] for check in report["checks"] if check["status"] != "ok")
    assert report["system"]["python"]["version"] == checks["python"]["detail"].split()[0]


def test_run_check_does_not_import_torch_and_train_fails_without_it() -> None:
    result = run_without_torch(
        "import sys\n"
        "from asl_edge.apps.cli import main\n"
        "code = main(['doctor', '--job', 'run'])\n"
        "assert 'torch' not in sys.modules, 'doctor --job run imported torch'\n"
        "print('run exit', code)\n"
        "print('train exit', main(['doctor', '--job', 'train']))\n", cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert "run exit 0" in result.stdout
    assert "train exit 1" in result.stdout
    assert line_of(result.stdout.split("train exit")[0].split("verdict: ready to run")[-1], "torch").split()[0] == \
        "FAIL"


def test_required_checks_per_job() -> None:
    assert {"tensorrt", "nvidia-gpu"} <= doctor.required_checks("build")
    assert "torch" in doctor.required_checks("train") and "camera" not in doctor.required_checks("train")
    assert "camera" in doctor.required_checks("run", "0")
    assert "camera" in doctor.required_checks("run", "v4l2:///dev/video1")
    assert "opencv-gstreamer" in doctor.required_checks("run", "csi://0")
    assert "camera" not in doctor.required_checks("run", "rtsp://cam.local:8554/live")
    assert "camera" not in doctor.required_checks("build", "0")  # a source only matters to run/benchmark
    assert set(doctor.REQUIRED) == set(doctor.JOBS)
    for required in doctor.REQUIRED.values():
        assert required <= set(CHECKS)


def test_jetson_facts_give_module_power_and_clock_lines() -> None:
    """The Jetson lines, judged from facts parsed out of a real Nano's tool output."""
    release = machine.parse_nv_tegra_release("# R36 (release), REVISION: 4.0, GCID: 37537400, BOARD: generic, "
                                             "EABI: aarch64, DATE: Fri Sep 13 04:36:44 UTC 2024")
    power = parsers.parse_nvpmodel_query("NV Power Mode: 15W\n1\n")
    assert release is not None and power is not None
    jetson = {"model": "NVIDIA Jetson Orin Nano Developer Kit", "l4t": release.version,
              "jetpack": release.jetpack, "power_mode": power.name, "power_mode_id": power.mode_id,
              "clocks_locked": parsers.parse_jetson_clocks_show(
                  "cpu0: Online=1 Governor=schedutil MinFreq=115200 MaxFreq=1510400 CurrentFreq=729600\n")}
    results = {result.name: result for result in doctor.diagnose("benchmark", facts=Facts({"jetson": jetson}))}
    assert results["jetson"].status == "ok"
    assert results["jetson"].detail == "NVIDIA Jetson Orin Nano Developer Kit, L4T 36.4.0 (JetPack 6.1)"
    assert results["power-mode"].status == "warn" and "nvpmodel" in results["power-mode"].fix
    assert results["clocks"].status == "warn" and "jetson_clocks" in results["clocks"].fix
    off_jetson = {result.name for result in doctor.diagnose("benchmark", facts=Facts({"jetson": None}))}
    assert not {"jetson", "power-mode", "clocks"} & off_jetson
