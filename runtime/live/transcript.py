"""The whole spelled text in a file (`--transcript FILE`), while the screen and memory keep only its tail.

The file is appended to: an earlier run's text stays, and this run's text starts on a line of its own.
Text that has scrolled off the Speller (spelling.TEXT_LIMIT characters back) is final and written once;
the tail that `del` may still change is rewritten in place after each commit (seek, write, truncate,
flush), so the file always holds the full text so far, a crash loses nothing, and each commit costs at
most TEXT_LIMIT bytes of writing whatever the run's length. (An atomic rename of the whole file would
cost its whole length per commit.) Characters are written as UTF-8.

`--transcript -` writes to standard output instead (StreamTranscript). A pipe cannot be rewritten, so it
gets only text that can no longer change: what scrolls off, and each line when it ends (the text cleared,
or the run's end).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, TextIO

from asl_edge.artifacts import write_error
from asl_edge.errors import AslEdgeError


def remove_if_empty(path: Path) -> None:
    """Remove a file that a failed run created and left empty (a full drive, an error before the first letter):
    an empty transcript or events file would read as a run that spelled nothing. Anything but a regular file
    (/dev/full) is left alone."""
    with contextlib.suppress(OSError):
        if path.is_file() and path.stat().st_size == 0:
            path.unlink()


class Transcript:
    """Append-only at the front, rewritable tail; `close()` ends this run's line. Raises AslEdgeError when
    the file cannot be written."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise AslEdgeError(f"--transcript {self.path} is a folder; pass a file name, e.g. {self.path}/spelled.txt")
        # a file this run creates is removed again if the run fails before anything reaches it
        self._created = not os.path.lexists(self.path)
        self._failed = False
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise AslEdgeError(f"cannot write the transcript {self.path}: {exc.strerror}; choose another "
                               "--transcript path") from None
        self._file: BinaryIO = os.fdopen(fd, "r+b")
        self.closed = False
        try:
            with self._writing():
                end = self._file.seek(0, os.SEEK_END)
                if end:
                    self._file.seek(end - 1)
                    if self._file.read(1) != b"\n":
                        self._file.write(b"\n")  # this run starts on a line of its own
                self._final = self._file.tell()  # bytes that will not change again
        except AslEdgeError:
            self.closed = True
            self._release()
            raise

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """A failed write (a full disk mid-run) names the transcript, not "a file"."""
        try:
            yield
        except OSError as exc:
            self._failed = True
            raise write_error(self.path, exc, what="the transcript ") from None

    def scroll(self, chars: str) -> None:
        """Text that can no longer change: written once, after what is final already."""
        with self._writing():
            self._file.seek(self._final)
            self._file.write(chars.encode())
            self._final = self._file.tell()

    def update(self, tail: str) -> None:
        """The text that may still change (the Speller's `text`), after the final part; flushed to the file."""
        with self._writing():
            self._file.seek(self._final)
            self._file.write(tail.encode())
            self._file.truncate()
            self._file.flush()

    def end_line(self, tail: str, suggested: str | None = None) -> None:
        """The tail is final (the text was cleared, or the run ends): written with a line break if not empty,
        followed on the same line by `suggested` (the text with the suggested words) when there is one."""
        if tail:
            self.scroll(tail + (f"\t(suggested: {suggested})" if suggested else "") + "\n")
        self.update("")

    def close(self, tail: str = "", run_failed: bool = False) -> None:
        """End this run's line and close the file. After a failed write, or with `run_failed`, a file this run
        created that is still empty is removed."""
        if self.closed:
            return
        self.closed = True
        try:
            if not self._failed:  # after a failed write the drive is still full, and that error is out already
                self.end_line(tail)
        finally:
            self._release(run_failed)

    def _release(self, run_failed: bool = False) -> None:
        """Close the file. What a failed write left buffered cannot reach the drive either, and its error was
        raised already."""
        failed = self._failed
        try:
            with self._writing():
                self._file.close()
        except AslEdgeError:
            if not failed:
                raise
        finally:
            if (self._failed or run_failed) and self._created:
                remove_if_empty(self.path)


class StreamTranscript(Transcript):
    """The transcript on a text stream (standard output for `--transcript -`): final text only, flushed as it
    becomes final; the stream is not closed. Raises AslEdgeError when the stream cannot be written."""

    def __init__(self, stream: TextIO) -> None:  # no super().__init__(): there is no file to open or seek in
        self.path = Path("-")
        self._stream = stream
        self._failed = False
        self.closed = False

    def scroll(self, chars: str) -> None:
        with self._writing():
            self._stream.write(chars)
            self._stream.flush()

    def update(self, tail: str) -> None:
        """Nothing: the tail may still change (`del`), and what was written to a pipe cannot be taken back."""

    def close(self, tail: str = "", run_failed: bool = False) -> None:
        if not self.closed:
            self.end_line(tail)
            self.closed = True
