"""TrainConfig: everything a training run needs, validated once, stored in the run's metrics.json.

The defaults are the built-in recipe (`asl-edge train --data DATA --out runs/default`), chosen by how
well the model holds up on shifted conditions (other light, framing, background), not only by the
held-out score; see the README's training section for the comparison.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from asl_edge.datasets import DEFAULT_SPLIT_SEED, DEFAULT_VAL_FRACTION
from asl_edge.errors import AslEdgeError
from asl_edge.spec import COLORS

SCHEDULES = ("cosine", "onecycle")
DEVICES = ("auto", "cpu", "cuda")
# The evaluation shifts (train/augment.SHIFTS, which needs torch), named here so the CLI offers them without it.
SHIFT_NAMES = ("light", "heavy")


class ConfigError(AslEdgeError):
    """A training option with a value that cannot work."""


@dataclass
class TrainConfig:
    data: str | os.PathLike[str]
    out: str | os.PathLike[str] = "runs/default"
    val: str | os.PathLike[str] | None = None  # explicit validation set; else a stratified split of data
    arch: str = "aslcnn"
    image_size: int = 40
    color: str = "gray"
    epochs: int = 50
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 5e-4
    schedule: str = "onecycle"
    label_smoothing: float = 0.1
    augment: str = "medium"
    hflip: bool = False  # mirror images too, for left-handed signers
    seed: int = DEFAULT_SPLIT_SEED
    val_fraction: float = DEFAULT_VAL_FRACTION
    patience: int = 8  # epochs without a better validation loss before stopping; 0 disables
    workers: int = 1  # data-loader processes; 0 augments in the training process
    threads: int = 0  # torch CPU threads for the model; 0: torch's default less one per worker
    device: str = "auto"
    weights: str | None = None  # None, "imagenet" or a local state_dict file (torchvision models only)
    resume: bool = False
    exist_ok: bool = False  # an `out` holding a training: move its files to out/previous-N/ and start anew
    amp: bool = True  # mixed precision; only takes effect on CUDA

    def __post_init__(self) -> None:
        from asl_edge.train.augment import PRESETS
        from asl_edge.train.models import ARCHITECTURES

        def bad(name: str, why: str) -> ConfigError:
            return ConfigError(f"invalid training option {name}: {why}")

        self.data = Path(self.data)
        self.out = Path(self.out)
        self.val = Path(self.val) if self.val is not None else None
        choices = {"arch": ARCHITECTURES, "color": COLORS, "schedule": SCHEDULES, "augment": PRESETS,
                   "device": DEVICES}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise bad(name, f"{getattr(self, name)!r} is not one of {', '.join(allowed)}")
        for name, low in (("image_size", 8), ("epochs", 1), ("batch_size", 1)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise bad(name, f"{value!r} must be an integer >= {low}")
        if self.image_size > 1024:
            raise bad("image_size", f"{self.image_size} is larger than 1024")
        check_loss_options(self)
        for name in ("workers", "threads"):
            if getattr(self, name) < 0:
                raise bad(name, f"{getattr(self, name)} must be >= 0")
        if self.weights is not None and self.arch == "aslcnn":
            raise bad("weights", "aslcnn has no pretrained weights; pick mobilenet_v3_small or resnet18")
        if self.weights not in (None, "imagenet") and not Path(self.weights).is_file():
            raise bad("weights", f"{self.weights!r} is neither 'imagenet', 'none' nor an existing file")

    def to_dict(self) -> dict[str, Any]:
        return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()}


def check_loss_options(config: Any) -> None:
    """The options image and landmark training share (`lr`, `weight_decay`, `label_smoothing`, `val_fraction`,
    `patience` attributes of `config`); ConfigError naming the first out of range."""
    # Written so that NaN fails too (every comparison with NaN is false): NaN or infinite values trained NaN
    # models with exit 0, or ended in the optimizer's traceback.
    checks = (("lr", 0 < config.lr < math.inf, "a positive number"),
              ("weight_decay", 0 <= config.weight_decay < math.inf, "a number >= 0"),
              ("label_smoothing", 0 <= config.label_smoothing < 1, "in [0, 1)"),
              ("val_fraction", 0 < config.val_fraction < 1, "between 0 and 1"),
              ("patience", config.patience >= 0, ">= 0"))
    for name, ok, allowed in checks:
        if not ok:
            raise ConfigError(f"invalid training option {name}: {getattr(config, name)} must be {allowed}")
