"""Model architectures by name. A model is built from its ModelSpec alone, so a checkpoint or an
export never needs to know how it was trained."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from asl_edge.errors import ModelError
from asl_edge.spec import ModelSpec


class AslCnn(nn.Module):
    """The course's CNN for 28x28 gray Sign Language MNIST: three conv blocks (conv, batch norm, max
    pool, dropout after the second), a 512-unit dense layer and dropout (~0.26 M parameters at 28x28).
    It accepts any input size and channel count; the dense layer follows the size."""

    def __init__(self, num_classes: int, in_channels: int = 1, input_size: tuple[int, int] = (28, 28),
                 dropout: float = 0.2) -> None:
        super().__init__()

        def block(cin: int, cout: int, drop: float) -> nn.Sequential:
            layers: list[nn.Module] = [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                                       nn.ReLU(inplace=True)]
            if drop:
                layers.append(nn.Dropout(drop))
            layers.append(nn.MaxPool2d(2, ceil_mode=True))
            return nn.Sequential(*layers)

        self.features = nn.Sequential(block(in_channels, 75, 0.0), block(75, 50, dropout), block(50, 25, 0.0))
        h, w = input_size
        for _ in range(3):  # each pool halves, rounding up
            h, w = (h + 1) // 2, (w + 1) // 2
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(25 * h * w, 512), nn.ReLU(inplace=True), nn.Dropout(0.3),
            nn.Linear(512, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class LandmarkMlp(nn.Module):
    """Landmark feature vectors (asl_edge.landmark_features) -> logits: BatchNorm on the raw features, then
    two hidden layers (Linear, BatchNorm, ReLU, Dropout)."""

    def __init__(self, num_features: int, num_classes: int, hidden: tuple[int, ...] = (256, 128),
                 dropout: float = 0.25) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.BatchNorm1d(num_features)]
        width = num_features
        for size in hidden:
            layers += [nn.Linear(width, size), nn.BatchNorm1d(size), nn.ReLU(inplace=True), nn.Dropout(dropout)]
            width = size
        layers.append(nn.Linear(width, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.net(x)
        return out


def _torchvision_model(name: str, spec: ModelSpec, weights: str | None) -> nn.Module:
    import torchvision

    builder = getattr(torchvision.models, name)
    if weights is None:
        model = builder(weights=None)
    elif weights == "imagenet":
        model = _imagenet_model(name, builder)
    elif os.path.isfile(weights):
        model = builder(weights=None)
        try:
            state = torch.load(weights, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises several unrelated types for a bad file
            raise ModelError(f"cannot read weights file {weights} ({type(exc).__name__}); pass a torchvision "
                             "state_dict saved with torch.save") from exc
        if not isinstance(state, dict):
            raise ModelError(f"weights file {weights} holds a {type(state).__name__}, not a state_dict; save "
                             "model.state_dict() with torch.save")
        try:
            missing, _ = model.load_state_dict(state, strict=False)
        except RuntimeError as exc:  # tensors of the right names but other shapes (another variant or head)
            detail = str(exc).splitlines()[-1].strip().rstrip(".") or "tensor shapes differ"
            raise ModelError(f"weights file {weights} does not fit {name}: {detail}; pass the state_dict "
                             f"of a torchvision {name}") from exc
        if missing:
            raise ModelError(f"weights file {weights} does not fit {name}: {len(missing)} missing tensors, "
                             f"e.g. {missing[0]}")
    else:
        raise ModelError(f"weights {weights!r} is neither 'imagenet' nor an existing file")
    _adapt_input(model, spec.channels)
    _replace_head(model, spec.num_classes)
    return model


def _imagenet_model(name: str, builder: Callable[..., nn.Module]) -> nn.Module:
    """torchvision's ImageNet weights: downloaded on first use into torch.hub's cache (a workstation with
    internet), read from that cache afterwards. Offline without the cached file: one ModelError naming the
    file to fetch and where to put it."""
    import urllib.error

    import torch.hub
    import torchvision

    url = torchvision.models.get_model_weights(name).DEFAULT.url
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(url).name
    try:
        return builder(weights="DEFAULT")
    except (urllib.error.URLError, OSError) as exc:  # URLError: no network; OSError: DNS, proxy, disk
        reason = getattr(exc, "reason", None) or exc.strerror or exc
        raise ModelError(f"cannot download the ImageNet weights of {name} ({reason}); download {url} to "
                         f"{cached} on a machine with internet, pass that file with --weights FILE, or train "
                         "from scratch with --weights none") from exc
    except RuntimeError as exc:  # a partial download in the cache fails its hash or unzip check
        raise ModelError(f"the cached ImageNet weights of {name} are damaged ({str(exc).splitlines()[0]}); "
                         f"delete {cached} and try again") from exc


def _adapt_input(model: nn.Module, channels: int) -> None:
    if channels == 3:
        return
    # Gray input: sum the RGB filters of the stem, which keeps pretrained features meaningful.
    for parent in model.modules():
        for child_name, child in parent.named_children():
            if isinstance(child, nn.Conv2d) and child.in_channels == 3:
                conv = nn.Conv2d(channels, child.out_channels, child.kernel_size,  # type: ignore[arg-type]
                                 child.stride, child.padding, bias=child.bias is not None)  # type: ignore[arg-type]
                with torch.no_grad():
                    conv.weight.copy_(child.weight.sum(dim=1, keepdim=True))
                    if child.bias is not None and conv.bias is not None:
                        conv.bias.copy_(child.bias)
                setattr(parent, child_name, conv)
                return


def _replace_head(model: nn.Module, num_classes: int) -> None:
    head: Any = model
    if hasattr(head, "fc"):  # resnet
        head.fc = nn.Linear(head.fc.in_features, num_classes)
    else:  # mobilenet: classifier[-1]
        head.classifier[-1] = nn.Linear(head.classifier[-1].in_features, num_classes)


ModelBuilder = Callable[[ModelSpec, str | None], nn.Module]

ARCHITECTURES: dict[str, ModelBuilder] = {
    "aslcnn": lambda spec, weights: AslCnn(spec.num_classes, spec.channels, (spec.input_height, spec.input_width)),
    "mobilenet_v3_small": lambda spec, weights: _torchvision_model("mobilenet_v3_small", spec, weights),
    "resnet18": lambda spec, weights: _torchvision_model("resnet18", spec, weights),
    "landmark_mlp": lambda spec, weights: LandmarkMlp(spec.num_features, spec.num_classes),
}
# Architectures that read landmark feature vectors (spec.inputs == "landmarks"); the rest read images.
LANDMARK_ARCHITECTURES = ("landmark_mlp",)


def build_model(spec: ModelSpec, weights: str | None = None) -> nn.Module:
    """The architecture named by spec.arch with spec.num_classes outputs. `weights`: None (random init),
    'imagenet' (download) or a local state_dict file; only the torchvision models take weights."""
    try:
        builder = ARCHITECTURES[spec.arch]
    except KeyError:
        raise ModelError(f"unknown architecture '{spec.arch}'; known: {', '.join(ARCHITECTURES)}") from None
    if weights is not None and spec.arch in ("aslcnn", *LANDMARK_ARCHITECTURES):
        raise ModelError(f"{spec.arch} has no pretrained weights; drop --weights or pick a torchvision architecture")
    if (spec.arch in LANDMARK_ARCHITECTURES) != (spec.inputs == "landmarks"):
        raise ModelError(f"architecture '{spec.arch}' does not read {spec.inputs} inputs")
    return builder(spec, weights)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
