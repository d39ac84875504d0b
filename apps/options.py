"""Option groups shared by several commands, defined once."""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def default_data_dir() -> Path:
    """The development dataset: $ASL_EDGE_DATA, else ../shared/data/asl-alphabet-mini from the checkout."""
    return Path(os.environ.get("ASL_EDGE_DATA", "../shared/data/asl-alphabet-mini"))


def add_seed(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=0, help="random seed for splits, sampling and init")


def add_out(parser: argparse.ArgumentParser, default: str, what: str) -> None:
    parser.add_argument("--out", type=Path, default=Path(default), help=f"folder for {what} (default: {default})")
