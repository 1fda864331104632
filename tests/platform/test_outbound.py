"""Fetching outside URLs safely: only http(s), only public addresses (each redirect hop too),
the connection pinned to the checked address, bytes and time capped."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from eco2.platform import outbound
from eco2.platform.outbound import FetchError, Limits, fetch, is_public
from tests.fakes.news import FakeNews, fake_news

OPEN = Limits(max_bytes=1_000_000, timeout_seconds=5, allow_private=True)
GUARDED = Limits(max_bytes=1_000_000, timeout_seconds=5)


@pytest.fixture(scope="module")
def web() -> Iterator[FakeNews]:
    with fake_news() as fake:
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),  # noqa: S104
        ("224.0.0.1", False),
        ("::1", False),
        ("fd00::1", False),
        ("fe80::1", False),
        ("::ffff:127.0.0.1", False),  # IPv4-mapped loopback
        ("::ffff:8.8.8.8", True),
    ],
)
def test_public_addresses(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


async def test_private_addresses_are_refused(http: httpx.AsyncClient, web: FakeNews) -> None:
    port = web.url.rsplit(":", 1)[1]
    for url in (web.feed_url("ai.atom"), f"http://localhost:{port}/feeds/ai.atom"):
        with pytest.raises(FetchError) as refused:
            await fetch(http, url, GUARDED)
        assert refused.value.code == "address_not_allowed"
    assert web.hits["feed:ai.atom"] == 0  # refused before connecting


async def test_only_http_and_https(http: httpx.AsyncClient) -> None:
    for url in ("file:///etc/passwd", "ftp://example.org/x", "gopher://example.org/"):
        with pytest.raises(FetchError) as refused:
            await fetch(http, url, OPEN)
        assert refused.value.code in ("scheme_not_allowed", "invalid_url")


async def test_every_redirect_hop_is_checked(
    http: httpx.AsyncClient, web: FakeNews, monkeypatch: pytest.MonkeyPatch
) -> None:
    """127.0.0.1 stands in for a public server; its redirect to 127.0.0.2 (standing in for an
    internal address) is refused before anything connects there."""
    monkeypatch.setattr(outbound, "is_public", lambda a: str(a) == "127.0.0.1")
    port = web.url.rsplit(":", 1)[1]
    allowed = await fetch(http, f"{web.url}/redirect?to=/feeds/ai.atom", GUARDED)
    assert allowed.status == 200
    assert allowed.url == web.feed_url("ai.atom")
    with pytest.raises(FetchError) as refused:
        await fetch(http, f"{web.url}/redirect?to=http://127.0.0.2:{port}/feeds/ai.atom", GUARDED)
    assert refused.value.code == "address_not_allowed"
    loop = f"{web.url}/redirect?to=/redirect%3Fto%3D/redirect%253Fto%253D/redirect"
    with pytest.raises(FetchError) as looping:
        await fetch(http, loop, Limits(1000, 5, allow_private=True, max_redirects=2))
    assert looping.value.code == "too_many_redirects"


async def test_the_host_header_names_the_host_not_the_address(
    http: httpx.AsyncClient, web: FakeNews
) -> None:
    port = web.url.rsplit(":", 1)[1]
    got = await fetch(http, f"http://localhost:{port}/host", OPEN)
    assert got.body.decode() == f"localhost:{port}"


async def test_bytes_and_time_are_capped(http: httpx.AsyncClient, web: FakeNews) -> None:
    with pytest.raises(FetchError) as large:
        await fetch(http, f"{web.url}/big", OPEN)
    assert large.value.code == "too_large"
    started = time.monotonic()
    with pytest.raises(FetchError) as slow:
        await fetch(http, f"{web.url}/slow", Limits(1_000_000, 1.0, allow_private=True))
    assert slow.value.code == "timeout"
    assert time.monotonic() - started < 3  # the whole fetch, not each read, is bounded


async def test_error_statuses_are_errors(http: httpx.AsyncClient, web: FakeNews) -> None:
    web.broken.add("/feeds/ai.atom")
    try:
        with pytest.raises(FetchError) as failed:
            await fetch(http, web.feed_url("ai.atom"), OPEN)
    finally:
        web.broken.discard("/feeds/ai.atom")
    assert failed.value.code == "http_status"
