"""tools/relabel_clips.py: a corrected view of a labelled clip folder, run as a user runs it (a subprocess)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from asl_edge.runtime.hand.extract import read_video_labels

TOOL = Path(__file__).resolve().parents[2] / "tools" / "relabel_clips.py"
LABELS = "file,letter,signer,motion\nD_s3.mp4,D,s3,\nE_s3.mp4,E,s3,\nJ_s3.mp4,J,s3,yes\n"


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(TOOL), *map(str, args)], check=False, capture_output=True, text=True,
                          timeout=60)


@pytest.fixture
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "letters"
    folder.mkdir()
    for name in ("D_s3.mp4", "E_s3.mp4", "J_s3.mp4"):
        (folder / name).write_bytes(name.encode())
    (folder / "labels.csv").write_text(LABELS)
    return folder


def test_view_swaps_labels_links_clips_and_records_its_source(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "fixed"
    result = run(source, out, "--set", "D_s3.mp4=E", "--set", "E_s3.mp4=D")
    assert result.returncode == 0, result.stderr
    assert "D_s3.mp4 D->E" in result.stdout
    rows = {row["file"]: row for row in read_video_labels(out)}  # the loader training uses accepts the view
    assert {f: r["letter"] for f, r in rows.items()} == {"D_s3.mp4": "E", "E_s3.mp4": "D", "J_s3.mp4": "J"}
    assert rows["J_s3.mp4"]["motion"] == "yes" and rows["D_s3.mp4"]["signer"] == "s3"
    assert (out / "D_s3.mp4").is_symlink() and (out / "D_s3.mp4").read_bytes() == b"D_s3.mp4"
    record = json.loads((out / "relabelled.json").read_text())
    assert record["source"] == str(source.resolve())
    assert record["changes"] == [{"file": "D_s3.mp4", "from": "D", "to": "E"},
                                 {"file": "E_s3.mp4", "from": "E", "to": "D"}]
    assert (source / "labels.csv").read_text() == LABELS  # the source is never written

    again = run(source, out, "--set", "E_s3.mp4=d", "--set", "D_s3.mp4=E")  # other order, lower case
    assert again.returncode == 0, again.stderr  # a rerun is a no-op, not a refusal
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging folder left


@pytest.mark.parametrize(("changes", "message"), [
    (["--set", "X.mp4=E"], "lists no X.mp4"),
    (["--set", "D_s3.mp4"], "is not FILE=LETTER"),
    (["--set", "D_s3.mp4=D"], "already labelled D"),
    (["--set", "D_s3.mp4=E", "--set", "D_s3.mp4=S"], "names D_s3.mp4 twice"),
    (["--set", "D_s3.mp4=del"], "one letter A-Z"),
    (["--set", "D_s3.mp4=E,F"], "one letter A-Z"),
])
def test_bad_changes_are_one_error_line(source: Path, tmp_path: Path, changes: list[str], message: str) -> None:
    result = run(source, tmp_path / "fixed", *changes)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "fixed").exists()


@pytest.mark.parametrize("name", ["./D_s3.mp4", "sub/../D_s3.mp4", "SOURCE/D_s3.mp4"])
def test_a_set_name_is_any_spelling_of_a_listed_file(source: Path, tmp_path: Path, name: str) -> None:
    out = tmp_path / "fixed"
    result = run(source, out, "--set", name.replace("SOURCE", str(source)) + "=E")
    assert result.returncode == 0, result.stderr
    assert "D_s3.mp4 D->E" in result.stdout  # recorded as labels.csv lists it
    assert {r["file"]: r["letter"] for r in read_video_labels(out)}["D_s3.mp4"] == "E"
    assert json.loads((out / "relabelled.json").read_text())["changes"][0]["file"] == "D_s3.mp4"


def test_one_file_named_twice_in_two_spellings_is_refused(source: Path, tmp_path: Path) -> None:
    result = run(source, tmp_path / "fixed", "--set", "./D_s3.mp4=E", "--set", "D_s3.mp4=S")
    assert result.returncode == 2 and "names D_s3.mp4 twice (as ./D_s3.mp4 and D_s3.mp4)" in result.stderr
    outside = run(source, tmp_path / "fixed", "--set", "../D_s3.mp4=E")  # relative to the source: not its clip
    assert outside.returncode == 2 and "lists no ../D_s3.mp4" in outside.stderr
    assert not (tmp_path / "fixed").exists()


def test_refuses_an_existing_other_folder(source: Path, tmp_path: Path) -> None:
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    result = run(source, taken, "--set", "D_s3.mp4=E")
    assert result.returncode == 2 and "was not written by this tool" in result.stderr
    other = tmp_path / "other"
    assert run(source, other, "--set", "D_s3.mp4=E").returncode == 0
    changed = run(source, other, "--set", "D_s3.mp4=S")
    assert changed.returncode == 2 and "a view with other changes" in changed.stderr
    itself = run(source, source, "--set", "D_s3.mp4=E")
    assert itself.returncode == 2 and "is the source folder" in itself.stderr
    inside = run(source, source / "view", "--set", "D_s3.mp4=E")
    assert inside.returncode == 2 and "inside it" in inside.stderr and not (source / "view").exists()
    under_a_file = run(source, tmp_path / "taken" / "notes.txt" / "view", "--set", "D_s3.mp4=E")
    assert under_a_file.returncode == 2 and under_a_file.stderr.count("\n") == 1, under_a_file.stderr
    assert "Traceback" not in under_a_file.stderr


def test_source_without_labels_is_refused(tmp_path: Path) -> None:
    result = run(tmp_path, tmp_path / "fixed", "--set", "D_s3.mp4=E")
    assert result.returncode == 2 and "has no labels.csv" in result.stderr


@pytest.mark.parametrize(("labels", "message"), [
    ("file,letter\n", "lists no clips"),
    ("file,letter\nD_s3.mp4,D,extra\n", "more fields than its header"),
    ("file,letter\nD_s3.mp4,D\nD_s3.mp4,E\n", "more than once"),
    ("file,letter\n../D_s3.mp4,D\n", "not a file of"),
    ("file,letter\nD_s3.mp4,D\nGHOST.mp4,G\n", "missing clip(s): GHOST.mp4; restore them in"),
    ("clip,sign\nD_s3.mp4,D\n", "needs the columns file,letter"),
    ("file,letter,letter\nD_s3.mp4,D,x\n", "more than once"),
    ('file,letter,signer\nD_s3.mp4,D,"s3\nE_s3.mp4,E,s3\n', "not a well-formed CSV"),
    ("file,letter\nD_s3.mp4,D\nlabels.csv,E\n", "cannot have that name"),
])
def test_malformed_labels_are_refused_before_anything_is_written(source: Path, tmp_path: Path, labels: str,
                                                                  message: str) -> None:
    (source / "labels.csv").write_text(labels)
    result = run(source, tmp_path / "fixed", "--set", "D_s3.mp4=E")
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert not (tmp_path / "fixed").exists()


def test_a_byte_order_mark_is_not_a_column_name(source: Path, tmp_path: Path) -> None:
    (source / "labels.csv").write_bytes(b"\xef\xbb\xbf" + LABELS.encode())
    result = run(source, tmp_path / "fixed", "--set", "D_s3.mp4=E")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "fixed" / "labels.csv").read_text().startswith("file,letter,")


def test_a_rerun_on_a_view_changed_since_is_refused(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "fixed"
    assert run(source, out, "--set", "D_s3.mp4=E").returncode == 0
    assert oct(out.stat().st_mode & 0o777) != oct(0o700)  # not mkdtemp's private mode
    (out / "E_s3.mp4").unlink()
    result = run(source, out, "--set", "D_s3.mp4=E")
    assert result.returncode == 2 and "changed since (E_s3.mp4)" in result.stderr


def test_an_interrupted_run_leaves_neither_the_view_nor_its_staging_folder(source: Path, tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch,
                                                                            capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("relabel_clips", TOOL)
    assert spec is not None and spec.loader is not None
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    made: list[str] = []

    def symlink_then_interrupt(target: str, link: str) -> None:
        if made:
            raise KeyboardInterrupt  # what Ctrl-C (or SIGTERM, through the tool's handler) does mid-way
        made.append(link)
        os.symlink(target, link)

    monkeypatch.setattr(tool.os, "symlink", symlink_then_interrupt)
    assert tool.main([str(source), str(tmp_path / "fixed"), "--set", "D_s3.mp4=E"]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["letters"]
