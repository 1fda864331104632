"""The gRPC server for real: Check and health over a loopback channel, HTTP probes, metrics."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator

import grpc
import httpx
import pytest
from envoy.config.core.v3.base_pb2 import HeaderValueOption
from envoy.service.auth.v3 import external_auth_pb2 as pb
from envoy.service.auth.v3 import external_auth_pb2_grpc as pb_grpc
from google.rpc import code_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from redis.asyncio import Redis

from eco2 import registry
from eco2.authz.server import SERVICE_NAME, AuthzService
from eco2.platform.embedded import EmbeddedServer, start_valkey
from eco2.platform.revocations import ENFORCEMENT_BOUND_SECONDS
from eco2.platform.security import KeyRing, Revocations, with_ticket
from eco2.settings import Settings
from tests.authz.conftest import make_codec, stream_ticket
from tests.conftest import FRONTEND_ORIGIN


@pytest.fixture(scope="module")
def valkey(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    server = start_valkey(tmp_path_factory.mktemp("authz-server"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def pem_ring(signing_key_pem: str) -> KeyRing:
    return KeyRing.from_pems([signing_key_pem])


@pytest.fixture(scope="module")
async def service(valkey: EmbeddedServer, signing_key_pem: str) -> AsyncIterator[AuthzService]:
    settings = Settings(
        env="local",
        redis_url=valkey.url,
        auth_signing_keys=signing_key_pem,
        cors_origins=[FRONTEND_ORIGIN],
    )
    service = AuthzService(settings)
    await service.start("127.0.0.1", 0, 0)
    assert await service.revocations.wait_synced(5.0)
    yield service
    await service.stop()


@pytest.fixture
async def stub(service: AuthzService) -> AsyncIterator[pb_grpc.AuthorizationStub]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{service.grpc_port}") as channel:
        yield pb_grpc.AuthorizationStub(channel)


def check_request(path: str, **headers: str) -> pb.CheckRequest:
    request = pb.CheckRequest()
    http = request.attributes.request.http
    http.method, http.path = "GET", path
    http.headers.update({k.replace("_", "-"): v for k, v in headers.items()})
    return request


def issue(ring: KeyRing, user_id: str) -> tuple[str, str]:
    token = make_codec(ring).issue("access", user_id=user_id, provider="google", family_id="f")
    return token.value, token.jti


async def test_allow_sets_identity_headers_with_overwrite(
    stub: pb_grpc.AuthorizationStub, pem_ring: KeyRing
) -> None:
    token, _ = issue(pem_ring, "u-1")
    response = await stub.Check(check_request("/api/v1/user/me", cookie=f"s_access={token}"))
    assert response.status.code == code_pb2.OK
    headers = {h.header.key: h for h in response.ok_response.headers}
    assert headers["x-user-id"].header.value == "u-1"
    assert headers["authorization"].header.value == f"Bearer {token}"
    assert {h.append_action for h in headers.values()} == {
        HeaderValueOption.HeaderAppendAction.OVERWRITE_IF_EXISTS_OR_ADD
    }


async def test_a_stream_ticket_passes_to_its_job_stream_only(
    stub: pb_grpc.AuthorizationStub, pem_ring: KeyRing
) -> None:
    ticket = stream_ticket(pem_ring, "u-3", "job-3", kind="chat")
    stream = with_ticket(registry.job_stream_path("chat", "job-3"), ticket)
    response = await stub.Check(check_request(stream, x_user_id="victim"))
    assert response.status.code == code_pb2.OK
    headers = {h.header.key: h.header.value for h in response.ok_response.headers}
    assert headers == {"x-user-id": "u-3"}
    for refused in (
        with_ticket(registry.job_stream_path("chat", "job-4"), ticket),
        with_ticket("/api/v1/user/me", ticket),
    ):
        denied = (await stub.Check(check_request(refused))).denied_response
        assert (denied.status.code, json.loads(denied.body)["error"]["code"]) == (
            401,
            "invalid_ticket",
        )
    bearer = await stub.Check(check_request("/api/v1/user/me", authorization=f"Bearer {ticket}"))
    assert bearer.denied_response.status.code == 401


async def test_deny_is_a_401_json_reply(stub: pb_grpc.AuthorizationStub) -> None:
    response = await stub.Check(check_request("/api/v1/user/me", origin=FRONTEND_ORIGIN))
    assert response.status.code == code_pb2.PERMISSION_DENIED
    denied = response.denied_response
    assert denied.status.code == 401
    assert json.loads(denied.body)["error"]["code"] == "missing_token"
    headers = {h.header.key: h.header.value for h in denied.headers}
    assert headers["access-control-allow-origin"] == FRONTEND_ORIGIN


async def test_logout_is_enforced_within_the_bound(
    stub: pb_grpc.AuthorizationStub, pem_ring: KeyRing, valkey: EmbeddedServer
) -> None:
    token, jti = issue(pem_ring, "u-2")
    request = check_request("/api/v1/user/me", authorization=f"Bearer {token}")
    assert (await stub.Check(request)).status.code == code_pb2.OK
    redis = Redis.from_url(valkey.url)
    await Revocations(redis).revoke_token(jti, int(time.time()) + 600)
    await redis.aclose()
    started = time.monotonic()
    while (await stub.Check(request)).status.code == code_pb2.OK:
        assert time.monotonic() - started < ENFORCEMENT_BOUND_SECONDS
    assert (await stub.Check(request)).denied_response.status.code == 401


async def test_grpc_health_is_serving(service: AuthzService) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{service.grpc_port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for name in ("", SERVICE_NAME):
            reply = await health.Check(health_pb2.HealthCheckRequest(service=name))
            assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_http_probes_and_metrics(
    service: AuthzService, stub: pb_grpc.AuthorizationStub
) -> None:
    await stub.Check(check_request("/api/v1/user/me"))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{service.http_port}") as http:
        assert (await http.get("/health")).json() == {"status": "ok"}
        assert (await http.get("/ready")).status_code == 200
        metrics = (await http.get("/metrics")).text
        assert (await http.get("/nope")).status_code == 404
    assert 'eco2_authz_decisions_total{reason="missing_token",result="deny"}' in metrics
    assert "eco2_authz_check_duration_seconds_bucket" in metrics
    assert "eco2_authz_revocation_synced 1.0" in metrics


def test_cli_refuses_to_start_without_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from eco2.cli import main
    from eco2.settings import get_settings

    monkeypatch.delenv("ECO2_REDIS_URL", raising=False)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(main, ["authz", "--grpc-port", "0", "--http-port", "0"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
