"""The personalisation experiment on held-out signers of ../shared/data/fingerspelling-dev/letters (issue 21).

A signer's clips are both the recording and the test, the way a new user would meet `asl-edge collect` and
`asl-edge train --init-from`:

- `--signer s4:s4room`: the recording is the clip of each letter in one room (`A_s4.mp4`), the test the same
  signer's clip of that letter in another room (`A_s4room.mp4`): another session, light and background.
- `--signer easi`: one clip per letter; the first 45 % of its frames are the recording, the last 45 % the test,
  the 10 % between them dropped (consecutive frames are near-copies).

Every step is the real command line: the recording frames are written as an image folder per letter and played
through `asl-edge collect --source FOLDER --fps FPS` (the steady-hand gate and the hand stage decide what becomes
a sample); the test frames are written as photo class folders and scored through the hand chain by
`asl-edge eval MODEL --compare START --data TEST` (both models side by side, per letter, hand found per letter).
Two recordings: every letter, and only the signer's weak letters (those the start model gets below --weak on the
recording's own samples, judged on the recording, never on the test). Two recipes: this version's defaults, and
the recipe before issue 21 (no distillation, no anchor, AdamW weight decay 1e-2) for the before/after of item 4.

    python tools/fingerspelling_personalise.py --work /tmp/fsx --signer s4:s4room --signer easi \\
        --replay-data asl_edge/assets/asl_landmarks.replay.npz

writes `<work>/report.md` (per signer and letter: start model, then each recording x recipe) and `report.json`.
Never run it on massey-dev: that set is for evaluation only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2

LETTERS_DIR = Path("../shared/data/fingerspelling-dev/letters")
START = "asl_edge/assets/asl_landmarks.onnx"
RECIPES = {"new": [], "old": ["--distill", "0", "--anchor", "0", "--weight-decay", "0.01"]}
TEST_EVERY = 2  # every 2nd test frame: neighbours at 30 fps are near-copies, and the chain costs ~50 ms a photo


def asl_edge(*args: str, log: Path) -> None:
    """One asl-edge command, its output appended to `log`; a failure stops the experiment with that output."""
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(f"\n$ asl-edge {' '.join(args)}\n")
        handle.flush()
        done = subprocess.run([sys.executable, "-m", "asl_edge", *args], stdout=handle, stderr=subprocess.STDOUT,
                              env={**os.environ, "ASL_EDGE_PROGRESS": "off"}, check=False)
    if done.returncode:
        raise SystemExit(f"asl-edge {args[0]} failed (exit {done.returncode}); see {log}")


def read_frames(path: Path) -> tuple[list, float]:
    capture = cv2.VideoCapture(str(path))
    fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames, fps


def write_frames(frames: list, folder: Path, prefix: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for index, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"{prefix}_{index:04d}.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, 95])


def prepare(signer: str, work: Path, letters: list[str]) -> dict[str, float]:
    """Recording frames (rec_frames/<L>/) and test photos (test/<L>/) of one signer; returns fps per letter."""
    record_suffix, _, test_suffix = signer.partition(":")
    fps_of = {}
    for letter in letters:
        clip = LETTERS_DIR / f"{letter}_{record_suffix}.mp4"
        if not clip.is_file():
            continue
        frames, fps = read_frames(clip)
        if test_suffix:
            recording = frames
            test = read_frames(LETTERS_DIR / f"{letter}_{test_suffix}.mp4")[0]
        else:
            cut = int(len(frames) * 0.45)
            recording, test = frames[:cut], frames[len(frames) - cut:]
        write_frames(recording, work / "rec_frames" / letter, "rec")
        write_frames(test[::TEST_EVERY], work / "test" / letter, record_suffix)
        fps_of[letter] = fps
    return fps_of


def record(work: Path, out: Path, letters: list[str], fps_of: dict[str, float], log: Path) -> None:
    """`asl-edge collect` on each letter's recording frames, as a user playing a recording of one letter."""
    for letter in letters:
        asl_edge("collect", "--source", str(work / "rec_frames" / letter), "--fps", f"{fps_of[letter]:.3f}",
                 "--out", str(out), "--letters", letter, "--countdown", "0", "--samples", "10", "--no-window",
                 "--no-frames", log=log)


def compare(model: str, data: Path, out: Path, log: Path) -> dict:
    versus = ["--compare", START] if model != START else []
    asl_edge("eval", model, *versus, "--data", str(data), "--split", "all", "--out", str(out), log=log)
    return json.loads((out / "compare.json").read_text())


