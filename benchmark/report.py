"""Benchmark results for people: the terminal table, Markdown, the JSON file, and the comparison with an
earlier run. Everything here reads the JSON-shaped dict (BenchmarkResult.to_dict()), so an old run's
benchmark.json and a fresh result are rendered and compared by the same code.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from asl_edge.artifacts import read_json
from asl_edge.errors import DataError

LATENCY_COLUMNS = ("min", "mean", "p50", "p90", "p99", "max")
REFERENCE = ("pytorch", "fp32")  # the notebook way: speed-ups are relative to it
STAGE_COLUMNS = ("mean", "p50", "p90", "p99", "max")


def load_result(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A benchmark.json written by an earlier run."""
    data = read_json(path, "benchmark results", "pass the benchmark.json of an earlier `asl-edge benchmark` run")
    if not isinstance(data, dict) or not isinstance(data.get("rows"), list):
        raise DataError(f"{path} is not a benchmark.json (it has no rows)")
    return data


# -- table cells ----------------------------------------------------------------------------------------
def _timing(row: Mapping[str, Any], batch: int) -> Mapping[str, Any] | None:
    return next((t for t in row.get("timings", []) if t["batch"] == batch), None)


def _batch_sizes(data: Mapping[str, Any]) -> list[int]:
    return sorted({t["batch"] for row in data["rows"] for t in row.get("timings", [])})


def _reference_p50(data: Mapping[str, Any], batch: int) -> float | None:
    for row in data["rows"]:
        if (row["backend"], row["precision"]) == REFERENCE:
            timing = _timing(row, batch)
            return float(timing["latency_ms"]["p50"]) if timing else None
    return None


def _size(size_bytes: int) -> str:
    return f"{size_bytes / 1e6:.2f} MB" if size_bytes >= 1e5 else f"{size_bytes / 1e3:.1f} kB"


