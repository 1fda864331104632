"""An in-process copy of the revoked set (``blacklist:*``), kept current through pub/sub.

Used by the ext_authz server and by every app process that verifies tokens itself
(``ECO2_AUTH_TRUST_GATEWAY=false``), so neither needs a Redis round trip per request.

Every revocation is ``SET blacklist:… EX ttl`` + ``PUBLISH eco2:revocations <key>`` in one
transaction (``eco2.platform.security.Revocations``). This cache:

1. SUBSCRIBEs and waits for the confirmation, *then* SCANs the existing keys (with their
   TTLs), so no revocation can fall between the snapshot and the stream;
2. adds every published key at once and expires entries locally at their Redis TTL;
3. PINGs the subscription every ``HEARTBEAT_SECONDS``. Once a PING is unanswered and nothing
   (message or pong) has arrived for ``STALE_AFTER_SECONDS`` the subscription counts as dead
   (a merely busy event loop does not: what arrived meanwhile waits on the socket); the cache
   drops to per-request Redis lookups until it has resubscribed and reloaded.

Bound: a revocation made by this process is enforced here at once (``Revocations`` adds it
to the attached cache, whatever Redis answers); every other process enforces it within
``ENFORCEMENT_BOUND_SECONDS`` (0.8 s). Pub/sub on one TCP connection is ordered, so if any
reply arrived after the revocation was published, the revocation arrived first (typically
within a millisecond); if none did, the cache stops trusting itself at most
``STALE_AFTER_SECONDS + HEARTBEAT_SECONDS`` later. While Redis cannot answer at all, checks
raise :class:`RevocationStoreUnavailable` (callers fail closed with a 503).

A revocation made while Redis was unreachable waits in a durable outbox (the auth domain's);
``before_sync`` publishes it when this cache re-syncs, before the snapshot, so a cache that
reconnects never trusts a Redis that lacks it. If that hook fails, the cache keeps failing
closed (503) instead of looking keys up in Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from eco2.platform.cache import DRIVER_INFO
from eco2.platform.security import REVOCATION_CHANNEL, Identity, family_key, jti_key, revoked_in
from eco2.settings import Settings

log = structlog.get_logger(__name__)

HEARTBEAT_SECONDS = 0.2
STALE_AFTER_SECONDS = 0.6
ENFORCEMENT_BOUND_SECONDS = HEARTBEAT_SECONDS + STALE_AFTER_SECONDS
LOOKUP_TIMEOUT_SECONDS = 0.5  # a per-request fallback lookup must never hang a request
RECONNECT_MIN_SECONDS, RECONNECT_MAX_SECONDS = 0.1, 2.0
SESSION_TIMEOUT_SECONDS = 2.0  # bounds every call the follower makes on its own connection
SWEEP_SECONDS = 30.0
SCAN_BATCH = 1000
PATTERN = "blacklist:*"
WAKE_MESSAGE = "wake"  # not a revoked key (those match PATTERN)


class RevocationStoreUnavailable(Exception):
    """Neither the local revoked set nor Redis can say whether a token is revoked."""


@dataclass(frozen=True, slots=True)
class RevocationMetrics:
    synced: Gauge
    entries: Gauge
    lookups: Counter  # labels: source (local, redis), result (revoked, clear, error)


def revocation_metrics(prefix: str, registry: CollectorRegistry | None) -> RevocationMetrics:
    """The cache's instruments under ``<prefix>_…`` (``registry=None``: not exported)."""
    return RevocationMetrics(
        Gauge(
            f"{prefix}_revocation_synced",
            "1 while the local revoked set is subscribed and loaded, else 0 (Redis per request).",
            registry=registry,
        ),
        Gauge(f"{prefix}_revoked_entries", "Entries in the local revoked set.", registry=registry),
        Counter(
            f"{prefix}_revocation_lookups",
            "Revocation checks by source (local set or Redis fallback) and result.",
            ["source", "result"],
            registry=registry,
        ),
    )


def fallback_client(redis_url: str) -> Redis:
    """A client for the per-request lookups of a process that has no other Redis client."""
    return Redis.from_url(
        redis_url,
        socket_connect_timeout=LOOKUP_TIMEOUT_SECONDS,
        socket_timeout=LOOKUP_TIMEOUT_SECONDS,
        retry_on_timeout=False,
        **DRIVER_INFO,
    )


class StaleSubscription(Exception):
    """No message or pong within the staleness window."""


