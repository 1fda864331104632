"""Revocations that outlive a Redis outage: an outbox in PostgreSQL.

A logout or a family revocation writes its Redis keys (``blacklist:…`` with the time they may
be forgotten) into ``auth.revocation_outbox`` in the same transaction that revokes the
refresh tokens, and only then publishes them (``SET`` + ``PUBLISH``: every process's revoked
set learns them). A key leaves the outbox once Redis has it. While Redis is unreachable:

* the process that recorded the revocation enforces it at once (its own revoked set) and
  tries to publish it again every second until Redis answers (:class:`Relay`);
* every process that re-syncs its revoked set after a reconnect first publishes what the
  outbox holds (``Revocations.before_sync``), so a set that trusts Redis again has it;
* a sweep every ``SWEEP_SECONDS`` publishes what a process that died before publishing left.

So a logged-out token is never accepted again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Collection, Iterable
from datetime import UTC, datetime, timedelta

import structlog
from redis.exceptions import RedisError
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from eco2.domains.auth.models import RevocationOutbox
from eco2.platform.db import utcnow
from eco2.platform.runtime import Runtime
from eco2.platform.security import family_key, jti_key

log = structlog.get_logger(__name__)

RETRY_SECONDS = 1.0
SWEEP_SECONDS = 30.0

Entry = tuple[str, datetime]  # a revoked key and when it may be forgotten


def family_entries(family_ids: Iterable[str], ttl_seconds: int) -> list[Entry]:
    until = utcnow() + timedelta(seconds=ttl_seconds)
    return [(family_key(f), until) for f in family_ids]


def token_entry(jti: str, expires_at: int) -> Entry:
    return jti_key(jti), datetime.fromtimestamp(expires_at, tz=UTC)


async def record(session: AsyncSession, entries: Collection[Entry]) -> None:
    """Part of the revoking transaction: the keys to publish, durable before anything else."""
    if not entries:
        return
    stmt = insert(RevocationOutbox).values([{"key": k, "expires_at": t} for k, t in entries])
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[RevocationOutbox.key], set_={"expires_at": stmt.excluded.expires_at}
        )
    )


async def publish(runtime: Runtime, entries: Collection[Entry]) -> None:
    """Tell Redis (and through it every process); the entries leave the outbox once it has
    them. Raises ``RedisError`` when Redis is away (the entries stay recorded)."""
    now = utcnow()
    for key, until in entries:
        await runtime.revocations.publish(key, int((until - now).total_seconds()))
    try:
        async with runtime.sessions.begin() as session:
            await session.execute(
                delete(RevocationOutbox).where(RevocationOutbox.key.in_([k for k, _ in entries]))
            )
    except SQLAlchemyError as exc:  # published: the next sweep publishes them again, harmlessly
        log.warning("revocation_outbox_not_cleared", error=type(exc).__name__)


async def publish_recorded(runtime: Runtime) -> int:
    """Publish everything in the outbox (and forget what has expired meanwhile)."""
    async with runtime.sessions.begin() as session:
        await session.execute(
            delete(RevocationOutbox).where(RevocationOutbox.expires_at <= utcnow())
        )
        rows = (
            await session.execute(select(RevocationOutbox.key, RevocationOutbox.expires_at))
        ).all()
    entries = [(key, until) for key, until in rows]
    if entries:
        await publish(runtime, entries)
        log.info("revocations_published", count=len(entries))
    return len(entries)


class Relay:
    """Publishes the outbox: at once when a revocation could not reach Redis, then every
    second until it does; and every ``SWEEP_SECONDS`` in any case."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.runtime.revocations.attach_outbox(publish=self.publish, waiting=self.wake)
        self._task = asyncio.create_task(self._run(), name="revocation-relay")

    async def publish(self) -> None:
        await publish_recorded(self.runtime)

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        wait = SWEEP_SECONDS
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
            self._wake.clear()
            try:
                await publish_recorded(self.runtime)
                wait = SWEEP_SECONDS
            except Exception as exc:  # Redis or PostgreSQL away: again soon
                log.warning("revocations_not_published", error=type(exc).__name__)
                wait = RETRY_SECONDS

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def revoke(runtime: Runtime, entries: Collection[Entry]) -> None:
    """Publish revocations already recorded; if Redis is away, leave them to the relay."""
    try:
        await publish(runtime, entries)
    except (RedisError, OSError) as exc:
        log.error("revocation_deferred", error=type(exc).__name__, keys=len(entries))
        now = utcnow()
        for key, until in entries:  # this process refuses the tokens from now on
            runtime.revocations.remember(key, (until - now).total_seconds())
        runtime.revocations.outbox_waiting()
