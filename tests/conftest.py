"""Shared fixtures: real PostgreSQL + Redis, migrated once; state wiped between tests."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from eco2 import registry
from eco2.app import create_app
from eco2.migrate import upgrade
from eco2.platform.db import async_url
from eco2.platform.security import generate_private_key
from eco2.settings import Settings
from tests.fakes.live import LiveApp, live_app
from tests.fakes.split import Cluster, cluster_for
from tests.servers import test_servers

# The knowledge index takes ~20 s to embed; keep it across test runs on this machine.
os.environ.setdefault("ECO2_WASTE_INDEX_DIR", str(Path(tempfile.gettempdir()) / "eco2-waste-index"))

FRONTEND_ORIGIN = "https://frontend.dev.growbin.app"
OTHER_ORIGIN = "https://frontend2.dev.growbin.app"
INTERNAL_TOKEN = "test-internal-token"


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with test_servers(tmp_path_factory.mktemp("servers")) as urls:
        yield urls


@pytest.fixture(scope="session")
def signing_key_pem() -> str:
    return generate_private_key().as_pem(private=True).decode()


@pytest.fixture(scope="session")
def base_settings(
    servers: dict[str, str], signing_key_pem: str, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    settings = Settings(
        env="local",
        database_url=servers["database_url"],
        redis_url=servers["redis_url"],
        data_dir=tmp_path_factory.mktemp("data"),
        public_base_url="http://testserver.local",
        cors_origins=[FRONTEND_ORIGIN, OTHER_ORIGIN],
        auth_signing_keys=signing_key_pem,
        internal_token=INTERNAL_TOKEN,
        location_import_on_start=False,  # tests load the places they need
        jobs_idle_timeout_seconds=2.0,  # a job whose worker died is retaken within 2 s
        jobs_drain_seconds=2.0,  # an app stopping with jobs still running stops soon
        jobs_concurrency=32,  # every app a test builds starts a worker task per slot
        news_collect_interval_seconds=0,  # no collection on a schedule (the feeds are real sites)
        # PostgreSQL forks a backend per connection: on a loaded CI machine that took over the
        # 3 s default. Tests of deadlines set their own (tests/platform/test_faults.py).
        db_connect_timeout_seconds=15.0,
    )
    upgrade(settings, "head")
    return settings


@pytest.fixture
def settings(base_settings: Settings) -> Settings:
    """Per-test settings; override with ``settings.model_copy(update=...)``."""
    return base_settings


@pytest.fixture(autouse=True)
async def _clean_state(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Empty every domain table and Redis after each test that touched the servers."""
    yield
    if "base_settings" not in request.fixturenames:
        return
    settings: Settings = request.getfixturevalue("base_settings")
    await wipe(settings)


async def wipe(settings: Settings) -> None:
    schemas = [d.db_schema for d in registry.DOMAINS if d.db_schema]
    engine = create_async_engine(async_url(settings.database_url or ""))
    async with engine.begin() as conn:
        rows = await conn.execute(
            text("SELECT schemaname, tablename FROM pg_tables WHERE schemaname = ANY(:s)"),
            {"s": schemas},
        )
        tables = [f'"{s}"."{t}"' for s, t in rows]
        keep = {'"character"."characters"'}  # the seeded catalog
        wiped = [t for t in tables if t not in keep]
        if wiped:
            await conn.execute(text(f"TRUNCATE {', '.join(wiped)} CASCADE"))
    await engine.dispose()
    redis = Redis.from_url(settings.redis_url or "")
    await redis.flushdb()
    await redis.aclose()


@pytest.fixture(scope="session")
def cluster(
    base_settings: Settings, signing_key_pem: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    """Domains as ``eco2 serve --domain X`` processes, started on first use (tests/fakes/split.py);
    photos on the scan tests' image host are accepted there too."""
    from tests.scan.conftest import IMAGE_HOST

    settings = base_settings.model_copy(update={"image_allowed_hosts": [IMAGE_HOST]})
    work_dir = tmp_path_factory.mktemp("cluster")
    with cluster_for(settings, signing_key_pem, INTERNAL_TOKEN, work_dir) as started:
        yield started


@pytest.fixture
def app(settings: Settings) -> Litestar:
    return create_app(settings=settings)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app, base_url="http://testserver.local") as test_client:
        yield test_client


async def dev_login(client: AsyncTestClient[Litestar], nickname: str = "테스터") -> str:
    """Sign in through the local route; the client keeps the session cookies."""
    response = await client.post("/api/v1/auth/dev/login", json={"nickname": nickname})
    assert response.status_code == 200, response.text
    user_id: str = response.json()["data"]["user_id"]
    return user_id


@pytest.fixture
async def live(settings: Settings) -> AsyncIterator[LiveApp]:
    """The app of this test's ``settings`` on a real port, with a signed-in user."""
    async with live_app(settings) as served:
        await served.sign_in()
        yield served


@pytest.fixture
async def user_id(client: AsyncTestClient[Litestar]) -> str:
    return await dev_login(client)


def data_path(name: str) -> Path:
    return Path(__file__).parent / "data" / name
