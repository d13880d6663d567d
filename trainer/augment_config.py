"""The ranges of the training augmentation (:mod:`trainer.augment` draws from them), in a module
without NumPy: the command lines read the options' defaults from it when they start."""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges of the random transforms (all drawn uniformly; flip with probability ``flip_prob``)."""

    rotate_deg: float = 15.0
    flip_prob: float = 0.5
    scale_range: tuple[float, float] = (0.9, 1.1)
    shift_frac: float = 0.05  # of the output size, per axis
    brightness: float = 0.2   # multiplicative, 1 ± brightness
    contrast: float = 0.2
    saturation: float = 0.2

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def photometric(self) -> bool:
        """Whether any colour factor can differ from 1."""
        return self.brightness > 0 or self.contrast > 0 or self.saturation > 0


NO_AUGMENT = AugmentConfig(0.0, 0.0, (1.0, 1.0), 0.0, 0.0, 0.0, 0.0)
