"""The local revoked set (the kernel's, used by authz and the app): snapshot + pub/sub, local
TTLs, this process's own revocations, and the enforcement bound.

Runs against its own Valkey so one test can stop and restart it under the cache.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from redis.asyncio import Redis

from eco2.platform.embedded import EmbeddedServer, start_valkey
from eco2.platform.revocations import (
    ENFORCEMENT_BOUND_SECONDS,
    HEARTBEAT_SECONDS,
    STALE_AFTER_SECONDS,
    RevocationCache,
    RevocationStoreUnavailable,
    _deadline,
    fallback_client,
    revocation_metrics,
)
from eco2.platform.security import Identity, Revocations, family_key, jti_key
from tests.authz.proxy import FreezableProxy

MAX_TTL = 3600.0
METRICS = revocation_metrics("test", None)


@pytest.fixture(scope="module")
def valkey(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    server = start_valkey(tmp_path_factory.mktemp("revocations"))
    yield server
    server.stop()


@pytest.fixture
async def redis(valkey: EmbeddedServer) -> AsyncIterator[Redis]:
    client = Redis.from_url(valkey.url)
    await client.flushdb()
    yield client
    await client.aclose()


@asynccontextmanager
async def running(url: str) -> AsyncIterator[RevocationCache]:
    lookups = fallback_client(url)
    cache = RevocationCache(url, lookups=lookups, metrics=METRICS, max_ttl_seconds=MAX_TTL)
    cache.start()
    try:
        assert await cache.wait_synced(5.0)
        yield cache
    finally:
        await cache.close()
        await lookups.aclose()


def who(jti: str | None = None, family: str | None = None) -> Identity:
    return Identity("u", "kakao", jti or uuid.uuid4().hex, family, int(time.time()) + 900)


async def revoke(redis: Redis, ident: Identity, ttl: int = 600) -> None:
    await Revocations(redis).revoke_token(ident.jti or "", int(time.time()) + ttl)


async def enforced_after(cache: RevocationCache, ident: Identity) -> float:
    """Seconds until a check stops allowing ``ident`` (revoked, or refused as unknowable)."""
    started = time.monotonic()
    while time.monotonic() - started < 5:
        try:
            if await cache.is_revoked(ident):
                break
        except RevocationStoreUnavailable:
            break
        await asyncio.sleep(0.01)
    return time.monotonic() - started


async def test_existing_keys_are_loaded_and_new_ones_streamed(
    redis: Redis, valkey: EmbeddedServer
) -> None:
    before, family = who(), who(family=uuid.uuid4().hex)
    await revoke(redis, before)
    await Revocations(redis).revoke_family(family.family_id or "", 600)
    async with running(valkey.url) as cache:
        assert await cache.is_revoked(before)  # from the SCAN snapshot
        assert await cache.is_revoked(family)
        assert not await cache.is_revoked(who())
        after = who()
        await revoke(redis, after)
        assert await enforced_after(cache, after) < 0.1  # pub/sub: milliseconds
        assert cache.synced  # all answered locally


async def test_own_revocations_are_enforced_before_pubsub_delivers(
    redis: Redis, valkey: EmbeddedServer
) -> None:
    async with running(valkey.url) as cache:
        ident, family = who(), who(family=uuid.uuid4().hex)
        revocations = Revocations(redis, cache)
        await revocations.revoke_token(ident.jti or "", int(time.time()) + 600)
        await revocations.revoke_family(family.family_id or "", 600)
        # No await in between: the subscription cannot have delivered anything yet.
        assert cache.contains(jti_key(ident.jti or ""))
        assert cache.contains(family_key(family.family_id or ""))
        assert await cache.is_revoked(ident)
        assert await cache.is_revoked(family)


async def test_a_resync_keeps_own_revocations_made_meanwhile(
    redis: Redis, valkey: EmbeddedServer
) -> None:
    async with running(valkey.url) as cache:
        await redis.client_kill_filter(_type="pubsub")
        for _ in range(500):
            if not cache.synced:
                break
            await asyncio.sleep(0.01)
        assert not cache.synced
        ident = who()
        cache.add(jti_key(ident.jti or ""), 600)  # in the local set only, not in Redis
        assert await cache.wait_synced(5.0)  # a fresh snapshot that lacks the key...
        assert await cache.is_revoked(ident)  # ...merged into the set, not replacing it


async def test_a_busy_event_loop_is_not_taken_for_a_dead_subscription(
    redis: Redis, valkey: EmbeddedServer
) -> None:
    async with running(valkey.url) as cache:
        unpublished = who()
        await redis.set(jti_key(unpublished.jti or ""), b"1", ex=60)  # only a reload sees it
        time.sleep(2 * STALE_AFTER_SECONDS)  # noqa: ASYNC251 (the point: a blocked loop, as GC)
        await asyncio.sleep(3 * HEARTBEAT_SECONDS)
        assert not await cache.is_revoked(unpublished)  # still the same, trusted subscription


async def test_entries_expire_locally_at_their_redis_ttl(
    redis: Redis, valkey: EmbeddedServer
) -> None:
    async with running(valkey.url) as cache:
        ident = who()
        await revoke(redis, ident, ttl=60)
        await enforced_after(cache, ident)  # enforced at once with a provisional expiry...
        key = jti_key(ident.jti or "")
        for _ in range(100):  # ...then forgotten when Redis forgets it
            if cache._revoked[key] - time.monotonic() <= 60:
                break
            await asyncio.sleep(0.01)
        assert 55 < cache._revoked[key] - time.monotonic() <= 60
        assert _deadline(0.0, -2) is None
        assert _deadline(0.0, -1) == float("inf")


async def test_killed_subscription_falls_back_to_redis_then_resyncs(
    redis: Redis, valkey: EmbeddedServer
) -> None:
    async with running(valkey.url) as cache:
        await redis.client_kill_filter(_type="pubsub")
        ident = who()
        await revoke(redis, ident)  # maybe published to nobody
        # Seen through the fallback lookup or the new snapshot, well within the bound.
        assert await enforced_after(cache, ident) < ENFORCEMENT_BOUND_SECONDS
        assert await cache.wait_synced(5.0)
        assert await cache.is_revoked(ident)


async def test_a_silently_dead_subscription_is_noticed_within_the_bound(
    redis: Redis, valkey: EmbeddedServer
) -> None:
    """No FIN, no RST: pub/sub just goes quiet. The heartbeat must notice in time."""
    assert ENFORCEMENT_BOUND_SECONDS <= 1.0
    proxy = FreezableProxy(int(valkey.url.rsplit(":", 1)[1].split("/")[0]))
    await proxy.start()
    try:
        async with running(f"redis://127.0.0.1:{proxy.port}/0") as cache:
            proxy.freeze()
            ident = who()
            await revoke(redis, ident)  # straight to Redis: the frozen subscriber never hears it
            assert await enforced_after(cache, ident) <= ENFORCEMENT_BOUND_SECONDS + 0.1
            assert await cache.wait_synced(5.0)  # resubscribed through a fresh connection
            assert await cache.is_revoked(ident)
    finally:
        await proxy.stop()


async def test_redis_down_fails_closed_then_recovers(tmp_path: Path) -> None:
    server = start_valkey(tmp_path)
    port = int(server.url.rsplit(":", 1)[1].split("/")[0])
    try:
        async with running(server.url) as cache:
            server.stop()
            await asyncio.sleep(0.3)
            with pytest.raises(RevocationStoreUnavailable):
                await cache.is_revoked(who())
            server = start_valkey(tmp_path, port=port)
            assert await cache.wait_synced(5.0)
            assert not await cache.is_revoked(who())
    finally:
        server.stop()
