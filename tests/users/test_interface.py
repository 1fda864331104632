"""The users port (``users/interface.py``) both ways: what auth asks at every sign-in."""

from __future__ import annotations

import pytest

from eco2.domains.users.interface import LocalUsers, RemoteUsers, users_port
from eco2.domains.users.schemas import LoginProfile, LoginRecord
from eco2.platform.errors import AppError
from eco2.settings import Settings
from tests.fakes.db import sql
from tests.fakes.split import SIDES, Cluster, port_caller


@pytest.mark.parametrize("side", SIDES)
async def test_record_login(side: str, settings: Settings, cluster: Cluster) -> None:
    async with port_caller(side, settings, cluster, "users") as caller:
        users = users_port(caller.runtime)
        assert isinstance(users, caller.expect(LocalUsers, RemoteUsers))

        kakao = LoginProfile(provider="kakao", nickname="  이코 친구 ", email="eco@example.com")
        first = await caller.run(users.record_login(LoginRecord(user_id=None, profile=kakao)))
        google = LoginProfile(provider="google", nickname="다른 이름")
        again = await caller.run(
            users.record_login(LoginRecord(user_id=first.user_id, profile=google))
        )
        with pytest.raises(AppError) as malformed:
            await caller.run(users.record_login(LoginRecord(user_id="not-a-uuid", profile=kakao)))

    assert first.created
    assert not again.created
    assert again.user_id == first.user_id
    rows = await sql(
        settings, "SELECT nickname, provider, email FROM users.users WHERE id = :u", u=first.user_id
    )
    assert [tuple(row) for row in rows] == [("이코 친구", "google", "eco@example.com")]
    assert (malformed.value.status_code, malformed.value.code) == (404, "user_not_found")
