"""A signer's own J and Z thresholds, fitted from the strokes `asl-edge collect` recorded (a motion profile).

The default thresholds of `MotionLetters` are about half the smallest stroke in the development clips (motion.py).
A profile applies the same rule to one signer's strokes: per threshold, half the smallest measure of their strokes
(`motion.stroke_measures`), clamped to [FLOOR, CEILING] x the default. The floor keeps a threshold well clear of what
a still hand's jitter reaches (the defaults fire on none of the dev set's 150 held-letter clips; 0.6 x them is what
collect itself requires of a stroke, so every collected stroke clears it); the ceiling keeps a signer who drew large,
slow strokes for collect from missing the smaller ones of natural-speed spelling. The window is stretched to 1.25 x
the signer's longest stroke (at most MAX_WINDOW_S) so a slow drawer's stroke fits in it. Every stroke is then replayed
through the fitted detector and the profile records which ones it reads.

The profile file, `motion.json` in the personalised run's folder (beside model.onnx, its fp16/int8 variants and
their engines), is JSON:
    format "asl-edge-motion-profile", version 1, created (UTC), asl_edge_version, data (the collect folder),
    thresholds {name: value} (MotionConfig fields: the FITTED ones and window_s required, the others stay at their
    defaults), defaults {name: value},
    rule (in words), strokes [{file (relative to data), sha256, letter, measures, read}]
`run`, `demo` and `eval --videos` read it from `--motion-profile FILE`, else MODEL.motion.json beside the model, else
motion.json in the model's folder, else (an engine from the engine cache) beside the ONNX file its manifest names
(`find_profile`). No I/O but reading strokes, engine manifests and reading/writing that file.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from asl_edge import __version__
from asl_edge.artifacts import atomic_write_json, sha256_file
from asl_edge.errors import AslEdgeError, DataError
from asl_edge.runtime.backends.tensorrt.manifest import read_manifest
from asl_edge.runtime.hand.strokes import STROKE_SUFFIX, Stroke, read_strokes
from asl_edge.runtime.live.motion import MotionConfig, MotionLetters, stroke_measures

PROFILE_FORMAT = "asl-edge-motion-profile"
PROFILE_VERSION = 1
PROFILE_FILE = "motion.json"
SIDECAR_SUFFIX = ".motion.json"
NO_PROFILE = "none"  # --motion-profile none: the default thresholds even with a profile beside the model

SHARE = 0.5  # of the smallest stroke measure, as the defaults were set
FLOOR, CEILING = 0.6, 1.5  # x the default threshold
WINDOW_STRETCH = 1.25  # x the longest stroke
MAX_WINDOW_S = 3.0
MAX_THRESHOLD = 20.0  # palm sizes or seconds: anything above is not a threshold a profile could mean
# threshold -> (letter, measure of `stroke_measures`)
FITTED = {"j_descent": ("J", "descent"), "j_rise": ("J", "rise"), "j_side": ("J", "side"),
          "z_leg": ("Z", "leg"), "z_drop": ("Z", "drop")}
DEFAULTS = MotionConfig()
RULE = (f"each threshold {SHARE:g} x the smallest measure of the signer's strokes, clamped to {FLOOR:g}-{CEILING:g} x "
        f"the default; window {WINDOW_STRETCH:g} x the longest stroke, {DEFAULTS.window_s:g}-{MAX_WINDOW_S:g} s")
# What collect asks of a stroke: the fit's floor (so every collected stroke clears any fitted threshold) and the
# longest window a profile may have (so a slow drawer's stroke is recorded, and then fitted).
COLLECT_MOTION = replace(DEFAULTS, window_s=MAX_WINDOW_S,
                         **{name: FLOOR * getattr(DEFAULTS, name) for name in FITTED})


@dataclass(frozen=True)
class StrokeRecord:
    file: str
    sha256: str
    letter: str
    measures: dict[str, float] | None  # None: no stroke shape found in it (left out of the fit)
    read: bool  # the fitted detector reads it as its letter


@dataclass(frozen=True)
class MotionProfile:
    config: MotionConfig
    strokes: list[StrokeRecord] = field(default_factory=list)
    data: str = ""
    path: Path | None = None  # where it was read from

    @property
    def thresholds(self) -> dict[str, float]:
        return {name: getattr(self.config, name) for name in (*FITTED, "window_s")}

    def describe(self) -> str:
        counts = {letter: sum(r.letter == letter for r in self.strokes) for letter in "JZ"}
        fitted = " and ".join(f"{letter} from {n} stroke{'s' if n != 1 else ''}" for letter, n in counts.items() if n)
        return f"J and Z thresholds fitted to your strokes ({fitted or 'none'})"

    def save(self, path: str | os.PathLike[str]) -> Path:
        out = Path(path)
        atomic_write_json(out, {
            "format": PROFILE_FORMAT, "version": PROFILE_VERSION,
            "created": _utc_now(), "asl_edge_version": __version__, "data": self.data,
            "thresholds": self.thresholds,
            "defaults": {name: getattr(DEFAULTS, name) for name in self.thresholds},
            "rule": RULE, "strokes": [dataclasses.asdict(record) for record in self.strokes]})
        return out


def _utc_now() -> str:
    import datetime as dt

    return dt.datetime.now(dt.timezone.utc).isoformat()


def measure(stroke: Stroke) -> dict[str, float] | None:
    """The stroke's measures (motion.stroke_measures) from its start (as collect's detector saw it: the lead before
    it, the hand rising into view say, does not count) to the end of the recording, which includes the tail collect
    records after its looser detector fired mid-stroke. A J whose hand drops after the hook (its lowest point then
    at the end) is measured up to the detected end instead."""
    measured = None
    for end in (np.inf, stroke.end):
        keep = (stroke.times >= stroke.start - 1e-6) & (stroke.times <= end + 1e-6)
        measured = stroke_measures(stroke.letter, stroke.times[keep], stroke.landmarks[keep],
                                   stroke.handedness[keep], stroke.found[keep])
        if measured is not None:
            break
    return measured


def reads(config: MotionConfig, stroke: Stroke) -> bool:
    """Whether a detector with `config` reports the stroke's letter when its whole trajectory is replayed."""
    detector = MotionLetters(config)
    return any(found is not None and found.letter == stroke.letter
               for found in (detector.update(points if hand else None, float(right), float(t))
                             for points, right, hand, t in zip(stroke.landmarks, stroke.handedness, stroke.found,
                                                                stroke.times, strict=True)))