class RevocationCache:
    def __init__(
        self,
        redis_url: str,
        *,
        lookups: Redis,
        metrics: RevocationMetrics,
        max_ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        heartbeat: float = HEARTBEAT_SECONDS,
        stale_after: float = STALE_AFTER_SECONDS,
    ) -> None:
        self.redis_url = redis_url
        self.lookups = lookups  # the caller's client (and the caller closes it)
        self.metrics = metrics
        self.max_ttl = max_ttl_seconds  # provisional expiry until the key's TTL is known
        self.clock = clock
        self.heartbeat = heartbeat
        self.stale_after = stale_after
        self._revoked: dict[str, float] = {}  # key -> local monotonic deadline
        self._synced = asyncio.Event()
        # Stopped by a flag, not by cancelling: redis-py can swallow a CancelledError that
        # lands inside PubSub.get_message and then block on the socket forever.
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._following: PubSub | None = None
        self.before_sync: Callable[[], Awaitable[object]] | None = None
        self._doubtful = False  # before_sync failed: Redis may lack revocations

    @classmethod
    def for_settings(
        cls, settings: Settings, *, lookups: Redis, metrics: RevocationMetrics
    ) -> RevocationCache:
        s = settings
        # No revoked token outlives the longest token lifetime (plus the clock-skew leeway).
        max_ttl = max(s.auth_access_ttl_seconds, s.auth_refresh_ttl_seconds) + s.auth_leeway_seconds
        return cls(s.redis_url or "", lookups=lookups, metrics=metrics, max_ttl_seconds=max_ttl)

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
            _child(self.metrics.lookups, "local", "revoked" if revoked else "clear").inc()
            return revoked
        return await self._remote(identity)

    def contains(self, key: str) -> bool:
        deadline = self._revoked.get(key)
        return deadline is not None and deadline > self.clock()

    def add(self, key: str, ttl_seconds: float) -> None:
        """A revocation this process has just written to Redis: enforced from now on."""
        self._revoked[key] = self.clock() + ttl_seconds

    def _local(self, identity: Identity) -> bool:
        if identity.jti and self.contains(jti_key(identity.jti)):
            return True
        return bool(identity.family_id) and self.contains(family_key(identity.family_id or ""))

    async def _remote(self, identity: Identity) -> bool:
        if self._doubtful:
            _child(self.metrics.lookups, "redis", "error").inc()
            raise RevocationStoreUnavailable("revocations recorded meanwhile are not published")
        try:
            revoked = await revoked_in(self.lookups, identity)
        except (RedisError, OSError) as exc:
            _child(self.metrics.lookups, "redis", "error").inc()
            raise RevocationStoreUnavailable from exc
        _child(self.metrics.lookups, "redis", "revoked" if revoked else "clear").inc()
        return revoked

    # --- keeping the set current ------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="revocations")

    async def close(self) -> None:
        """Stop the follower by its flag and wait for it: every call it makes ends within
        ``SESSION_TIMEOUT_SECONDS``, after which it sees the flag. Cancelling it instead could
        land inside redis-py's read, which may swallow the cancellation and leave a task that
        no event loop shutdown can finish."""
        self._stopping.set()
        await self._wake()
        if self._task is not None:
            deadline = 2 * SESSION_TIMEOUT_SECONDS + self.heartbeat + RECONNECT_MAX_SECONDS
            _, pending = await asyncio.wait({self._task}, timeout=deadline)
            if pending:  # not expected: every step above is bounded
                log.warning("revocations_follower_stuck")
                self._task.cancel()
        self._set_synced(False)

    async def _wake(self) -> None:
        """Publish on the channel: the delivery ends the follower's wait for a message now, not
        up to a heartbeat later (an app closes this on every shutdown, tests many times). Sent
        on the lookup client: the subscription's own connection belongs to the follower task,
        and redis-py connections are not safe to share between tasks. Other subscribers ignore
        the message: it names no revoked key."""
        if self._following is not None:
            with contextlib.suppress(RedisError, OSError):
                await self.lookups.publish(REVOCATION_CHANNEL, WAKE_MESSAGE)

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
        client = Redis.from_url(
            self.redis_url, socket_connect_timeout=1.0, socket_timeout=SESSION_TIMEOUT_SECONDS
        )
        pubsub = client.pubsub()
        try:
            await pubsub.subscribe(REVOCATION_CHANNEL)
            await self._await_subscribed(pubsub)
            if self.before_sync is not None:
                try:
                    await self.before_sync()
                except Exception:
                    self._doubtful = True
                    raise
                self._doubtful = False
            snapshot = await self._snapshot(client)
            # Merged, not replaced: keys added meanwhile by this process's own revocations
            # stay (entries are only ever forgotten at their deadline).
            self._revoked = {**self._revoked, **snapshot}
            self._set_synced(True)
            log.info("revocations_synced", entries=len(self._revoked))
            self._following = pubsub
            await self._follow(pubsub, client)
        finally:
            self._following = None
            await pubsub.aclose()
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
            if last_ping > last_heard and now - last_heard > self.stale_after:
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
        self.metrics.entries.set(len(self._revoked))

    def _sweep(self, now: float) -> None:
        self._revoked = {k: v for k, v in self._revoked.items() if v > now}
        self.metrics.entries.set(len(self._revoked))

    def _set_synced(self, synced: bool) -> None:
        if synced:
            self._synced.set()
        else:
            self._synced.clear()
        self.metrics.synced.set(1 if synced else 0)
        self.metrics.entries.set(len(self._revoked))


def _deadline(now: float, ttl_ms: int) -> float | None:
    """Local deadline for a key's PTTL: -2 = already gone, -1 = no expiry."""
    if ttl_ms == -2:
        return None
    if ttl_ms == -1:
        return math.inf
    return now + ttl_ms / 1000


@cache
def _child(counter: Counter, source: str, result: str) -> Counter:
    # A small closed label set; labels() takes a lock and a dict lookup on every call.
    return counter.labels(source, result)
