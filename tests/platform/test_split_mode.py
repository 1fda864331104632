"""Split mode: each domain an ``eco2 serve --domain X`` process on one database, talking HTTP
(the cluster of tests/fakes/split.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import httpx
import pytest

from eco2.settings import Settings
from tests.fakes.db import count
from tests.fakes.split import Cluster
from tests.images.conftest import photo

pytestmark = pytest.mark.slow

# Every table that holds rows of a user, by domain.
USER_ROWS = (
    "users.users",
    "auth.linked_accounts",
    "auth.login_audit",
    "auth.refresh_tokens",
    "character.ownerships",
    "scan.scans",
    "chat.sessions",
    "chat.messages",
)
SIGNED_IN_ROUTES = {
    "users": "/api/v1/user/me",
    "character": "/api/v1/user/me/characters",
    "scan": "/api/v1/scan/history",
    "chat": "/api/v1/chat",
}
ERASURE_DEADLINE = 30.0


async def test_domains_in_separate_processes(base_settings: Settings, cluster: Cluster) -> None:
    urls = await cluster.start("auth", "users", "character")
    auth, users, character = urls["auth"], urls["users"], urls["character"]
    async with httpx.AsyncClient(timeout=10) as http:
        # sign-in on auth creates the user in users and grants 이코 in character, over HTTP
        login = await http.post(f"{auth}/api/v1/auth/dev/login", json={"nickname": "분산"})
        assert login.status_code == 200, login.text
        user_id = login.json()["data"]["user_id"]

        me = await http.get(f"{users}/api/v1/user/me")
        mine = await http.get(f"{character}/api/v1/user/me/characters")
        assert me.status_code == 200, me.text
        assert me.json()["nickname"] == "분산"
        assert mine.status_code == 200, mine.text
        assert [c["name"] for c in mine.json()] == ["이코"]
        assert await count(base_settings, "character.ownerships", user_id) == 1

        # each process serves its own domain and the platform routes, nothing else
        for url, foreign in [
            (users, "/api/v1/character/catalog"),
            (users, "/api/v1/auth/.well-known/jwks.json"),
            (character, "/api/v1/user/me"),
            (auth, "/api/v1/user/me"),
            (auth, "/api/v1/user/me/characters"),
        ]:
            assert (await http.get(f"{url}{foreign}")).status_code == 404, (url, foreign)
        assert (await http.get(f"{character}/api/v1/character/catalog")).status_code == 200
        for url in (auth, users, character):
            assert (await http.get(f"{url}/health")).status_code == 200
            assert (await http.get(f"{url}/metrics")).status_code == 200

        # a session ended on auth is refused by the other processes (shared revocations)
        assert (await http.post(f"{auth}/api/v1/auth/logout")).status_code == 200
        access = login.cookies["s_access"]
        bearer = {"Authorization": f"Bearer {access}"}
        assert (await http.get(f"{users}/api/v1/user/me", headers=bearer)).status_code == 401


async def test_account_deletion_erases_the_user_in_every_process(
    base_settings: Settings, cluster: Cluster
) -> None:
    """``DELETE /user/me`` on the users process, every other domain in a process of its own:
    what the user left anywhere is gone (however erasure runs: now, or as a job)."""
    urls = await cluster.start("auth", "users", "character", "images", "scan", "chat")
    async with httpx.AsyncClient(timeout=30) as http:
        login = await http.post(f"{urls['auth']}/api/v1/auth/dev/login", json={"nickname": "탈퇴"})
        assert login.status_code == 200, login.text
        user_id = login.json()["data"]["user_id"]
        signed_in = {"Authorization": f"Bearer {login.cookies['s_access']}"}

        ticket = await http.post(
            f"{urls['images']}/api/v1/images/chat",
            json={"filename": "병.png", "content_type": "image/png"},
        )
        assert ticket.status_code == 200, ticket.text
        photo_url = ticket.json()["cdn_url"]
        upload = await http.put(
            ticket.json()["upload_url"],
            content=photo("PNG", gps=False),
            headers={"Content-Type": "image/png"},
        )
        assert upload.status_code == 200, upload.text
        scan = await http.post(
            f"{urls['scan']}/api/v1/scan/classify",
            json={"image_url": photo_url, "user_input": "라벨 뗀 생수 페트병"},
        )
        assert scan.status_code == 200, scan.text
        # chat runs the photo through scan, in the scan process (RemoteScan)
        chat = await http.post(
            f"{urls['chat']}/api/v1/chat/messages",
            json={"message": "이거 어떻게 버려요?", "image_url": photo_url, "temperature": 0.2},
        )
        assert chat.status_code == 200, chat.text
        assert await count(base_settings, "scan.scans", user_id) == 2
        for table in USER_ROWS:
            assert await count(base_settings, table, user_id) > 0, table
        assert (await http.get(photo_url)).status_code == 200

        deleted = await http.delete(f"{urls['users']}/api/v1/user/me")
        assert deleted.status_code == 204, deleted.text

        async def leftovers() -> list[str]:
            rows = [t for t in USER_ROWS if await count(base_settings, t, user_id)]
            photo_kept = (await http.get(photo_url)).status_code != 404
            return rows + ["images"] * photo_kept

        assert await eventually(leftovers) == []

        # and the deleted account's session is over in every process
        async def still_signed_in() -> list[str]:
            answers = {
                domain: await http.get(f"{urls[domain]}{path}", headers=signed_in)
                for domain, path in SIGNED_IN_ROUTES.items()
            }
            return [f"{d} {r.status_code}" for d, r in answers.items() if r.status_code != 401]

        assert await eventually(still_signed_in) == []


async def eventually(left: Callable[[], Awaitable[list[str]]]) -> list[str]:
    """What ``left()`` still names once it names nothing, or at the deadline."""
    deadline = time.monotonic() + ERASURE_DEADLINE
    while True:
        remaining = await left()
        if not remaining or time.monotonic() > deadline:
            return remaining
        await asyncio.sleep(0.2)
