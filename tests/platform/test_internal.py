"""Failed calls between split pods, as the browser sees them (``platform/internal.py``).

A remote answer about the request itself keeps its status, code and message; everything else
(a refused internal token, a crash, an unreadable body, no answer) is a 503 that names the
domain, never the remote's 401 or 500.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import msgspec
import pytest
from litestar import Litestar, Response, route
from litestar.params import FromPath
from litestar.testing import AsyncTestClient

from eco2.app import create_app
from eco2.platform.errors import AppError, error_body
from eco2.platform.internal import InternalClient
from eco2.settings import Settings
from tests.conftest import INTERNAL_TOKEN
from tests.fakes.live import closed_port_url, serve

# What a remote domain may answer: (status, body, headers), scripted per path.
SCRIPT: dict[str, tuple[int, Any, dict[str, str]]] = {
    "/crash": (500, error_body("internal_error", "서버 오류"), {}),
    "/down": (503, error_body("service_unavailable", "잠시 후"), {}),
    "/refused": (401, error_body("invalid_service_credential", "로그인이 필요합니다."), {}),
    "/forbidden": (403, error_body("forbidden", "권한 없음"), {}),
    "/missing": (404, error_body("user_not_found", "사용자를 찾을 수 없습니다."), {}),
    "/invalid": (422, error_body("validation_error", "입력값이 올바르지 않습니다.", "user_id"), {}),
    "/busy": (429, error_body("rate_limited", "요청이 너무 많습니다."), {"retry-after": "7"}),
    "/not-json-404": (404, "<html>nginx</html>", {}),
    "/garbage": (200, "<html>not json</html>", {}),
    "/wrong-shape": (200, {"unexpected": True}, {}),
    "/ok": (200, {"value": 42}, {}),
}


class Answer(msgspec.Struct):
    value: int


@route("/internal/fake/{path:path}", http_method=["GET", "POST"])
async def scripted(path: FromPath[str]) -> Response[Any]:
    status, body, headers = SCRIPT[path]
    return Response(body, status_code=status, headers=headers)


@pytest.fixture(scope="module")
def fake_remote() -> Iterator[str]:
    with serve(lambda _: Litestar([scripted])) as url:
        yield url


@pytest.fixture
async def fake_client(fake_remote: str) -> AsyncIterator[InternalClient]:
    async with httpx.AsyncClient(timeout=5) as http:
        yield InternalClient(http, fake_remote, INTERNAL_TOKEN, "fake")


async def failure(client: InternalClient, path: str) -> AppError:
    with pytest.raises(AppError) as caught:
        await client.call("POST", path, json={"user_id": "x"}, into=Answer)
    return caught.value


@pytest.mark.parametrize(
    ("path", "status", "code", "field"),
    [
        ("/missing", 404, "user_not_found", None),
        ("/invalid", 422, "validation_error", "user_id"),
        ("/busy", 429, "rate_limited", None),
    ],
)
async def test_answers_about_the_request_pass_through(
    fake_client: InternalClient, path: str, status: int, code: str, field: str | None
) -> None:
    error = await failure(fake_client, path)
    assert (error.status_code, error.code, error.field) == (status, code, field)
    assert error.message == SCRIPT[path][1]["error"]["message"]
    assert error.headers == SCRIPT[path][2]


@pytest.mark.parametrize(
    "path",
    ["/crash", "/down", "/refused", "/forbidden", "/not-json-404", "/garbage", "/wrong-shape"],
)
async def test_other_failures_are_the_domain_being_unavailable(
    fake_client: InternalClient, path: str
) -> None:
    error = await failure(fake_client, path)
    assert (error.status_code, error.code) == (503, "fake_unavailable")


async def test_success_and_no_answer(fake_client: InternalClient) -> None:
    assert await fake_client.call("GET", "/ok", into=Answer) == Answer(value=42)
    with closed_port_url() as nowhere:
        async with httpx.AsyncClient(timeout=5) as http:
            unreachable = InternalClient(http, nowhere, INTERNAL_TOKEN, "fake")
            with pytest.raises(AppError) as caught:
                await unreachable.call("GET", "/ok", into=Answer)
    assert (caught.value.status_code, caught.value.code) == (503, "fake_unreachable")


@contextlib.contextmanager
def users_elsewhere(settings: Settings, token: str) -> Iterator[tuple[str, Settings]]:
    """``users`` and ``character`` served by a process of their own (internal token ``token``);
    yields their URL and the settings of a caller that reaches them over HTTP."""
    remote = settings.model_copy(update={"internal_token": token})
    with serve(lambda _: create_app(["users", "character"], settings=remote)) as url:
        yield (
            url,
            settings.model_copy(update={"service_urls": [f"users={url}", f"character={url}"]}),
        )


async def test_a_wrong_internal_token_reaches_the_browser_as_503(settings: Settings) -> None:
    with users_elsewhere(settings, token="not-the-shared-token") as (_, caller):
        auth_only = create_app(["auth"], settings=caller)
        async with AsyncTestClient(auth_only, base_url="http://testserver.local") as client:
            response = await client.post("/api/v1/auth/dev/login", json={"nickname": "분산"})
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "users_unavailable"


async def test_a_real_domains_not_found_stays_meaningful(settings: Settings) -> None:
    with users_elsewhere(settings, token=INTERNAL_TOKEN) as (url, _):
        async with httpx.AsyncClient(timeout=5) as http:
            character = InternalClient(http, url, INTERNAL_TOKEN, "character")
            with pytest.raises(AppError) as caught:
                await character.call("POST", "/users/not-a-uuid/mascot", into=dict)
    assert (caught.value.status_code, caught.value.code) == (404, "user_not_found")
    assert caught.value.message == "사용자를 찾을 수 없습니다."
