"""Score spelling on recorded clips: what `asl-edge eval --videos` measures.

Each clip (clip_labels.py) is replayed through the hand chain and a fresh decoder (replay.spell_clip) and its
spelled letters are compared with the truth by Levenshtein alignment (asl_edge.metrics.align). Letter accuracy
is 1 - total distance / total truth letters (Google's 2023 fingerspelling competition metric).

Every error is blamed on the decoder or the classifier: the decoder's when the per-frame reading was right but
the letter was missed, doubled or invented, the classifier's when the per-frame reading was wrong. The
classifier *read* a letter when it was the top-1 (hand found) for a *held reading*: a stretch of the clip at
least READ_FRACTION of the clip's time per letter (its replayed duration / the truth's letters) and
READ_MIN_FRAMES frames, one-frame interruptions bridged (a frame is shown until the next one). A held reading
is what a signer's held letter gives; a glimpse shorter than that is what the classifier says while the
hand moves between letters (10-25 % of a letter's time in slow and sped-up clips alike), and no decoder
should spell it. The measure is relative, so the same frames give the same readings at any --speed.

In the alignment of the spelled letters to the truth, a truth letter deleted or replaced is the
classifier's error when it was never read, the decoder's when it was (a double letter needs its letter read
once); an inserted letter is the classifier's when it was read and is no letter of the word (the
classifier held a letter nobody signed, as long as signed letters are held), the decoder's otherwise (a
glimpse committed, a letter doubled).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from asl_edge.errors import AslEdgeError
from asl_edge.metrics import align
from asl_edge.preprocess import Roi
from asl_edge.runtime.hand.chain import HandChain
from asl_edge.runtime.hand.clip_labels import ClipLabel
from asl_edge.runtime.live.decoding import Decoder
from asl_edge.runtime.live.opencv_sources import VideoFileSource
from asl_edge.runtime.live.replay import NO_HAND, ClipTrace, spell_clip

READ_MIN_FRAMES = 2
READ_FRACTION = 0.25

Suggest = Callable[[str], "str | None"]  # spelled letters -> the suggested word (None: no suggestion)


def held_readings(trace: ClipTrace) -> list[tuple[int, int, int, float]]:
    """The clip's top-1 readings as (label, first frame, frames, seconds shown), one-frame interruptions
    bridged, a frame without a hand too (A A B A A is one A reading of 5 frames; A B A B stays four readings);
    longer stretches without a hand are no reading."""
    top1 = trace.top1.astype(np.int64)
    bridged = top1.copy()
    if len(top1) > 2:
        inner = (top1[:-2] == top1[2:]) & (top1[:-2] != NO_HAND)
        bridged[1:-1] = np.where(inner, top1[:-2], top1[1:-1])
    times, count = trace.times, len(bridged)
    readings = []
    start = 0
    for end in range(1, count + 1):
        if end < count and bridged[end] == bridged[start]:
            continue
        if bridged[start] != NO_HAND:
            readings.append((int(bridged[start]), start, end - start,
                             float(times[min(end, count - 1)] - times[start])))
        start = end
    return readings


def read_letters(trace: ClipTrace, labels: Sequence[str], letters: int, fraction: float = READ_FRACTION,
                 min_frames: int = READ_MIN_FRAMES) -> tuple[str, ...]:
    """The labels the classifier read in a clip of `letters` truth letters, in the order first read: a held
    reading (`held_readings`) of at least `min_frames` frames shown at least `fraction` x the clip's replayed
    seconds per letter (the last frame of the clip counts as shown until itself)."""
    min_s = fraction * trace.duration_s / max(letters, 1)
    held = (labels[label] for label, _, frames, shown in held_readings(trace)
            if frames >= min_frames and shown >= min_s)
    return tuple(dict.fromkeys(held))


@dataclass(frozen=True)
class ErrorSplit:
    """Edit errors of one or more clips, blamed on the decoder or the classifier (see the module docstring)."""

    decoder: int = 0
    classifier: int = 0

    def __add__(self, other: ErrorSplit) -> ErrorSplit:
        return ErrorSplit(self.decoder + other.decoder, self.classifier + other.classifier)

    @property
    def decoder_share(self) -> float | None:
        """The decoder's share of all errors (None when there is none)."""
        total = self.decoder + self.classifier
        return self.decoder / total if total else None


