"""An in-process copy of the revoked set (``blacklist:*``), kept current through pub/sub.

Every revocation is ``SET blacklist:… EX ttl`` + ``PUBLISH eco2:revocations <key>`` in one
transaction (``eco2.platform.security.Revocations``). This cache:

1. SUBSCRIBEs and waits for the confirmation, *then* SCANs the existing keys (with their
   TTLs), so no revocation can fall between the snapshot and the stream;
2. adds every published key at once and expires entries locally at their Redis TTL;
3. PINGs the subscription every ``HEARTBEAT_SECONDS``. Once nothing (message or pong) has
   arrived for ``STALE_AFTER_SECONDS`` the subscription counts as dead: the cache drops to
   per-request Redis lookups until it has resubscribed and reloaded.

Bound: a revocation is enforced by every authz process within
``ENFORCEMENT_BOUND_SECONDS`` (0.8 s). Pub/sub on one TCP connection is ordered, so if any
reply arrived after the revocation was published, the revocation arrived first (typically
within a millisecond); if none did, the cache stops trusting itself at most
``STALE_AFTER_SECONDS + HEARTBEAT_SECONDS`` later. While Redis cannot answer at all, checks
fail closed (503) unless ``ECO2_AUTHZ_FAIL_OPEN=true``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from eco2.authz.decisions import RevocationStoreUnavailable
from eco2.authz.metrics import REVOCATION_SYNCED, REVOKED_ENTRIES, revocation_counter
from eco2.platform.security import REVOCATION_CHANNEL, Identity, family_key, jti_key

log = structlog.get_logger(__name__)

HEARTBEAT_SECONDS = 0.2
STALE_AFTER_SECONDS = 0.6
ENFORCEMENT_BOUND_SECONDS = HEARTBEAT_SECONDS + STALE_AFTER_SECONDS
LOOKUP_TIMEOUT_SECONDS = 0.5  # a per-request fallback lookup must never hang a request
RECONNECT_MIN_SECONDS, RECONNECT_MAX_SECONDS = 0.1, 2.0
SWEEP_SECONDS = 30.0
SCAN_BATCH = 1000
PATTERN = "blacklist:*"


class StaleSubscription(Exception):
    """No message or pong within the staleness window."""


class RevocationCache:
    def __init__(
        self,
        redis_url: str,
        *,
        max_ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        heartbeat: float = HEARTBEAT_SECONDS,
        stale_after: float = STALE_AFTER_SECONDS,
    ) -> None:
        self.redis_url = redis_url
        self.max_ttl = max_ttl_seconds  # provisional expiry until the key's TTL is known
        self.clock = clock
        self.heartbeat = heartbeat
        self.stale_after = stale_after
        self.redis = Redis.from_url(
            redis_url,
            socket_connect_timeout=LOOKUP_TIMEOUT_SECONDS,
            socket_timeout=LOOKUP_TIMEOUT_SECONDS,
            retry_on_timeout=False,
        )
        self._revoked: dict[str, float] = {}  # key -> local monotonic deadline
        self._synced = asyncio.Event()
        # Stopped by a flag, not by cancelling: redis-py can swallow a CancelledError that
        # lands inside PubSub.get_message and then block on the socket forever.
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def synced(self) -> bool:
        return self._synced.is_set()

    async def wait_synced(self, within: float) -> bool:
        try:
            await asyncio.wait_for(self._synced.wait(), within)
        except TimeoutError:
            return False
        return True

    # --- lookups ----------------------------------------------------------------------------

    async def is_revoked(self, identity: Identity) -> bool:
        if self._synced.is_set():  # the fast path: no I/O
            revoked = self._local(identity)
            revocation_counter("local", "revoked" if revoked else "clear").inc()
            return revoked
        return await self._remote(identity)

    def contains(self, key: str) -> bool:
        deadline = self._revoked.get(key)
        return deadline is not None and deadline > self.clock()

    def _local(self, identity: Identity) -> bool:
        if identity.jti and self.contains(jti_key(identity.jti)):
            return True
        return bool(identity.family_id) and self.contains(family_key(identity.family_id or ""))

    async def _remote(self, identity: Identity) -> bool:
        keys = [jti_key(identity.jti)] if identity.jti else []
        if identity.family_id:
            keys.append(family_key(identity.family_id))
        try:
            values = await self.redis.mget(keys) if keys else []
        except (RedisError, OSError) as exc:
            revocation_counter("redis", "error").inc()
            raise RevocationStoreUnavailable from exc
        revoked = any(v is not None for v in values)
        revocation_counter("redis", "revoked" if revoked else "clear").inc()
        return revoked

    # --- keeping the set current ------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="authz-revocations")

    async def close(self) -> None:
        self._stopping.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), 2 * self.heartbeat + 1.0)
            except TimeoutError:
                self._task.cancel()
        self._set_synced(False)
        await self.redis.aclose()

    async def _run(self) -> None:
        """Subscribe, load, follow; on any failure fall back and start over."""
        backoff = RECONNECT_MIN_SECONDS
        while not self._stopping.is_set():
            try:
                await self._session()
            except Exception as exc:  # whatever broke, never keep trusting a stale set
                log.warning("revocations_unsynced", error=type(exc).__name__, detail=str(exc))
            # A session that got as far as synced was healthy: retry quickly after it.
            backoff = RECONNECT_MIN_SECONDS if self.synced else backoff * 2
            backoff = min(backoff, RECONNECT_MAX_SECONDS)
            self._set_synced(False)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), backoff)

    async def _session(self) -> None:
        client = Redis.from_url(self.redis_url, socket_connect_timeout=1.0, socket_timeout=2.0)
        pubsub = client.pubsub()
        try:
            await pubsub.subscribe(REVOCATION_CHANNEL)
            await self._await_subscribed(pubsub)
            self._revoked = await self._snapshot(client)
            self._set_synced(True)
            log.info("revocations_synced", entries=len(self._revoked))
            await self._follow(pubsub, client)
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]
            await client.aclose()

    async def _await_subscribed(self, pubsub: PubSub) -> None:
        deadline = self.clock() + max(self.stale_after, 1.0)
        while self.clock() < deadline:
            message = await pubsub.get_message(timeout=self.heartbeat)
            if message and message["type"] == "subscribe":
                return
        raise StaleSubscription("no subscribe confirmation")

    async def _snapshot(self, client: Redis) -> dict[str, float]:
        revoked: dict[str, float] = {}
        batch: list[bytes] = []
        async for key in client.scan_iter(match=PATTERN, count=SCAN_BATCH):
            batch.append(key)
            if len(batch) >= SCAN_BATCH:
                await self._add_with_ttls(client, batch, revoked)
                batch = []
        await self._add_with_ttls(client, batch, revoked)
        return revoked

    async def _add_with_ttls(
        self, client: Redis, keys: list[bytes], into: dict[str, float]
    ) -> None:
        if not keys:
            return
        async with client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.pttl(key)
            ttls = await pipe.execute()
        now = self.clock()
        for key, ttl_ms in zip(keys, ttls, strict=True):
            deadline = _deadline(now, ttl_ms)
            if deadline is not None:
                into[key.decode()] = deadline

    async def _follow(self, pubsub: PubSub, client: Redis) -> None:
        last_heard = last_ping = last_sweep = self.clock()
        while not self._stopping.is_set():
            message = await pubsub.get_message(timeout=self.heartbeat)
            now = self.clock()
            if message is not None:
                last_heard = now
                if message["type"] == "message":
                    await self._on_revoked(client, message["data"])
            if now - last_heard > self.stale_after:
                raise StaleSubscription(f"silent for {now - last_heard:.2f}s")
            if now - last_ping >= self.heartbeat:
                await pubsub.ping()
                last_ping = now
            if now - last_sweep >= SWEEP_SECONDS:
                self._sweep(now)
                last_sweep = now

    async def _on_revoked(self, client: Redis, data: Any) -> None:
        key = data.decode() if isinstance(data, bytes) else str(data)
        if not key.startswith(PATTERN[:-1]):
            return
        # Enforced from this instant; the exact TTL only decides when to forget the entry.
        self._revoked[key] = self.clock() + self.max_ttl
        await self._add_with_ttls(client, [key.encode()], self._revoked)
        REVOKED_ENTRIES.set(len(self._revoked))

    def _sweep(self, now: float) -> None:
        self._revoked = {k: v for k, v in self._revoked.items() if v > now}
        REVOKED_ENTRIES.set(len(self._revoked))

    def _set_synced(self, synced: bool) -> None:
        if synced:
            self._synced.set()
        else:
            self._synced.clear()
        REVOCATION_SYNCED.set(1 if synced else 0)
        REVOKED_ENTRIES.set(len(self._revoked))


def _deadline(now: float, ttl_ms: int) -> float | None:
    """Local deadline for a key's PTTL: -2 = already gone, -1 = no expiry."""
    if ttl_ms == -2:
        return None
    if ttl_ms == -1:
        return math.inf
    return now + ttl_ms / 1000
