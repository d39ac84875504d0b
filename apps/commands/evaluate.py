"""`asl-edge eval`: score a checkpoint or model file on a dataset, optionally under a shift; with --videos,
score spelling on a folder of clips (evaluate_videos.py).

A landmarks model (or any model with --hand on) is scored through the runtime's hand chain, photo by
photo, with the hand found in each photo; accuracy is also reported per group of file names (per signer
for massey-dev) and per letter.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from asl_edge.apps.commands import evaluate_videos
from asl_edge.apps.options import add_hand_options, add_seed, add_spec_option, default_data_dir, spec_from_args
from asl_edge.artifacts import ensure_writable_dir, output_dir
from asl_edge.datasets import EVAL_SPLITS, HeldOutSplit
from asl_edge.errors import DataError
from asl_edge.train.config import SHIFT_NAMES

if TYPE_CHECKING:
    from asl_edge.runtime.hand.chain import HandChain
    from asl_edge.runtime.hand.compare import LetterComparison


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", nargs="?", default=None,
                        help="checkpoint.pt, a training run folder, or an .onnx / .engine file (with --videos: "
                             "default the bundled landmark model)")
    parser.add_argument("--data", default=None,
                        help="folder of class folders, Sign Language MNIST .csv, or a folder `asl-edge collect` "
                             "wrote (scored on its recorded landmarks) (default: the dataset the model "
                             f"records it was trained on, else {default_data_dir()})")
    parser.add_argument("--compare", default=None, metavar="MODEL",
                        help="also score this model (e.g. the bundled asl_edge/assets/asl_landmarks.onnx) on the "
                             "same data, side by side per letter: a collect folder's held-out samples, or the photos "
                             "of a folder of class folders through the hand chain")
    parser.add_argument("--split", default="auto", choices=EVAL_SPLITS,
                        help="val: the training run's held-out split; all: every image; auto: val when --data "
                             "is the training dataset, else all (default: %(default)s)")
    parser.add_argument("--shift", default="none", choices=("none", *SHIFT_NAMES),
                        help="score under a fixed-seed shift of light, framing, background, blur and noise "
                             "(default: %(default)s)")
    add_spec_option(parser)
    add_seed(parser)
    add_hand_options(parser)
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for metrics.json, per_class.md and confusion.png (with --videos: "
                             "spelling.json, spelling.md, spelling.png) (default: print only)")
    evaluate_videos.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from asl_edge.datasets import check_dataset_path, check_out_outside_datasets
    from asl_edge.errors import ModelError
    from asl_edge.runtime.hand.collected import LANDMARKS_FILE, MANIFEST_FILE

    if args.videos is not None:
        return evaluate_videos.run(args)
    evaluate_videos.check_unused(args)
    if args.model is None:
        raise ModelError("pass the model to evaluate: a checkpoint.pt, a training run folder, or an .onnx / "
                         ".engine file (or --videos FOLDER to score spelling with the bundled model)")
    # Cheap checks first: a typo in a path costs no model load (and no torch import).
    if not Path(args.model).exists():
        raise ModelError(f"model {args.model} does not exist; pass a checkpoint.pt, a training run folder, "
                         "or an .onnx / .engine file")
    if args.compare is not None and not Path(args.compare).exists():
        raise ModelError(f"--compare model {args.compare} does not exist; pass an .onnx or .engine file, e.g. "
                         "asl_edge/assets/asl_landmarks.onnx")
    if args.compare is not None and Path(args.compare).resolve() == Path(args.model).resolve():
        raise ModelError(f"--compare {args.compare} is the model being evaluated; compare it with another model "
                         "(a retrained or personalised one, an FP16/INT8 export of it)")
    if args.data is None and args.compare is not None:
        args.data = personalised_on(args.model)
    if args.data is not None and any((Path(args.data) / name).is_file() for name in (LANDMARKS_FILE, MANIFEST_FILE)):
        return _run_collected(args)
    if args.compare is not None:
        _check_compare_photos(args)
    if args.data is not None:
        check_dataset_path(args.data, option="--data")
    if args.out is None:
        return _run_model(args)
    check_out_outside_datasets(args.out, [(args.data, "--data")] if args.data is not None else [],
                               example="runs/eval")
    with output_dir(args.out):  # proved writable first; removed again when the evaluation fails before writing
        return _run_model(args)


def personalised_on(model: str) -> str | None:
    """The collect folder a personalised .onnx records it was fine-tuned on (`trained_on.personalised.user_data`),
    when it is still there: what `--compare` without --data compares on. None for any other model."""
    if Path(model).suffix != ".onnx":
        return None
    from asl_edge.onnx_header import read_onnx_header
    from asl_edge.runtime.hand.collected import LANDMARKS_FILE

    spec = read_onnx_header(model, need_spec=False).spec
    record = spec.trained_on.get("personalised") if spec is not None else None
    folder = record.get("user_data") if isinstance(record, dict) else None
    if not isinstance(folder, str) or not (Path(folder) / LANDMARKS_FILE).is_file():
        return None
    print(f"--compare on the samples {model} was personalised on: {folder}")
    return folder


def _run_model(args: argparse.Namespace) -> int:
    from asl_edge.errors import ModelError

    spec = spec_from_args(args)
    if Path(args.model).suffix in (".onnx", ".engine", ".plan"):
        from asl_edge.runtime.backends import load_backend
        from asl_edge.runtime.hand.chain import open_chain

        backend = load_backend(args.model, spec=spec)
        chain = open_chain(backend, args.hand, args.hand_models, args.fallback, photos=True,
                           crop_model=args.crop_model, crop_weight=args.crop_weight)
        if chain is None and args.compare is not None:
            backend.close()
            raise DataError(f"--compare on photos runs both models through the hand chain, and {args.model} is an "
                            "image model on the fixed box; add --hand on, or compare landmarks models")
        if chain is not None and args.compare is not None:
            return _run_compare_photos(args, chain)
        if chain is not None:
            try:
                return _run_chain(args, chain)
            finally:
                chain.close()
        backend.close()
    elif spec is not None:
        raise ModelError(f"--spec is for ONNX models and engines; {args.model} carries the spec it was trained with, "
                         "so drop --spec")
    if Path(args.model).suffix not in (".onnx", ".engine", ".plan"):
        _torch_or_the_export(Path(args.model))
    from asl_edge.train.evaluation import evaluate_model
    from asl_edge.train.report import write_report

    result = evaluate_model(args.model, args.data, split=args.split, shift=args.shift, shift_seed=args.seed,
                            default_data=default_data_dir(), spec_override=spec)
    shift = f", shift {result.shift} (seed {args.seed})" if result.shift else ""
    title = f"{result.spec.arch} on {result.data} [{result.split}{shift}]"
    print(f"{title}: top-1 {result.report.top1:.4f}, top-3 {result.report.top3:.4f} on {result.images} images")
    if args.out is not None:
        write_report(args.out, result.report, {"model": str(args.model), "data": result.data,
                                               "split": result.split, "shift": result.shift,
                                               "shift_seed": args.seed}, title=title)
        print(f"report written to {args.out}")
    return 0


def _torch_or_the_export(model: Path) -> None:
    """A checkpoint needs torch; without it (a Jetson) the run's own model.onnx, where there is one, does not."""
    from asl_edge.errors import MissingDependencyError

    try:
        import torch  # noqa: F401
    except ImportError:
        export = (model if model.is_dir() else model.parent) / "model.onnx"
        if not export.is_file():
            raise  # the command line's usual line: how to install torch
        raise MissingDependencyError("torch (PyTorch)", f"evaluating the checkpoint of {model}",
                                     "pip install 'asl-edge[workstation]', or evaluate its ONNX export, which needs "
                                     f"no torch: `asl-edge eval {export}`") from None


