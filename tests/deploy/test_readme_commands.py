"""Every ```bash block of README.md is run, parsed by the real CLI, or skipped with a reason (see readme_blocks)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from asl_edge.apps.cli import COMMANDS, _command_parser
from tests.conftest import REPO
from tests.deploy.readme_blocks import Block, read_blocks, read_readme

# ASL_EDGE_README checks a draft before it replaces README.md.
README = Path(os.environ.get("ASL_EDGE_README", REPO / "README.md"))
BLOCKS = read_readme(README)
RUN_TIMEOUT_S = 600


def block_id(block: Block) -> str:
    return f"README.md:{block.line}:{block.mode}"


def test_every_bash_block_is_tagged() -> None:
    untagged = [block.line for block in BLOCKS if block.mode is None]
    assert not untagged, (f"{README.name} ```bash blocks at lines {untagged} have no '# ci: run|parse|skip (reason)' "
                          "first line (see tests/deploy/readme_blocks.py)")
    reasonless = [block.line for block in BLOCKS if block.mode == "skip" and not block.note]
    assert not reasonless, f"'# ci: skip' needs a reason: README.md lines {reasonless}"


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.mode == "parse"], ids=block_id)
def test_parse_block_commands_match_the_cli(block: Block) -> None:
    commands = block.asl_edge_commands()
    assert commands, f"README.md:{block.line}: a '# ci: parse' block without asl-edge commands"
    for argv in commands:
        assert argv and argv[0] in COMMANDS, f"README.md:{block.line}: unknown command asl-edge {' '.join(argv)}"
        try:
            parser, _ = _command_parser(argv[0])
        except ModuleNotFoundError as exc:
            pytest.fail(f"README.md:{block.line}: asl-edge {argv[0]} is not implemented in this tree ({exc})")
        try:
            parser.parse_args(argv[1:])
        except SystemExit as exc:
            pytest.fail(f"README.md:{block.line}: `asl-edge {' '.join(argv)}` does not parse (exit {exc.code})")


@pytest.mark.slow
@pytest.mark.parametrize("block", [b for b in BLOCKS if b.mode == "run"], ids=block_id)
def test_run_block_succeeds(block: Block) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(["bash", "-c", "set -euo pipefail\n" + block.body], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False)
    assert result.returncode == 0, (f"README.md:{block.line} exited {result.returncode}\n"
                                    f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")


def test_block_reader_understands_tags_continuations_and_docker_lines() -> None:
    markdown = (
        "Intro\n\n```bash\n# ci: run\nasl-edge doctor --job train   # comment\n```\n\n"
        "```bash\n# ci: parse\nasl-edge build model.onnx \\\n    --out x\n"
        "docker run --rm --runtime nvidia asl-edge:jetson asl-edge doctor --job build\n```\n\n"
        "```bash\n# ci: skip (needs a Jetson)\nsudo nvpmodel -m 0\n```\n\n"
        "```bash\nmake test\n```\n\n```python\nprint('not bash')\n```\n")
    blocks = read_blocks(markdown)
    assert [(block.mode, block.note) for block in blocks] == [
        ("run", ""), ("parse", ""), ("skip", "(needs a Jetson)"), (None, "")]
    assert blocks[0].line == 3
    assert blocks[0].asl_edge_commands() == [["doctor", "--job", "train"]]
    assert blocks[1].commands[0] == "asl-edge build model.onnx --out x"
    assert blocks[1].asl_edge_commands() == [["build", "model.onnx", "--out", "x"], ["doctor", "--job", "build"]]
