"""The README's ```bash blocks and their CI tags.

Each ```bash block in README.md starts with a tag line saying what CI does with it:

    # ci: run                 run the block with bash (set -euo pipefail) from the repository root; it must exit 0
    # ci: parse               parse every `asl-edge ...` command with the real CLI parser, without running it
                              (for commands that need a Jetson, a GPU or a camera); other lines are not checked
    # ci: skip (reason)       not exercised; the reason is required

A block without a tag fails the test, so every command in the README is either exercised or explained.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

TAG = re.compile(r"^#\s*ci:\s*(run|parse|skip)\b\s*(.*)$")
FENCE = re.compile(r"^```bash[ \t]*\n(.*?)^```", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Block:
    line: int  # where the block starts in the file, for messages
    mode: str | None  # run | parse | skip, None when untagged
    note: str
    body: str

    @property
    def commands(self) -> list[str]:
        """The block's commands: comments and blank lines dropped, backslash continuations joined."""
        joined = re.sub(r"\s*\\\n\s*", " ", self.body)
        commands = []
        for raw in joined.splitlines():
            line = raw.strip()
            if line and not line.startswith("#"):
                commands.append(line)
        return commands

    def asl_edge_commands(self) -> list[list[str]]:
        """argv after `asl-edge` for each asl-edge command (also behind `docker ... run ... IMAGE`)."""
        found = []
        for command in self.commands:
            words = shlex.split(command, comments=True)
            if "asl-edge" in words:
                found.append(words[words.index("asl-edge") + 1:])
        return found


def read_blocks(markdown: str) -> list[Block]:
    blocks = []
    for match in FENCE.finditer(markdown):
        body = match[1]
        first = body.splitlines()[0].strip() if body.strip() else ""
        tag = TAG.match(first)
        line = markdown.count("\n", 0, match.start()) + 1
        blocks.append(Block(line, tag[1] if tag else None, tag[2].strip() if tag else "", body))
    return blocks


def read_readme(path: Path) -> list[Block]:
    return read_blocks(path.read_text(encoding="utf-8"))
