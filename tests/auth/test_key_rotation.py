"""Several signing keys: the newest signs, every key verifies, JWKS lists them all."""

from __future__ import annotations

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from eco2.platform.security import ACCESS_COOKIE, generate_private_key, ticket_key
from eco2.settings import Settings
from tests.conftest import dev_login
from tests.fakes.tokens import access_claims, decode_unverified, import_key, rs256

OLD_KEY = generate_private_key()


@pytest.fixture
def settings(base_settings: Settings, signing_key_pem: str) -> Settings:
    """The old key first, the current (newest) key last, as ``eco2 keys generate`` orders them."""
    old_pem = OLD_KEY.as_pem(private=True).decode()
    return base_settings.model_copy(update={"auth_signing_keys": old_pem + signing_key_pem})


async def test_newest_key_signs_and_the_older_still_verifies(
    client: AsyncTestClient[Litestar], signing_key_pem: str
) -> None:
    user_id = await dev_login(client)
    newest = import_key(signing_key_pem)
    assert decode_unverified(client.cookies[ACCESS_COOKIE])[0]["kid"] == newest.kid

    client.cookies.clear()
    from_old_key = rs256(OLD_KEY, access_claims(user_id))
    response = await client.get(
        "/api/v1/user/me", headers={"Authorization": f"Bearer {from_old_key}"}
    )
    assert response.status_code == 200


async def test_jwks_lists_every_public_key(
    client: AsyncTestClient[Litestar], signing_key_pem: str
) -> None:
    response = await client.get("/api/v1/auth/.well-known/jwks.json")

    assert response.status_code == 200
    assert "max-age" in response.headers["cache-control"]
    keys = response.json()["keys"]
    newest = import_key(signing_key_pem)
    rsa = [k for k in keys if k["kty"] == "RSA"]
    assert {k["kid"] for k in rsa} == {OLD_KEY.kid, newest.kid}
    for entry in rsa:
        assert (entry["alg"], entry["use"]) == ("RS256", "sig")
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(entry)  # public parts only
    # beside each, the Ed25519 key derived from it that signs stream tickets
    tickets = [k for k in keys if k["kty"] != "RSA"]
    assert {k["kid"] for k in tickets} == {ticket_key(OLD_KEY).kid, ticket_key(newest).kid}
    for entry in tickets:
        assert (entry["kty"], entry["crv"], entry["alg"], entry["use"]) == (
            "OKP",
            "Ed25519",
            "Ed25519",
            "sig",
        )
        assert "d" not in entry
