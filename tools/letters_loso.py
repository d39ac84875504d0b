"""Leave-one-signer-out on one-letter video clips: how the landmark classifier does for a signer it never saw.

For each signer of the video folder (labels.csv's `signer` column), train exactly as `asl-edge train --input
landmarks` does (asl_edge.train.landmarks.fit_landmarks: the same features, augmentation and recipe) on the
photo folders plus the video folder's other signers, then score the held-out signer's clips: per frame (the
formed frames `load_video_letters` samples) and per clip (the majority of those frames' top-1). Clips that show
a J or Z being drawn (motion "yes") are not handshapes and are left out, as in training.

    python tools/letters_loso.py --photos ../shared/data/asl-alphabet-mini --photos ../shared/data/asl-letters-multi \\
        --photo-weight 1 --photo-weight 3 --video ../shared/data/fingerspelling-dev/letters --video-weight 1 \\
        --out runs/loso

Writes RUN/<signer>/ (each fold's run folder), RUN/loso.json (per signer and per letter: frames, frames right,
clips, clips right), RUN/clips.json (each clip file: the letter most of its frames were read as) and
RUN/loso.md. `--video-weight 0` trains on the photos alone (the other signers' frames still load but carry no
loss), the baseline a video-trained model is compared with. `--seed` varies the training (split, initial weights,
batch order): one seed's clip count moves by one or two clips, so compare recipes over several.

Bad input is one `error:` line and exit 2, before any landmark extraction (minutes): --epochs under 1, a weight
that is negative or not finite, a --photo-weight count other than the --photos count, nothing weighted above 0,
an --out that is a file or inside a data folder, a labels.csv without signers, an unknown --signers name, and a
fold whose training data could not make a classifier (no photos and other signers' clips of fewer than 2
letters). --out is created when the first fold trains; a run that fails before writing anything leaves none.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from asl_edge.apps.cli import main as cli_main
from asl_edge.datasets import check_out_outside_datasets
from asl_edge.errors import AslEdgeError, DataError
from asl_edge.landmark_features import landmark_features
from asl_edge.runtime.hand.extract import is_video_folder, list_class_folders, load_video_letters, read_video_labels
from asl_edge.train.checkpoint import load_checkpoint
from asl_edge.train.landmarks import (
    LandmarkDatasetLike,
    LandmarkSet,
    LandmarkTrainConfig,
    fit_landmarks,
    load_landmark_sets,
)


def signer_of_samples(video: Path, paths: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(signer (N,), clip file (N,)) of each sample, from its path `<clip file>#<frame>` and labels.csv."""
    signers = {row["file"]: row["signer"] for row in read_video_labels(video)}
    # `file` as read_video_labels spells it (relative to the folder), so a clip in a sub-folder is found too
    files = np.array([str(Path(p.rsplit("#", 1)[0]).relative_to(video)) for p in paths])
    return np.array([signers[f] for f in files]), files


def subset(data: LandmarkSet, keep: np.ndarray) -> LandmarkSet:
    return LandmarkSet(data.landmarks[keep], data.handedness[keep], data.found[keep], data.labels[keep],
                       list(data.classes), [p for p, k in zip(data.paths, keep, strict=True) if k])


def main(argv: list[str] | None = None) -> int:
    try:
        return run(argv)
    except AslEdgeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted; the folds trained so far are in their --out folders, loso.json is not written",
              file=sys.stderr)
        return 130
    except OSError as error:
        print(f"error: {error.filename or 'the run'}: {error.strerror or error}; pass folders you can read and an "
              "--out you can write", file=sys.stderr)
        return 2


