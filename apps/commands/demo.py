"""asl-edge demo: spell the word of the bundled sample clip with the bundled model; no camera, no download."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from importlib import resources
from pathlib import Path

from asl_edge.apps.commands.run import config_from_args, print_result, print_text_changes, watched
from asl_edge.apps.options import add_backend_options, add_spelling_options, add_view_options, backend_kwargs
from asl_edge.errors import DataError
from asl_edge.runtime.backends import load_backend
from asl_edge.runtime.display import WebSink, close_sinks, open_sinks
from asl_edge.runtime.pipeline import run_pipeline
from asl_edge.runtime.sources import parse_source

ASSETS = Path(str(resources.files("asl_edge") / "assets"))
DEFAULT_MODEL = ASSETS / "asl_default.onnx"
DEFAULT_CLIP = ASSETS / "sample_clip.mp4"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="model (default: the bundled one)")
    parser.add_argument("--clip", type=Path, default=DEFAULT_CLIP,
                        help="spelling clip with a .json card beside it (default: the bundled one)")
    add_backend_options(parser)
    add_spelling_options(parser)
    add_view_options(parser)


def read_card(clip: Path) -> dict[str, object]:
    card = clip.with_suffix(".json")
    try:
        data = json.loads(card.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"cannot read the clip's card {card} ({type(exc).__name__}); build the clip with "
                        "python -m asl_edge.runtime.sample_clip") from exc
    if not isinstance(data, dict) or not isinstance(data.get("word"), str):
        raise DataError(f"{card} names no word")
    return data


def run(args: argparse.Namespace) -> int:
    card = read_card(args.clip)
    word = str(card["word"])
    config = config_from_args(args, roi_size=float(card.get("roi_size", 0.6)))  # type: ignore[arg-type]
    source = parse_source(str(args.clip))
    source.open()
    try:
        backend = load_backend(args.model, args.backend, **backend_kwargs(args, args.model))
        sinks = open_sinks(window=not args.no_window, web=args.web, host=args.host, port=args.port, save=args.save,
                           fps=source.nominal_fps or 10.0)
    except BaseException:
        source.close()
        raise
    print(f"model: {args.model.name} ({backend.describe()}); clip: {args.clip.name} signs {word!r}")
    for sink in sinks:
        if isinstance(sink, WebSink):
            print(f"web view: {sink.url}", flush=True)
    try:
        with backend:
            result = run_pipeline(source, backend, replace(config, realtime=watched(sinks)), sinks,
                                  on_frame=print_text_changes())
    finally:
        close_sinks(sinks)
    print_result(result)
    if result.text.strip() != word:
        print(f"demo: expected {word!r} but spelled {result.text!r}")
        return 1
    print(f"demo: spelled {word!r} correctly")
    return 0