def split_errors(truth: str, spelled: str, read: Collection[str]) -> ErrorSplit:
    """Blame each edit of the alignment of `spelled` to `truth` (read: the letters the classifier read)."""
    decoder = classifier = 0
    for op in align(truth, spelled):
        if op.kind == "match":
            continue
        if op.truth is not None:
            blamed_on_classifier = truth[op.truth] not in read
        else:
            assert op.spelled is not None
            blamed_on_classifier = spelled[op.spelled] in read and spelled[op.spelled] not in truth
        classifier += blamed_on_classifier
        decoder += not blamed_on_classifier
    return ErrorSplit(decoder, classifier)


@dataclass
class ClipResult:
    """One clip: its row, what was spelled (None when the clip could not be decoded: `error` says why), the
    suggestion (None without a suggester or when it has none), the letters the classifier read (in the order
    first read), the frames decoded and the replayed seconds."""

    label: ClipLabel
    spelled: str | None
    suggestion: str | None = None
    read: str = ""
    frames: int = 0
    seconds: float = 0.0
    hand_found: float = 0.0  # share of the frames decoded with a hand found, 0..1
    error: str | None = None
    distance: int = 0
    errors: ErrorSplit = field(default_factory=ErrorSplit)
    matched: tuple[int, ...] = ()  # the indices of truth letters spelled in place (the alignment's matches)

    @property
    def ok(self) -> bool:
        return self.spelled is not None

    @property
    def accuracy(self) -> float | None:
        return None if self.spelled is None else 1.0 - self.distance / len(self.label.truth)

    @property
    def exact(self) -> bool:
        return self.spelled == self.label.truth

    @property
    def suggested_exact(self) -> bool:
        """The suggestion is the truth (or, with no suggestion, the raw letters are)."""
        return (self.suggestion if self.suggestion is not None else self.spelled) == self.label.truth

    @property
    def letter_spelled(self) -> bool:
        """A letter clip: its letter is among the letters spelled."""
        return self.spelled is not None and self.label.truth in self.spelled

    @property
    def only_letter(self) -> bool:
        """A letter clip: its letter was spelled exactly once and nothing else was."""
        return self.spelled == self.label.truth


def score_clip(label: ClipLabel, trace: ClipTrace, labels: Sequence[str],
               suggest: Suggest | None = None) -> ClipResult:
    """The result of one replayed clip (the decoder's text, spaces at either end dropped)."""
    spelled = trace.text.strip()
    ops = align(label.truth, spelled)
    read = read_letters(trace, labels, len(label.truth))
    return ClipResult(
        label, spelled, suggestion=suggest(spelled) if suggest is not None else None,
        read="".join(read),
        frames=len(trace.times), seconds=trace.duration_s, hand_found=float(np.mean(trace.top1 != NO_HAND)),
        distance=sum(op.kind != "match" for op in ops), errors=split_errors(label.truth, spelled, read),
        matched=tuple(op.truth for op in ops if op.kind == "match" and op.truth is not None))


@dataclass
class Tally:
    """Totals over a group of clips (all, a signer): clips scored, truth letters, total Levenshtein distance,
    words exact raw and suggested, the error split; for letter clips, how many spelled their letter and how
    many spelled only it."""

    clips: int = 0
    letters: int = 0
    distance: int = 0
    exact: int = 0
    suggested_exact: int = 0
    errors: ErrorSplit = field(default_factory=ErrorSplit)
    spelled: int = 0
    only: int = 0

    def add(self, result: ClipResult) -> None:
        self.clips += 1
        self.letters += len(result.label.truth)
        self.distance += result.distance
        self.exact += result.exact
        self.suggested_exact += result.suggested_exact
        self.errors += result.errors
        self.spelled += result.letter_spelled
        self.only += result.only_letter

    @property
    def accuracy(self) -> float:
        """1 - distance / letters (0 for no letters)."""
        return 1.0 - self.distance / self.letters if self.letters else 0.0


