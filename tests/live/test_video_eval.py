"""`asl-edge eval --videos` on real fingerspelling clips (copied into tmp_path, never into the repository),
the decoder/classifier error split, and one error line per kind of bad input with nothing written."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from asl_edge.apps.cli import main
from asl_edge.apps.commands.evaluate_videos import _write as write_report
from asl_edge.errors import AslEdgeError
from asl_edge.metrics import letter_accuracy, levenshtein
from asl_edge.runtime.backends import load_backend
from asl_edge.runtime.hand.chain import HandChain, open_chain
from asl_edge.runtime.hand.clip_labels import ClipLabel, read_clip_labels
from asl_edge.runtime.hand.models import BUNDLED_LANDMARK_MODEL
from asl_edge.runtime.live.decoding import DECODERS, make_decoder
from asl_edge.runtime.live.motion import MotionConfig
from asl_edge.runtime.live.opencv_sources import VideoFileSource
from asl_edge.runtime.live.replay import NO_HAND, ClipTrace, spell_clip
from asl_edge.runtime.live.video_eval import (
    ErrorSplit,
    VideoEvaluation,
    held_readings,
    read_letters,
    score_clip,
    split_errors,
)
from asl_edge.runtime.live.video_report import clip_line, markdown, summary_lines
from tests.conftest import REPO

FINGERSPELLING = Path(REPO.parent / "shared" / "data" / "fingerspelling-dev")
LABELS = tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
WORD_HEADER = "file,word,signer"
LETTER_HEADER = "file,letter,signer,motion"


@pytest.fixture(scope="module")
def clips() -> Path:
    if not (FINGERSPELLING / "words" / "labels.csv").is_file():
        pytest.skip(f"fingerspelling clips not found at {FINGERSPELLING}")
    return FINGERSPELLING


def folder_of(tmp_path: Path, source: Path, header: str, rows: list[str], name: str = "clips") -> Path:
    """A clip folder in tmp_path: the files the rows name (where `source` has them) and a labels.csv."""
    folder = tmp_path / name
    folder.mkdir()
    for row in rows:
        file = row.split(",")[0]
        if (source / file).is_file():
            shutil.copy(source / file, folder / file)
    (folder / "labels.csv").write_text("\n".join([header, *rows]) + "\n")
    return folder


def frame_count(path: Path) -> int:
    capture = cv2.VideoCapture(str(path))
    try:
        return int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        capture.release()


# -- the error split, on traces written out by hand ------------------------------------------------------
def trace(top1: list[int], fps: float = 30.0, text: str = "") -> ClipTrace:
    return ClipTrace(np.arange(len(top1)) / fps, np.asarray(top1, np.int16), [], text, len(top1))


def test_a_letter_is_read_when_held_for_a_quarter_of_a_letters_time() -> None:
    a, b, h = LABELS.index("A"), LABELS.index("B"), LABELS.index("H")
    # 30 frames of one letter: a quarter of its time is 7.25 frames' worth. A for 10 frames is held; B for 5
    # is a glimpse; H without a hand is no reading at all.
    clip = [a] * 10 + [b] * 5 + [NO_HAND] * 15
    assert read_letters(trace(clip), LABELS, letters=1) == ("A",)
    # The same frames as two letters' time: 3.6 frames a quarter, so B's five frames are held too.
    assert read_letters(trace(clip), LABELS, letters=2) == ("A", "B")
    # Relative time: the same frames replayed 6.7x faster (or at 10 fps) read the same.
    assert read_letters(trace(clip, fps=201.0), LABELS, letters=2) == ("A", "B")
    assert read_letters(trace(clip, fps=10.0), LABELS, letters=2) == ("A", "B")
    # One frame is never a reading, however short the clip.
    assert read_letters(trace([h, a, a]), LABELS, letters=3) == ("A",)


def test_read_letters_are_listed_in_the_order_first_read() -> None:
    a, e, h = LABELS.index("A"), LABELS.index("E"), LABELS.index("H")
    # HE, with a one-frame flicker of E before H: E was not read until after H, and a letter read again
    # later (H) keeps its first place.
    top1 = [e, h, h, h, h, NO_HAND, NO_HAND, e, e, e, e, h, h, h, h, a]
    assert read_letters(trace(top1), LABELS, letters=2) == ("H", "E")


def test_one_frame_interruptions_are_bridged_alternations_are_not() -> None:
    a, b, r, u = (LABELS.index(x) for x in "ABRU")
    readings = held_readings(trace([a, a, b, a, a, NO_HAND, a, a, NO_HAND, NO_HAND, a, a]))
    # A lost frame is bridged too; two end the reading.
    assert [(LABELS[label], first, frames) for label, first, frames, _ in readings] == [("A", 0, 8), ("A", 10, 2)]
    # R and U taking turns frame by frame (two fingers crossed or not, on some hands) is no held reading.
    alternating = trace([r, u] * 10)
    assert read_letters(alternating, LABELS, letters=1) == ()
    assert max(frames for _, _, frames, _ in held_readings(alternating)) <= 2  # the two ends pair up


def test_errors_are_the_classifiers_only_when_the_reading_was_wrong() -> None:
    assert split_errors("HE", "E", {"E"}) == ErrorSplit(decoder=0, classifier=1)  # H never read
    assert split_errors("HE", "E", {"H", "E"}) == ErrorSplit(decoder=1, classifier=0)  # H read, then missed
    # AT -> ALL: T never read (classifier); one L replaces it, the other is invented: L was held, and is no
    # letter of AT, so the classifier read a letter nobody signed.
    assert split_errors("AT", "ALL", {"A", "L"}) == ErrorSplit(decoder=0, classifier=2)
    # ... but a glimpse of L committed is the decoder's.
    assert split_errors("AT", "ALL", {"A"}) == ErrorSplit(decoder=1, classifier=1)
    # A letter of the word spelled again (doubled) is the decoder's, read or not.
    assert split_errors("AS", "ASS", {"A", "S"}) == ErrorSplit(decoder=1, classifier=0)
    # A double letter needs its letter read once: the missing second L is the decoder's.
    assert split_errors("ALL", "AL", {"A", "L"}) == ErrorSplit(decoder=1, classifier=0)
    assert split_errors("TEST", "TEST", set()) == ErrorSplit()
    assert ErrorSplit(1, 3).decoder_share == 0.25 and ErrorSplit().decoder_share is None


def test_score_clip_counts_the_distance_and_the_split_of_one_clip() -> None:
    label = ClipLabel(2, Path("HE.mp4"), "HE", "word", "s3")
    h, e = LABELS.index("H"), LABELS.index("E")
    result = score_clip(label, trace([h] * 6 + [e] * 6, text="E "), LABELS, suggest=lambda s: "HE")
    assert (result.spelled, result.distance, result.accuracy, result.read) == ("E", 1, 0.5, "HE")  # as read
    assert result.errors == ErrorSplit(decoder=1, classifier=0)
    assert not result.exact and result.suggested_exact and result.matched == (1,)


def test_make_decoder_knows_its_modes() -> None:
    assert "hold" in DECODERS
    decoder = make_decoder("hold", LABELS)
    assert decoder.labels == LABELS and decoder.text == ""
    with pytest.raises(Exception, match="unknown decoder 'nope'; choose one of auto, fingerspelling, hold"):
        make_decoder("nope", LABELS)


# -- real clips through the real chain -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def chain() -> Iterator[HandChain]:
    opened = open_chain(load_backend(BUNDLED_LANDMARK_MODEL))
    assert opened is not None
    yield opened
    opened.close()


def test_speed_divides_the_clip_time_and_stride_keeps_every_nth_frame(clips: Path, chain: HandChain) -> None:
    path = clips / "letters" / "M_s4room.mp4"
    frames = frame_count(path)

    def replay(speed: float, stride: int) -> ClipTrace:
        return spell_clip(VideoFileSource(str(path), path), chain, make_decoder("hold", chain.labels), speed, stride)

    normal, fast, thin = replay(1.0, 1), replay(4.0, 1), replay(1.0, 2)
    assert len(normal.times) == len(fast.times) == frames and normal.frames_read == frames
    np.testing.assert_allclose(fast.times, normal.times / 4.0)
    assert len(thin.times) == (frames + 1) // 2 and thin.frames_read == frames
    np.testing.assert_allclose(thin.times, normal.times[::2])
    # The tracker starts afresh on each clip, so the same clip reads the same twice.
    np.testing.assert_array_equal(replay(1.0, 1).top1, normal.top1)
    assert (normal.top1 != NO_HAND).mean() > 0.8  # the hand is found: a real reading, not zeros


@pytest.mark.slow
def test_eval_videos_scores_words_per_signer_and_writes_the_report(clips: Path, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    folder = folder_of(tmp_path, clips / "words", WORD_HEADER, ["HE_s3.mp4,HE,cse535-s3", "AT_s1.mp4,at,cse535-s1"])
    out = tmp_path / "report"
    assert main(["eval", "--videos", str(folder), "--decoder", "hold", "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    report = json.loads((out / "spelling.json").read_text())
    assert {p.name for p in out.iterdir()} >= {"spelling.json", "spelling.md"}
    assert (out / "spelling.png").is_file() or "no plot: " in stdout
    rows = {c["file"]: c for c in report["clips"]}
    assert rows["AT_s1.mp4"]["truth"] == "AT"  # the truth is upper-cased
    # HE: the classifier reads H (for seconds); whatever the decoder made of it, the errors add up to the
    # distance and, H having been read, none of them is the classifier's.
    he = rows["HE_s3.mp4"]
    assert "H" in he["read"] and he["classifier_errors"] == 0
    assert he["decoder_errors"] == levenshtein("HE", he["spelled"])
    assert he["frames"] == frame_count(folder / "HE_s3.mp4") and he["hand_found"] > 0.9
    total = report["total"]
    truths, spelled = [c["truth"] for c in report["clips"]], [c["spelled"] for c in report["clips"]]
    assert total["letter_accuracy"] == pytest.approx(letter_accuracy(truths, spelled))
    assert total["decoder_errors"] + total["classifier_errors"] == total["distance"]
    assert total["words_exact"] == sum(t == s for t, s in zip(truths, spelled, strict=True))
    assert report["per_letter"]["H"] == {"truth": 1, "read": 1, "spelled": int(he["spelled"].startswith("H"))}
    assert set(report["per_signer"]) == {"cse535-s1", "cse535-s3"}
    assert report["per_signer"]["cse535-s3"]["letter_accuracy"] == pytest.approx(he["letter_accuracy"])
    assert report["decoder"] == "hold" and report["speed"] == 1.0 and report["clips"][0]["suggestion"] is None
    assert f"all: letter accuracy {total['letter_accuracy']:.3f}" in stdout
    assert f"HE_s3.mp4: HE -> '{he['spelled']}'" in stdout  # a line per clip as it is scored
    assert f"| HE_s3.mp4 | cse535-s3 | HE | `{he['spelled']}` |" in (out / "spelling.md").read_text()


@pytest.mark.slow
def test_eval_videos_on_letter_clips_says_whether_the_letter_and_only_it_was_spelled(
        clips: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = ["M_s4room.mp4,M,cse535-s4,", "Y_s4room.mp4,Y,cse535-s4,", "L_s4room.mp4,L,cse535-s4,"]
    folder = folder_of(tmp_path, clips / "letters", LETTER_HEADER, rows)
    out = tmp_path / "report"
    assert main(["eval", "--videos", str(folder), "--out", str(out), "--stride", "2"]) == 0
    report = json.loads((out / "spelling.json").read_text())
    assert report["kind"] == "letter" and report["stride"] == 2
    by_file = {c["file"]: c for c in report["clips"]}
    spelled = sum(c["truth"] in c["spelled"] for c in by_file.values())
    only = sum(c["truth"] == c["spelled"] for c in by_file.values())
    assert report["total"]["letter_spelled"] == report["per_signer"]["cse535-s4"]["letter_spelled"] == spelled
    assert report["total"]["only_letter"] == only
    assert report["per_letter"]["M"]["truth"] == 1 and "only" in report["per_letter"]["M"]
    assert by_file["M_s4room.mp4"]["frames"] == (frame_count(folder / "M_s4room.mp4") + 1) // 2
    assert f"all: letter spelled {spelled}/3, only it {only}/3" in capsys.readouterr().out


@pytest.mark.slow
def test_an_undecodable_clip_is_reported_and_the_others_still_scored(clips: Path, tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str],
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # a Jetson without the workstation extra: no PNG
    rows = ["M_s4room.mp4,M,cse535-s4,", "broken.mp4,A,cse535-s1,", "half.mp4,A,cse535-s1,"]
    folder = folder_of(tmp_path, clips / "letters", LETTER_HEADER, rows)
    (folder / "broken.mp4").write_bytes(b"not a video at all" * 100)
    whole = (clips / "letters" / "A_s1.mp4").read_bytes()
    (folder / "half.mp4").write_bytes(whole[:len(whole) // 2])  # cut off mid-file, as a failed copy leaves it
    out = tmp_path / "report"
    code = main(["eval", "--videos", str(folder), "--out", str(out)])
    captured = capsys.readouterr()
    assert code != 0
    errors = [line for line in captured.err.splitlines() if "error" in line]
    assert errors == [errors[0]] and errors[0].startswith("asl-edge eval: error: 2 of 3 clips could not be decoded "
                                                          "(first: broken.mp4, labels.csv line 3")
    report = json.loads((out / "spelling.json").read_text())
    by_file = {c["file"]: c for c in report["clips"]}
    assert by_file["M_s4room.mp4"]["error"] is None and by_file["M_s4room.mp4"]["spelled"] is not None
    for name in ("broken.mp4", "half.mp4"):
        assert by_file[name]["spelled"] is None and "not a readable video" in by_file[name]["error"]
    assert report["total"]["clips"] == 1
    assert "not scored: broken.mp4 (labels.csv line 3)" in captured.out
    assert "no plot: " in captured.out and not (out / "spelling.png").exists()
    assert sorted(p.name for p in out.iterdir()) == ["spelling.json", "spelling.md"]  # no temporary left behind


# -- bad input: one error line naming the row and the fix, a non-zero exit, nothing written ------------------
BAD_LABELS = {
    "no labels.csv": (None, "labels.csv does not exist; write one with a header `file,word`"),
    "empty labels.csv": ("", "labels.csv is empty; write a header `file,word`"),
    "unclosed quote": ('file,word\n"M_s4room.mp4,M\n', "cannot read {folder}/labels.csv (unexpected end of data)"),
    "more fields than the header": ("file,word\nM_s4room.mp4,M,extra\n",
                                    "line 2 has 3 fields, the header 2; quote a field that holds a comma"),
    "a photo": ("file,word\nM_s4room.mp4,M\nhand.jpg,M\n", "line 3: hand.jpg is not a video clip; name a clip"),
    "labels.csv itself": ("file,word\nlabels.csv,M\n", "line 2: labels.csv is not a video clip"),
    "no file column": ("name,word\nM_s4room.mp4,M\n", "has no `file` column (header: name,word)"),
    "no header": ("M_s4room.mp4,M\n", "has no `file` column (header: M_s4room.mp4,M)"),  # quoted as written
    "no word or letter column": ("file,signer\nM_s4room.mp4,s4\n", "needs exactly one of the columns `word`"),
    "header only": ("file,word\n", "lists no clips; add a row per clip"),
    "missing file": ("file,word\nM_s4room.mp4,M\nmissing.mp4,M\n",
                     "line 3: {folder}/missing.mp4 does not exist; fix the file name or remove the row"),
    "empty word": ("file,word\nM_s4room.mp4,\n", "line 2: the word of M_s4room.mp4 is empty; write the word"),
    "unknown letter": ("file,word\nM_s4room.mp4,M3\n", "line 2: word 'M3' of M_s4room.mp4 has '3', which the "
                                                     "model cannot spell"),
    "two letters in a letter clip": ("file,letter\nM_s4room.mp4,MM\n", "line 2: letter 'MM' of M_s4room.mp4 is not "
                                                                      "one letter"),
    "duplicate row": ("file,word\nM_s4room.mp4,M\nM_s4room.mp4,M\n",
                      "line 3: M_s4room.mp4 is listed again (first on line 2); remove one of the rows"),
    "duplicate spelled ./": ("file,word\nM_s4room.mp4,M\n./M_s4room.mp4,M\n",
                             "line 3: ./M_s4room.mp4 is listed again (first on line 2 as M_s4room.mp4); remove"),
    "duplicate spelled sub/..": ("file,word\nsub/../M_s4room.mp4,M\nM_s4room.mp4,M\n",
                                 "line 3: M_s4room.mp4 is listed again (first on line 2 as sub/../M_s4room.mp4)"),
    "a folder": ("file,word\nsub/,M\n", "line 2: {folder}/sub is a folder, not a video file; name a clip file"),
    "a folder named .mp4": ("file,word\nfolder.mp4/,M\n", "line 2: {folder}/folder.mp4 is a folder, not a video"),
    "semicolons": ("file;word\nM_s4room.mp4;M\n", "has no `file` column (header: file;word); its first line must "
                   "name the columns, separated by commas, e.g. `file,word,signer`; this one looks separated by "
                   "semicolons: save it comma-separated"),
    "tabs": ("file\tword\nM_s4room.mp4\tM\n", "(header: file<tab>word); its first line must name the columns, "
             "separated by commas, e.g. `file,word,signer`; this one looks separated by tabs"),
    "unknown letter in a letter clip": ("file,letter\nM_s4room.mp4,1\n", "line 2: letter '1' of M_s4room.mp4 is not "
                                                                          "one the model can spell (its letters: A"),
}


@pytest.mark.parametrize("case", list(BAD_LABELS))
def test_bad_labels_give_one_error_line_and_write_nothing(case: str, clips: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    text, expected = BAD_LABELS[case]
    folder = tmp_path / "clips"
    folder.mkdir()
    shutil.copy(clips / "letters" / "M_s4room.mp4", folder)
    (folder / "sub").mkdir()
    (folder / "folder.mp4").mkdir()
    (folder / "hand.jpg").write_bytes(b"a photo listed by mistake")
    if text is not None:
        (folder / "labels.csv").write_text(text)
    out = tmp_path / "report"
    code = main(["eval", "--videos", str(folder), "--out", str(out)])
    captured = capsys.readouterr()
    assert code != 0
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("asl-edge eval: error: "), captured.err
    assert expected.format(folder=folder) in lines[0]
    assert not out.exists()  # nothing written, not even an empty folder
    assert "M_s4room.mp4: " not in captured.out  # found before any clip was decoded


def test_clips_labels_csv_does_not_list_are_named_as_left_out(clips: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    folder = folder_of(tmp_path, clips / "letters", LETTER_HEADER, ["M_s4room.mp4,M,cse535-s4,"])
    shutil.copy(clips / "letters" / "A_s1.mp4", folder / "A_s1.mp4")
    (folder / "README.md").write_text("notes")
    (folder / ".hidden.mp4").write_bytes(b"")
    listed = read_clip_labels(folder, LABELS)
    assert [clip.file for clip in listed] == ["M_s4room.mp4"]
    err = capsys.readouterr().err
    assert "note: 1 file(s) in" in err and "A_s1.mp4 (add a row for each clip to use it)" in err
    assert "README" not in err and "hidden" not in err
    (folder / "A_s1.mp4").unlink()
    read_clip_labels(folder, LABELS)
    assert capsys.readouterr().err == ""  # every clip listed: no note


def test_a_folder_in_place_of_a_report_file_is_refused_before_any_clip_is_decoded(
        clips: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = folder_of(tmp_path, clips / "letters", LETTER_HEADER, ["M_s4room.mp4,M,cse535-s4,"])
    out = tmp_path / "report"
    (out / "spelling.png").mkdir(parents=True)
    assert main(["eval", "--videos", str(folder), "--out", str(out)]) != 0
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"asl-edge eval: error: {out}/spelling.png is a folder"), lines
    assert "M_s4room.mp4: " not in captured.out
    assert [p.name for p in out.iterdir()] == ["spelling.png"]  # no spelling.json or .md written


def evaluation_of(truths_spelled: list[tuple[str, str]], suggestion: str | None = None) -> VideoEvaluation:
    """A word evaluation scored from traces written out by hand, one clip per (truth, spelled)."""
    results = [score_clip(ClipLabel(line, Path(f"{truth}.mp4"), truth, "word", "s1"), trace([0] * 4, text=spelled),
                          LABELS, suggest=lambda _: suggestion)
               for line, (truth, spelled) in enumerate(truths_spelled, start=2)]
    return VideoEvaluation(results, "word", "hold", suggester=True)


def test_a_failed_report_write_leaves_no_report_file_of_the_run(tmp_path: Path) -> None:
    out = tmp_path / "report"
    out.mkdir()
    (out / "spelling.json").write_text("{}\n")  # an earlier run's
    (out / "spelling.md").mkdir()  # appeared after the check before decoding
    with pytest.raises(AslEdgeError, match=f"cannot write {out}/spelling.md: .*EISDIR"):
        write_report(out, evaluation_of([("AT", "AT")]), "title", {})
    # The new spelling.json was renamed over the old one before spelling.md failed: it is removed again, so no
    # file is newer than the run, and no temporary is left.
    assert sorted(p.name for p in out.iterdir()) == ["spelling.md"]
    (out / "spelling.md").rmdir()
    write_report(out, evaluation_of([("AT", "AT")]), "title", {"model": "m"})
    # Without matplotlib (the oldest lane, a Jetson without the workstation extra) there is no PNG to write.
    png = ["spelling.png"] if importlib.util.find_spec("matplotlib") is not None else []
    assert sorted(p.name for p in out.iterdir()) == ["spelling.json", "spelling.md", *png]
    assert json.loads((out / "spelling.json").read_text())["model"] == "m"


def test_words_exact_taking_the_suggestions_says_of_how_many() -> None:
    evaluation = evaluation_of([("AT", "AT"), ("OUT", "OUL"), ("HE", "E")], suggestion="OUT")
    assert "words exact 1/3 (1/3 taking the suggestions)" in summary_lines(evaluation)[0]
    assert "| words exact | words exact, taking the suggestions |" in markdown(evaluation, "title")


def test_a_clip_without_a_hand_in_any_frame_says_so_on_its_line() -> None:
    """Otherwise it reads like a classifier that spelled nothing (a wrong clip, a camera that missed the hand)."""
    label = ClipLabel(2, Path("empty.mp4"), "AT", "word")
    empty = score_clip(label, trace([NO_HAND] * 30), LABELS)
    assert clip_line(empty) == "empty.mp4: AT -> '' (accuracy 0.00, read -, no hand found in any frame)"
    seen = score_clip(label, trace([NO_HAND] * 29 + [LABELS.index("A")]), LABELS)
    assert "no hand found" not in clip_line(seen)


def test_a_letter_accuracy_goes_below_zero_when_more_letters_are_spelled_than_signed() -> None:
    # The competition's metric, kept as it is: J read as II is two edits for one letter.
    assert evaluation_of([("J", "II")]).results[0].accuracy == -1.0


@pytest.mark.parametrize(("args", "expected"), [
    (["--speed", "0"], "--speed 0.0 must be between 0.1 and 20"),
    (["--speed", "nan"], "--speed nan must be between 0.1 and 20"),
    (["--speed", "inf"], "--speed inf must be between 0.1 and 20"),
    (["--speed=1e-308"], "--speed 1e-308 must be between 0.1 and 20"),  # once overflowed the clock into Infinity
    (["--speed", "1e308"], "--speed 1e+308 must be between 0.1 and 20"),
    (["--split", "val"], "--split picks photos of a dataset; drop it with --videos"),
    (["--hold", "nan"], "hold time (--hold) nan s must be a finite number"),
    (["--stride", "0"], "--stride 0 must be at least 1"),
    (["--hold", "-1"], "hold time (--hold) -1.0 s must be a finite number of seconds, not negative"),
    (["--data", "x"], "--data and --videos score different things"),
    (["--max-frames", "0"], "--max-frames 0 must be at least 1"),
])
def test_bad_options_give_one_error_line_and_write_nothing(args: list[str], expected: str, clips: Path,
                                                           tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = folder_of(tmp_path, clips / "letters", LETTER_HEADER, ["M_s4room.mp4,M,cse535-s4,"])
    out = tmp_path / "report"
    assert main(["eval", "--videos", str(folder), "--out", str(out), *args]) != 0
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0]
    assert not out.exists()


def test_an_empty_path_option_is_one_error_line_not_the_current_folder(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """Path("") is ".": `--out ""` once wrote the report into the current folder."""
    with pytest.raises(SystemExit) as stop:
        main(["eval", "--videos", str(tmp_path), "--out", ""])
    assert stop.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == ["asl-edge eval: error: argument --out: an empty path; name a file or folder "
                     "(see asl-edge eval --help)"]
    assert list(tmp_path.iterdir()) == []


def test_spelling_options_without_videos_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", str(BUNDLED_LANDMARK_MODEL), "--speed", "2"]) != 0
    assert "--speed is for spelling on video; add --videos FOLDER" in capsys.readouterr().err
    assert main(["eval", str(BUNDLED_LANDMARK_MODEL), "--max-frames", "30"]) != 0
    assert "--max-frames is for spelling on video; add --videos FOLDER" in capsys.readouterr().err


def test_max_frames_scores_the_first_frames_of_each_clip(clips: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    rows = ["M_s4room.mp4,M,cse535-s4,", "Y_s4room.mp4,Y,cse535-s4,"]
    folder = folder_of(tmp_path, clips / "letters", LETTER_HEADER, rows)
    assert all(frame_count(folder / row.split(",")[0]) > 20 for row in rows)
    out = tmp_path / "report"
    # 20 frames read, every 2nd decoded; stopping short of a clip's end is no "truncated file".
    words = tmp_path / "names.txt"
    words.write_text("MARY\nYUSUF\n")
    motion = tmp_path / "motion.json"  # the default thresholds, as a profile: the report names which was used
    motion.write_text(json.dumps({"format": "asl-edge-motion-profile", "version": 1, "thresholds": {
        name: getattr(MotionConfig(), name) for name in ("j_descent", "j_rise", "j_side", "z_leg", "z_drop",
                                                         "window_s")}}))
    assert main(["eval", "--videos", str(folder), "--out", str(out), "--max-frames", "20", "--stride", "2",
                 "--words", str(words), "--motion-profile", str(motion)]) == 0
    report = json.loads((out / "spelling.json").read_text())
    assert report["max_frames"] == 20 and report["motion_profile"] == str(motion)
    assert report["words_file"] == str(words) and report["suggester_words"] > 2  # the English list and the names
    assert [(c["frames"], c["error"]) for c in report["clips"]] == [(10, None), (10, None)]
    assert "first 20 frames of each clip" in (out / "spelling.md").read_text()
    assert "first 20 frames of each clip" in capsys.readouterr().out


@pytest.mark.slow
def test_eval_spells_a_clip_exactly_as_run_does(clips: Path, chain: HandChain) -> None:
    """Same chain, same decoder, same defaults: `run --source CLIP` and `eval --videos` agree letter for letter."""
    from asl_edge.runtime.live.pipeline import PipelineConfig, run_pipeline

    # AS and ME played out (ME's first frames read N, taken back at the E), and ME stopped by --max-frames during
    # the E, where neither commits the letter still forming (only a file's own end does).
    for name, max_frames in (("AS_s1.mp4", None), ("ME_s3.mp4", None), ("ME_s3.mp4", 102)):
        path = clips / "words" / name
        replayed = spell_clip(VideoFileSource(str(path), path), chain, PipelineConfig().make_decoder(chain.labels),
                              fixed_box=PipelineConfig().roi_for, max_frames=max_frames)
        chain.tracker.reset()
        live = run_pipeline(VideoFileSource(str(path), path), chain.classifier, PipelineConfig(max_frames=max_frames),
                            chain=chain)
        assert replayed.text == live.text, name
        assert [c.label for c in replayed.commits] == [c.label for c in live.commits], name
        np.testing.assert_allclose([c.timestamp for c in replayed.commits], [c.timestamp for c in live.commits])
    assert live.stopped_by == "max-frames"


def test_eval_without_a_model_or_videos_says_what_to_pass(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval"]) != 0
    assert capsys.readouterr().err.strip() == (
        "asl-edge eval: error: pass the model to evaluate: a checkpoint.pt, a training run folder, or an .onnx / "
        ".engine file (or --videos FOLDER to score spelling with the bundled model)")
