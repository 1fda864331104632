"""``Idempotency-Key`` on job submits: a client that retries a submit after a dropped response
gets the job its first request started, not a second job (and a second model call), and spends
no more of its rate limit.

The key (``Idempotency-Key``, or ``X-Idempotency-Key`` as the original Eco² client sent it) is
remembered per user and endpoint for ``idempotency_ttl_seconds`` together with a fingerprint
of the request; the same key with another request body is refused (422), as the IETF draft
``draft-ietf-httpapi-idempotency-key-header`` recommends.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import msgspec
from litestar import Request
from redis.asyncio import Redis
from redis.exceptions import RedisError

from eco2.platform.errors import InvalidInput, ServiceUnavailable

HEADERS = ("idempotency-key", "x-idempotency-key")
_VALID_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


class Claim(msgspec.Struct):
    job_id: str
    fingerprint: str


def request_key(request: Request[Any, Any, Any]) -> str | None:
    """The request's idempotency key, if it sent one (a malformed one is a 422)."""
    for header in HEADERS:
        value = request.headers.get(header)
        if value is None:
            continue
        value = value.strip().strip('"')
        if not _VALID_KEY.match(value):
            raise InvalidInput(
                "Idempotency-Key는 공백 없는 1~255자의 ASCII 문자여야 합니다.",
                code="invalid_idempotency_key",
                field=header,
            )
        return value
    return None


def fingerprint(body: Any) -> str:
    return hashlib.sha256(msgspec.json.encode(body, order="deterministic")).hexdigest()


def _name(scope: str, user_id: str, key: str) -> str:
    return f"idempotency:{scope}:{user_id}:{hashlib.sha256(key.encode()).hexdigest()}"


def _same_request(raw: bytes | str, mine: str) -> str:
    """The first request's job id, if this request is the same one (else a 422)."""
    first = msgspec.json.decode(raw, type=Claim)
    if first.fingerprint != mine:
        raise InvalidInput(
            "같은 Idempotency-Key로 다른 요청을 보낼 수 없습니다.",
            code="idempotency_key_reused",
            field="Idempotency-Key",
        )
    return first.job_id


async def _replayed_job_id(
    redis: Redis, scope: str, user_id: str, key: str | None, body: Any
) -> str | None:
    """The job a first request with ``key`` got, if there was one: a retry of an accepted
    submit is answered with it and spends no rate limit."""
    if key is None:
        return None
    try:
        raw = await redis.get(_name(scope, user_id, key))
    except RedisError as exc:
        raise ServiceUnavailable(code="idempotency_store_unavailable") from exc
    return None if raw is None else _same_request(raw, fingerprint(body))


async def _claim_job_id(
    redis: Redis, scope: str, user_id: str, key: str | None, body: Any, ttl: int
) -> str:
    """The job id for this submit: new, or the one the first request with ``key`` got."""
    job_id = str(uuid.uuid4())
    if key is None:
        return job_id
    mine = Claim(job_id, fingerprint(body))
    name = _name(scope, user_id, key)
    try:
        if await redis.set(name, msgspec.json.encode(mine), nx=True, ex=ttl):
            return job_id
        raw = await redis.get(name)
    except RedisError as exc:
        raise ServiceUnavailable(code="idempotency_store_unavailable") from exc
    if raw is None:  # expired between the two calls: this request is the first again
        return await _claim_job_id(redis, scope, user_id, key, body, ttl)
    return _same_request(raw, mine.fingerprint)


@asynccontextmanager
async def submission(
    redis: Redis,
    scope: str,
    user_id: str,
    key: str | None,
    body: Any,
    ttl: int,
    limit: AbstractAsyncContextManager[None],
) -> AsyncIterator[str]:
    """The job id of a submit, for the block that accepts it. A new submit spends one use of
    ``limit`` (given back if the block fails); a retry of an accepted one spends none."""
    replayed = await _replayed_job_id(redis, scope, user_id, key, body)
    if replayed is not None:
        yield replayed
        return
    async with limit:
        yield await _claim_job_id(redis, scope, user_id, key, body, ttl)
