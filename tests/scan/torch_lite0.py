"""The torch reference for the numpy EfficientNet-Lite0: the same network in plain PyTorch
layers (convolution, batch norm, ReLU6), loading the published weights with ``torch.load``.

Only the tests use it, to show the light path gives the same answers; the app never imports
torch. TensorFlow "same" padding, as in the TPU implementation the weights come from.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

from eco2.domains.scan.providers.local.network import (
    BN_EPS,
    CLASSES,
    HEAD,
    STAGES,
    STEM,
    block_layout,
)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS)


class SameConv(nn.Conv2d):
    """Conv2d with TensorFlow's asymmetric "same" padding."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, k, s in zip(
            x.shape[-1:-3:-1], self.kernel_size[::-1], self.stride[::-1], strict=True
        ):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        out: torch.Tensor = super().forward(F.pad(x, pads))
        return out


class Block(nn.Module):
    """Mobile inverted bottleneck: 1×1 expand → depthwise k×k → 1×1 project (+ skip)."""

    def __init__(self, cin: int, cout: int, expand: int, kernel: int, stride: int) -> None:
        super().__init__()
        mid = cin * expand
        self.expands = expand != 1
        if self.expands:
            self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._depthwise_conv = SameConv(mid, mid, kernel, stride, groups=mid, bias=False)
        self._bn1 = _bn(mid)
        self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
        self._bn2 = _bn(cout)
        self.skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu6(self._bn0(self._expand_conv(x))) if self.expands else x
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        out: torch.Tensor = y + x if self.skip else y
        return out


class EfficientNetLite0(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self._conv_stem = SameConv(3, STEM, 3, 2, bias=False)
        self._bn0 = _bn(STEM)
        self._blocks = nn.ModuleList(Block(*layout) for layout in block_layout())
        self._conv_head = nn.Conv2d(STAGES[-1][4], HEAD, 1, bias=False)
        self._bn1 = _bn(HEAD)
        self._fc = nn.Linear(HEAD, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = F.relu6(self._bn1(self._conv_head(x)))
        logits: torch.Tensor = self._fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))
        return logits


def load_lite0(path: str) -> EfficientNetLite0:
    model = EfficientNetLite0()
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    return model.eval()


def logits(model: EfficientNetLite0, pixels: torch.Tensor) -> torch.Tensor:
    """Logits for one 224×224×3 image laid out as the numpy network takes it."""
    with torch.inference_mode():
        out: torch.Tensor = model(pixels.permute(2, 0, 1).unsqueeze(0))[0]
    return out
