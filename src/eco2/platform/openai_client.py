"""The process's OpenAI-compatible client: one pooled connection set sized for slow calls.

Scan (vision, answers) and chat (streamed completions) each hold one; the pool is as large as
the concurrent model calls a process serves (``model_max_connections``), so hundreds of slow
or streaming calls never queue behind the SDK's default 100 keep-alive connections.
"""

from __future__ import annotations

import httpx2
from openai import AsyncOpenAI, DefaultAioHttpClient

from eco2.settings import Settings

CONNECT_TIMEOUT_SECONDS = 5.0


def make_client(
    *,
    api_key: str | None,
    base_url: str | None,
    timeout: float,
    max_connections: int,
    max_retries: int = 0,
) -> AsyncOpenAI:
    """An aiohttp-backed client whose pool holds ``max_connections`` concurrent calls."""
    limits = httpx2.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    return AsyncOpenAI(
        api_key=api_key or "missing",
        base_url=base_url,
        timeout=httpx2.Timeout(timeout, connect=CONNECT_TIMEOUT_SECONDS),
        max_retries=max_retries,
        http_client=DefaultAioHttpClient(limits=limits, timeout=timeout),
    )


def client_from_settings(settings: Settings, *, max_retries: int = 0) -> AsyncOpenAI:
    """``OPENAI_API_KEY`` / ``OPENAI_BASE_URL``, the model timeout and pool size."""
    return make_client(
        api_key=settings.openai_api_key,
        base_url=settings.openai_base_url or None,
        timeout=settings.model_timeout_seconds,
        max_connections=settings.model_max_connections,
        max_retries=max_retries,
    )
