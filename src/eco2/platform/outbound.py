"""Fetching URLs that come from outside (feeds, the pages their articles link to) safely.

Server-side request forgery is the risk: a feed item may point at ``http://169.254.169.254/``
or at a name that resolves to ``10.0.0.5``, or redirect there. So every hop is checked: only
``http``/``https``, the host's addresses resolved here and all of them public (unless the
caller allows private ones, e.g. a feed server on 127.0.0.1 in development), the connection
made to the address that was checked (a second DNS answer cannot swap it), redirects followed
by hand and checked again. The body is capped in bytes and the whole fetch in time.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass

import httpx

REDIRECTS = frozenset({301, 302, 303, 307, 308})
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class FetchError(Exception):
    """A fetch that did not give a body; ``code`` says why (logged, never shown to users)."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code


@dataclass(frozen=True, slots=True)
class Fetched:
    url: str  # after redirects
    status: int
    headers: httpx.Headers
    body: bytes

    @property
    def content_type(self) -> str:
        kind: str = self.headers.get("content-type", "")
        return kind.split(";")[0].strip().lower()

    @property
    def charset(self) -> str | None:
        """The ``charset`` the Content-Type declares, if any."""
        kind: str = self.headers.get("content-type", "")
        for param in kind.split(";")[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "charset" and value.strip():
                return value.strip().strip('"').lower()
        return None


@dataclass(frozen=True, slots=True)
class Limits:
    max_bytes: int
    timeout_seconds: float
    allow_private: bool = False
    max_redirects: int = 3


def is_public(address: IPAddress) -> bool:
    """Globally routable unicast; an IPv4-mapped IPv6 address is judged as its IPv4 self."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


async def _addresses(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise FetchError("dns_failed", f"{host}: {exc}") from exc
    found = {ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos}
    if not found:
        raise FetchError("dns_failed", host)
    return sorted(found, key=lambda address: address.version)  # IPv4 first


async def _pinned(
    url: httpx.URL, limits: Limits
) -> tuple[httpx.URL, dict[str, str], dict[str, str]]:
    """The URL to request (host replaced by a checked address), its Host header and TLS name."""
    if url.scheme not in ("http", "https") or not url.host:
        raise FetchError("scheme_not_allowed", str(url)[:100])
    port = url.port or (443 if url.scheme == "https" else 80)
    addresses = await _addresses(url.host, port)
    refused = [a for a in addresses if not is_public(a)]
    if refused and not limits.allow_private:
        raise FetchError("address_not_allowed", f"{url.host} -> {refused[0]}")
    host_header = url.netloc.decode("ascii").rpartition("@")[2]
    extensions = {"sni_hostname": url.host} if url.scheme == "https" else {}
    return url.copy_with(host=str(addresses[0])), {"Host": host_header}, extensions


async def fetch(
    http: httpx.AsyncClient,
    url: str,
    limits: Limits,
    *,
    headers: dict[str, str] | None = None,
) -> Fetched:
    """GET ``url`` within ``limits``; raises :class:`FetchError` for anything but a 2xx/304."""
    try:
        async with asyncio.timeout(limits.timeout_seconds):
            return await _follow(http, httpx.URL(url), limits, headers or {})
    except TimeoutError as exc:
        raise FetchError("timeout", url[:100]) from exc
    except httpx.InvalidURL as exc:
        raise FetchError("invalid_url", url[:100]) from exc


async def _follow(
    http: httpx.AsyncClient, url: httpx.URL, limits: Limits, headers: dict[str, str]
) -> Fetched:
    for _ in range(limits.max_redirects + 1):
        target, host, extensions = await _pinned(url, limits)
        request = http.build_request(
            "GET", target, headers={**headers, **host}, extensions=extensions
        )
        try:
            response = await http.send(request, stream=True, follow_redirects=False)
        except httpx.HTTPError as exc:
            raise FetchError("connection_failed", f"{url.host}: {exc!r}") from exc
        try:
            if response.status_code in REDIRECTS and "location" in response.headers:
                url = url.join(response.headers["location"])
                continue
            if response.status_code != 304 and not 200 <= response.status_code < 300:
                raise FetchError("http_status", f"{response.status_code} from {url.host}")
            body = await _read_capped(response, limits.max_bytes)
            return Fetched(str(url), response.status_code, response.headers, body)
        finally:
            await response.aclose()
    raise FetchError("too_many_redirects", str(url)[:100])


async def _read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchError("too_large", f"{declared} bytes")
    body = bytearray()
    try:
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > max_bytes:
                raise FetchError("too_large", f"over {max_bytes} bytes")
    except httpx.HTTPError as exc:
        raise FetchError("connection_failed", repr(exc)) from exc
    return bytes(body)
