"""Make the tensorrt-stubs package (TensorRT 10.13 type stubs) usable by mypy and by the name check.

tensorrt-stubs 10.13.0.35.1 installs `tensorrt/__init__.pyi` and `tensorrt_bindings/*.pyi` without a
py.typed marker, so mypy ignores them, and the generated stubs are not valid Python: parameters named
`in` (a keyword), and a parameter without a default after ones with defaults (`add_scale_nd`); and
a module-level `bool: DataType` (TensorRT's `trt.bool`) shadows the builtin in every `-> bool`. This
script copies them into a folder with those lines repaired; `make typecheck` puts that folder on
MYPYPATH, and tests/tensorrt/test_trt_names.py reads the repaired text.

    python tools/trt_stubs.py build/typecheck/stubs
"""

from __future__ import annotations

import ast
import importlib.util
import keyword
import re
import sys
from pathlib import Path

STUB_FILES = ("tensorrt/__init__.pyi", "tensorrt_bindings/__init__.pyi", "tensorrt_bindings/tensorrt.pyi")
# tensorrt/__init__.pyi imports the (untyped) library wheel; an empty stub stands in for it.
EMPTY_STUBS = ("tensorrt_libs/__init__.pyi",)


def site_folder() -> Path:
    """The site-packages folder holding tensorrt-stubs' files."""
    spec = importlib.util.find_spec("tensorrt_stubs")
    if spec is None or spec.origin is None:
        raise SystemExit("tensorrt-stubs is not installed: run `make dev` "
                         "(pip install --no-deps tensorrt-stubs==10.13.0.35.1)")
    return Path(spec.origin).parent.parent


def _split_params(params: str) -> list[str]:
    """Split a parameter list at top-level commas."""
    parts, depth, current = [], 0, ""
    for char in params:
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current)
    return parts


def repair_def_line(line: str) -> str:
    """Rename keyword-named parameters; give later parameters `= ...` once one has a default."""
    match = re.match(r"^(\s*def \w+\()(.*)(\)\s*(->.*)?:\s*(\.\.\.)?\s*)$", line)
    if not match:
        return line
    head, params, tail = match.group(1), match.group(2), match.group(3)
    fixed, seen_default = [], False
    for original in _split_params(params):
        name, sep, rest = original.partition(":")
        bare = name.strip()
        param = name.replace(bare, bare + "_") + sep + rest if keyword.iskeyword(bare) else original
        if "=" in param:
            seen_default = True
        elif seen_default and not param.strip().startswith("*"):
            param = param.rstrip() + " = ..."
        fixed.append(param)
    return head + ",".join(fixed) + tail


def repair(text: str, max_fixes: int = 100) -> str:
    """Return the stub text with every syntax error on a `def` line repaired and `trt.bool` left out."""
    lines = [f"# (left out by tools/trt_stubs.py: shadows builtins.bool) {line}" if line.startswith("bool:") else line
             for line in text.splitlines()]
    for _ in range(max_fixes):
        try:
            ast.parse("\n".join(lines))
        except SyntaxError as exc:
            index = (exc.lineno or 1) - 1
            repaired = repair_def_line(lines[index])
            if repaired == lines[index]:
                raise ValueError(f"cannot repair stub line {exc.lineno}: {lines[index].strip()[:120]}") from exc
            lines[index] = repaired
        else:
            return "\n".join(lines) + "\n"
    raise ValueError(f"more than {max_fixes} syntax errors in the stubs")


def repaired_stubs() -> dict[str, str]:
    """Relative path -> repaired stub text, for every file of tensorrt-stubs."""
    site = site_folder()
    return {name: repair((site / name).read_text()) for name in STUB_FILES}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    out = Path(argv[0])
    for name, text in repaired_stubs().items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(text)
    for name in EMPTY_STUBS:
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text("")
    print(f"repaired TensorRT stubs written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
