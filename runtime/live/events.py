"""What was spelled, as it happens, for other programs: one JSON line per event (`run --events FILE|-`).

Each line is an object with `type` ("letter", "word_end" or "suggestion"), `time` (seconds of source time:
container time for files, the monotonic clock for cameras; see frames.py), `label` (the letter, the word
that ended, or the suggested word) and `confidence` (0..1). A suggestion line also carries `raw`, the
letters it was suggested for. Lines are flushed as they are written, so a speech synthesiser, a chat client
or a robot reading the file or pipe follows along without waiting for the run to end.

Each run first writes a `run_start` line, so runs appended to one file can be told apart: `type`
"run_start", `time` (the wall clock when the run started, ISO 8601 with its UTC offset: the source's clock
has not started yet), `source` (as given), `decoder` (the one that runs: "fingerspelling" or "hold") and
`model` (its path).
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import NamedTuple, TextIO

from asl_edge.artifacts import write_error
from asl_edge.errors import AslEdgeError
from asl_edge.runtime.live.transcript import remove_if_empty

EVENT_TYPES = ("letter", "word_end", "suggestion")


class SpellingEvent(NamedTuple):
    """One event; see the module docstring for the fields."""

    type: str
    time: float
    label: str
    confidence: float
    raw: str | None = None

    def to_json(self) -> str:
        record = {"type": self.type, "time": round(self.time, 4), "label": self.label,
                  "confidence": round(float(self.confidence), 4)}
        if self.raw is not None:
            record["raw"] = self.raw
        return json.dumps(record)


class EventWriter:
    """Writes events to a file (appended to) or to standard output ("-"; `stdout`, when given, stands for it).
    Raises AslEdgeError when the file cannot be opened or written."""

    def __init__(self, target: str | os.PathLike[str], stdout: TextIO | None = None) -> None:
        self.target = str(target)
        self._own = self.target != "-"
        if self._own and Path(self.target).is_dir():
            raise AslEdgeError(f"--events {self.target} is a folder; pass a file name, e.g. "
                               f"{self.target}/events.jsonl, or - for standard output")
        # a file this run creates is removed again if the run fails before anything reaches it
        self._created = self._own and not os.path.lexists(self.target)
        self._failed = False
        try:
            self._file: TextIO = (open(self.target, "a", encoding="utf-8") if self._own  # noqa: SIM115
                                  else stdout or sys.stdout)
        except OSError as exc:
            raise AslEdgeError(f"cannot write the events file {self.target}: {exc.strerror}; choose another "
                               "--events path, or - for standard output") from None

    def __call__(self, event: SpellingEvent) -> None:
        self._write(event.to_json())

    def run_start(self, source: str, decoder: str, model: str) -> None:
        """The `run_start` line (see the module docstring)."""
        started = datetime.now().astimezone().isoformat(timespec="milliseconds")
        self._write(json.dumps({"type": "run_start", "time": started, "source": source, "decoder": decoder,
                                "model": model}))

    def _write(self, line: str) -> None:
        try:
            self._file.write(line + "\n")
            self._file.flush()
        except OSError as exc:
            self._failed = True
            raise write_error(Path(self.target), exc, what="the events file ") from None

    def close(self, run_failed: bool = False) -> None:
        """Close the file. What a failed write left buffered cannot reach the drive either, and its error was
        raised already. After a failed write, or with `run_failed`, a file this run created that is still empty
        is removed."""
        if not self._own or self._file.closed:
            return
        failed = self._failed
        try:
            self._file.close()  # flushes, and closes the file even when that fails
        except OSError as exc:
            self._failed = True
            if not failed:
                raise write_error(Path(self.target), exc, what="the events file ") from None
        finally:
            if (self._failed or run_failed) and self._created:
                remove_if_empty(Path(self.target))
