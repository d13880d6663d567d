"""MobileNet-V1 encoder of §3.3: one stride-2 convolution, 13 depthwise-separable blocks, global
pooling, a fully connected layer to ``64 + n_id + n_exp + 3·K_c`` and a second one from the first 64 of
those to the 6 pose parameters (log-scale, so(3) rotation vector, 2-D translation).

The block layout (channels and strides) is the one of 3DDFA's ``mobilenet_v1.py`` (source: cleardusk/3DDFA),
which the paper says it reuses. At 128×128 the last feature map is 4×4.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import NamedTuple

import torch
from torch import nn

# (output channels, stride) of the 13 depthwise-separable blocks; the stem is 32 channels, stride 2.
BLOCKS: tuple[tuple[int, int], ...] = (
    (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1),
)
POSE_FEATURES = 64
POSE_DIM = 6
INPUT_SIZE = 128


@dataclass(frozen=True)
class EncoderConfig:
    """Output sizes and width of the encoder; stored in checkpoints so a model can be rebuilt."""

    n_id: int
    n_exp: int
    n_corr: int = 20  # K_c: number of manifold-harmonic functions (3·K_c coefficients)
    width: float = 1.0

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def head_dim(self) -> int:
        return POSE_FEATURES + self.n_id + self.n_exp + 3 * self.n_corr


class EncoderOutput(NamedTuple):
    """Parameters predicted for a batch: pose (B,6) = [log s, rotation vector (3), t (2)], x_id (B,K),
    x_exp (B,E), x_c (B,K_c,3)."""

    pose: torch.Tensor
    x_id: torch.Tensor
    x_exp: torch.Tensor
    x_c: torch.Tensor


def _channels(c: int, width: float) -> int:
    return max(8, int(round(c * width)))


class DepthwiseSeparable(nn.Module):
    """3×3 depthwise convolution + BN + ReLU, then 1×1 pointwise convolution + BN + ReLU."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False)
        self.bn1 = nn.BatchNorm2d(cin)
        self.pointwise = nn.Conv2d(cin, cout, 1, 1, 0, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.depthwise(x)))
        return self.relu(self.bn2(self.pointwise(x)))


class MobileNetV1Encoder(nn.Module):
    """Image (B,3,128,128) normalised as (pixel − 127.5)/128 → :class:`EncoderOutput`."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.config = config
        w = config.width
        stem = _channels(32, w)
        self.stem = nn.Sequential(nn.Conv2d(3, stem, 3, 2, 1, bias=False), nn.BatchNorm2d(stem),
                                  nn.ReLU(inplace=True))
        blocks, cin = [], stem
        for cout, stride in BLOCKS:
            cout = _channels(cout, w)
            blocks.append(DepthwiseSeparable(cin, cout, stride))
            cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, config.head_dim)
        self.fc_pose = nn.Linear(POSE_FEATURES, POSE_DIM)
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        # Small heads: at initialisation the decoder shows the mean face, frontal, centred, reference scale.
        # The pose goes through two layers (fc's first POSE_FEATURES outputs, then fc_pose); only the last
        # is small. Were both small, their product would learn one direction of the pose at a time (the
        # small-initialisation saddle of a product of linear maps): a short run learnt yaw and scale but
        # left pitch and roll at a constant (docs/trainer.md "Network").
        nn.init.normal_(self.fc.weight, std=1e-3)
        nn.init.zeros_(self.fc.bias)
        with torch.no_grad():
            pose_features = nn.Linear(self.fc.in_features, POSE_FEATURES)  # PyTorch's default initialisation
            self.fc.weight[:POSE_FEATURES] = pose_features.weight
            self.fc.bias[:POSE_FEATURES] = pose_features.bias
        nn.init.normal_(self.fc_pose.weight, std=1e-3)
        nn.init.zeros_(self.fc_pose.bias)

    def features(self, image: torch.Tensor) -> torch.Tensor:
        """(B,C) pooled features of the trunk (C = 1024 at width 1.0)."""
        return self.pool(self.blocks(self.stem(image))).flatten(1)

    def head(self, feat: torch.Tensor) -> EncoderOutput:
        """The fully connected layers on the pooled features (affine: the export folds them with the
        decoder's linear part, docs/trainer.md "Export and use")."""
        head = self.fc(feat)
        c = self.config
        pose = self.fc_pose(head[:, :POSE_FEATURES])
        x_id, x_exp, x_c = torch.split(head[:, POSE_FEATURES:], [c.n_id, c.n_exp, 3 * c.n_corr], dim=1)
        return EncoderOutput(pose, x_id, x_exp, x_c.reshape(x_c.shape[0], c.n_corr, 3))

    def forward(self, image: torch.Tensor) -> EncoderOutput:
        return self.head(self.features(image))


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def count_macs(model: nn.Module, input_size: int = INPUT_SIZE) -> int:
    """Multiply-accumulates of one forward pass on one image, counted with forward hooks on every
    convolution and linear layer (BN, activations and pooling are not counted)."""
    total = 0

    def conv_hook(module: nn.Conv2d, _inp, out: torch.Tensor) -> None:
        nonlocal total
        kh, kw = module.kernel_size
        per_output = (module.in_channels // module.groups) * kh * kw
        total += out.numel() // out.shape[0] * per_output

    def linear_hook(module: nn.Linear, _inp, out: torch.Tensor) -> None:
        nonlocal total
        total += out.numel() // out.shape[0] * module.in_features

    handles = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, input_size, input_size))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return total
