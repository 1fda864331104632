"""Profiles: reads and edits, the record auth keeps at each sign-in, account deletion (a job:
``erasure``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy import Uuid, any_, bindparam, delete, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from eco2.domains.users.erasure import Erasures, ErasureState
from eco2.domains.users.models import User
from eco2.domains.users.nicknames import NICKNAME_MAX, clean_nickname, eco_nickname
from eco2.domains.users.schemas import LoginRecord, LoginResult, UserProfile
from eco2.platform.batching import BatchLoader
from eco2.platform.db import utcnow
from eco2.platform.errors import InvalidInput
from eco2.platform.ids import parse_user_id, user_not_found
from eco2.platform.runtime import Runtime

FALLBACK_USERNAME = "사용자"

# Every page of the web client asks for the profile: read by primary key, outside any
# transaction, and batched with the profiles other requests want at the same moment.
PROFILES = select(
    User.id,
    User.username,
    User.nickname,
    User.phone_number,
    User.provider,
    User.profile_image_url,
    User.last_login_at,
).where(User.id == any_(bindparam("ids", type_=ARRAY(Uuid))))


class UserService:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._profiles = BatchLoader(self._read_profiles)
        self._erasures = Erasures(runtime)

    async def profile(self, user_id: str) -> UserProfile:
        """From PostgreSQL on every call (no cache to fall behind a change or a deletion)."""
        profile = await self._profiles.load(parse_user_id(user_id))
        if profile is None:
            raise user_not_found()
        return profile

    async def _read_profiles(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, UserProfile]:
        rows = await self._runtime.statements.read(PROFILES, {"ids": list(ids)})
        return {row.id: to_user_profile(row) for row in rows}

    async def update(self, user_id: str, changes: dict[str, str | None]) -> UserProfile:
        async with self._runtime.sessions.begin() as session:
            user = await _get_user(session, user_id)
            for field, value in changes.items():
                setattr(user, field, value)
            await session.flush()
            return to_user_profile(user)

    async def record_login(self, record: LoginRecord) -> LoginResult:
        """Touch a known user or create one; ``created`` tells auth to run first-login work."""
        profile = record.profile
        async with self._runtime.sessions.begin() as session:
            user = (
                await session.get(User, parse_user_id(record.user_id)) if record.user_id else None
            )
            if user is not None:
                user.last_login_at = utcnow()
                user.provider = profile.provider
                user.profile_image_url = user.profile_image_url or profile.profile_image_url
                return LoginResult(user_id=str(user.id), created=False)
            nickname = _display_name(profile.nickname) or eco_nickname()
            user = User(
                username=nickname,
                nickname=nickname,
                email=profile.email,
                profile_image_url=profile.profile_image_url,
                provider=profile.provider,
            )
            session.add(user)
            await session.flush()
            return LoginResult(user_id=str(user.id), created=True)

    async def delete_account(self, user_id: str) -> None:
        """Record the deletion of the user's data in every domain that keeps some, the profile
        included, and queue its job; done once recorded (the job finishes it)."""
        async with self._runtime.sessions() as session:
            await _get_user(session, user_id)
        await self._erasures.request(user_id)

    async def erasure_state(self, user_id: str) -> ErasureState:
        return await self._erasures.state(user_id)

    async def forget_user(self, user_id: str) -> None:
        async with self._runtime.sessions.begin() as session:
            await session.execute(delete(User).where(User.id == parse_user_id(user_id)))


async def _get_user(session: AsyncSession, user_id: str) -> User:
    user = await session.get(User, parse_user_id(user_id))
    if user is None:
        raise user_not_found()
    return user


class ProfileColumns(Protocol):
    """A ``User``, or a row of the columns ``PROFILES`` selects."""

    username: str
    nickname: str
    phone_number: str | None
    provider: str
    profile_image_url: str | None
    last_login_at: datetime


def to_user_profile(user: ProfileColumns) -> UserProfile:
    return UserProfile(
        username=user.username or user.nickname or FALLBACK_USERNAME,
        nickname=user.nickname,
        phone_number=user.phone_number,
        provider=user.provider,
        profile_image_url=user.profile_image_url,
        last_login_at=user.last_login_at,
    )


def _display_name(raw: str | None) -> str | None:
    if not raw:
        return None
    try:
        return clean_nickname(raw[:NICKNAME_MAX])
    except InvalidInput:
        return None