@dataclass
class VideoEvaluation:
    """Every clip's result, in labels.csv order, and the settings they were replayed with."""

    results: list[ClipResult]
    kind: str  # "word" or "letter"
    decoder: str
    speed: float = 1.0
    stride: int = 1
    suggester: bool = False
    max_frames: int | None = None  # only each clip's first N frames were read (None: all)

    @property
    def scored(self) -> list[ClipResult]:
        return [r for r in self.results if r.ok]

    @property
    def failed(self) -> list[ClipResult]:
        return [r for r in self.results if not r.ok]

    def total(self) -> Tally:
        return _tally(self.scored)

    def per_signer(self) -> dict[str, Tally]:
        """Signer -> tally, sorted by signer; empty when labels.csv has no signer column."""
        signers = sorted({r.label.signer for r in self.scored if r.label.signer})
        return {s: _tally(r for r in self.scored if r.label.signer == s) for s in signers}

    def per_letter(self) -> dict[str, LetterTally]:
        """Letter -> its tally over the truths of the scored clips, sorted by letter."""
        counts: dict[str, list[int]] = {}
        for result in self.scored:
            truth = result.label.truth
            for index, letter in enumerate(truth):
                row = counts.setdefault(letter, [0, 0, 0, 0])
                row[0] += 1
                row[1] += result.letter_spelled if self.kind == "letter" else index in result.matched
                row[2] += result.only_letter if self.kind == "letter" else 0
                row[3] += letter in result.read
        return {k: LetterTally(*v) for k, v in sorted(counts.items())}


class LetterTally(NamedTuple):
    """One letter over the truths: times in a truth; times spelled (word clips: in place, an alignment match;
    letter clips: among the letters spelled); letter clips that spelled only it; times the classifier read it."""

    truth: int
    spelled: int
    only: int
    read: int


def _tally(results: Iterable[ClipResult]) -> Tally:
    tally = Tally()
    for result in results:
        tally.add(result)
    return tally


def evaluate_videos(clips: Sequence[ClipLabel], chain: HandChain, new_decoder: Callable[[], Decoder],
                    decoder_name: str, speed: float = 1.0, stride: int = 1, suggest: Suggest | None = None,
                    fixed_box: Callable[[int, int], Roi] | None = None,
                    on_clip: Callable[[ClipResult], None] | None = None,
                    max_frames: int | None = None) -> VideoEvaluation:
    """Replay and score each clip with a new decoder (`new_decoder()`); a clip that cannot be decoded becomes
    a result with `error` set and the others are still scored. `on_clip` sees each result as it is made;
    `max_frames` limits each clip to its first N frames."""
    if not clips:
        raise AslEdgeError("no clips to evaluate")
    if speed <= 0 or stride < 1:  # checked here too: spell_clip's error would otherwise be blamed on each clip
        raise AslEdgeError(f"--speed {speed} must be positive and --stride {stride} at least 1")
    if max_frames is not None and max_frames < 1:  # likewise
        raise AslEdgeError(f"--max-frames {max_frames} must be at least 1")
    results = []
    for label in clips:
        try:
            trace = spell_clip(VideoFileSource(str(label.path), label.path), chain, new_decoder(), speed, stride,
                               fixed_box, max_frames)
            result = score_clip(label, trace, chain.labels, suggest)
        except AslEdgeError as exc:
            result = ClipResult(label, None, error=str(exc))
        results.append(result)
        if on_clip is not None:
            on_clip(result)
    return VideoEvaluation(results, clips[0].kind, decoder_name, speed, stride, suggest is not None, max_frames)
