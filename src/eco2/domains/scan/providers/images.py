"""Fetch a photo's bytes for providers that need them: size cap, timeout, no redirects.

The URL was already checked against the allowed image hosts; redirects are refused so a
permitted host cannot bounce the request somewhere else (server-side request forgery).
"""

from __future__ import annotations

import httpx

from eco2.domains.scan.providers.base import ImageBytes, ProviderError


async def fetch_image(
    http: httpx.AsyncClient, url: str, *, max_bytes: int, timeout_seconds: float
) -> bytes:
    try:
        request = http.stream("GET", url, timeout=timeout_seconds, follow_redirects=False)
        async with request as response:
            if response.status_code != 200:
                raise ProviderError("image_fetch_failed", f"HTTP {response.status_code}")
            declared = int(response.headers.get("content-length") or 0)
            if declared > max_bytes:
                raise ProviderError("image_too_large", f"{declared} bytes")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise ProviderError("image_too_large", f"over {max_bytes} bytes")
            return bytes(body)
    except httpx.TimeoutException as exc:
        raise ProviderError("image_fetch_failed", "timeout") from exc
    except httpx.HTTPError as exc:
        raise ProviderError("image_fetch_failed", str(exc)) from exc


def lazy_image(http: httpx.AsyncClient, url: str, *, max_bytes: int, timeout: float) -> ImageBytes:
    """Fetch at most once, only if a provider asks."""
    cached: list[bytes] = []

    async def get() -> bytes:
        if not cached:
            body = await fetch_image(http, url, max_bytes=max_bytes, timeout_seconds=timeout)
            cached.append(body)
        return cached[0]

    return get
