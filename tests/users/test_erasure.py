"""Account erasure is a job that finishes: interrupted after any domain (the process stops with
the job running), it completes once a process runs again, the account itself last; its state
is visible to the services and in ``/metrics``."""

from __future__ import annotations

import asyncio

import pytest

from eco2 import interop, registry
from eco2.platform.internal import INTERNAL_TOKEN_HEADER
from eco2.platform.runtime import Runtime
from eco2.settings import Settings
from tests.conftest import INTERNAL_TOKEN
from tests.fakes.db import count, erased, sql
from tests.fakes.live import live_app
from tests.fakes.sse import Gate
from tests.scan.conftest import scan_settings

ORDER = [d.name for d in interop.erasure_order()]
TABLES = {
    "auth": ("auth.refresh_tokens", "auth.login_audit", "auth.linked_accounts"),
    "character": ("character.ownerships",),
    "scan": ("scan.scans",),
    "chat": ("chat.sessions", "chat.messages"),
    "users": ("users.users",),
    "images": (),
}


@pytest.fixture
def settings(base_settings: Settings) -> Settings:
    return scan_settings(base_settings)


def test_every_domain_with_user_data_is_erased_and_the_account_last() -> None:
    assert set(ORDER) == {d.name for d in registry.DOMAINS if d.holds_user_data}
    assert set(ORDER) == set(TABLES)
    assert ORDER[-1] == "users"
    assert ORDER[0] == "auth"  # sessions end first: nothing new is written meanwhile


async def held_data(settings: Settings, user_id: str) -> dict[str, int]:
    return {
        domain: sum([await count(settings, t, user_id) for t in tables])
        for domain, tables in TABLES.items()
        if tables
    }


@pytest.mark.parametrize("interrupted_after", ORDER)
async def test_an_erasure_interrupted_after_any_domain_completes_after_a_restart(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, interrupted_after: str
) -> None:
    real_forget = interop.forget_in
    stalled = Gate()

    async def forget_then_die(runtime: Runtime, domain: registry.Domain, user_id: str) -> None:
        await real_forget(runtime, domain, user_id)
        if domain.name == interrupted_after:
            await stalled.wait()  # the process stops here, the job still running

    monkeypatch.setattr(interop, "forget_in", forget_then_die)
    first_run = settings.model_copy(update={"jobs_drain_seconds": 0.0})
    async with live_app(first_run) as first:
        user_id = await first.sign_in()
        chat = (await first.http.post("/api/v1/chat", json={})).json()
        await first.http.post(
            "/api/v1/chat/messages", json={"message": "페트병", "session_id": chat["id"]}
        )
        await first.http.post(
            "/api/v1/scan/classify",
            json={"image_url": "https://cdn.eco2.test/scan/a.png", "user_input": "캔"},
        )
        before = await held_data(settings, user_id)
        assert all(before.values()), before
        assert (await first.http.delete("/api/v1/user/me")).status_code == 204
        await stalled.until_entered()
        state = await first.http.get(
            f"/internal/users/erasures/{user_id}", headers={INTERNAL_TOKEN_HEADER: INTERNAL_TOKEN}
        )
    monkeypatch.undo()
    assert state.status_code == 200
    assert state.json()["state"] == "pending"
    done_first = ORDER[: ORDER.index(interrupted_after) + 1]
    left = await held_data(settings, user_id)
    for domain, rows in left.items():
        assert (rows == 0) == (domain in done_first), (domain, left)

    async with live_app(settings) as second:
        await erased(settings, user_id)
        state = await second.http.get(
            f"/internal/users/erasures/{user_id}", headers={INTERNAL_TOKEN_HEADER: INTERNAL_TOKEN}
        )
        metrics = (await second.http.get("/metrics")).text
    assert not any((await held_data(settings, user_id)).values())
    body = state.json()
    assert body["state"] == "completed"
    assert sorted(body["erased"]) == sorted(ORDER)
    assert body["completed_at"]
    assert 'eco2_user_erasures_total{event="completed"}' in metrics


async def test_a_failing_domain_is_retried_until_it_confirms(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_forget = interop.forget_in
    failures: list[str] = []

    async def flaky(runtime: Runtime, domain: registry.Domain, user_id: str) -> None:
        if domain.name == "scan" and len(failures) < 2:
            failures.append(domain.name)
            raise ConnectionError("scan is away")
        await real_forget(runtime, domain, user_id)

    monkeypatch.setattr(interop, "forget_in", flaky)
    fast = settings.model_copy(update={"jobs_max_attempts": 5})
    async with live_app(fast) as live:
        user_id = await live.sign_in()
        assert (await live.http.delete("/api/v1/user/me")).status_code == 204
        await erased(settings, user_id, within=40)
    assert failures == ["scan", "scan"]
    rows = await sql(
        settings, "SELECT attempts, last_error FROM users.erasures WHERE user_id = :u", u=user_id
    )
    assert rows[0][0] == 2
    assert rows[0][1] is None


async def test_deleting_twice_is_one_erasure(settings: Settings) -> None:
    async with live_app(settings) as live:
        user_id = await live.sign_in()
        access = live.http.cookies.get("s_access")
        responses = await asyncio.gather(
            *(
                live.http.delete("/api/v1/user/me", headers={"Authorization": f"Bearer {access}"})
                for _ in range(3)
            )
        )
        assert {r.status_code for r in responses} <= {204, 401}
        await erased(settings, user_id)
    rows = await sql(settings, "SELECT count(*) FROM users.erasures WHERE user_id = :u", u=user_id)
    assert rows[0][0] == 1
