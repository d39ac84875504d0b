"""torch Datasets over LabelledImages: augmentation on top of the shared preprocessing.

Decoding and resizing a 200x200 JPEG costs far more than a small model's step on a CPU, so images
are resized once when the dataset is built and kept as uint8 in memory. Training images keep a
margin (1.25x the input side) so zooming and rotating still have real pixels to work with;
evaluation images are resized straight to the input size, which makes the evaluation transform
exactly `preprocess` on the original image.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
from torch.utils.data import Dataset

from asl_edge.datasets import LabelledImages
from asl_edge.preprocess import preprocess, preprocess_batch, resize
from asl_edge.spec import ModelSpec
from asl_edge.train.augment import Augmenter, AugmentPreset

TRAIN_MARGIN = 1.25


class AugmentedImages(Dataset[tuple[torch.Tensor, int]]):
    """Training samples: a random augmentation of the stored image, then `preprocess`."""

    def __init__(self, data: LabelledImages, spec: ModelSpec, preset: AugmentPreset) -> None:
        margin = TRAIN_MARGIN if preset.reframes else 1.0
        stored = replace(spec, input_height=round(spec.input_height * margin),
                         input_width=round(spec.input_width * margin))
        self.images = [resize(image, stored) for image in data.images]
        self.labels = data.labels.copy()
        self.spec = spec
        self.augment = Augmenter(preset)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = self.augment(self.images[index])
        return torch.from_numpy(preprocess(image, self.spec)), int(self.labels[index])


class PreprocessedImages(Dataset[tuple[torch.Tensor, int]]):
    """Evaluation samples: `preprocess` of each image, computed once."""

    def __init__(self, data: LabelledImages, spec: ModelSpec) -> None:
        self.inputs = torch.from_numpy(preprocess_batch(data.images, spec))
        self.labels = torch.from_numpy(np.asarray(data.labels, np.int64))

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.inputs[index], int(self.labels[index])