def _run_chain(args: argparse.Namespace, chain: HandChain) -> int:
    from asl_edge.artifacts import atomic_write_json, atomic_write_text
    from asl_edge.runtime.hand.evaluate import evaluate_chain, held_out_photos
    from asl_edge.runtime.hand.extract import list_class_folders

    if args.shift != "none":
        raise DataError("--shift is for image models on the fixed box; drop it for the hand chain")
    if args.data is None:  # the first folder the model was trained on, like an image model's recorded dataset
        recorded = HeldOutSplit.recorded(chain.classifier.spec.trained_on)
        args.data = recorded.data if recorded is not None else str(default_data_dir())
    classes, paths, indices = list_class_folders(Path(args.data))
    labels = [classes[i] for i in indices]
    paths, labels, split = held_out_photos(chain.classifier.spec, args.data, paths, labels, classes, args.split)
    result = evaluate_chain(chain, paths, labels)
    fallback = f" + fallback {Path(chain.fallback.spec.arch).name}" if chain.fallback else ""
    title = f"hand chain ({chain.classifier.spec.arch}{fallback}) on {args.data} [{split}]"
    print(f"{title}:")
    for line in result.summary_lines():
        print(f"  {line}")
    if args.out is not None:
        out = ensure_writable_dir(args.out)
        atomic_write_json(out / "metrics.json", {
            "model": str(args.model), "data": str(args.data), "split": split, "top1": result.top1,
            "photos": result.photos, "hand_found": result.hand_found, "sources": result.sources,
            "per_group": {g: {"correct": c, "photos": n} for g, (c, n) in result.per_group.items()},
            "per_letter": {k: {"correct": c, "photos": n, "hand_found": result.found_per_letter.get(k, 0)}
                           for k, (c, n) in result.per_letter.items()},
            "report": result.report.to_dict()})
        atomic_write_text(out / "per_class.md", f"# {title}\n\n{result.markdown()}")
        print(f"report written to {args.out}")
    return 0


