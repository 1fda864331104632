"""The numpy network answers as the torch reference does, on the same inputs.

What torch answers is saved in ``tests/data/lite0_torch_reference.npz`` (``lite0_reference.py``
says how to regenerate it), so this runs without torch; where torch is installed the saved
answers are also checked against torch itself.
"""

from __future__ import annotations

import numpy as np
import pytest

from eco2.domains.scan.providers.local import TOP_K, load_model
from eco2.domains.scan.providers.local.weights import load_state
from tests.scan import lite0_reference
from tests.scan.lite0_reference import checkpoint, checkpoint_sha256, digest

LOGIT_TOLERANCE = 1e-3
"""float32 with batch norm folded into the convolutions; the observed gap is about 1e-5."""
TORCH_RERUN_TOLERANCE = 1e-4
"""torch against its own saved answers on another CPU (kernels differ in summation order)."""
REGENERATE = "regenerate it: .venv/bin/python -m tests.scan.lite0_reference (needs torch)"

REFERENCE = lite0_reference.load()


def test_the_reference_was_made_from_these_weights() -> None:
    assert REFERENCE.checkpoint_sha256 == checkpoint_sha256(), f"the weights changed; {REGENERATE}"


def test_the_weights_read_without_torch_equal_torch_load() -> None:
    ours = load_state(str(checkpoint()))
    assert list(ours) == list(REFERENCE.weights)
    for name, array in ours.items():
        assert digest(array) == REFERENCE.weights[name], name


@pytest.mark.parametrize("name", list(REFERENCE.logits))
def test_same_classes_and_logits_as_the_torch_reference(name: str) -> None:
    image = REFERENCE.inputs[name]
    assert digest(image) == REFERENCE.input_digests[name], f"{name} changed; {REGENERATE}"
    ours = load_model()(image)
    theirs = REFERENCE.logits[name]
    assert ours.shape == theirs.shape == (1000,)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=LOGIT_TOLERANCE)
    top = [int(i) for i in np.argsort(-ours)[:TOP_K]]
    assert top == [int(i) for i in np.argsort(-theirs)[:TOP_K]]


def test_the_inputs_cover_every_test_photo_and_synthetic_ones() -> None:
    """A photo added, replaced or removed without regenerating the reference fails here; the
    saved crops stay within a grey level of today's decoding (Pillow may round differently)."""
    crops = lite0_reference.photo_crops()
    assert set(REFERENCE.crops) == set(crops), REGENERATE
    assert {"pet_bottle.jpg", "frying_pan.webp", "spray_bottle.webp"} <= set(crops)
    for name, crop in crops.items():
        gap = np.abs(crop.astype(np.int16) - REFERENCE.crops[name]).mean()
        assert gap < 1.0, f"{name} differs from its saved crop; {REGENERATE}"
    assert {"noise-0", "flat-grey"} <= set(REFERENCE.inputs)


def test_the_saved_answers_are_what_torch_gives() -> None:
    torch = pytest.importorskip("torch")
    from tests.scan.torch_lite0 import load_lite0, logits

    torch.set_num_threads(1)
    state = torch.load(checkpoint(), map_location="cpu", weights_only=True)
    assert {name: digest(t.numpy()) for name, t in state.items()} == REFERENCE.weights
    model = load_lite0(str(checkpoint()))
    for name, image in REFERENCE.inputs.items():
        answer = logits(model, torch.from_numpy(image)).numpy()
        np.testing.assert_allclose(answer, REFERENCE.logits[name], atol=TORCH_RERUN_TOLERANCE)