def _ms(value: float) -> str:
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def _short(text: str, width: int = 26) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def engine_table(data: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """(header, rows): batch-1 (the smallest batch) latency in ms, throughput per batch, speed-up vs PyTorch."""
    batches = _batch_sizes(data)
    if not batches:
        return [], []
    first, others = batches[0], batches[1:]
    has_gpu = any((_timing(r, first) or {}).get("gpu_ms") for r in data["rows"])
    reference = _reference_p50(data, first)
    header = ["backend", "precision", "device", "size", "top-1", *(f"{c} ms" for c in LATENCY_COLUMNS), "cv",
              f"b{first} /s"]
    for batch in others:
        header += [f"b{batch} p50 ms", f"b{batch} /s"]
    if has_gpu:
        header.append(f"b{first} GPU p50 ms")
    header.append("vs PyTorch")
    rows = []
    for row in data["rows"]:
        timing = _timing(row, first)
        latency = timing["latency_ms"] if timing else None
        cells = [row["backend"], row["precision"], _short(row["device"]), _size(row["size_bytes"]),
                 f"{row['top1']:.2%}" if row.get("top1") is not None else "n/a"]
        cells += [_ms(latency[c]) for c in LATENCY_COLUMNS] if latency else ["-"] * len(LATENCY_COLUMNS)
        cells += [f"{latency['cv']:.0%}" if latency else "-", f"{timing['throughput']:,.0f}" if timing else "-"]
        for batch in others:
            other = _timing(row, batch)
            cells += [_ms(other["latency_ms"]["p50"]), f"{other['throughput']:,.0f}"] if other else ["-", "-"]
        if has_gpu:
            gpu = timing.get("gpu_ms") if timing else None
            cells.append(_ms(gpu["p50"]) if gpu else "-")
        cells.append(f"{reference / latency['p50']:.2f}x" if reference and latency and latency["p50"] > 0 else "-")
        rows.append(cells)
    return header, rows


def pipeline_table(pipeline: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    header = ["stage", "frames", *(f"{c} ms" for c in STAGE_COLUMNS)]
    named = [*pipeline["stages_ms"].items(),
             (f"capture-to-label ({'+'.join(pipeline['capture_to_label_stages'])})", pipeline["capture_to_label_ms"]),
             (f"runtime overhead ({'+'.join(pipeline['overhead_stages'])})", pipeline["overhead_ms"])]
    rows = [[name, str(int(stats["count"])), *(_ms(stats[c]) for c in STAGE_COLUMNS)] for name, stats in named]
    return header, rows


HAND_MODEL_HEADER = ("model", "input", "device", "size", *(f"{c} ms" for c in LATENCY_COLUMNS[:-1]), "cv")
CHAIN_STAGES = ("detect", "landmarks", "infer", "postprocess")  # postprocess: the decoder, top-3, suggestion


def hand_model_table(hand: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The chain's models one by one at batch 1: min/mean/p50/p90/p99 ms."""
    rows = []
    for row in hand["models"]:
        latency = row["timing"]["latency_ms"]
        rows.append([row["name"], "x".join(str(v) for v in row["input_shape"]), _short(row["device"]),
                     _size(row["size_bytes"]), *(_ms(latency[c]) for c in LATENCY_COLUMNS[:-1]),
                     f"{latency['cv']:.0%}"])
    return list(HAND_MODEL_HEADER), rows


def chain_table(hand: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The whole chain per frame: p50 of its model stages, per-frame mean/p50 (capture to render), FPS."""
    header = ["hand models", "tracking", "frames", "palm runs", *(f"{s} p50 ms" for s in CHAIN_STAGES),
              "frame mean ms", "frame p50 ms", "FPS"]
    rows = []
    for run in hand["chains"]:
        stages = run["stages_ms"]
        rows.append([run["variant"], "on" if run["tracking"] else "off", str(run["frames"]), str(run["detections"]),
                     *(_ms(stages[s]["p50"]) for s in CHAIN_STAGES), _ms(run["per_frame_ms"]["mean"]),
                     _ms(run["per_frame_ms"]["p50"]), f"{run['fps']:.1f}"])
    return header, rows


def _chain_heading(hand: Mapping[str, Any]) -> str:
    run = hand["chains"][0]
    width, height = run["frame_size"]
    return (f"hand chain per frame: {Path(run['source']).name} ({width}x{height}) through {run['backend']}, "
            f"after {run['warmup_frames']} warm-up frames")


def environment_lines(environment: Mapping[str, Any]) -> list[str]:
    cpu = environment.get("cpu") or {}
    packages = environment.get("packages") or {}
    ort = environment.get("onnxruntime") or {}
    lines = [f"CPU: {cpu.get('model') or 'unknown'} ({cpu.get('cores')} cores, {cpu.get('arch')})"]
    gpus = environment.get("gpus") or []
    lines.append("GPU: " + (", ".join(str(g.get("name")) for g in gpus) if gpus else "none"))
    cuda = environment.get("cuda") or {}
    trt = environment.get("tensorrt") or {}
    lines.append(f"CUDA: {cuda.get('toolkit') or 'none'}; TensorRT: {trt.get('version') or 'none'}; "
                 f"ONNX Runtime: {ort.get('version') or 'none'} ({', '.join(ort.get('providers') or [])}); "
                 f"torch: {packages.get('torch') or 'none'}; "
                 f"OpenCV: {(environment.get('opencv') or {}).get('version')}")
    jetson = environment.get("jetson")
    if jetson:
        locked = {True: "locked", False: "NOT locked", None: "unknown"}[jetson.get("clocks_locked")]
        lines.append(f"Jetson: {jetson.get('model')}, L4T {jetson.get('l4t')} (JetPack {jetson.get('jetpack')}), "
                     f"power mode {jetson.get('power_mode')}, clocks {locked}")
    load = environment.get("load_average")
    if load:
        lines.append("load average (1/5/15 min): before " + "/".join(f"{v:.2f}" for v in load["before"]) +
                     ", after " + "/".join(f"{v:.2f}" for v in load["after"]))
    return lines


# -- rendering ------------------------------------------------------------------------------------------
def text_table(header: Sequence[str], rows: Sequence[Sequence[str]], names: int = 3) -> str:
    """Fixed-width columns: the first `names` left-aligned, the numbers after them right-aligned."""
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=True)]
    left = set(range(names))

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths,
                                                                                                strict=True)))

    return "\n".join([line(header), "  ".join("-" * w for w in widths), *(line(r) for r in rows)])


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]], names: int = 3) -> str:
    align = ["---" if i < names else "---:" for i in range(len(header))]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in [header, align, *rows])


def _pipeline_heading(pipeline: Mapping[str, Any]) -> str:
    width, height = pipeline["frame_size"]
    return (f"pipeline: {Path(pipeline['source']).name} ({width}x{height}) through {pipeline['backend']}: "
            f"{pipeline['frames']} frames after {pipeline['warmup_frames']} warm-up, {pipeline['fps']:.0f} FPS, "
            f"spelled {pipeline['text']!r}")


def terminal_report(data: Mapping[str, Any]) -> str:
    settings = data.get("settings", {})
    batches = _batch_sizes(data)
    parts = [f"model: {data['model']}"]
    if data.get("evaluation"):
        ev = data["evaluation"]
        parts.append(f"accuracy on {ev['images']} images ({ev['split']} of {ev['data']})")
    if batches:
        parts.append(f"latency at batch {batches[0]} (ms), {describe_timing(settings.get('timing', {}))}")
    parts.append(text_table(*engine_table(data)))
    if data.get("pipeline"):
        parts += ["", _pipeline_heading(data["pipeline"]), text_table(*pipeline_table(data["pipeline"]), names=1)]
    hand = data.get("hand")
    if hand:
        parts += ["", "hand chain models (batch 1, ms)", text_table(*hand_model_table(hand))]
        if hand.get("chains"):
            parts += ["", _chain_heading(hand), text_table(*chain_table(hand), names=2)]
    parts += ["", *environment_lines(data.get("environment", {}))]
    parts += [f"note: {n}" for n in data.get("notes", [])]
    parts += [f"warning: {w}" for w in data.get("warnings", [])]
    return "\n".join(parts)


def describe_timing(timing: Mapping[str, Any]) -> str:
    if not timing:
        return ""
    measured = f"{timing['iterations']} calls" if timing.get("iterations") else f"{timing['duration_s']:g} s"
    return f"after {timing['warmup_s']:g} s warm-up, over {measured}"


def markdown_report(data: Mapping[str, Any]) -> str:
    settings = data.get("settings", {})
    batches = _batch_sizes(data)
    lines = [f"# Benchmark of `{data['model']}`", "", f"Run {data['created']}."]
    if data.get("evaluation"):
        ev = data["evaluation"]
        lines.append(f"Top-1 on {ev['images']} images: {ev['split']} of `{ev['data']}`.")
    if batches:
        lines.append(f"Latency in ms per call at batch {batches[0]}, {describe_timing(settings.get('timing', {}))}; "
                     "throughput in samples per second; \"vs PyTorch\" is PyTorch eager's p50 over the row's.")
    lines += ["", "## Engines", "", markdown_table(*engine_table(data))]
    if data.get("pipeline"):
        pipeline = data["pipeline"]
        lines += ["", "## Pipeline", "", _pipeline_heading(pipeline) + ".", "",
                  markdown_table(*pipeline_table(pipeline), names=1)]
    hand = data.get("hand")
    if hand:
        lines += ["", "## Hand chain", "", "Each model of the chain at batch 1 (ms):", "",
                  markdown_table(*hand_model_table(hand))]
        if hand.get("chains"):
            lines += ["", _chain_heading(hand) + "; per frame = capture to render.", "",
                      markdown_table(*chain_table(hand), names=2)]
    lines += ["", "## Environment", "", *(f"- {line}" for line in environment_lines(data.get("environment", {})))]
    if data.get("notes") or data.get("warnings"):
        lines += ["", "## Notes", "", *(f"- {n}" for n in data.get("notes", [])),
                  *(f"- **warning:** {w}" for w in data.get("warnings", []))]
    return "\n".join(lines) + "\n"


# -- comparison -------------------------------------------------------------------------------------------
def _change(old: float, new: float, unit: str, digits: int = 3) -> str:
    relative = f" ({(new - old) / old:+.1%})" if old else ""
    return f"{old:.{digits}f} -> {new:.{digits}f} {unit}{relative}"


ENVIRONMENT_FACTS = {
    "CPU": lambda e: (e.get("cpu") or {}).get("model"),
    "GPU": lambda e: ", ".join(str(g.get("name")) for g in e.get("gpus") or []) or None,
    "ONNX Runtime": lambda e: (e.get("onnxruntime") or {}).get("version"),
    "TensorRT": lambda e: (e.get("tensorrt") or {}).get("version"),
    "torch": lambda e: (e.get("packages") or {}).get("torch"),
    "power mode": lambda e: (e.get("jetson") or {}).get("power_mode"),
}


def compare(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """What changed from an earlier run: p50 latency, throughput and top-1 per row and batch, the pipeline,
    and the environment facts that explain a change."""
    lines = [f"change since {old.get('created', 'the earlier run')} ({old.get('model')}):"]
    if old.get("model") != new.get("model"):
        # Comparing two models is allowed (an export against its retraining), but never by accident.
        lines.append(f"  note: that run measured {old.get('model')}, this one {new.get('model')}: the changes below "
                     "are between two models, not one model on two occasions")
    data_then, data_now = ((run.get("evaluation") or {}).get("data") for run in (old, new))
    if data_then != data_now:
        lines.append(f"  note: top-1 was measured on other data then ({data_then}) than now ({data_now})")
    old_rows = {(r["backend"], r["precision"]): r for r in old["rows"]}
    new_rows = {(r["backend"], r["precision"]): r for r in new["rows"]}
    for key, row in new_rows.items():
        name = f"{key[0]} {key[1]}"
        before = old_rows.get(key)
        if before is None:
            lines.append(f"  {name}: new row")
            continue
        for timing in row["timings"]:
            earlier = _timing(before, timing["batch"])
            if earlier is None:
                continue
            lines.append(f"  {name} batch {timing['batch']}: p50 "
                         f"{_change(earlier['latency_ms']['p50'], timing['latency_ms']['p50'], 'ms')}, throughput "
                         f"{_change(earlier['throughput'], timing['throughput'], '/s', 0)}")
        if row.get("top1") is not None and before.get("top1") is not None:
            delta = (row["top1"] - before["top1"]) * 100
            lines.append(f"  {name}: top-1 {before['top1']:.2%} -> {row['top1']:.2%} ({delta:+.2f} points)")
    lines += [f"  {b} {p}: not measured this time" for b, p in old_rows if (b, p) not in new_rows]
    if old.get("pipeline") and new.get("pipeline"):
        for label, field in (("capture-to-label", "capture_to_label_ms"), ("runtime overhead", "overhead_ms")):
            change = _change(old["pipeline"][field]["p50"], new["pipeline"][field]["p50"], "ms")
            lines.append(f"  pipeline {label} p50: {change}")
    old_chains = {(r["variant"], r["tracking"]): r for r in (old.get("hand") or {}).get("chains", [])}
    for run in (new.get("hand") or {}).get("chains", []):
        before = old_chains.get((run["variant"], run["tracking"]))
        if before is not None:
            lines.append(f"  hand chain {run['variant']} tracking {'on' if run['tracking'] else 'off'}: frame p50 "
                         f"{_change(before['per_frame_ms']['p50'], run['per_frame_ms']['p50'], 'ms')}, "
                         f"{_change(before['fps'], run['fps'], 'FPS', 1)}")
    for fact, read in ENVIRONMENT_FACTS.items():
        was, now = read(old.get("environment", {})), read(new.get("environment", {}))
        if was != now:
            lines.append(f"  environment: {fact} {was} -> {now}")
    return "\n".join(lines)
