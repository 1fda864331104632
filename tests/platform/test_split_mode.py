"""Split mode: auth, users and character as three processes on one database, talking HTTP."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import httpx
import pytest

from eco2.platform.embedded import free_port
from eco2.settings import Settings
from tests.conftest import INTERNAL_TOKEN
from tests.fakes.db import count
from tests.fakes.processes import eco2_env, eco2_serve

pytestmark = pytest.mark.slow
DOMAINS = ("auth", "users", "character")


async def test_domains_in_separate_processes(
    base_settings: Settings, signing_key_pem: str, tmp_path: Path
) -> None:
    ports = {name: free_port() for name in DOMAINS}
    env = eco2_env(
        env="local",
        database_url=base_settings.database_url or "",
        redis_url=base_settings.redis_url or "",
        auth_signing_keys=signing_key_pem,
        internal_token=INTERNAL_TOKEN,
        service_urls=",".join(f"{n}=http://127.0.0.1:{p}" for n, p in ports.items()),
        data_dir=str(tmp_path / "data"),
        log_level="WARNING",
    )
    with contextlib.ExitStack() as stack:
        procs = {
            name: stack.enter_context(eco2_serve(name, port=port, env=env, log_dir=tmp_path))
            for name, port in ports.items()
        }
        await asyncio.gather(*(p.wait_ready() for p in procs.values()))
        auth, users, character = (procs[n].url for n in DOMAINS)
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
        stack.close()
        assert [n for n, p in procs.items() if p.alive()] == []  # no orphans
