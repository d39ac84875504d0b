"""Every `--option` a message or the README tells a user to pass exists on the command it is given for.

A fix that names an option no command has ("pass --spec SPEC.json" when nothing takes --spec) sends the
user nowhere. The options are read from the real argparse parsers (apps/cli.py builds one per command);
the mentions from every string literal in the source (ast, so f-string parts count too) and from the
README's code blocks. A literal in a command module must name that command's options; one in a library
module must name an option of at least one command that imports the module (directly or not).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from asl_edge.apps.cli import COMMANDS, _command_parser
from tests.deploy.readme_blocks import read_blocks

REPO = Path(__file__).resolve().parents[2]
# The folders mapped to asl_edge.<name> (pyproject.toml's package-dir).
PACKAGES = {"asl_edge": REPO / "asl_edge", **{f"asl_edge.{name}": REPO / name for name in
                                              ("train", "export", "runtime", "benchmark", "doctor", "apps")}}
OPTION = re.compile(r"(?<![\w-])--([a-z][a-z0-9]*(?:-[a-z0-9]+)*)")
# Options of other programs that messages quote (`pip install --no-deps`, `docker run --device`): a mention
# that follows one of these names in the same literal is theirs, not asl-edge's.
OTHER_PROGRAMS = re.compile(r"(?i)\b(pip3?|docker|torchrun|v4l2-ctl|jetson_clocks|trtexec|nvpmodel|apt(-get)?|ffmpeg|"
                            r"gst-launch-1\.0|python3?|git|make|nvidia-smi|systemctl|tegrastats|playwright|"
                            r"polygraphy|sudo|ulimit|pytest|ruff|mypy)\b")
ASL_EDGE = re.compile(r"\basl-edge\b|python -m asl_edge")


@cache
def command_options() -> dict[str, frozenset[str]]:
    options = {}
    for name in COMMANDS:
        parser, _ = _command_parser(name)
        flags: set[str] = set()
        for action in parser._actions:  # argparse keeps no public list of a parser's options
            flags.update(s for s in action.option_strings if s.startswith("--"))
        options[name] = frozenset(flags)
    return options


def module_files() -> dict[str, Path]:
    files = {}
    for package, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            parts = path.relative_to(folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            if package == "asl_edge" and parts and parts[0] in ("train", "export"):
                continue  # not there; the mapped folders are separate
            files[".".join((package, *parts))] = path
    return files


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """asl_edge modules `path` imports anywhere (function-level imports included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            module = name
            while module and module not in known:
                module = module.rpartition(".")[0]
            if module:
                found.add(module)
    return found


@cache
def commands_using() -> dict[str, frozenset[str]]:
    """module -> the commands whose import closure holds it."""
    files = module_files()
    graph = {module: imported_modules(path, set(files)) for module, path in files.items()}
    users: dict[str, set[str]] = {module: set() for module in files}
    for command, (module_name, _) in COMMANDS.items():
        seen, todo = set(), [f"asl_edge.apps.commands.{module_name}"]
        while todo:
            module = todo.pop()
            if module in seen:
                continue
            seen.add(module)
            todo.extend(graph.get(module, ()))
        for module in seen:
            users.setdefault(module, set()).add(command)
    return {module: frozenset(commands) for module, commands in users.items()}


def _defines_options(call: ast.Call) -> bool:
    return isinstance(call.func, ast.Attribute) and call.func.attr == "add_argument"


def _literals(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, text) of each string literal but docstrings, option definitions and bare argv flags; an
    f-string is one literal with {} where its values go."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _defines_options(node):
            skip.update(id(arg) for arg in node.args)  # the definition's own flag names
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                skip.add(id(first.value))  # a docstring describes, it does not tell the user what to pass
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            skip.update(id(value) for value in node.values)
            text = "".join(str(v.value) if isinstance(v, ast.Constant) else "{}" for v in node.values)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            text = node.value
        else:
            continue
        if not re.fullmatch(r"\s*--[\w-]+(=\S*)?\s*", text):  # a bare flag is an argv item for another program
            yield node.lineno, text


def mentions(path: Path) -> Iterator[tuple[int, str, str, str | None]]:
    """(line, option, the literal, the command it is given for when the literal says `asl-edge CMD`) for
    each --option a literal names, other programs' options left out."""
    for line, text in _literals(ast.parse(path.read_text())):
        for match in OPTION.finditer(text):
            before = text[:match.start()]
            other = list(OTHER_PROGRAMS.finditer(before))
            ours = list(ASL_EDGE.finditer(before))
            if other and (not ours or other[-1].start() > ours[-1].start()):
                continue
            # `asl-edge CMD ... --option` (no closing backtick between): the option is given for CMD.
            named = list(re.finditer(r"asl-edge (\w+)", before))
            command = named[-1][1] if named and "`" not in before[named[-1].end():] else None
            command = command if command in COMMANDS else None
            yield line, f"--{match[1]}", text, command


def test_the_parsers_are_read() -> None:
    options = command_options()
    assert set(options) == set(COMMANDS)
    assert "--resume" in options["train"] and "--save" in options["run"] and "--resume" not in options["run"]
    assert "--verbose" in options["eval"]  # every command has it (apps/cli.py)


def test_every_option_named_in_the_source_exists() -> None:
    options = command_options()
    users = commands_using()
    files = module_files()
    assert "asl_edge.runtime.live.spelling" in files and "run" in users["asl_edge.runtime.live.spelling"]
    wrong, checked = [], 0
    for module, path in sorted(files.items()):
        commands = users.get(module) or frozenset()
        if module.startswith("asl_edge.apps.commands."):
            own = [c for c, (m, _) in COMMANDS.items() if f"asl_edge.apps.commands.{m}" == module]
            commands = frozenset(own)
        if not commands:
            continue  # tools and modules no command imports
        for line, option, text, named in mentions(path):
            checked += 1
            given_for = frozenset({named}) if named else commands
            if not any(option in options[command] for command in given_for):
                wrong.append(f"{path.relative_to(REPO)}:{line}: {option} is not an option of "
                             f"{', '.join(sorted(given_for))}: {text[:90]!r}")
    assert checked > 30, "too few mentions found: is the literal scan broken?"
    assert not wrong, "\n".join(wrong)


def test_every_option_in_the_readme_exists() -> None:
    options = command_options()
    wrong, checked = [], 0
    for block in read_blocks((REPO / "README.md").read_text()):
        for argv in block.asl_edge_commands():
            if not argv or argv[0] not in options:
                continue
            for word in argv[1:]:
                flag = word.split("=", 1)[0]
                if OPTION.fullmatch(flag):
                    checked += 1
                    if flag not in options[argv[0]]:
                        wrong.append(f"README.md block at line {block.line}: asl-edge {argv[0]} has no {flag}")
    assert checked > 20
    assert not wrong, "\n".join(wrong)


def test_a_misnamed_option_is_caught(tmp_path: Path) -> None:
    """The scan itself: a message naming an option no command has is reported, a pip option is not."""
    source = tmp_path / "sample.py"
    source.write_text('raise SystemExit("pass --spec SPEC.json, or pip install --no-deps x")\n'
                      'parser.add_argument("--defined-here")\n')
    assert [option for _, option, _, _ in mentions(source)] == ["--spec"]