def _check_compare_photos(args: argparse.Namespace) -> None:
    """--compare on a folder of photos: both models must be files the hand chain runs, and no shift applies."""
    for path in (args.model, args.compare):
        if Path(path).suffix not in (".onnx", ".engine", ".plan"):
            raise DataError(f"--compare on photos runs both models through the hand chain, which takes .onnx or "
                            f".engine files; {path} is not one (asl-edge export RUN writes RUN/model.onnx)")
    if args.shift != "none":
        raise DataError("--shift is for image models on the fixed box; drop it with --compare")
    data = Path(args.data) if args.data is not None else None
    if data is not None and data.is_dir() and not any(p.is_dir() and not p.name.startswith(".")
                                                      for p in data.iterdir()):
        raise DataError(f"--compare: {data} is neither a folder `asl-edge collect` wrote (it has no "
                        f"landmarks.npz) nor a folder of class folders of photos; pass one of those with --data")


def _run_compare_photos(args: argparse.Namespace, chain: HandChain) -> int:
    """Both models through the same hand chain on the same photos, per letter (and hand found per letter)."""
    from asl_edge.runtime.backends import load_backend
    from asl_edge.runtime.hand.chain import open_chain
    from asl_edge.runtime.hand.compare import compare_chain_results
    from asl_edge.runtime.hand.evaluate import evaluate_chain, held_out_photos
    from asl_edge.runtime.hand.extract import list_class_folders

    try:
        if args.data is None:  # the first folder the model was trained on, as for one model
            recorded = HeldOutSplit.recorded(chain.classifier.spec.trained_on)
            args.data = recorded.data if recorded is not None else str(default_data_dir())
        classes, paths, indices = list_class_folders(Path(args.data))
        labels = [classes[i] for i in indices]
        # The photos the first model's training held out (auto/val), else every photo; both models see these.
        paths, labels, split = held_out_photos(chain.classifier.spec, args.data, paths, labels, classes, args.split)
        names = [args.model, args.compare]
        results = [(_short_name(args.model, names), evaluate_chain(chain, paths, labels))]
    finally:
        chain.close()
    other = open_chain(load_backend(args.compare), args.hand, args.hand_models, args.fallback, photos=True,
                       crop_model=args.crop_model, crop_weight=args.crop_weight)
    if other is None:
        raise DataError(f"--compare {args.compare} is an image model on the fixed box; add --hand on, or compare "
                        "landmarks models")
    try:
        results.append((_short_name(args.compare, names), evaluate_chain(other, paths, labels)))
    finally:
        other.close()
    comparison = compare_chain_results(results)
    where = f"{args.data} [{split}, {len(paths)} photos through the hand chain]"
    print(f"top-1 on {where}:")
    print(comparison.table())
    if args.out is not None:
        _write_comparison(args.out, comparison, where, {name: str(path) for name, path in
                                                         zip(comparison.models, names, strict=True)},
                          f"{Path(args.data).name}: top-1 on {len(paths)} photos")
    return 0


