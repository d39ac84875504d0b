"""Step 1: the mediapipe wheel (downloaded with pip, not installed), its .tflite files and licence."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from mediapipe_hands.common import MEDIAPIPE, MODELS, WHEEL_LICENSE, WHEEL_NAME, WHEEL_SHA256, ConversionError, sha256

# --- 1. The wheel -------------------------------------------------------------------------------------

def fetch_wheel(work: Path, local: Path | None) -> Path:
    if local is not None:
        if not local.is_file():
            raise ConversionError(f"--wheel {local} does not exist")
        return local
    cmd = [sys.executable, "-m", "pip", "download", MEDIAPIPE, "--no-deps", "--only-binary=:all:",
           "--python-version", "3.11", "--platform", "manylinux_2_17_x86_64", "-d", str(work)]
    print("$", " ".join(cmd[2:]), flush=True)
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wheel = work / WHEEL_NAME
    if done.returncode != 0 or not wheel.is_file():
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise ConversionError(f"pip download {MEDIAPIPE} failed ({tail[0]}); or pass --wheel PATH to a copy")
    return wheel


def read_wheel(wheel: Path) -> tuple[dict[str, bytes], str]:
    """The four .tflite files and the Apache-2.0 licence text from the wheel."""
    digest = sha256(wheel.read_bytes())
    if digest != WHEEL_SHA256:
        raise ConversionError(f"{wheel.name} has sha256 {digest}, expected {WHEEL_SHA256}: not the wheel "
                              "these files were made from")
    with zipfile.ZipFile(wheel) as archive:
        tflite = {m.name: archive.read(m.wheel_path) for m in MODELS}
        licence = archive.read(WHEEL_LICENSE).decode("utf-8")
    # The wheel's LICENSE is Apache-2.0 followed by notices for third-party files that are not these models
    # (a "=====" banner introduces each); only the Apache-2.0 text applies here.
    apache = licence.split("\n=====", 1)[0].rstrip() + "\n"
    if not apache.lstrip().startswith("Apache License") or "Version 2.0, January 2004" not in apache \
            or "END OF TERMS AND CONDITIONS" not in apache:
        raise ConversionError(f"{WHEEL_LICENSE} in the wheel is not the Apache-2.0 text")
    return tflite, apache