def fit_config(measured: list[tuple[str, dict[str, float]]]) -> MotionConfig:
    """The thresholds the module docstring's rule gives for (letter, measures) pairs; a letter without strokes
    keeps its defaults."""
    values: dict[str, float] = {}
    for name, (letter, key) in FITTED.items():
        sizes = [m[key] for stroke_letter, m in measured if stroke_letter == letter]
        if sizes:
            default = getattr(DEFAULTS, name)
            values[name] = float(min(max(SHARE * min(sizes), FLOOR * default), CEILING * default))
    longest = max((m["duration_s"] for _, m in measured), default=0.0)
    values["window_s"] = float(min(max(DEFAULTS.window_s, WINDOW_STRETCH * longest), MAX_WINDOW_S))
    return replace(DEFAULTS, **values)


def fit_profile(folder: str | os.PathLike[str]) -> MotionProfile | None:
    """The motion profile of a collect folder's strokes (strokes/J, strokes/Z); None when it has none. DataError
    naming a stroke file that cannot be read."""
    strokes = read_strokes(folder)
    if not strokes:
        return None
    measured = [(path, stroke, measure(stroke)) for path, stroke in strokes]
    config = fit_config([(stroke.letter, m) for _, stroke, m in measured if m is not None])
    records = [StrokeRecord(path.relative_to(folder).as_posix(), sha256_file(path), stroke.letter, m,
                            reads(config, stroke)) for path, stroke, m in measured]
    return MotionProfile(config, records, str(folder))


def fit_notes(profile: MotionProfile) -> list[str]:
    """One line per stroke the fit could not use or the fitted thresholds do not read (for the user to redo)."""
    notes = [f"{r.file}: no {r.letter} stroke found in it, left out of the fit (record it again)"
             for r in profile.strokes if r.measures is None]
    notes += [f"{r.file}: the fitted thresholds do not read it as {r.letter} (its handshape or a gap without a hand); "
              "record it again" for r in profile.strokes if r.measures is not None and not r.read]
    return notes


PERSONALISE = "asl-edge train --init-from asl_edge/assets/asl_landmarks.onnx --data mysigns/ --out runs/mine"


def profile_fix(path: str | os.PathLike[str], given: bool) -> str:
    """What to do about a profile that cannot be used. One the user named is theirs to replace, not to delete; one
    found beside the model is read on every run until `--motion-profile none` (or a rewrite) says otherwise."""
    if given:
        return (f"pass a motion.json written by `{PERSONALISE}` (runs/mine/motion.json), or `--motion-profile "
                f"{NO_PROFILE}` for the default thresholds")
    return (f"it was found beside the model: pass `--motion-profile {NO_PROFILE}` to ignore it and use the default "
            f"thresholds, or personalise again to rewrite it (`{PERSONALISE}`)")


