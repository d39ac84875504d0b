"""The import-layer contracts (pyproject.toml, run by `make layers`) hold on the tree and break on a violation."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

SUBPACKAGES = ("train", "export", "runtime", "benchmark", "doctor", "apps")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def installed_layout(dest: Path) -> Path:
    """Copy the source the way the installed package lays it out (the Makefile's `tree`), return its root."""
    ignore = shutil.ignore_patterns("__pycache__", "assets")
    shutil.copytree(REPO / "asl_edge", dest / "asl_edge", ignore=ignore)
    for name in SUBPACKAGES:
        shutil.copytree(REPO / name, dest / "asl_edge" / name, ignore=ignore)
    return dest


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT_IMPORTS), "--config", str(REPO / "pyproject.toml"), "--no-cache"], cwd=tree,
                          capture_output=True, text=True, timeout=300, check=False)


def add_import(module: Path, statement: str) -> None:
    module.write_text(module.read_text() + f"\n{statement}\n")


pytestmark = pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is not installed (make dev)")


def test_the_tree_keeps_its_layers(tmp_path: Path) -> None:
    result = lint_imports(installed_layout(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(("module", "statement", "contract"), [
    # the live app reaching up into the CLI
    ("runtime/live/spelling.py", "import asl_edge.apps.cli  # noqa", "Layers"),
    # a backend reaching into training: breaks the layers and, through train.models, the torch ban
    ("runtime/backends/base.py", "import asl_edge.train.checkpoint  # noqa", "Layers"),
    # torch in the runtime, even lazily inside a function
    ("runtime/live/overlay.py", "def _plot():\n    import torch  # noqa", "never import PyTorch"),
])
def test_an_upward_or_forbidden_import_breaks_a_contract(tmp_path: Path, module: str, statement: str,
                                                         contract: str) -> None:
    tree = installed_layout(tmp_path)
    add_import(tree / "asl_edge" / module, statement)
    result = lint_imports(tree)
    assert result.returncode != 0
    output = " ".join(result.stdout.split())  # the report wraps long contract names
    assert "0 broken" not in output
    assert contract in output.split("BROKEN")[0], output


def test_the_architecture_page_draws_every_layer_of_the_contract() -> None:
    """docs/architecture.md (linked from the README) names each layer module of pyproject's `layers` contract."""
    import tomllib  # novm: this test runs in the dev lanes (Python 3.11), never on a device

    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    layers = next(c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers")["layers"]
    page = (REPO / "docs" / "architecture.md").read_text()
    assert "docs/architecture.md" in (REPO / "README.md").read_text()
    for layer in layers:
        for module in layer.replace("|", ":").split(":"):
            name = module.strip()
            short = name.removeprefix("asl_edge.")
            assert name in page or short in page, f"{name} is a layer in pyproject.toml but not in the page"
