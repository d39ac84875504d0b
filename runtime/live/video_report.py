"""What `eval --videos` prints and writes: the summary lines, spelling.json and spelling.md (pure formatting)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from asl_edge.runtime.live.video_eval import READ_FRACTION, READ_MIN_FRAMES, ClipResult, Tally, VideoEvaluation


def settings(decoder: str, speed: float = 1.0, stride: int = 1, max_frames: int | None = None) -> str:
    """e.g. "hold decoder, speed 6.7x, every 2nd frame, first 90 frames of each clip"."""
    parts = [f"{decoder} decoder"]
    if speed != 1.0:
        parts.append(f"speed {speed:g}x")
    if stride != 1:
        parts.append(f"every {_ordinal(stride)} frame")
    if max_frames is not None:
        parts.append(f"first {max_frames} frames of each clip")
    return ", ".join(parts)


def clip_line(result: ClipResult) -> str:
    """One line per clip as it is scored."""
    label = result.label
    if result.spelled is None:
        return f"{label.file}: {label.truth} -> not scored: {result.error}"
    suggestion = f", suggested {result.suggestion!r}" if result.suggestion is not None else ""
    nothing = ", no hand found in any frame" if result.frames and not result.hand_found else ""
    return (f"{label.file}: {label.truth} -> {result.spelled!r}{suggestion} (accuracy {result.accuracy:.2f}, "
            f"read {result.read or '-'}{nothing})")


def summary_lines(evaluation: VideoEvaluation) -> list[str]:
    total = evaluation.total()
    lines = [_tally_line("all", total, evaluation)]
    lines += [_tally_line(signer, tally, evaluation) for signer, tally in evaluation.per_signer().items()]
    for result in evaluation.failed:
        lines.append(f"not scored: {result.label.file} (labels.csv line {result.label.line}): {result.error}")
    return lines


def _tally_line(name: str, tally: Tally, evaluation: VideoEvaluation) -> str:
    errors = tally.errors
    share = errors.decoder_share
    split = (f"errors {errors.decoder} decoder / {errors.classifier} classifier"
             + (f" (decoder {share:.0%})" if share is not None else ""))
    if evaluation.kind == "letter":
        return (f"{name}: letter spelled {tally.spelled}/{tally.clips}, only it {tally.only}/{tally.clips}, "
                f"letter accuracy {tally.accuracy:.3f}, {split}")
    suggested = f" ({tally.suggested_exact}/{tally.clips} taking the suggestions)" if evaluation.suggester else ""
    return (f"{name}: letter accuracy {tally.accuracy:.3f} ({tally.letters - tally.distance} of {tally.letters} "
            f"letters net), words exact {tally.exact}/{tally.clips}{suggested}, {split}")


def _tally_dict(tally: Tally, kind: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "clips": tally.clips, "letters": tally.letters, "distance": tally.distance,
        "letter_accuracy": tally.accuracy, "decoder_errors": tally.errors.decoder,
        "classifier_errors": tally.errors.classifier, "decoder_share": tally.errors.decoder_share}
    if kind == "letter":
        data.update(letter_spelled=tally.spelled, only_letter=tally.only)
    else:
        data.update(words_exact=tally.exact, words_exact_suggested=tally.suggested_exact)
    return data


def to_dict(evaluation: VideoEvaluation, context: dict[str, Any]) -> dict[str, Any]:
    """spelling.json: `context` (model, folder, ...), the settings, totals, per signer, per letter, per clip."""
    kind = evaluation.kind
    return {
        **context, "kind": kind, "decoder": evaluation.decoder, "speed": evaluation.speed,
        "stride": evaluation.stride, "max_frames": evaluation.max_frames, "suggester": evaluation.suggester,
        "metric": "letter accuracy = 1 - total Levenshtein distance / total truth letters",
        "total": _tally_dict(evaluation.total(), kind),
        "per_signer": {s: _tally_dict(t, kind) for s, t in evaluation.per_signer().items()},
        "per_letter": {k: {"truth": t.truth, "spelled": t.spelled, "read": t.read,
                           **({"only": t.only} if kind == "letter" else {})}
                       for k, t in evaluation.per_letter().items()},
        "clips": [{"file": r.label.file, "line": r.label.line, "truth": r.label.truth, "signer": r.label.signer,
                   **({"motion": r.label.motion} if kind == "letter" else {}),
                   "spelled": r.spelled, "suggestion": r.suggestion, "letter_accuracy": r.accuracy,
                   "distance": r.distance, "decoder_errors": r.errors.decoder,
                   "classifier_errors": r.errors.classifier, "read": r.read, "frames": r.frames,
                   "seconds": round(r.seconds, 3), "hand_found": round(r.hand_found, 3), "error": r.error}
                  for r in evaluation.results],
    }


def markdown(evaluation: VideoEvaluation, title: str) -> str:
    """spelling.md: the totals per signer, then one row per clip, then per letter."""
    letter = evaluation.kind == "letter"
    how = settings(evaluation.decoder, evaluation.speed, evaluation.stride, evaluation.max_frames)
    lines = [f"# {title}", "", f"{how}. Letter accuracy = 1 - total Levenshtein distance / total truth letters "
             "(below 0 where more letters are spelled than signed). "
             "An error is the classifier's when the per-frame reading was wrong: a truth letter missed that was "
             "never its top-1 (hand found) for a held reading (at least "
             f"{READ_FRACTION:.0%} of the clip's time per letter and {READ_MIN_FRAMES} frames), or a letter "
             "invented that it held that long and is not in the word; every other error is the decoder's.", ""]
    if letter:
        lines += ["| signer | clips | letter spelled | only it | letter accuracy | decoder errors | "
                  "classifier errors |", "|---|---:|---:|---:|---:|---:|---:|"]
    else:
        lines += ["| signer | clips | letter accuracy | words exact | words exact, taking the suggestions | "
                  "decoder errors | classifier errors |", "|---|---:|---:|---:|---:|---:|---:|"]
    groups = [*evaluation.per_signer().items(), ("**all**", evaluation.total())]
    for name, t in groups:
        middle = (f"{t.spelled} | {t.only} | {t.accuracy:.3f}" if letter else
                  f"{t.accuracy:.3f} | {t.exact} | {t.suggested_exact if evaluation.suggester else '-'}")
        lines.append(f"| {name} | {t.clips} | {middle} | {t.errors.decoder} | {t.errors.classifier} |")
    lines += ["", "| file | signer | truth | spelled | suggestion | accuracy | decoder | classifier | read | "
              "hand found |", "|---|---|---|---|---|---:|---:|---:|---|---:|"]
    for r in evaluation.results:
        if r.spelled is None:
            lines.append(f"| {r.label.file} | {r.label.signer} | {r.label.truth} | not scored: {r.error} "
                         "| | | | | | |")
            continue
        lines.append(f"| {r.label.file} | {r.label.signer} | {r.label.truth} | `{r.spelled}` | "
                     f"{r.suggestion or ''} | {r.accuracy:.2f} | {r.errors.decoder} | {r.errors.classifier} | "
                     f"{r.read} | {r.hand_found:.0%} |")
    lines += ["", "| letter | in the truth | read by the classifier | spelled" + (" | only it |" if letter else
                                                                            " in place |"),
              "|---|---:|---:|---:" + ("|---:|" if letter else "|")]
    for name, row in evaluation.per_letter().items():
        lines.append(f"| {name} | {row.truth} | {row.read} | {row.spelled}" + (f" | {row.only} |" if letter else " |"))
    return "\n".join(lines) + "\n"


def plot_series(evaluation: VideoEvaluation) -> tuple[list[str], dict[str, Sequence[float]]]:
    """The per-letter PNG's bars: letters, and per series the share 0..1 of each letter's clips or occurrences."""
    per_letter = evaluation.per_letter()
    letters = list(per_letter)
    read = [t.read / t.truth for t in per_letter.values()]
    if evaluation.kind == "letter":
        return letters, {"read by the classifier": read,
                         "letter spelled": [t.spelled / t.truth for t in per_letter.values()],
                         "only it": [t.only / t.truth for t in per_letter.values()]}
    return letters, {"read by the classifier": read,
                     "spelled in place": [t.spelled / t.truth for t in per_letter.values()]}


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