def run_signer(signer: str, work: Path, replay: list[str], weak_below: float) -> dict:
    name = signer.replace(":", "-")
    root = work / name
    log = root / "commands.log"
    letters = sorted(p.name.split("_")[0] for p in LETTERS_DIR.glob(f"*_{signer.partition(':')[0]}.mp4"))
    if not (root / "test").is_dir():
        fps_of = prepare(signer, root, letters)
        (root / "fps.json").write_text(json.dumps(fps_of))
    fps_of = json.loads((root / "fps.json").read_text())
    rec_all = root / "rec_all"
    if not (rec_all / "landmarks.npz").is_file():
        record(root, rec_all, list(fps_of), fps_of, log)
    # Weak letters, judged on the recording's own samples by the start model (eval on a collect folder).
    own = compare(START, rec_all, root / "start_on_recording", log)
    recorded = list(own["per_letter"])
    weak = [k for k, row in own["per_letter"].items() if row[Path(START).name] < weak_below]
    rec_weak = root / "rec_weak"
    if weak and not (rec_weak / "landmarks.npz").is_file():
        record(root, rec_weak, weak, fps_of, log)
    results: dict = {"signer": signer, "recorded_letters": recorded, "weak_letters": weak, "runs": {}}
    for recording, folder in (("all", rec_all), ("weak", rec_weak)):
        if recording == "weak" and not weak:
            continue
        for recipe, extra in RECIPES.items():
            run = root / f"run_{recording}_{recipe}"
            if not (run / "model.onnx").is_file():
                asl_edge("train", "--init-from", START, "--data", str(folder), "--out", str(run), "--export", "fp32",
                         "--exist-ok", *[arg for r in replay for arg in ("--replay-data", r)], *extra, log=log)
            metrics = json.loads((run / "metrics.json").read_text())
            table = compare(str(run / "model.onnx"), root / "test", root / f"cmp_{recording}_{recipe}", log)
            results["runs"][f"{recording}/{recipe}"] = {"compare": table, "seconds": metrics["seconds"],
                                                        "letters_worse": metrics.get("letters_worse", []),
                                                        "letters_at_risk": metrics.get("letters_at_risk", {})}
    return results


def report(all_results: list[dict], weak_below: float) -> str:
    lines = ["# Personalisation on fingerspelling-dev signers", "",
             f"Test: the signer's held-out frames through the hand chain (`asl-edge eval --compare`). Weak letters: "
             f"start model below {weak_below:.0%} on the recording's own samples. `new`: this version's recipe "
             "(distillation on replay + L2-SP anchor); `old`: before issue 21 (neither, AdamW decay 1e-2). "
             "Lower-case: a letter not in that recording.", ""]
    for result in all_results:
        runs = result["runs"]
        names = list(runs)
        start_name = Path(START).name
        any_table = next(iter(runs.values()))["compare"]
        lines += [f"## {result['signer']}", "", f"weak letters recorded: {', '.join(result['weak_letters']) or '-'}",
                  "", "| letter | photos | hand found | start | " + " | ".join(names) + " |",
                  "|---|---:|---:|---:|" + "---:|" * len(names)]
        model_key = {n: next(m for m in runs[n]["compare"]["models"] if m != start_name) for n in names}
        for letter, row in any_table["per_letter"].items():
            cells = []
            for n in names:
                value = runs[n]["compare"]["per_letter"][letter][model_key[n]]
                cells.append(f"{value:.0%}")
            found = row.get("hand_found")
            lines.append(f"| {letter} | {row['samples']} | {'' if found is None else f'{found:.0%}'} | "
                         f"{row[start_name]:.0%} | " + " | ".join(cells) + " |")
        tops = [f"{runs[n]['compare']['top1'][model_key[n]]:.1%}" for n in names]
        lines.append(f"| **all** | {any_table['samples']} | | **{any_table['top1'][start_name]:.1%}** | "
                     + " | ".join(f"**{t}**" for t in tops) + " |")
        for n in names:
            weak = result["weak_letters"] if n.startswith("weak") else result["recorded_letters"]
            unrecorded = [k for k in any_table["per_letter"] if k not in weak]
            per = runs[n]["compare"]["per_letter"]
            lost = [f"{k} {per[k][start_name]:.0%}->{per[k][model_key[n]]:.0%}" for k in unrecorded
                    if per[k][model_key[n]] < per[k][start_name] - 0.03]
            lines.append(f"- {n}: {runs[n]['seconds']:.0f} s to personalise; letters not recorded that got worse on "
                         f"the test: {', '.join(lost) or 'none'}; training's own warning: "
                         f"{'; '.join(runs[n]['letters_worse']) or 'none'}; named at risk: "
                         f"{', '.join(runs[n].get('letters_at_risk', {})) or 'none'}")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, required=True, help="folder for frames, recordings, runs and the report")
    parser.add_argument("--signer", action="append", required=True,
                        help="RECORD[:TEST] clip suffixes, e.g. s4:s4room or easi")
    parser.add_argument("--replay-data", action="append", default=[], help="passed to asl-edge train")
    parser.add_argument("--weak", type=float, default=0.8, help="weak: start model below this on the recording")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    results = [run_signer(signer, args.work, args.replay_data, args.weak) for signer in args.signer]
    (args.work / "report.json").write_text(json.dumps(results, indent=1))
    text = report(results, args.weak)
    (args.work / "report.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
