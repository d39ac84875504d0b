"""The export report: one row per precision (file size, top-1, difference from and agreement with FP32),
plus where the numbers come from. Rendered for the console, as Markdown and as JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

COLUMNS = ("precision", "file", "size", "top-1", "max prob diff vs fp32", "top-1 agreement vs fp32",
           "top-1 ORT CPU kernels")


@dataclass(frozen=True)
class PrecisionResult:
    precision: str
    file: str
    size_bytes: int
    sha256: str
    top1: float
    max_prob_diff_vs_fp32: float
    agreement_vs_fp32: float
    # The same file under ONNX Runtime's fully optimised CPU kernels (see asl_edge.export.evaluate).
    top1_ort_cpu: float
    # A personalised landmarks model: top-1 on each hold-out its validation set mixes (name -> top-1).
    top1_parts: dict[str, float] = field(default_factory=dict)
    # Operators ONNX Runtime's CPU provider executes after optimisation, e.g. {"QLinearConv": 3, ...}.
    executed_operators: dict[str, int] = field(default_factory=dict)

    def cells(self) -> tuple[str, ...]:
        return (self.precision, self.file, f"{self.size_bytes / 1e6:.2f} MB", f"{self.top1:.2%}",
                f"{self.max_prob_diff_vs_fp32:.2e}", f"{self.agreement_vs_fp32:.2%}", f"{self.top1_ort_cpu:.2%}")


@dataclass
class ExportReport:
    checkpoint: str
    arch: str
    exporter: str
    opset: int
    simplified: bool
    # Dataset, split and number of validation images the rows were measured on.
    evaluation: dict[str, Any]
    # PyTorch against the FP32 graph on the same validation images.
    parity: dict[str, Any]
    pytorch_top1: float
    # Method, image count and source (the training split) of the INT8 calibration; empty without INT8.
    calibration: dict[str, Any] = field(default_factory=dict)
    results: list[PrecisionResult] = field(default_factory=list)
    # sha256 of the checkpoint file every ONNX file of this export was made from (also in their metadata).
    checkpoint_sha256: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["results"] = [asdict(r) for r in self.results]
        return data

    def _rows(self) -> list[tuple[str, ...]]:
        return [r.cells() for r in self.results]

    def table(self) -> str:
        """A plain-text table for the console."""
        rows = [COLUMNS, *self._rows()]
        widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
        lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
                 for row in rows]
        lines.insert(1, "  ".join("-" * width for width in widths))
        return "\n".join(lines)

    def summary_lines(self) -> list[str]:
        ev, parity = self.evaluation, self.parity
        lines = [
            f"checkpoint: {self.checkpoint} ({self.arch}, sha256 {self.checkpoint_sha256}); "
            f"exporter {self.exporter}, opset {self.opset}"
            f"{', simplified with onnxslim' if self.simplified else ''}",
            f"evaluated with ONNX Runtime (CPU) on {ev['images']} validation "
            f"{'samples' if ev.get('parts') else 'images'} of {ev['data']} ({ev['split']}); PyTorch top-1 "
            f"{self.pytorch_top1:.2%}" + (" (the top-1 column: " + " + ".join(
                f"{n} {name}" for name, n in ev["parts"].items()) + ", together)" if ev.get("parts") else ""),
            "top-1 and the fp32 comparisons run each graph as specified (what TensorRT computes); the last column "
            "is ONNX Runtime's optimised CPU kernels, which can saturate on INT8 without VNNI",
            f"parity PyTorch vs FP32 ONNX: max |diff| {parity['max_abs_diff']:.2e} (tolerance "
            f"{parity['tolerance']:g}), top-1 agreement {parity['top1_agreement']:.2%}",
        ]
        for name, count in ev.get("parts", {}).items():
            # The top-1 column is over both hold-outs together; each one on its own, as training reported them.
            lines.append(f"top-1 on {name} alone ({count}): " + ", ".join(
                f"{r.precision} {r.top1_parts[name]:.2%}" for r in self.results if name in r.top1_parts))
        if self.calibration:
            cal = self.calibration
            lines.append(f"INT8 calibration: {cal['method']} on {cal['images']} images ({cal['per_class']} per "
                         f"class) drawn evenly from the training split, not the validation images"
                         f"{'; 7-bit weights (reduce range)' if cal.get('reduce_range') else ''}")
        return lines

    def console(self) -> str:
        return "\n".join([*self.summary_lines(), "", self.table()])

    def markdown(self) -> str:
        header = "| " + " | ".join(COLUMNS) + " |"
        rule = "|---|---|---:|---:|---:|---:|---:|"
        rows = ["| " + " | ".join(cells) + " |" for cells in self._rows()]
        notes = [f"- {line}" for line in self.summary_lines()]
        kernels = [f"- {r.precision} runs on ONNX Runtime CPU as: "
                   + ", ".join(f"{op} x{n}" for op, n in r.executed_operators.items())
                   for r in self.results if r.executed_operators]
        return "\n".join(["# Export report", "", header, rule, *rows, "", *notes, *kernels]) + "\n"