def load_profile(path: str | os.PathLike[str], given: bool = True) -> MotionProfile:
    """A motion profile file; DataError naming it, with a fix, when it is unreadable, foreign, of another version,
    incomplete or out of range. `given`: named by --motion-profile (else found beside the model), for the fix."""
    fix = profile_fix(path, given)
    if str(path).endswith(STROKE_SUFFIX):
        raise DataError(f"{path} is a stroke file (one J or Z that `asl-edge collect` recorded), not a motion "
                        f"profile; {fix}")
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # UnicodeDecodeError is a ValueError: a binary file
        raise DataError(f"cannot read motion profile {path} ({exc}); {fix}") from None
    if not isinstance(data, dict) or data.get("format") != PROFILE_FORMAT:
        raise DataError(f"{path} is not an asl-edge motion profile; {fix}")
    version = data.get("version")
    # bool is an int to Python, and "1" is not what save() writes: neither is a version.
    if isinstance(version, bool) or not isinstance(version, int):
        raise DataError(f"{path} has no valid version (an integer; this asl-edge writes {PROFILE_VERSION}); {fix}")
    if version < 1:
        raise DataError(f"{path} is motion profile version {version}, not a profile this asl-edge wrote; {fix}")
    if version > PROFILE_VERSION:
        raise DataError(f"{path} is motion profile version {version}, newer than this asl-edge reads "
                        f"({PROFILE_VERSION}); upgrade asl-edge, or {fix}")
    thresholds = data.get("thresholds")
    known = {f.name for f in dataclasses.fields(MotionConfig)}
    if not isinstance(thresholds, dict):
        raise DataError(f"{path} has no thresholds; {fix}")
    for name, value in thresholds.items():
        if name not in known:
            raise DataError(f"{path}: unknown threshold {name!r} (known: {', '.join(sorted(known))}); {fix}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or not 0 < value <= MAX_THRESHOLD:
            raise DataError(f"{path}: threshold {name} = {value!r} must be a number in (0, {MAX_THRESHOLD:g}]; {fix}")
    # A profile without one of them would silently run that threshold at its default while claiming to be fitted.
    missing = [name for name in (*FITTED, "window_s") if name not in thresholds]
    if missing:
        raise DataError(f"{path} has no threshold {', '.join(missing)} (a profile has all of "
                        f"{', '.join((*FITTED, 'window_s'))}); {fix}")
    records = [StrokeRecord(**r) for r in data.get("strokes") or [] if isinstance(r, dict)
               and set(r) == {f.name for f in dataclasses.fields(StrokeRecord)}]
    return MotionProfile(replace(DEFAULTS, **{k: float(v) for k, v in thresholds.items()}), records,
                         str(data.get("data", "")), Path(path))


def find_profile(model: str | os.PathLike[str], option: str | os.PathLike[str] | None = None) -> Path | None:
    """Where the motion profile for `model` is, first found of: `option` (--motion-profile; "none" for none),
    MODEL.motion.json beside the model, motion.json in the model's folder (a personalised run's, shared by its
    ONNX variants and engines), and for a TensorRT engine the same beside the ONNX file its manifest says it was
    built from. DataError for an `option` that names no file."""
    if option is not None:
        if str(option) == NO_PROFILE:
            return None
        if Path(option).is_dir():
            inside = Path(option) / PROFILE_FILE
            hint = (f"pass --motion-profile {inside}" if inside.is_file()
                    else f"pass the motion.json inside a run folder `{PERSONALISE}` wrote, e.g. --motion-profile "
                         "runs/mine/motion.json")
            raise DataError(f"--motion-profile {option} is a folder, not a profile file; {hint}, or "
                            f"--motion-profile {NO_PROFILE} for the default thresholds")
        if not Path(option).is_file():
            raise DataError(f"--motion-profile {option}: no such file; {profile_fix(option, given=True)}")
        return Path(option)
    for candidate in (Path(model).with_suffix(SIDECAR_SUFFIX), Path(model).parent / PROFILE_FILE):
        if candidate.is_file():
            return candidate
    for source in _engine_sources(model):
        if (found := find_profile(source)) is not None:
            return found
    return None


def _engine_sources(model: str | os.PathLike[str]) -> list[Path]:
    """The ONNX files a TensorRT engine was built from, as its manifest records them (an engine in the engine
    cache sits far from the run folder that holds its motion.json); none for anything else or an unreadable
    manifest."""
    if Path(model).suffix != ".engine":
        return []
    try:
        manifest = read_manifest(model)
    except AslEdgeError:
        return []  # loading the engine says what is wrong with its manifest
    return [Path(p) for p in (manifest.onnx_path, manifest.source_onnx_path) if p and Path(p).suffix == ".onnx"]


def profile_for(model: str | os.PathLike[str], option: str | os.PathLike[str] | None = None) -> MotionProfile | None:
    """The motion profile `find_profile` finds for the model, loaded; None for the default thresholds."""
    path = find_profile(model, option)
    return None if path is None else load_profile(path, given=option is not None)
