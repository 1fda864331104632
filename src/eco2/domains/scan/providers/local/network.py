"""EfficientNet-Lite0 inference in numpy (ImageNet-1k, 224×224, ReLU6, no squeeze-excitation).

The weights are the published ones (:mod:`.weights`); batch norms are folded into the
convolutions once at load. Activations are height × width × channels, so every 1×1
convolution is one matrix product (BLAS) and a depthwise convolution one ``einsum`` over a
strided view of its k×k windows, channels innermost. Padding is TensorFlow's "same", as in
the TPU implementation the weights come from. One call classifies one image; the network is
immutable and shared by threads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

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
BN_EPS = 1e-3
SIZE = 224

Array = np.ndarray
State = dict[str, Array]


def block_layout() -> list[tuple[int, int, int, int, int]]:
    """(in, out, expand, kernel, stride) of each of the 16 blocks, in order."""
    blocks = []
    for repeats, kernel, stride, cin, cout, expand in STAGES:
        blocks.append((cin, cout, expand, kernel, stride))
        blocks += [(cout, cout, expand, kernel, 1)] * (repeats - 1)
    return blocks


def folded(state: State, conv: str, bn: str) -> tuple[Array, Array]:
    """Convolution weight (out, in, kh, kw) scaled by its batch norm, and the bias it leaves."""
    scale = state[f"{bn}.weight"] / np.sqrt(state[f"{bn}.running_var"] + BN_EPS)
    bias = state[f"{bn}.bias"] - state[f"{bn}.running_mean"] * scale
    weight = state[f"{conv}.weight"] * scale[:, None, None, None]
    return weight.astype(np.float32), bias.astype(np.float32)


def _pointwise(state: State, conv: str, bn: str) -> tuple[Array, Array]:
    weight, bias = folded(state, conv, bn)
    return np.ascontiguousarray(weight[:, :, 0, 0].T), bias


def _depthwise(state: State, conv: str, bn: str) -> tuple[Array, Array]:
    weight, bias = folded(state, conv, bn)
    return np.ascontiguousarray(weight[:, 0].transpose(1, 2, 0)), bias  # (kh, kw, channels)


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _pad(x: Array, kernel: int, stride: int) -> Array:
    rows, cols = (same_padding(n, kernel, stride) for n in x.shape[:2])
    return np.pad(x, (rows, cols, (0, 0)))


def _relu6(x: Array) -> Array:
    return np.clip(x, 0.0, 6.0, out=x)


def _windows(x: Array, kernel: int, stride: int) -> Array:
    """Every k×k input window of a "same" convolution: a view (rows, cols, k, k, channels)."""
    rows, cols = (math.ceil(n / stride) for n in x.shape[:2])
    windows = sliding_window_view(_pad(x, kernel, stride), (kernel, kernel), axis=(0, 1))
    return windows[::stride, ::stride][:rows, :cols].transpose(0, 1, 3, 4, 2)


@dataclass(frozen=True, slots=True)
class Block:
    """Mobile inverted bottleneck: 1×1 expand → depthwise k×k → 1×1 project (+ skip)."""

    expand: tuple[Array, Array] | None
    depthwise: tuple[Array, Array]
    project: tuple[Array, Array]
    stride: int
    skip: bool

    def __call__(self, x: Array) -> Array:
        y = x
        if self.expand is not None:
            y = _relu6(_matmul(y, *self.expand))
        y = _relu6(self._depthwise(y))
        out = _matmul(y, *self.project)
        if self.skip:
            out += x
        return out

    def _depthwise(self, x: Array) -> Array:
        weight, bias = self.depthwise
        windows = _windows(x, weight.shape[0], self.stride)
        # One pass over the windows with channels innermost (vectorised): several times faster
        # than k² whole-plane multiply-adds, which stream every plane through memory k² times.
        out: Array = np.einsum("hwijc,ijc->hwc", windows, weight)
        out += bias
        return out


def _matmul(x: Array, weight: Array, bias: Array) -> Array:
    """A 1×1 convolution (or the stem's gathered patches) as one matrix product."""
    rows, cols = x.shape[:2]
    out: Array = x.reshape(rows * cols, -1) @ weight
    out += bias
    return out.reshape(rows, cols, weight.shape[1])


class EfficientNetLite0:
    """``network(pixels)`` → the 1,000 ImageNet logits of one normalised 224×224×3 image."""

    def __init__(self, state: State) -> None:
        stem, self.stem_bias = folded(state, "_conv_stem", "_bn0")
        self.stem = np.ascontiguousarray(stem.transpose(2, 3, 1, 0).reshape(-1, STEM))
        self.blocks = [
            Block(
                expand=_pointwise(state, f"{p}._expand_conv", f"{p}._bn0") if expand != 1 else None,
                depthwise=_depthwise(state, f"{p}._depthwise_conv", f"{p}._bn1"),
                project=_pointwise(state, f"{p}._project_conv", f"{p}._bn2"),
                stride=stride,
                skip=stride == 1 and cin == cout,
            )
            for index, (cin, cout, expand, _, stride) in enumerate(block_layout())
            for p in [f"_blocks.{index}"]
        ]
        self.head = _pointwise(state, "_conv_head", "_bn1")
        self.fc = (np.ascontiguousarray(state["_fc.weight"].T), state["_fc.bias"].copy())

    def __call__(self, pixels: Array) -> Array:
        if pixels.shape != (SIZE, SIZE, 3):
            raise ValueError(f"expected a {SIZE}×{SIZE}×3 image, got {pixels.shape}")
        x = _relu6(self._stem(pixels.astype(np.float32, copy=False)))
        for block in self.blocks:
            x = block(x)
        x = _relu6(_matmul(x, *self.head))
        pooled = x.reshape(-1, HEAD).mean(axis=0)
        weight, bias = self.fc
        logits: Array = pooled @ weight + bias
        return logits

    def _stem(self, pixels: Array) -> Array:
        """3×3 stride-2 convolution: one matrix product over the gathered 3×3×3 patches."""
        return _matmul(_windows(pixels, 3, 2), self.stem, self.stem_bias)
