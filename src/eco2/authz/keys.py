"""Verification keys: the local key ring, or a JWKS URL kept fresh without restarts.

A JWKS source refetches periodically and, rate-limited, when a token names an unknown
``kid``: a rotated key is picked up within one refetch, while a flood of forged ``kid``s
costs at most one fetch per ``min_refetch_seconds``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, Protocol

import httpx
import structlog

from eco2.authz.metrics import KEY_FETCHES
from eco2.keys import load_key_ring
from eco2.platform.security import KeyRing
from eco2.settings import Settings

log = structlog.get_logger(__name__)
RETRY_UNTIL_LOADED_SECONDS = 1.0


class KeySource(Protocol):
    ring: KeyRing | None
    version: int  # bumps whenever ``ring`` changes (verified-token caches are dropped)

    async def refresh_for_unknown_kid(self) -> bool:
        """Try to learn new keys; True when the ring changed."""
        ...

    async def run(self) -> None:
        """Keep the keys current until cancelled."""
        ...


class StaticKeys:
    def __init__(self, ring: KeyRing | None) -> None:
        self.ring = ring
        self.version = 1

    async def refresh_for_unknown_kid(self) -> bool:
        return False

    async def run(self) -> None:
        return


class JwksKeys:
    def __init__(
        self,
        url: str,
        http: httpx.AsyncClient,
        *,
        refresh_seconds: float,
        min_refetch_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.http = http
        self.refresh_seconds = refresh_seconds
        self.min_refetch_seconds = min_refetch_seconds
        self.clock = clock
        self.ring: KeyRing | None = None
        self.version = 0
        self._jwks: dict[str, Any] | None = None
        self._last_fetch = float("-inf")
        self._lock = asyncio.Lock()

    async def fetch(self, trigger: str) -> bool:
        """Fetch the JWKS; True when the key set changed. Failures keep the old keys."""
        self._last_fetch = self.clock()
        try:
            response = await self.http.get(self.url, timeout=5.0)
            response.raise_for_status()
            jwks = response.json()
            ring = KeyRing.from_jwks(jwks)
        except (httpx.HTTPError, ValueError) as exc:
            KEY_FETCHES.labels(trigger, "error").inc()
            log.warning("jwks_fetch_failed", url=self.url, error=type(exc).__name__)
            return False
        KEY_FETCHES.labels(trigger, "ok").inc()
        if jwks == self._jwks:
            return False
        self._jwks, self.ring = jwks, ring
        self.version += 1
        log.info("jwks_loaded", url=self.url, kids=[k.get("kid") for k in jwks.get("keys", [])])
        return True

    async def refresh_for_unknown_kid(self) -> bool:
        if self.clock() - self._last_fetch < self.min_refetch_seconds:
            return False
        async with self._lock:  # single flight: concurrent misses share one fetch
            if self.clock() - self._last_fetch < self.min_refetch_seconds:
                return self.ring is not None
            return await self.fetch("unknown_kid")

    async def run(self) -> None:
        await self.fetch("start")
        while True:
            loaded = self.ring is not None
            await asyncio.sleep(self.refresh_seconds if loaded else RETRY_UNTIL_LOADED_SECONDS)
            await self.fetch("periodic" if loaded else "start")


def key_source(settings: Settings, http: httpx.AsyncClient) -> KeySource:
    """``ECO2_AUTHZ_JWKS_URL`` when set (the cluster), else the keys ``eco2 serve`` uses."""
    if settings.authz_jwks_url:
        return JwksKeys(
            settings.authz_jwks_url,
            http,
            refresh_seconds=settings.authz_jwks_refresh_seconds,
            min_refetch_seconds=settings.authz_jwks_min_refetch_seconds,
        )
    return StaticKeys(load_key_ring(settings))
