"""OAuth 2.0 authorization-code + PKCE (S256) clients for Kakao, Google and Naver."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from eco2.domains.auth.schemas import ProviderProfile
from eco2.settings import OAuthProviderSettings

SCOPES = {"google": "openid email profile", "kakao": None, "naver": None}


class OAuthFailure(Exception):
    """A provider step failed; ``code`` goes into the ``/#/login?error=`` redirect."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def new_code_verifier() -> str:
    return secrets.token_urlsafe(64)


def code_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _kakao(data: dict[str, Any]) -> ProviderProfile:
    account = data.get("kakao_account") or {}
    profile = account.get("profile") or {}
    properties = data.get("properties") or {}
    return ProviderProfile(
        provider="kakao",
        provider_user_id=str(data["id"]),
        email=account.get("email"),
        email_verified=bool(account.get("is_email_valid") and account.get("is_email_verified")),
        nickname=profile.get("nickname") or properties.get("nickname"),
        profile_image_url=profile.get("profile_image_url") or properties.get("profile_image"),
    )


def _google(data: dict[str, Any]) -> ProviderProfile:
    return ProviderProfile(
        provider="google",
        provider_user_id=str(data["sub"]),
        email=data.get("email"),
        email_verified=data.get("email_verified") is True,
        nickname=data.get("name") or data.get("given_name"),
        profile_image_url=data.get("picture"),
    )


def _naver(data: dict[str, Any]) -> ProviderProfile:
    if data.get("resultcode") != "00":
        raise OAuthFailure("provider_error")
    response = data.get("response") or {}
    # Naver does not say whether the e-mail was verified: never link accounts on it.
    return ProviderProfile(
        provider="naver",
        provider_user_id=str(response["id"]),
        email=response.get("email"),
        email_verified=False,
        nickname=response.get("nickname") or response.get("name"),
        profile_image_url=response.get("profile_image"),
    )


PROFILE_PARSERS: dict[str, Callable[[dict[str, Any]], ProviderProfile]] = {
    "kakao": _kakao,
    "google": _google,
    "naver": _naver,
}


@dataclass(frozen=True, slots=True)
class OAuthClient:
    config: OAuthProviderSettings

    def authorization_url(self, *, state: str, verifier: str, redirect_uri: str) -> str:
        params = {
            "response_type": "code",
            "client_id": self.config.client_id or "",
            "redirect_uri": redirect_uri,
            "state": state,
            "code_challenge": code_challenge(verifier),
            "code_challenge_method": "S256",
        }
        if scope := SCOPES[self.config.name]:
            params["scope"] = scope
        separator = "&" if "?" in self.config.authorize_url else "?"
        return f"{self.config.authorize_url}{separator}{urlencode(params)}"

    async def fetch_profile(
        self,
        http: httpx.AsyncClient,
        *,
        code: str,
        pending_verifier: str,
        redirect_uri: str,
        state: str,
    ) -> ProviderProfile:
        access_token = await self._exchange(http, code, pending_verifier, redirect_uri, state)
        data = await self._get_json(http, access_token)
        try:
            return PROFILE_PARSERS[self.config.name](data)
        except (KeyError, TypeError, AttributeError) as exc:
            raise OAuthFailure("provider_profile_invalid") from exc

    async def _exchange(
        self, http: httpx.AsyncClient, code: str, verifier: str, redirect_uri: str, state: str
    ) -> str:
        form = {
            "grant_type": "authorization_code",
            "client_id": self.config.client_id or "",
            "client_secret": self.config.client_secret or "",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
            "state": state,  # Naver requires it; the others ignore it
        }
        try:
            response = await http.post(
                self.config.token_url, data=form, headers={"Accept": "application/json"}
            )
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise OAuthFailure("provider_unreachable") from exc
        token = body.get("access_token") if isinstance(body, dict) else None
        if response.status_code != 200 or not isinstance(token, str) or not token:
            raise OAuthFailure("token_exchange_failed")
        return token

    async def _get_json(self, http: httpx.AsyncClient, access_token: str) -> dict[str, Any]:
        try:
            response = await http.get(
                self.config.userinfo_url, headers={"Authorization": f"Bearer {access_token}"}
            )
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise OAuthFailure("provider_unreachable") from exc
        if response.status_code != 200 or not isinstance(body, dict):
            raise OAuthFailure("provider_profile_failed")
        return body
