"""--host and --port set the --web page's address: without --web they are refused in one line, before the source
opens (they had been ignored: no page, and no word of why)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from asl_edge.apps.cli import main
from asl_edge.apps.options import WEB_HOST, WEB_PORT, check_view_options


@pytest.mark.parametrize(("command", "extra", "given"), [
    ("run", ["--port", "18080"], "--port 18080"),
    ("run", ["--host", "0.0.0.0", "--port", "0"], "--host 0.0.0.0 and --port 0"),
    ("collect", ["--host", "0.0.0.0"], "--host 0.0.0.0"),
    ("demo", ["--port", "9000"], "--port 9000"),
    ("run", ["--host", ""], "--host ''"),
])
def test_web_address_without_web_is_refused(command: str, extra: list[str], given: str, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    source = [] if command == "demo" else ["--source", str(tmp_path / "nowhere.mp4")]
    assert main([command, *source, "--no-window", *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"asl-edge {command}: error: {given} set the web page's address, but there is no page without "
                   "--web; add --web"]


def test_with_web_the_address_not_given_takes_its_default() -> None:
    args = argparse.Namespace(web=True, host=None, port=0)
    check_view_options(args)
    assert (args.host, args.port) == (WEB_HOST, 0)
    args = argparse.Namespace(web=False, host=None, port=None)
    check_view_options(args)
    assert (args.host, args.port) == (WEB_HOST, WEB_PORT)
