"""asl_edge.progress: plain periodic lines outside a terminal, nothing for quick work, a bar on a terminal."""

from __future__ import annotations

import io
import os
import pty

import pytest

from asl_edge.progress import Progress, track


class Clock:
    """A clock the test advances, so the timing rules are checked without sleeping."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_log_file_gets_about_ten_whole_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ASL_EDGE_PROGRESS", raising=False)
    log, clock = io.StringIO(), Clock()
    with Progress(1000, "eval", unit="image", file=log, clock=clock) as progress:
        assert progress.mode == "plain"  # a StringIO is not a terminal
        for _ in range(1000):
            clock.now += 0.1  # 100 s of work
            progress.update()
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue()
    assert 9 <= len(lines) <= 12, lines
    assert lines[0].startswith("eval: 100/1000 images (10%)") and "s left" in lines[0]
    assert lines[-1].startswith("eval: 1000/1000 images (100%) done"), lines[-1]


def test_quick_work_prints_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ASL_EDGE_PROGRESS", raising=False)
    log, clock = io.StringIO(), Clock()
    for _ in track(range(500), "loading", file=log, clock=clock):
        clock.now += 0.001
    assert log.getvalue() == ""


def test_unknown_totals_and_slow_steps_print_every_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ASL_EDGE_PROGRESS", raising=False)
    log, clock = io.StringIO(), Clock()
    with Progress(None, "connecting", file=log, clock=clock, every_s=30) as progress:
        for _ in range(10):
            clock.now += 10
            progress.set_postfix(tries=progress.count + 1)
            progress.update()
    lines = log.getvalue().splitlines()
    assert len(lines) == 4, lines  # at 30, 60, 90 s, then the summary
    assert lines[0].startswith("connecting: 3 it, 30 s") and "tries 3" in lines[0]


def test_off_and_the_environment_override(monkeypatch: pytest.MonkeyPatch) -> None:
    log, clock = io.StringIO(), Clock()
    with Progress(10, "quiet", file=log, clock=clock, mode="off") as progress:
        clock.now += 100
        progress.update(10)
    assert log.getvalue() == ""
    monkeypatch.setenv("ASL_EDGE_PROGRESS", "off")
    with Progress(10, "also quiet", file=log, clock=clock) as progress:
        clock.now += 100
        progress.update(10)
    assert log.getvalue() == ""


def test_a_terminal_gets_a_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("tqdm")
    monkeypatch.delenv("ASL_EDGE_PROGRESS", raising=False)
    leader, follower = pty.openpty()
    with os.fdopen(follower, "w") as terminal:
        progress = Progress(5, "epoch 1/1", file=terminal)
        assert progress.mode == "bar"
        progress.update(5)
        progress.close()
    os.close(leader)


def test_the_unit_is_plural_for_any_count_but_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ASL_EDGE_PROGRESS", raising=False)
    for total, unit, expected in ((1, "clip", "spelling: 1/1 clip (100%)"), (3, "clip", "spelling: 1/3 clips (33%)"),
                                  (3, "batch", "spelling: 1/3 batches (33%)"), (None, "clip", "spelling: 1 clip,")):
        log, clock = io.StringIO(), Clock()
        with Progress(total, "spelling", unit=unit, file=log, clock=clock) as progress:
            clock.now += 60
            progress.update()
        assert log.getvalue().startswith(expected), log.getvalue()
