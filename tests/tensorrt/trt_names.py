"""Which TensorRT names the code uses on which version path, and whether each version has them.

Uses are found by parsing the source (no TensorRT needed):
- every attribute chain on the module `trt` (`trt.BuilderFlag.FP16` -> "BuilderFlag", "BuilderFlag.FP16");
- every attribute of a variable whose name says which TensorRT object it holds (ROLES: `builder`,
  `config`, `self.context`, ...), e.g. `config.set_flag` -> "IBuilderConfig.set_flag" — the TensorRT
  modules keep to these names so the check can see their calls;
- every method a subclass of a TensorRT interface overrides (a misspelled override is never called).

Version paths come from the `if` tests on TRT_MAJOR around a use (and `if ...: return` before it):
`if TRT_MAJOR < 10:` holds a use to 8.x; what follows `if TRT_MAJOR < 10: return` is 10.x and 11.x.
Then 8.x names are checked against trt8_names.txt, 10.x against the TensorRT 10.13 stubs
(tensorrt-stubs), 11.x against the TensorRT 11.4 binding's strings (trt11_symbols.txt).
"""

from __future__ import annotations

import ast
import importlib.util
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
VERSIONS = frozenset({8, 10, 11})
ROLES = {
    "builder": "Builder", "network": "INetworkDefinition", "config": "IBuilderConfig", "parser": "OnnxParser",
    "error": "ParserError", "profile": "IOptimizationProfile", "runtime": "Runtime", "engine": "ICudaEngine",
    "context": "IExecutionContext", "cache": "ITimingCache",
}
VERSION_GATE = "TRT_MAJOR"


@dataclass(frozen=True)
class Use:
    name: str  # "Builder" or "Builder.create_network"
    versions: frozenset[int]
    where: str  # file:line


def _compare_versions(test: ast.Compare) -> frozenset[int] | None:
    """Versions for which `TRT_MAJOR <op> N` holds, or None if the test is not of that form."""
    if not (isinstance(test.left, ast.Name) and test.left.id == VERSION_GATE and len(test.ops) == 1
            and isinstance(test.comparators[0], ast.Constant) and isinstance(test.comparators[0].value, int)):
        return None
    bound = test.comparators[0].value
    ops = {ast.Lt: int.__lt__, ast.LtE: int.__le__, ast.Gt: int.__gt__, ast.GtE: int.__ge__,
           ast.Eq: int.__eq__, ast.NotEq: int.__ne__}
    op = ops[type(test.ops[0])]
    return frozenset(v for v in VERSIONS if op(v, bound))


def may_hold(test: ast.expr) -> tuple[frozenset[int], frozenset[int]]:
    """(versions where `test` may be true, versions where it may be false)."""
    if isinstance(test, ast.Compare):
        true = _compare_versions(test)
        if true is not None:
            return true, VERSIONS - true
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        true, false = may_hold(test.operand)
        return false, true
    if isinstance(test, ast.BoolOp):
        parts = [may_hold(v) for v in test.values]
        trues, falses = [p[0] for p in parts], [p[1] for p in parts]
        if isinstance(test.op, ast.And):
            return frozenset.intersection(*trues), frozenset.union(*falses)
        return frozenset.union(*trues), frozenset.intersection(*falses)
    return VERSIONS, VERSIONS


