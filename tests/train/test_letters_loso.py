"""tools/letters_loso.py's spelled table: what it counts (a still J/Z end pose is not scored) and its bad input."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

TOOL = Path(__file__).resolve().parents[2] / "tools" / "letters_loso.py"


@pytest.fixture(scope="module")
def loso() -> ModuleType:
    spec = importlib.util.spec_from_file_location("letters_loso", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def clip(file: str, truth: str, spelled: str | None, motion: str = "") -> dict[str, object]:
    return {"file": file, "truth": truth, "spelled": spelled, "motion": motion}


def test_spelled_table_counts_spelled_and_only_and_leaves_still_end_poses_out(loso: ModuleType) -> None:
    spelled = {
        "s1": [clip("A_s1.mp4", "A", "A"), clip("N_s1.mp4", "N", "MNM"),
               clip("J_s1.mp4", "J", "", "held end pose only")],
        "s4": [clip("J_s4.mp4", "J", "J", "yes"), clip("M_s4.mp4", "M", "E"), clip("Z_s4.mp4", "Z", None, "yes")],
    }
    table = loso.spelling_markdown(spelled)
    assert "| s1 | 2 | 2 (100%) | 1 (50%) | 1 |" in table  # N inside MNM is spelled, not only it; the still J is out
    assert "| s4 | 3 | 1 (33%) | 1 (33%) | 0 |" in table  # a drawn J and Z are scored; an undecodable clip is wrong
    assert "| all | 5 | 3 (60%) | 2 (40%) | 1 |" in table
    assert "| N | 1 | 1 | 0 |" in table and "| J | 1 | 1 | 1 |" in table
    assert "N_s1.mp4 N->MNM" in table and "Z_s4.mp4 Z->(nothing)" in table and "J_s1.mp4" not in table


def test_an_unknown_signer_or_a_folder_without_labels_is_one_error_line(tmp_path: Path) -> None:
    (tmp_path / "A_x.mp4").write_bytes(b"")
    (tmp_path / "labels.csv").write_text("file,letter,signer\nA_x.mp4,A,x\n")
    for args in (["--video", str(tmp_path), "--signers", "nobody"], ["--video", str(tmp_path / "none")]):
        result = subprocess.run([sys.executable, str(TOOL), *args, "--out", str(tmp_path / "run")], check=False,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 2, result.stderr
        assert result.stderr.count("error:") == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()
