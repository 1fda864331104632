from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient


async def test_ready_and_me(client: AsyncTestClient[Litestar], user_id: str) -> None:
    assert (await client.get("/ready")).status_code == 200
    me = await client.get("/api/v1/user/me")
    assert me.status_code == 200
    assert me.json()["username"] == "테스터"
