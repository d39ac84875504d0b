"""Augmentation presets: small declarative recipes turned into torchvision.transforms.v2 pipelines.

An augmentation works on a decoded uint8 BGR (or gray) image and returns one of the same size and
kind; the shared `asl_edge.preprocess.preprocess` then resizes and normalises it exactly as the
runtime does, so training and serving cannot disagree on preprocessing.

Two families share one recipe type:
- training presets (`PRESETS`: none, light, medium, heavy), random per sample;
- shift presets (`SHIFTS`: light, heavy), a fixed-seed stand-in for a user's camera (other light and
  white balance, another framing and background, blur, noise, low resolution) used by
  `asl-edge eval --shift`. They use perturbations the training presets do not (colour cast, gamma,
  sensor noise, low resolution), so a good shifted score is not a model memorising its augmentation.

Background robustness without hand masks: `zoom_out` shrinks the photo onto a random smooth colour
field (a new surround), `crop_scale` re-frames it, colour jitter with random grayscale keeps the
model from keying on skin or wall colour, and random erasing (`heavy` only) hides parts of hand and background.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch.nn import functional as F  # noqa: N812
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF  # noqa: N812

from asl_edge.errors import DataError
from asl_edge.progress import track

Range = tuple[float, float]


@dataclass(frozen=True)
class AugmentPreset:
    """What to vary and how much. A zero, None or 0.0 probability turns a step off."""

    description: str
    crop_scale: Range | None = None  # zoom in: keep this fraction of the area, resized back
    zoom_out: Range | None = None  # shrink to this fraction of the side onto a random background
    zoom_out_p: float = 0.0
    rotation: float = 0.0  # degrees, either way
    translate: float = 0.0  # fraction of the side
    brightness: float = 0.0
    contrast: float = 0.0
    saturation: float = 0.0
    hue: float = 0.0
    grayscale_p: float = 0.0
    blur_p: float = 0.0
    blur_sigma: Range = (0.1, 1.5)  # in pixels of a 100-pixel image, scaled to the image's size
    erasing_p: float = 0.0
    hflip: bool = False
    color_cast: float = 0.0  # per-channel gain in [1 - c, 1 + c]: another white balance
    gamma: float = 0.0  # gamma in [1 / (1 + g), 1 + g]: other exposure curves
    noise_std: float = 0.0  # sensor noise, in pixel values
    lowres_p: float = 0.0  # down-sample 2-3x and back: a small or distant hand

    @property
    def reframes(self) -> bool:
        """Whether it zooms, rotates or shifts: such presets want images stored with a margin of pixels."""
        return bool(self.crop_scale or self.rotation or self.translate)


PRESETS: dict[str, AugmentPreset] = {
    "none": AugmentPreset("no augmentation: the evaluation transform only"),
    "light": AugmentPreset(
        "small re-framing, rotation and brightness/contrast changes",
        crop_scale=(0.8, 1.0), rotation=8, translate=0.05, brightness=0.2, contrast=0.2),
    # No random erasing in medium: on hand shapes it hides the very finger or thumb that tells K from V
    # or U from R, and none of the shifts a camera brings needs it.
    "medium": AugmentPreset(
        "re-framing and zoom-out onto random backgrounds, rotation, brightness/contrast/saturation jitter with "
        "random grayscale, blur",
        crop_scale=(0.75, 1.0), zoom_out=(0.75, 0.95), zoom_out_p=0.2, rotation=10, translate=0.06,
        brightness=0.3, contrast=0.3, saturation=0.3, grayscale_p=0.1, blur_p=0.15),
    "heavy": AugmentPreset(
        "strong re-framing and zoom-out onto random backgrounds, rotation, strong colour jitter, blur and "
        "random erasing",
        crop_scale=(0.45, 1.0), zoom_out=(0.55, 0.95), zoom_out_p=0.5, rotation=18, translate=0.12,
        brightness=0.5, contrast=0.5, saturation=0.6, hue=0.1, grayscale_p=0.2, blur_p=0.3,
        blur_sigma=(0.1, 2.0), erasing_p=0.4),
}

SHIFTS: dict[str, AugmentPreset] = {
    "light": AugmentPreset(
        "another camera: white balance, exposure, slight re-framing and blur",
        crop_scale=(0.8, 1.0), zoom_out=(0.8, 0.95), zoom_out_p=0.3, rotation=5, translate=0.05,
        brightness=0.2, contrast=0.2, blur_p=0.3, blur_sigma=(0.3, 1.0), color_cast=0.15, gamma=0.3,
        noise_std=3.0),
    "heavy": AugmentPreset(
        "another room and camera: strong white balance and exposure changes, hand smaller or larger and "
        "off-centre on a new background, blur, noise, low resolution",
        crop_scale=(0.6, 0.9), zoom_out=(0.6, 0.85), zoom_out_p=0.5, rotation=10, translate=0.1,
        brightness=0.35, contrast=0.35, blur_p=0.5, blur_sigma=(0.5, 1.5), color_cast=0.3, gamma=0.6,
        noise_std=8.0, lowres_p=0.3),
}


def get_preset(name: str, hflip: bool = False, table: dict[str, AugmentPreset] = PRESETS) -> AugmentPreset:
    try:
        preset = table[name]
    except KeyError:
        raise DataError(f"unknown augmentation preset '{name}'; known: {', '.join(table)}") from None
    return replace(preset, hflip=hflip) if hflip else preset


# -- size-preserving random steps on uint8 CHW tensors (torch RNG, so seeds and workers behave) --------

def _uniform(low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand(()))


class ZoomIn:
    """Crop a random region of `scale` of the area (aspect 3:4..4:3) and resize it back."""

    def __init__(self, scale: Range) -> None:
        self.scale = scale

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        h, w = image.shape[-2:]
        area = _uniform(*self.scale) * h * w
        ratio = float(np.exp(_uniform(np.log(3 / 4), np.log(4 / 3))))
        ch = min(h, max(1, round((area / ratio) ** 0.5)))
        cw = min(w, max(1, round((area * ratio) ** 0.5)))
        top = int(torch.randint(0, h - ch + 1, ()))
        left = int(torch.randint(0, w - cw + 1, ()))
        return TF.resized_crop(image, top, left, ch, cw, [h, w], antialias=True)


class ZoomOut:
    """With probability p, shrink the image to `scale` of its side and place it at a random spot on a
    random smooth colour field: the hand appears smaller, elsewhere, in front of something else."""

    def __init__(self, scale: Range, p: float) -> None:
        self.scale, self.p = scale, p

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        if float(torch.rand(())) >= self.p:
            return image
        c, h, w = image.shape
        s = _uniform(*self.scale)
        sh, sw = max(1, round(h * s)), max(1, round(w * s))
        small = TF.resize(image, [sh, sw], antialias=True)
        coarse = torch.rand(1, c, 3, 3) * 255.0
        background = F.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=False)[0]
        background = (background + torch.randn(c, h, w) * 6.0).clamp(0, 255).to(torch.uint8)
        top = int(torch.randint(0, h - sh + 1, ()))
        left = int(torch.randint(0, w - sw + 1, ()))
        background[:, top:top + sh, left:left + sw] = small
        return background


class Blur:
    """Gaussian blur whose sigma is given for a 100-pixel side and scaled to the image, so a preset blurs a
    28-pixel training image and a 200-pixel photo alike."""

    def __init__(self, sigma: Range, p: float) -> None:
        self.sigma, self.p = sigma, p

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        if float(torch.rand(())) >= self.p:
            return image
        sigma = _uniform(*self.sigma) * min(image.shape[-2:]) / 100.0
        kernel = 2 * max(1, int(np.ceil(3 * sigma))) + 1
        return TF.gaussian_blur(image, [kernel, kernel], [sigma, sigma])


class ColorCast:
    """Multiply each channel by its own gain: another white balance or light colour."""

    def __init__(self, strength: float) -> None:
        self.strength = strength

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        gains = 1.0 + (torch.rand(image.shape[0], 1, 1) * 2 - 1) * self.strength
        return (image.float() * gains).clamp(0, 255).to(torch.uint8)


class Gamma:
    def __init__(self, strength: float) -> None:
        self.strength = strength

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        log_gamma = _uniform(-np.log1p(self.strength), np.log1p(self.strength))
        return TF.adjust_gamma(image, float(np.exp(log_gamma)))


class Noise:
    def __init__(self, std: float) -> None:
        self.std = std

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        return (image.float() + torch.randn(image.shape) * self.std).clamp(0, 255).to(torch.uint8)


class LowResolution:
    def __init__(self, p: float) -> None:
        self.p = p

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        if float(torch.rand(())) >= self.p:
            return image
        h, w = image.shape[-2:]
        factor = _uniform(2.0, 3.0)
        small = TF.resize(image, [max(1, round(h / factor)), max(1, round(w / factor))], antialias=True)
        return TF.resize(small, [h, w], antialias=True)


def build_transform(preset: AugmentPreset) -> Callable[[torch.Tensor], torch.Tensor]:
    """The preset as one v2 pipeline on a uint8 CHW RGB (or 1-channel) tensor; the size is kept."""
    p = preset
    steps: list[Callable[[torch.Tensor], torch.Tensor]] = []
    if p.crop_scale:
        steps.append(ZoomIn(p.crop_scale))
    if p.zoom_out and p.zoom_out_p:
        steps.append(ZoomOut(p.zoom_out, p.zoom_out_p))
    if p.rotation or p.translate:
        steps.append(v2.RandomAffine(degrees=p.rotation, translate=(p.translate, p.translate)))
    if p.hflip:
        steps.append(v2.RandomHorizontalFlip())
    if p.color_cast:
        steps.append(ColorCast(p.color_cast))
    if p.gamma:
        steps.append(Gamma(p.gamma))
    if p.brightness or p.contrast or p.saturation or p.hue:
        steps.append(v2.ColorJitter(p.brightness, p.contrast, p.saturation, p.hue))
    if p.grayscale_p:
        steps.append(v2.RandomGrayscale(p.grayscale_p))
    if p.blur_p:
        steps.append(Blur(p.blur_sigma, p.blur_p))
    if p.lowres_p:
        steps.append(LowResolution(p.lowres_p))
    if p.noise_std:
        steps.append(Noise(p.noise_std))
    if p.erasing_p:
        steps.append(v2.RandomErasing(p=p.erasing_p, scale=(0.02, 0.15), value="random"))
    return v2.Compose(steps) if steps else v2.Identity()


class Augmenter:
    """A preset applied to decoded uint8 BGR (HxWx3) or gray (HxW, HxWx1) images, returning the same kind."""

    def __init__(self, preset: AugmentPreset) -> None:
        self.preset = preset
        self.transform = build_transform(preset)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        gray = image.ndim == 2 or image.shape[2] == 1
        hwc = image.reshape(image.shape[0], image.shape[1], -1)
        rgb = hwc if gray else hwc[:, :, ::-1]
        tensor = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)
        out = self.transform(tensor).permute(1, 2, 0).numpy()
        out = out if gray else out[:, :, ::-1]
        return np.ascontiguousarray(out).reshape(image.shape)


def shift_images(images: Sequence[np.ndarray], name: str, seed: int = 0) -> list[np.ndarray]:
    """The fixed-seed shifted copy of `images` (same sizes): the same shift for every model compared."""
    augmenter = Augmenter(get_preset(name, table=SHIFTS))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return [augmenter(image) for image in track(images, f"shift {name}", unit="image")]
