"""Streams that outlive the access token: ``stream_url`` carries a stream ticket, a signed,
job-bound capability with which the job's owner (re)connects for the job's lifetime without a
fresh access token (an ``EventSource`` cannot refresh its cookies), and nobody else can: not
another user, not on another job or route, not tampered, expired or mistaken for an access
token (nor the reverse). Over real HTTP, PostgreSQL and Redis; the gateway's side is in
``tests/authz``."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import structlog
from joserfc import jws

from eco2.platform.logging import configure_logging
from eco2.platform.security import KeyRing, TokenCodec, generate_private_key, with_ticket
from eco2.settings import Settings
from tests.chat.test_jobs import WORDS, answering, client_text, script, send
from tests.fakes.live import LiveApp
from tests.fakes.sse import Gate, read_stream, reading
from tests.scan.conftest import scan_settings
from tests.scan.test_jobs import following, submit, vision

ME = "/api/v1/user/me"
ACCESS_TTL_SECONDS = 3


@pytest.fixture
def settings(base_settings: Settings) -> Settings:
    return scan_settings(
        base_settings, auth_access_ttl_seconds=ACCESS_TTL_SECONDS, auth_leeway_seconds=0
    )


def ticket_of(stream_url: str) -> str:
    return parse_qs(urlsplit(stream_url).query)["ticket"][0]


def path_of(stream_url: str) -> str:
    return urlsplit(stream_url).path


def codec(live: LiveApp) -> TokenCodec:
    tokens: TokenCodec = live.app.state.runtime.tokens
    return tokens


async def until_access_expired(live: LiveApp) -> None:
    """Until the signed-in user's access token is refused (its short TTL has passed)."""
    deadline = time.monotonic() + ACCESS_TTL_SECONDS + 10
    while (await live.http.get(ME)).status_code != 401:
        assert time.monotonic() < deadline, "the access token did not expire"
        await asyncio.sleep(0.2)


async def test_the_owner_reconnects_with_only_the_ticket_after_the_token_expired(
    live: LiveApp, settings: Settings
) -> None:
    gate = Gate()
    vision(live.app, gate=gate)
    owner = await live.sign_in("티켓주인")
    job = await submit(live)
    first = await read_stream(live.http, job["stream_url"], stop=lambda e: e.event == "queued")
    await gate.until_entered()
    await until_access_expired(live)
    assert (await live.http.get(path_of(job["stream_url"]))).status_code == 401  # no ticket
    async with (
        httpx.AsyncClient(base_url=live.url) as bare,  # no cookie, no header: the ticket only
        reading(bare, job["stream_url"], last_event_id=first.ids[-1]) as resuming,
    ):
        await following(settings, owner)
        gate.open()
        rest = await resuming
    assert (rest.status, rest.ended_by_server) == (200, True)
    assert rest.ids == list(range(first.ids[-1] + 1, first.ids[-1] + 1 + len(rest.ids)))
    assert "queued" not in rest.names  # resumed after Last-Event-ID, nothing sent twice
    assert (rest.names[-1], rest.events[-1].data["status"]) == ("done", "completed")
    # A browser still sends the expired cookie with the URL: the ticket lets it in as well, and
    # a finished job's stream gives its end.
    again = await read_stream(live.http, job["stream_url"], last_event_id=first.ids[-1])
    assert (again.status, again.names) == (200, ["done"])


async def test_a_ticket_only_reconnect_to_a_chat_answer_recovers_its_tokens(
    live: LiveApp, settings: Settings
) -> None:
    gate = Gate()
    script(live.app, answering(WORDS, gate=gate, hold_after=3))
    owner = await live.sign_in("채팅주인")
    job = await send(live)
    await gate.until_entered()
    await until_access_expired(live)
    async with (
        httpx.AsyncClient(base_url=live.url) as bare,
        reading(bare, job["stream_url"]) as late,  # no Last-Event-ID: the replay rule applies
    ):
        await following(settings, owner)
        gate.open()
        stream = await late
    assert (stream.status, stream.ended_by_server) == (200, True)
    recovery = stream.named("token_recovery")
    assert [r.data["accumulated"] for r in recovery] == ["".join(WORDS[:3])]
    assert client_text(stream.events) == "".join(WORDS)
    assert stream.names[-1] == "done"


