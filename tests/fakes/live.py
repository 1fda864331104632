"""Serve an ASGI app on a real 127.0.0.1 port (uvicorn in a thread), and a redirect-following
browser stand-in that keeps cookies across hosts."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.cookies import Morsel, SimpleCookie
from typing import Protocol, TypeVar
from urllib.parse import urljoin

import httpx
import uvicorn
from litestar import Litestar
from litestar.testing import AsyncTestClient

from eco2.app import create_app
from eco2.platform.runtime import Runtime
from eco2.settings import Settings

T = TypeVar("T")

REDIRECTS = {301, 302, 303, 307, 308}
START_TIMEOUT = 120.0  # the first start of the whole app imports bundled data


@contextlib.contextmanager
def serve(make_app: Callable[[str], Litestar]) -> Iterator[str]:
    """Bind a free port, build the app for that base URL, serve it until the block ends."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = uvicorn.Config(make_app(base_url), lifespan="on", log_level="warning", loop="asyncio")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"{base_url} did not start")
        time.sleep(0.01)
    try:
        yield base_url
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
        if thread.is_alive():  # a server left running would serve (and work) for later tests
            raise RuntimeError(f"{base_url} did not stop")


@dataclass
class LiveApp:
    """The whole app on a real port: its URL, the app object (to reach its services) and a
    client that keeps the cookies of whoever signed in last."""

    url: str
    app: Litestar
    http: httpx.AsyncClient
    loop: asyncio.AbstractEventLoop

    async def call(self, work: Callable[[], Awaitable[T]]) -> T:
        """Run ``work()`` on the app's own event loop (its pools belong to that loop)."""
        future = asyncio.run_coroutine_threadsafe(_awaited(work), self.loop)
        return await asyncio.wrap_future(future)

    async def sign_in(self, nickname: str = "테스터") -> str:
        response = await self.http.post("/api/v1/auth/dev/login", json={"nickname": nickname})
        assert response.status_code == 200, response.text
        user_id: str = response.json()["data"]["user_id"]
        return user_id


@contextlib.asynccontextmanager
async def live_app(settings: Settings) -> AsyncIterator[LiveApp]:
    """``create_app(settings)`` served on a free port until the block ends (its lifespan
    shutdown, with the job workers' drain, runs on the way out)."""
    built: list[Litestar] = []
    loops: list[asyncio.AbstractEventLoop] = []

    def make(url: str) -> Litestar:
        app = create_app(settings=settings.model_copy(update={"public_base_url": url}))
        app.on_startup.append(lambda: loops.append(asyncio.get_running_loop()))
        built.append(app)
        return app

    server = serve(make)
    url = await asyncio.to_thread(server.__enter__)
    try:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            yield LiveApp(url, built[0], http, loops[0])
    finally:
        # As SIGTERM would: open streams end, so the server's shutdown need not wait for them.
        loops[0].call_soon_threadsafe(built[0].state.runtime.stopping.request)
        await asyncio.to_thread(server.__exit__, None, None, None)


async def _awaited(work: Callable[[], Awaitable[T]]) -> T:
    return await work()


class Fake(Protocol):
    url: str


F = TypeVar("F", bound=Fake)


@contextlib.contextmanager
def serve_fake(fake: F, app_for: Callable[[F], Litestar]) -> Iterator[F]:
    """A fake service's app on a free port, ``fake.url`` set to where it listens."""

    def make(base_url: str) -> Litestar:
        fake.url = base_url
        return app_for(fake)

    with serve(make):
        yield fake


def serve_app(settings: Settings) -> contextlib.AbstractContextManager[str]:
    """The whole app on a real port, its public base URL set to where it listens."""
    return serve(
        lambda url: create_app(settings=settings.model_copy(update={"public_base_url": url}))
    )


@contextlib.contextmanager
def closed_port_url() -> Iterator[str]:
    """A URL on which nothing listens (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


@dataclass
class Browser:
    """Follows redirects across the API and the provider, stopping at a frontend origin.

    ``history`` records every (method, url, status) so tests can check the path taken.
    """

    api: str
    frontend_origins: tuple[str, ...]
    http: httpx.AsyncClient = field(
        default_factory=lambda: httpx.AsyncClient(follow_redirects=False, timeout=10)
    )
    history: list[tuple[str, int]] = field(default_factory=list)

    async def navigate(self, url: str, max_hops: int = 10) -> str:
        """GET ``url`` like a browser navigation; return the frontend URL it lands on."""
        for _ in range(max_hops):
            if url.startswith(self.frontend_origins):
                return url
            response = await self.http.get(url)
            self.history.append((url, response.status_code))
            if response.status_code not in REDIRECTS:
                raise AssertionError(f"navigation ended on {url}: {response.status_code}")
            url = urljoin(url, response.headers["location"])
        raise AssertionError("too many redirects")

    async def start_login(
        self, provider: str, *, origin: str | None = None, **params: str
    ) -> httpx.Response:
        headers = {"X-Frontend-Origin": origin} if origin else {}
        return await self.http.get(
            f"{self.api}/api/v1/auth/{provider}", params=params, headers=headers
        )

    async def sign_in(self, provider: str, *, origin: str | None = None) -> str:
        """The whole dance: start, provider consent, callback; the landing URL."""
        started = await self.start_login(provider, origin=origin)
        assert started.status_code == 200, started.text
        return await self.navigate(started.json()["data"]["authorization_url"])

    async def get(self, path: str, **kwargs: object) -> httpx.Response:
        return await self.http.get(f"{self.api}{path}", **kwargs)  # type: ignore[arg-type]

    async def post(self, path: str, **kwargs: object) -> httpx.Response:
        return await self.http.post(f"{self.api}{path}", **kwargs)  # type: ignore[arg-type]

    def cookie(self, name: str) -> str | None:
        return self.http.cookies.get(name)

    async def aclose(self) -> None:
        await self.http.aclose()


@contextlib.asynccontextmanager
async def client_for(
    settings: Settings, domains: Sequence[str] | None = None
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """An in-process client on an app built from other settings (or only some domains)."""
    app = create_app(domains, settings=settings)
    async with AsyncTestClient(app, base_url="http://testserver.local") as client:
        yield client


def set_cookies(response: httpx.Response) -> dict[str, Morsel[str]]:
    """The cookies a response sets, with their attributes."""
    jar: SimpleCookie = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        jar.load(header)
    return dict(jar)


async def with_runtime(
    client: AsyncTestClient[Litestar], call: Callable[[Runtime], Awaitable[T]]
) -> T:
    """Run ``call(runtime)`` on the app's own event loop (the test client's portal thread):
    the app's pooled connections belong to that loop, not to the test's."""
    return await asyncio.to_thread(client.blocking_portal.call, call, client.app.state.runtime)