def check_arguments(args: argparse.Namespace) -> None:
    """What needs no file read: counts, weights and --out. DataError naming the option and its fix."""
    if args.epochs < 1:
        raise DataError(f"--epochs {args.epochs}: train at least 1 epoch (default 200)")
    if len(args.photo_weight) not in (0, len(args.photos)):
        raise DataError(f"{len(args.photo_weight)} --photo-weight for {len(args.photos)} --photos folder(s); give one "
                        "--photo-weight per --photos, in the same order (or none: 1 each)")
    for option, weight in [*(("--photo-weight", w) for w in args.photo_weight), ("--video-weight", args.video_weight)]:
        if not math.isfinite(weight) or weight < 0:
            raise DataError(f"{option} {weight:g} is {'negative' if weight < 0 else 'not a finite number'}; a weight "
                            "scales a folder's share of the loss: a finite number, 0 or more (1 is the default)")
    if args.video_weight == 0 and not any(photo_weights(args)):
        raise DataError("--video-weight 0 and no --photos with a weight above 0 leave nothing to train on; pass "
                        "--photos, or a --video-weight above 0")
    if args.out.exists() and not args.out.is_dir():
        raise DataError(f"--out {args.out} is a file; name a folder for the run (new, or a previous run's)")
    above = next((p for p in args.out.absolute().parents if p.exists()), None)
    if above is not None and not above.is_dir():
        raise DataError(f"--out {args.out}: {above} is a file, not a folder; name a folder for the run")
    check_out_outside_datasets(args.out, [(args.video, "--video"), *((p, "--photos") for p in args.photos)],
                               example="runs/loso")


def photo_weights(args: argparse.Namespace) -> list[float]:
    return list(args.photo_weight) or [1.0] * len(args.photos)


def check_folds(args: argparse.Namespace, rows: list[dict[str, str]], held_out: list[str]) -> None:
    """Without photos that count in the loss, a fold trains on the other signers' clips alone: refused (before
    minutes of landmark extraction) when they hold fewer than 2 letters, which no classifier can learn from."""
    if any(photo_weights(args)):
        return
    for name in held_out:
        others = [row for row in rows if row["signer"] != name]
        letters = sorted({row["letter"] for row in others})
        if len(letters) < 2:
            raise DataError(too_little(args, name, f"{len(others)} clip(s) of other signers "
                                                   f"({', '.join(letters) or 'no letter'})"))


def too_little(args: argparse.Namespace, signer: str, what: str) -> str:
    photos = "--photos weighted 0" if args.photos else "no --photos"
    return (f"holding out signer {signer} leaves {what} and {photos} to train on; a classifier needs at least 2 "
            f"letters: pass --photos (e.g. ../shared/data/asl-alphabet-mini) with a weight above 0, or add clips of "
            f"more signers to {args.video / 'labels.csv'}")


def remove_if_empty(out: Path, top: Path | None) -> None:
    """Remove OUT and its parents up to TOP (the folders this run created) while they are empty."""
    if top is None:
        return
    for folder in (out.absolute(), *out.absolute().parents):
        try:
            folder.rmdir()  # only an empty folder goes
        except OSError:
            return
        if folder == top:
            return


