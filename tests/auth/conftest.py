"""The app on a real port, wired to the fake OAuth provider, and a browser to drive both.

The servers live for the whole session (starting one costs ~0.4 s); the per-test wipe of the
database and Redis and :meth:`FakeOAuthProvider.reset` keep the tests independent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from eco2.settings import Settings
from tests.conftest import FRONTEND_ORIGIN, OTHER_ORIGIN
from tests.fakes.live import Browser, serve, serve_app
from tests.fakes.oauth import FakeOAuthProvider


@pytest.fixture(scope="session")
def _oauth_server() -> Iterator[FakeOAuthProvider]:
    fake = FakeOAuthProvider()
    with serve(fake.app):
        yield fake


@pytest.fixture
def oauth(_oauth_server: FakeOAuthProvider) -> FakeOAuthProvider:
    """The fake provider, reset: a default account per provider, no failures."""
    _oauth_server.reset()
    return _oauth_server


@pytest.fixture(scope="session")
def live_settings(base_settings: Settings, _oauth_server: FakeOAuthProvider) -> Settings:
    """Settings for a served app: every provider enabled and pointing at the fake."""
    return base_settings.model_copy(update=_oauth_server.settings())


@pytest.fixture(scope="session")
def api(live_settings: Settings) -> Iterator[str]:
    """Base URL of the whole app served on a real port (its own public base URL). It lives for
    the session, so it runs no jobs: its workers would take the jobs of every later test."""
    with serve_app(live_settings.model_copy(update={"jobs_in_process": False})) as url:
        yield url


@pytest.fixture
async def browser(api: str, oauth: FakeOAuthProvider) -> AsyncIterator[Browser]:
    browser = Browser(api, (FRONTEND_ORIGIN, OTHER_ORIGIN))
    yield browser
    await browser.aclose()
