"""Every route outside the registry's public paths answers 401 JSON without credentials."""

from __future__ import annotations

import re
import uuid

from litestar import Litestar
from litestar.testing import AsyncTestClient

from eco2 import registry
from eco2.app import create_app
from eco2.platform.internal import INTERNAL_TOKEN_HEADER
from eco2.settings import Settings
from tests.conftest import INTERNAL_TOKEN, dev_login

Client = AsyncTestClient[Litestar]
DUMMY_PARAMS = {"provider": "kakao", "path": "index.html"}
_PARAM = re.compile(r"{(\w+)(?::\w+)?}")


def concrete(template: str) -> str:
    """A request path for a route template, path parameters filled with dummies."""
    return _PARAM.sub(lambda m: DUMMY_PARAMS.get(m[1], str(uuid.uuid4())), template)


def guarded_endpoints(app: Litestar) -> list[tuple[str, str]]:
    endpoints = []
    for route in app.routes:
        path = concrete(route.path)
        if registry.is_public(path):
            continue
        for method in sorted(getattr(route, "methods", set()) - {"OPTIONS", "HEAD"}):
            endpoints.append((method, path))
    return endpoints


def test_the_scan_covers_every_domain(base_settings: Settings) -> None:
    """Guard against the scan silently testing nothing."""
    paths = {path for _, path in guarded_endpoints(create_app(settings=base_settings))}
    assert "/api/v1/user/me" in paths
    assert "/api/v1/user/me/characters" in paths
    assert any(p.startswith("/internal/") for p in paths)


async def test_every_guarded_route_requires_credentials(client: Client) -> None:
    failures = []
    for method, path in guarded_endpoints(client.app):
        response = await client.request(method, path)
        if response.status_code != 401 or "error" not in response.json():
            failures.append((method, path, response.status_code, response.text[:120]))
    assert failures == []


async def test_internal_routes_refuse_user_tokens_and_wrong_service_tokens(
    client: Client,
) -> None:
    await dev_login(client)  # a valid user session is not a service credential
    internal = [(m, p) for m, p in guarded_endpoints(client.app) if p.startswith("/internal/")]
    assert internal
    for headers in ({}, {INTERNAL_TOKEN_HEADER: "wrong"}, {INTERNAL_TOKEN_HEADER: ""}):
        for method, path in internal:
            response = await client.request(method, path, headers=headers)
            assert response.status_code == 401, (method, path, headers)


async def test_the_service_token_opens_internal_routes(client: Client) -> None:
    user_id = str(uuid.uuid4())
    response = await client.post(
        f"/internal/character/users/{user_id}/mascot",
        headers={INTERNAL_TOKEN_HEADER: INTERNAL_TOKEN},
    )
    assert response.status_code == 200


def test_public_paths_exist(base_settings: Settings) -> None:
    """The registry's public paths are real routes of the whole app (no stale entries)."""
    app = create_app(settings=base_settings)
    templates = [re.compile("^" + _PARAM.sub("[^/]+", r.path) + "$") for r in app.routes]
    public = [p for p in registry.public_paths() if not p.endswith("*")]
    assert [p for p in public if not any(t.match(p) for t in templates)] == []


def test_public_paths_match_whole_paths_or_declared_prefixes() -> None:
    assert registry.is_public("/health")
    assert registry.is_public("/api/v1/auth/kakao/callback")  # "/api/v1/auth/*"
    assert registry.is_public("/api/v1/scan/categories")
    assert not registry.is_public("/healthz")  # exact paths are exact
    assert not registry.is_public("/api/v1/scan/categories/x")
    assert not registry.is_public("/x/api/v1/auth/kakao")  # anchored at the start
    assert not registry.is_public("/api/v1/scan/classify")