async def test_tickets_open_their_own_job_stream_only(live: LiveApp) -> None:
    owner = await live.sign_in("주인")
    owner_access = live.http.cookies["s_access"]
    job = await submit(live)
    assert (await read_stream(live.http, job["stream_url"])).names[-1] == "done"
    stranger = await live.sign_in("남")
    other = await submit(live)
    path, ticket = path_of(job["stream_url"]), ticket_of(job["stream_url"])
    tokens, now = codec(live), time.time()

    def minted(
        user_id: str, job_id: str, *, until: float = now + 300, by: TokenCodec = tokens
    ) -> str:
        return by.issue_ticket(
            user_id=user_id, kind="scan", job_id=job_id, issued_at=now - 5, expires_at=until
        )

    foreign = TokenCodec(
        KeyRing([generate_private_key()]),
        issuer=tokens.issuer,
        audience=tokens.audience,
        ttl=tokens.ttl,
        leeway=0,
    )
    header, claims, signature = ticket.split(".")
    # the ticket's claims signed as an access token is (RS256, the access key): the algorithm
    # is pinned per kind of token (RFC 8725 §3.1), so this is no ticket
    access_key = tokens.keys.signing_key
    as_rs256 = jws.serialize_compact(
        {"alg": "RS256", "kid": access_key.kid, "typ": "stream+jwt"},
        _b64decode(claims),
        access_key,
        algorithms=["RS256"],
    )
    forged_claims = {**json.loads(_b64decode(claims)), "sub": stranger}
    tampered = f"{header}.{_b64encode(json.dumps(forged_claims).encode())}.{signature}"
    flipped = f"{header}.{claims}.{signature[:-4]}{'AAAA' if signature[-4:] != 'AAAA' else 'BBBB'}"
    refused = {
        "another user's ticket": (with_ticket(path, minted(stranger, job["job_id"])), 404),
        "a ticket for another job": (with_ticket(path_of(other["stream_url"]), ticket), 401),
        "the job id of another kind": (
            with_ticket(f"/api/v1/chat/{job['job_id']}/events", ticket),
            401,
        ),
        "claims tampered": (with_ticket(path, tampered), 401),
        "signature tampered": (with_ticket(path, flipped), 401),
        "expired": (with_ticket(path, minted(owner, job["job_id"], until=now - 1)), 401),
        "signed by another key": (with_ticket(path, minted(owner, job["job_id"], by=foreign)), 401),
        "signed RS256 by the access key": (with_ticket(path, as_rs256), 401),
        "an access token as the ticket": (with_ticket(path, owner_access), 401),
        "on the job's result": (with_ticket(f"/api/v1/scan/{job['job_id']}/result", ticket), 401),
        "on another route": (with_ticket(ME, ticket), 401),
    }
    async with httpx.AsyncClient(base_url=live.url, timeout=10) as bare:
        assert (await read_stream(bare, job["stream_url"])).names == ["done"]  # as issued: in
        for case, (url, status) in refused.items():
            response = await bare.get(url)
            assert response.status_code == status, (case, response.text)
            if status == 401:
                assert response.json()["error"]["code"] == "invalid_ticket", case
        for url in (ME, f"/api/v1/scan/{job['job_id']}/result", path):  # never a bearer token
            response = await bare.get(url, headers={"Authorization": f"Bearer {ticket}"})
            assert response.status_code == 401, url
            assert response.json()["error"]["code"] == "invalid_token", url
    # Someone signed in as another user who got hold of the URL: the caller is who the
    # credentials say, and that is not the owner.
    assert (await live.http.get(job["stream_url"])).status_code == 404


def test_tickets_are_redacted_from_logs(caplog: pytest.LogCaptureFixture) -> None:
    configure_logging(json=True)
    url = "/api/v1/scan/j-1/events?ticket=eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl&last_event_id=3"
    line: Any = {"event": "stream_opened", "url": url}
    for processor in structlog.get_config()["processors"]:  # the app's chain, to the JSON line
        line = processor(None, "info", line)
    assert "eyJ" not in line
    assert json.loads(line)["url"] == "/api/v1/scan/j-1/events?ticket=[redacted]&last_event_id=3"
    logging.getLogger("httpx").warning("HTTP Request: GET http://x%s", url)  # the stdlib's
    assert "eyJ" not in caplog.text
    assert "ticket=[redacted]&last_event_id=3" in caplog.text


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