def _write_comparison(out_dir: Path, comparison: LetterComparison, where: str, files: dict[str, str],
                      title: str) -> None:
    """compare.json and compare.png (per letter and all, one bar per model) into `out_dir`."""
    from asl_edge.artifacts import atomic_write_json
    from asl_edge.errors import MissingDependencyError

    out = ensure_writable_dir(out_dir)
    atomic_write_json(out / "compare.json", {"data": where, **comparison.to_dict(), "files": files})
    try:
        from asl_edge.train.plots import plot_grouped_bars

        plot_grouped_bars([*comparison.letters, "all"],
                          {m: [*(comparison.top1(m, k) for k in comparison.letters), comparison.top1(m)]
                           for m in comparison.models}, out / "compare.png", title=title)
    except MissingDependencyError as exc:
        print(f"no plot: {exc}")
    print(f"report written to {out_dir}")


def _run_collected(args: argparse.Namespace) -> int:
    """Score the model (and --compare) on a collect folder's held-out samples, per letter; JSON + PNG to --out."""
    from asl_edge.runtime.backends import load_backend
    from asl_edge.runtime.hand.collected import read_collected
    from asl_edge.runtime.hand.compare import compare_on_samples, recorded_holdout

    if args.shift != "none":  # the samples are landmarks: there are no pixels to shift
        raise DataError(f"--shift is for image models on photos; {args.data} holds recorded landmarks, so drop it")
    samples = read_collected(args.data)
    paths = [args.model, *([args.compare] if args.compare else [])]
    backends = []
    try:
        for path in paths:
            backends.append((_short_name(path, paths), load_backend(path)))
        recorded = next((ids for ids in (recorded_holdout(b.spec) for _, b in backends) if ids is not None), None)
        if args.split == "val" and recorded is None:
            raise DataError(f"--split val: none of {', '.join(map(str, paths))} records held-out samples of "
                            f"{args.data}; personalise with `asl-edge train --init-from`, or use --split all")
        if args.split == "all" or recorded is None:
            split = "all samples (no model records a hold-out: includes samples a model may have trained on)"
            chosen = samples
        else:
            split, chosen = f"held-out ({len(recorded)} samples recorded by the model)", samples.only(recorded)
        result = compare_on_samples(backends, chosen)
    finally:
        for _, backend in backends:
            backend.close()
    print(f"top-1 on {args.data} [{split}]:")
    print(result.table())
    if args.out is not None:
        _write_comparison(args.out, result, f"{args.data} [{split}]", {_short_name(p, paths): str(p) for p in paths},
                          f"{Path(args.data).name}: top-1 on {len(chosen)} samples")
    return 0


def _short_name(path: str, paths: list[str]) -> str:
    """The model's file name, with its folder when two models share a name (runs/mine/model.onnx)."""
    names = [Path(p).name for p in paths]
    return Path(path).name if names.count(Path(path).name) == 1 else f"{Path(path).parent.name}/{Path(path).name}"