def run(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", action="append", default=[], help="photo folder (class folders), repeatable")
    parser.add_argument("--photo-weight", action="append", type=float, default=[],
                        help="loss weight of each --photos folder, in order (default: 1 each)")
    parser.add_argument("--video", type=Path, required=True, help="folder of one-letter clips with labels.csv")
    parser.add_argument("--video-weight", type=float, default=1.0)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--signers", default="", help="comma-separated signers to hold out (default: all)")
    parser.add_argument("--seed", type=int, default=LandmarkTrainConfig.seed, help="training seed (split, init, order)")
    parser.add_argument("--spell", action="store_true",
                        help="also spell each held-out signer's clips with the fold's model through the real chain and "
                             "decoder (`asl-edge eval --videos`), J and Z drawn included: RUN/spelling.md")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # the MLP is too small to use more; leaves the other core to the machine

    # Everything below up to the extraction is checked before the hand stage reads any clip or photo (minutes):
    # a typo is one line at once.
    check_arguments(args)
    rows = [row for row in read_video_labels(args.video) if (row.get("motion") or "").strip().lower() != "yes"]
    known = sorted({row["signer"] for row in rows})
    if not rows:
        raise DataError(f"{args.video / 'labels.csv'} names only clips that draw a motion (motion=yes); leave-one-"
                        "signer-out needs clips of held letters")
    if known == [""]:
        raise DataError(f"{args.video / 'labels.csv'} names no signer (its `signer` column is missing or empty); "
                        "leave-one-signer-out holds out one signer at a time: add a signer per clip")
    held_out = [s.strip() for s in args.signers.split(",") if s.strip()] or known
    unknown = sorted(set(held_out) - set(known))
    if unknown:
        raise DataError(f"--signers {','.join(unknown)}: no such signer in {args.video / 'labels.csv'} (clips that "
                        f"hold a letter); its signers are {', '.join(known)}")
    for folder in args.photos:  # as load_landmark_sets reads them, but without the hand stage
        if is_video_folder(folder):
            read_video_labels(Path(folder))
        else:
            list_class_folders(Path(folder))
    check_folds(args, rows, held_out)

    photos = load_landmark_sets(args.photos)
    found = load_video_letters(args.video)
    video = LandmarkSet(found.landmarks, found.handedness, found.found, found.labels, list(found.classes),
                        list(found.paths))
    signer, files = signer_of_samples(args.video, found.paths)
    for name in held_out:  # what only the hand stage knows: a clip may have no frame with a formed hand
        if not (signer == name).any():
            raise DataError(f"no clip of signer {name} has a frame with a formed hand, so there is nothing to score; "
                            f"leave {name} out with --signers")
        if not any(photo_weights(args)) and len(set(video.labels[signer != name])) < 2:
            raise DataError(too_little(args, name, "frames with a hand of fewer than 2 letters from other signers"))
    top = next((p for p in reversed((args.out.absolute(), *args.out.absolute().parents)) if not p.exists()), None)
    try:
        return run_folds(args, photos, video, signer, files, held_out)
    except BaseException:
        remove_if_empty(args.out, top)  # a run that failed before writing anything leaves no empty --out behind
        raise


def run_folds(args: argparse.Namespace, photos: list[tuple[str, LandmarkDatasetLike]], video: LandmarkSet,
              signer: np.ndarray, files: np.ndarray, held_out: list[str]) -> int:
    report: dict[str, dict[str, dict[str, float]]] = {}
    read_as: dict[str, str] = {}  # clip file -> the letter most of its formed frames were read as
    spelled: dict[str, list[dict[str, object]]] = {}  # held-out signer -> eval --videos' clip results
    for name in held_out:
        train_part = subset(video, signer != name)
        fold = args.out / name
        datasets: list[tuple[str, LandmarkDatasetLike]] = [*photos, (str(args.video), train_part)]
        weights = (*photo_weights(args), args.video_weight)
        if not len(train_part.labels):  # training cannot split an empty set: this fold learns from the photos alone
            print(f"{name}: no other signer's clip has a frame with a hand; this fold trains on the photos alone",
                  flush=True)
            datasets, weights = datasets[:-1], weights[:-1]
        config = LandmarkTrainConfig(epochs=args.epochs, dataset_weights=weights, seed=args.seed)
        try:
            fit_landmarks(datasets, fold, config, progress=lambda _: None, exist_ok=True)
        except DataError as error:
            raise DataError(f"the fold holding out signer {name}: {error}") from None
        model = load_checkpoint(fold / "checkpoint.pt").model.eval()
        classes = load_checkpoint(fold / "checkpoint.pt").spec.labels
        test = signer == name
        with torch.no_grad():
            logits = model(torch.from_numpy(landmark_features(video.landmarks[test], video.handedness[test])))
        predicted = np.array(classes)[logits.argmax(1).numpy()]
        truth = np.array(video.classes)[video.labels[test]]
        per_letter: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for clip in sorted(set(files[test])):
            in_clip = files[test] == clip
            letter = truth[in_clip][0]
            votes, counts = np.unique(predicted[in_clip], return_counts=True)
            read_as[str(clip)] = str(votes[counts.argmax()])
            row = per_letter[letter]
            row["frames"] += int(in_clip.sum())
            row["frames_right"] += int((predicted[in_clip] == letter).sum())
            row["clips"] += 1
            row["clips_right"] += int(votes[counts.argmax()] == letter)
        report[name] = {k: dict(v) for k, v in per_letter.items()}
        if args.spell:
            spelled[name] = spell_held_out(args.video, name, fold)
        total = {k: sum(r[k] for r in per_letter.values()) for k in ("frames", "frames_right", "clips", "clips_right")}
        print(f"{name}: frames {total['frames_right'] / total['frames']:.1%}, clips {total['clips_right']:.0f}/"
              f"{total['clips']:.0f}", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "loso.json").write_text(json.dumps(report, indent=1))
    (args.out / "loso.md").write_text(markdown(report))
    (args.out / "clips.json").write_text(json.dumps(read_as, indent=1))
    if args.spell:
        (args.out / "spelling.md").write_text(spelling_markdown(spelled))
        print(spelling_markdown(spelled))
    print(markdown(report))
    return 0


def spell_held_out(video: Path, signer: str, fold: Path) -> list[dict[str, object]]:
    """`asl-edge eval FOLD/checkpoint.pt --videos` on a view of `signer`'s clips (FOLD/held-out: links and their
    labels.csv rows); the clip results of its spelling.json."""
    view = fold / "held-out"
    view.mkdir(parents=True, exist_ok=True)
    with open(video / "labels.csv", newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row.get("signer") == signer]
    for row in rows:
        link = view / row["file"]
        if link.is_symlink():  # a rerun into the same --out may name another --video
            link.unlink()
        os.symlink((video / row["file"]).resolve(), link)
    with open(view / "labels.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    code = cli_main(["eval", str(fold / "checkpoint.pt"), "--videos", str(view), "--out", str(fold / "spelling")])
    if code != 0:
        raise AslEdgeError(f"eval --videos of {signer}'s clips failed (exit {code}); see the lines above")
    clips: list[dict[str, object]] = json.loads((fold / "spelling" / "spelling.json").read_text())["clips"]
    return clips


def spelling_markdown(spelled: dict[str, list[dict[str, object]]]) -> str:
    """Per held-out signer: clips that show their letter as signed (a J or Z only where it is drawn: a still end
    pose is never spelled J or Z, by design), the letter spelled, and only the letter spelled."""
    def shown(clip: dict[str, object]) -> bool:
        return clip["truth"] not in ("J", "Z") or str(clip["motion"]).lower() == "yes"

    lines = ["| held-out signer | clips | letter spelled | only the letter | still J/Z end poses (not scored) |",
             "|---|---:|---:|---:|---:|"]
    totals = [0, 0, 0, 0]
    for signer, clips in spelled.items():
        scored = [c for c in clips if shown(c)]
        row = [len(scored), sum(str(c["truth"]) in str(c["spelled"] or "") for c in scored),
               sum(c["spelled"] == c["truth"] for c in scored), len(clips) - len(scored)]
        totals = [a + b for a, b in zip(totals, row, strict=True)]
        lines.append(f"| {signer} | {row[0]} | {row[1]} ({row[1] / row[0]:.0%}) | {row[2]} ({row[2] / row[0]:.0%}) "
                     f"| {row[3]} |")
    lines.append(f"| all | {totals[0]} | {totals[1]} ({totals[1] / totals[0]:.0%}) | {totals[2]} "
                 f"({totals[2] / totals[0]:.0%}) | {totals[3]} |")
    lines += ["", "| letter | clips | letter spelled | only the letter |", "|---|---:|---:|---:|"]
    scored_all = [c for clips in spelled.values() for c in clips if shown(c)]
    for letter in sorted({str(c["truth"]) for c in scored_all}):
        of = [c for c in scored_all if c["truth"] == letter]
        lines.append(f"| {letter} | {len(of)} | {sum(letter in str(c['spelled'] or '') for c in of)} | "
                     f"{sum(c['spelled'] == letter for c in of)} |")
    wrong = [f"{c['file']} {c['truth']}->{c['spelled'] or '(nothing)'}" for c in scored_all
             if c["spelled"] != c["truth"]]
    return "\n".join(lines) + "\n\nNot exactly their letter: " + ", ".join(wrong) + "\n"


def markdown(report: dict[str, dict[str, dict[str, float]]]) -> str:
    lines = ["| held-out signer | frames right | clips right |", "|---|---:|---:|"]
    for name, letters in report.items():
        f, fr = sum(r["frames"] for r in letters.values()), sum(r["frames_right"] for r in letters.values())
        c, cr = sum(r["clips"] for r in letters.values()), sum(r["clips_right"] for r in letters.values())
        lines.append(f"| {name} | {fr / f:.1%} | {cr:.0f}/{c:.0f} ({cr / c:.0%}) |")
    lines += ["", "| letter | frames right | clips right |", "|---|---:|---:|"]
    for letter in sorted({k for letters in report.values() for k in letters}):
        rows = [letters[letter] for letters in report.values() if letter in letters]
        f, fr = sum(r["frames"] for r in rows), sum(r["frames_right"] for r in rows)
        c, cr = sum(r["clips"] for r in rows), sum(r["clips_right"] for r in rows)
        lines.append(f"| {letter} | {fr / f:.0%} | {cr:.0f}/{c:.0f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
