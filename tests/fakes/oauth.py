"""A fake Kakao/Google/Naver OAuth 2.0 provider on a real port.

Authorization-code flow with PKCE (S256), checked like the real thing: the token endpoint
verifies the client credentials, the redirect URI and the code verifier, and each code works
once. Userinfo answers in each provider's real JSON shape. ``fail(provider, mode)`` makes a
provider misbehave: ``access_denied`` (the user cancels consent), ``token_500``,
``userinfo_500``, ``profile_refused`` (Naver: HTTP 200 with an error ``resultcode``).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from litestar import Litestar, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect

PROVIDERS = ("kakao", "google", "naver")


@dataclass(frozen=True)
class FakeUser:
    """An account at the provider. Kakao ids are numeric, so use digits."""

    id: str
    email: str | None = None
    email_verified: bool = True
    nickname: str | None = None
    picture: str | None = None


def _kakao(user: FakeUser) -> dict[str, Any]:
    return {
        "id": int(user.id),
        "connected_at": "2026-01-01T00:00:00Z",
        "kakao_account": {
            "profile_nickname_needs_agreement": False,
            "profile": {"nickname": user.nickname, "profile_image_url": user.picture},
            "has_email": user.email is not None,
            "email": user.email,
            "is_email_valid": user.email_verified,
            "is_email_verified": user.email_verified,
        },
    }


def _google(user: FakeUser) -> dict[str, Any]:
    return {
        "sub": user.id,
        "email": user.email,
        "email_verified": user.email_verified,
        "name": user.nickname,
        "picture": user.picture,
    }


def _naver(user: FakeUser) -> dict[str, Any]:
    return {
        "resultcode": "00",
        "message": "success",
        "response": {
            "id": user.id,
            "email": user.email,
            "nickname": user.nickname,
            "profile_image": user.picture,
        },
    }


SHAPES: dict[str, Callable[[FakeUser], dict[str, Any]]] = {
    "kakao": _kakao,
    "google": _google,
    "naver": _naver,
}


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass
class _Code:
    provider: str
    user: FakeUser
    client_id: str
    redirect_uri: str
    challenge: str


def _error(status: int, error: str) -> Response[dict[str, str]]:
    return Response({"error": error, "error_description": error}, status_code=status)


@dataclass
class FakeOAuthProvider:
    base_url: str = ""
    users: dict[str, FakeUser] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    codes: dict[str, _Code] = field(default_factory=dict)
    access_tokens: dict[str, tuple[str, FakeUser]] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)

    @staticmethod
    def client(provider: str) -> tuple[str, str]:
        return f"{provider}-client-id", f"{provider}-client-secret"

    def reset(self) -> None:
        self.users = {p: FakeUser(id=str(100 + i)) for i, p in enumerate(PROVIDERS)}
        self.failures.clear()
        self.codes.clear()
        self.access_tokens.clear()
        self.token_requests.clear()

    def sign_in_as(self, provider: str, user: FakeUser) -> None:
        """The account the provider's consent screen is logged in to."""
        self.users[provider] = user

    def fail(self, provider: str, mode: str) -> None:
        self.failures[provider] = mode

    def settings(self, *providers: str) -> dict[str, str]:
        """``Settings`` fields pointing the app at this fake (default: every provider)."""
        values: dict[str, str] = {}
        for p in providers or PROVIDERS:
            client_id, secret = self.client(p)
            values |= {
                f"auth_{p}_client_id": client_id,
                f"auth_{p}_client_secret": secret,
                f"auth_{p}_authorize_url": f"{self.base_url}/{p}/authorize",
                f"auth_{p}_token_url": f"{self.base_url}/{p}/token",
                f"auth_{p}_userinfo_url": f"{self.base_url}/{p}/userinfo",
            }
        return values

    # --- the provider's endpoints -------------------------------------------------------------

    def authorize(self, provider: str, query: dict[str, str]) -> Response[Any]:
        client_id, _ = self.client(provider)
        if query.get("client_id") != client_id or query.get("response_type") != "code":
            return _error(400, "invalid_client")
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return _error(400, "invalid_request")
        redirect_uri, state = query["redirect_uri"], query.get("state", "")
        if self.failures.get(provider) == "access_denied":
            params = {"error": "access_denied", "error_description": "User denied", "state": state}
        else:
            code = secrets.token_urlsafe(16)
            self.codes[code] = _Code(
                provider, self.users[provider], client_id, redirect_uri, query["code_challenge"]
            )
            params = {"code": code, "state": state}
        separator = "&" if "?" in redirect_uri else "?"
        return Redirect(f"{redirect_uri}{separator}{urlencode(params)}", status_code=302)

    def token(self, provider: str, form: dict[str, str]) -> Response[Any]:
        self.token_requests.append({"provider": provider, **form})
        if self.failures.get(provider) == "token_500":
            return _error(500, "server_error")
        if (form.get("client_id"), form.get("client_secret")) != self.client(provider):
            return _error(401, "invalid_client")
        grant = self.codes.pop(form.get("code", ""), None)  # a code works once
        if (
            form.get("grant_type") != "authorization_code"
            or grant is None
            or grant.provider != provider
            or grant.redirect_uri != form.get("redirect_uri")
            or grant.challenge != s256(form.get("code_verifier", ""))
        ):
            return _error(400, "invalid_grant")
        access_token = secrets.token_urlsafe(24)
        self.access_tokens[access_token] = (provider, grant.user)
        body = {"access_token": access_token, "token_type": "bearer", "expires_in": 3600}
        return Response({**body, "refresh_token": secrets.token_urlsafe(24)})

    def userinfo(self, provider: str, authorization: str) -> Response[Any]:
        found = self.access_tokens.get(authorization.removeprefix("Bearer "))
        if self.failures.get(provider) == "userinfo_500":
            return _error(500, "server_error")
        if self.failures.get(provider) == "profile_refused" and provider == "naver":
            return Response({"resultcode": "024", "message": "Authentication failed"})  # 200!
        if found is None or found[0] != provider:
            return _error(401, "invalid_token")
        return Response(SHAPES[provider](found[1]))

    def app(self, base_url: str) -> Litestar:
        self.base_url = base_url
        fake = self

        @get("/{provider:str}/authorize", sync_to_thread=False)
        def authorize(provider: FromPath[str], request: Request[Any, Any, Any]) -> Response[Any]:
            return fake.authorize(provider, dict(request.query_params))

        @post("/{provider:str}/token", status_code=200)
        async def token(provider: FromPath[str], request: Request[Any, Any, Any]) -> Response[Any]:
            return fake.token(provider, dict(await request.form()))

        @get("/{provider:str}/userinfo", sync_to_thread=False)
        def userinfo(provider: FromPath[str], request: Request[Any, Any, Any]) -> Response[Any]:
            return fake.userinfo(provider, request.headers.get("authorization", ""))

        return Litestar([authorize, token, userinfo])