def _chain(node: ast.expr) -> list[str] | None:
    """`trt.A.B` -> ["trt", "A", "B"]; `self.context.x` -> ["self", "context", "x"]."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return [node.id, *reversed(parts)]
    return None


def _role(name: str) -> str | None:
    return ROLES.get(name.lstrip("_"))


class _UseFinder:
    def __init__(self, where: str) -> None:
        self.where = where
        self.uses: list[Use] = []

    def add(self, name: str, versions: frozenset[int], node: ast.AST) -> None:
        if versions and not any(part.startswith("__") for part in name.split(".")):
            self.uses.append(Use(name, versions, f"{self.where}:{getattr(node, 'lineno', 0)}"))

    def expressions(self, node: ast.AST, versions: frozenset[int]) -> None:
        """Record every TensorRT name inside an expression (or a statement's own expressions)."""
        for sub in ast.walk(node):
            if not isinstance(sub, ast.Attribute) or isinstance(getattr(sub, "_parent", None), ast.Attribute):
                continue
            chain = _chain(sub)
            if not chain:
                continue
            if chain[0] == "trt":
                for i in range(2, len(chain) + 1):
                    self.add(".".join(chain[1:i]), versions, sub)
                continue
            # The last role-named link before the attribute names the object: self.context.run -> context.
            for i in range(len(chain) - 1, 0, -1):
                role = _role(chain[i - 1])
                if role:
                    self.add(f"{role}.{chain[i]}", versions, sub)
                    break

    def block(self, statements: Iterable[ast.stmt], versions: frozenset[int]) -> None:
        for statement in statements:
            if isinstance(statement, ast.If):
                true, false = may_hold(statement.test)
                self.expressions(statement.test, versions)
                self.block(statement.body, versions & true)
                self.block(statement.orelse, versions & false)
                if statement.body and isinstance(statement.body[-1], (ast.Return, ast.Raise)):
                    versions = versions & false  # the rest of the block runs only where the test failed
            elif isinstance(statement, ast.ClassDef):
                self.class_def(statement, versions)
            elif isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for decorator in statement.decorator_list:
                    self.expressions(decorator, versions)
                for default in [*statement.args.defaults, *statement.args.kw_defaults]:
                    if default is not None:
                        self.expressions(default, versions)
                self.block(statement.body, versions)
            else:
                nested = [getattr(statement, f) for f in ("body", "orelse", "finalbody", "handlers")
                          if isinstance(getattr(statement, f, None), list)]
                if nested:
                    for field_name in ("test", "iter", "target", "items", "context_expr"):
                        value = getattr(statement, field_name, None)
                        for item in value if isinstance(value, list) else [value]:
                            if isinstance(item, ast.AST):
                                self.expressions(item, versions)
                    for part in nested:
                        self.block([s for s in part if isinstance(s, ast.stmt)] +
                                   [s for h in part if isinstance(h, ast.ExceptHandler) for s in h.body], versions)
                else:
                    self.expressions(statement, versions)

    def class_def(self, node: ast.ClassDef, versions: frozenset[int]) -> None:
        interfaces = []
        for base in node.bases:
            self.expressions(base, versions)
            chain = _chain(base)
            if chain and chain[0] == "trt" and len(chain) == 2:
                interfaces.append(chain[1])
        for statement in node.body:
            if isinstance(statement, ast.FunctionDef) and not statement.name.startswith("__"):
                for interface in interfaces:
                    self.add(f"{interface}.{statement.name}", versions, statement)
        self.block(node.body, versions)


class _DropAnnotations(ast.NodeTransformer):
    """Annotations are never evaluated (the modules use `from __future__ import annotations`)."""

    def visit_arg(self, node: ast.arg) -> ast.arg:
        node.annotation = None
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
        node.returns = None
        self.generic_visit(node)
        return node

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        if node.value is None:
            return ast.Pass()
        return ast.copy_location(ast.Assign(targets=[node.target], value=node.value, lineno=node.lineno), node)


def find_uses(source: str, where: str = "<source>") -> list[Use]:
    tree = _DropAnnotations().visit(ast.parse(source))
    for parent in ast.walk(tree):
        for child in ast.iter_child_nodes(parent):
            child._parent = parent  # type: ignore[attr-defined]
    finder = _UseFinder(where)
    finder.block(tree.body, VERSIONS)
    return finder.uses


def tensorrt_modules() -> list[Path]:
    """Every source file of the package that imports tensorrt."""
    folders = [REPO / name for name in ("asl_edge", "train", "export", "runtime", "benchmark", "doctor", "apps")]
    return sorted(p for folder in folders for p in folder.rglob("*.py")
                  if re.search(r"^import tensorrt as trt\b", p.read_text(), re.MULTILINE))


# -- what each version has ------------------------------------------------------------------------
def _load_tool(name: str) -> object:
    spec = importlib.util.spec_from_file_location(name, REPO / "tools" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class StubNames:
    """Module attributes and class members of the TensorRT 10.13 stubs (members include base classes')."""

    def __init__(self, texts: dict[str, str]) -> None:
        self.module: set[str] = set()
        self.classes: dict[str, ast.ClassDef] = {}
        for name, text in texts.items():
            tree = ast.parse(text)
            for node in tree.body:
                if name == "tensorrt/__init__.pyi":
                    self.module.update(_defined_names(node))
                if isinstance(node, ast.ClassDef):
                    self.classes[node.name] = node

    def _members(self, class_name: str) -> set[str]:
        node = self.classes.get(class_name)
        if node is None:
            return set()
        members: set[str] = set()
        for statement in node.body:
            members.update(_defined_names(statement))
        for base in node.bases:
            if isinstance(base, ast.Name):
                members |= self._members(base.id)
        return members

    def has(self, name: str) -> bool:
        parts = name.split(".")
        if len(parts) == 1:
            return parts[0] in self.module
        owner = parts[0]
        for part in parts[1:-1]:  # nested classes: Logger.Severity.WARNING
            outer = self.classes.get(owner)
            nested = [s for s in (outer.body if outer else []) if isinstance(s, ast.ClassDef) and s.name == part]
            if not nested:
                return False
            self.classes[f"{owner}.{part}"] = nested[0]
            owner = f"{owner}.{part}"
        return parts[-1] in self._members(owner)


def _defined_names(node: ast.stmt) -> set[str]:
    if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return {node.target.id}
    if isinstance(node, ast.Assign):
        return {t.id for t in node.targets if isinstance(t, ast.Name)}
    if isinstance(node, ast.ImportFrom):
        return {alias.asname or alias.name for alias in node.names}
    return set()


@cache
def stub_names() -> StubNames:
    tool = _load_tool("trt_stubs")
    return StubNames(tool.repaired_stubs())  # type: ignore[attr-defined]


class SymbolNames:
    """Identifier strings of the TensorRT 11.4 binding. The strings carry no class, so each part of a
    name is checked on its own; a part is present when it ends a string (the linker merges tails)."""

    def __init__(self, lines: Iterable[str]) -> None:
        self.names = {line.strip() for line in lines if line.strip() and not line.startswith("#")}

    def has(self, name: str) -> bool:
        return all(part in self.names or any(s.endswith(part) for s in self.names) for part in name.split("."))


@cache
def trt11_names() -> SymbolNames:
    return SymbolNames((HERE / "trt11_symbols.txt").read_text().splitlines())


class ListedNames:
    def __init__(self, lines: Iterable[str]) -> None:
        self.names = {line.strip() for line in lines if line.strip() and not line.strip().startswith("#")}

    def has(self, name: str) -> bool:
        return name in self.names


@cache
def trt8_names() -> ListedNames:
    return ListedNames((HERE / "trt8_names.txt").read_text().splitlines())


def missing(uses: Iterable[Use]) -> list[str]:
    """'file:line: TensorRT 11.4 has no X' for every use a version on its path lacks."""
    checks = {8: ("TensorRT 8.x (trt8_names.txt)", trt8_names()), 10: ("TensorRT 10.13 (stubs)", stub_names()),
              11: ("TensorRT 11.4 (trt11_symbols.txt)", trt11_names())}
    problems = []
    for use in uses:
        for version in sorted(use.versions):
            label, names = checks[version]
            if not names.has(use.name):  # type: ignore[attr-defined]
                problems.append(f"{use.where}: {label} has no {use.name}")
    return problems
