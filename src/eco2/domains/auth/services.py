"""Sign-in, session tokens (rotation with reuse detection), logout and account linking."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Awaitable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import structlog
from redis.exceptions import RedisError
from sqlalchemy import Update, delete, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from eco2.domains.auth import revocations
from eco2.domains.auth.models import LinkedAccount, LoginAudit, RefreshToken
from eco2.domains.auth.providers import OAuthClient, OAuthFailure, new_code_verifier
from eco2.domains.auth.schemas import LoginStart, PendingLogin, ProviderProfile
from eco2.domains.character.interface import character_port
from eco2.domains.users.interface import users_port
from eco2.domains.users.schemas import LoginProfile, LoginRecord
from eco2.platform.db import utcnow
from eco2.platform.errors import AppError, NotFound, ServiceUnavailable, Unauthorized
from eco2.platform.ids import parse_user_id
from eco2.platform.runtime import Runtime
from eco2.platform.security import (
    Identity,
    InvalidToken,
    IssuedToken,
    TokenCodec,
    TokenKind,
    identity_from_claims,
)
from eco2.registry import API, OAUTH_PROVIDERS
from eco2.settings import Settings

log = structlog.get_logger(__name__)

STATE_PREFIX = "oauth:state:"
BINDING_FORMAT = re.compile(r"[A-Za-z0-9_-]{43}")
REFRESH_REUSE_GRACE = timedelta(seconds=10)
SIGN_IN_LOCK_SECONDS = 15


@dataclass(frozen=True, slots=True)
class SessionTokens:
    access: IssuedToken
    refresh: IssuedToken


class LoginFailed(Exception):
    """The callback failed; the browser goes back to ``<origin>/#/login?error=<code>``."""

    def __init__(self, code: str, origin: str) -> None:
        super().__init__(code)
        self.code = code
        self.origin = origin


# --- starting a login -------------------------------------------------------------------------


def oauth_client(settings: Settings, provider: str) -> OAuthClient:
    if provider not in OAUTH_PROVIDERS:
        raise NotFound("지원하지 않는 로그인 방식입니다.", code="unknown_provider")
    config = settings.oauth(provider)
    if not config.enabled:
        raise NotFound("현재 사용할 수 없는 로그인 방식입니다.", code="provider_disabled")
    return OAuthClient(config)


def default_callback(settings: Settings, provider: str) -> str:
    return f"{settings.public_base_url}{API}/auth/{provider}/callback"


def checked_callback(settings: Settings, provider: str, redirect_uri: str | None) -> str:
    """Only exact, pre-registered callback URLs (RFC 9700 §4.1: no pattern matching)."""
    default = default_callback(settings, provider)
    if redirect_uri is None or redirect_uri == default:
        return default
    if redirect_uri in settings.auth_redirect_uris:
        return redirect_uri
    raise AppError(
        "허용되지 않은 redirect_uri 입니다.", code="invalid_redirect_uri", field="redirect_uri"
    )


def landing_origin(settings: Settings, requested: str | None) -> str:
    origin = (requested or "").rstrip("/")
    return origin if origin in settings.cors_origins else settings.default_origin


def browser_binding(presented: str | None) -> str:
    """The login cookie's value: the browser's own when it already has a well-formed one (two
    tabs signing in at once both finish), else a new random one."""
    if presented and BINDING_FORMAT.fullmatch(presented):
        return presented
    return secrets.token_urlsafe(32)


def _digest(binding: str) -> str:
    return hashlib.sha256(binding.encode()).hexdigest()


async def _linked_user(session: AsyncSession, profile: ProviderProfile) -> LinkedAccount | None:
    return await session.scalar(
        select(LinkedAccount).where(
            LinkedAccount.provider == profile.provider,
            LinkedAccount.provider_user_id == profile.provider_user_id,
        )
    )


async def _user_with_verified_email(session: AsyncSession, email: str) -> uuid.UUID | None:
    return await session.scalar(
        select(LinkedAccount.user_id)
        .where(LinkedAccount.email == email.lower(), LinkedAccount.email_verified.is_(True))
        .limit(1)
    )


def _pair(
    codec: TokenCodec, user_id: str, provider: str, family_id: str, successor: RefreshToken | None
) -> SessionTokens:
    """A fresh access token and a refresh token: a new one, or ``successor`` re-issued."""
    return SessionTokens(
        access=codec.issue("access", user_id=user_id, provider=provider, family_id=family_id),
        refresh=codec.issue(
            "refresh",
            user_id=user_id,
            provider=provider,
            family_id=family_id,
            jti=successor.jti if successor else None,
            expires_at=int(successor.expires_at.timestamp()) if successor else None,
        ),
    )


def _refresh_row(
    tokens: SessionTokens, user_id: str, provider: str, family_id: str
) -> RefreshToken:
    return RefreshToken(
        jti=tokens.refresh.jti,
        family_id=family_id,
        user_id=parse_user_id(user_id),
        provider=provider,
        expires_at=datetime.fromtimestamp(tokens.refresh.expires_at, tz=UTC),
    )


def _revoke_rows(family_ids: Collection[str]) -> Update:
    return (
        update(RefreshToken)
        .where(RefreshToken.family_id.in_(family_ids), RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def _verified_or_none(codec: TokenCodec, token: str | None, kind: TokenKind) -> Identity | None:
    if not token:
        return None
    try:
        return identity_from_claims(codec.verify(token, kind))
    except InvalidToken:
        return None


async def _best_effort(store: str, work: Awaitable[None]) -> None:
    try:
        await work
    except (RedisError, SQLAlchemyError, OSError) as exc:
        log.error("logout_revocation_failed", store=store, error=type(exc).__name__)


class AuthService:
    """Logins, session tokens and account deletion for auth's tables and Redis keys."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    @property
    def settings(self) -> Settings:
        """What the controllers need to set the session and login cookies."""
        return self._runtime.settings

    def jwks(self) -> dict[str, Any]:
        """The public signing keys, for verifiers elsewhere (the gateway, other services)."""
        if self._runtime.tokens is None:
            raise ServiceUnavailable(code="keys_unavailable")
        return self._runtime.tokens.keys.jwks()

    def _codec(self) -> TokenCodec:
        tokens = self._runtime.tokens
        if tokens is None or not tokens.keys.can_sign:
            raise AppError(code="signing_unavailable", status_code=503)
        return tokens

    async def start_login(
        self,
        provider: str,
        redirect_uri: str | None,
        frontend_origin: str | None,
        binding: str,
    ) -> LoginStart:
        """``binding``: the value of the login cookie the start response sets; the callback must
        come from a browser holding it (login CSRF: a ``state`` alone is not enough)."""
        settings = self._runtime.settings
        client = oauth_client(settings, provider)
        callback = checked_callback(settings, provider, redirect_uri)
        state = secrets.token_urlsafe(32)
        pending = PendingLogin(
            provider=provider,
            code_verifier=new_code_verifier(),
            origin=landing_origin(settings, frontend_origin),
            redirect_uri=callback,
            browser=_digest(binding),
        )
        ttl = settings.auth_state_ttl_seconds
        await self._runtime.redis.set(STATE_PREFIX + state, msgspec.json.encode(pending), ex=ttl)
        return LoginStart(
            provider=provider,
            state=state,
            authorization_url=client.authorization_url(
                state=state, verifier=pending.code_verifier, redirect_uri=callback
            ),
            expires_at=datetime.now(UTC) + timedelta(seconds=ttl),
        )

    async def _take_state(self, state: str | None) -> PendingLogin | None:
        """One-time: GETDEL makes a replayed ``state`` fail even under concurrency."""
        if not state or len(state) > 128:
            return None
        raw = await self._runtime.redis.getdel(STATE_PREFIX + state)
        return msgspec.json.decode(raw, type=PendingLogin) if raw else None

    async def complete_login(
        self,
        provider: str,
        *,
        code: str | None,
        state: str | None,
        error: str | None,
        binding: str | None,
        ip: str | None,
        user_agent: str | None,
    ) -> tuple[SessionTokens, str]:
        """``binding``: the login cookie the callback's browser sent (see :func:`start_login`)."""
        settings = self._runtime.settings
        pending = await self._take_state(state)
        if pending is None or pending.provider != provider:
            raise LoginFailed("invalid_state", settings.default_origin)
        if not binding or not hmac.compare_digest(_digest(binding), pending.browser):
            log.warning("oauth_browser_mismatch", provider=provider)
            raise LoginFailed("browser_mismatch", pending.origin)
        if error:
            raise LoginFailed(
                "access_denied" if error == "access_denied" else "provider_error", pending.origin
            )
        if not code:
            raise LoginFailed("missing_code", pending.origin)
        try:
            client = oauth_client(settings, provider)
            profile = await client.fetch_profile(
                self._runtime.http,
                code=code,
                pending_verifier=pending.code_verifier,
                redirect_uri=pending.redirect_uri,
                state=state or "",
            )
        except OAuthFailure as exc:
            log.warning("oauth_failed", provider=provider, reason=exc.code)
            raise LoginFailed(exc.code, pending.origin) from exc
        except NotFound as exc:
            raise LoginFailed("provider_disabled", pending.origin) from exc
        user_id = await self.sign_in(profile, ip=ip, user_agent=user_agent)
        return await self.open_session(user_id, provider), pending.origin

    async def sign_in(
        self, profile: ProviderProfile, *, ip: str | None, user_agent: str | None
    ) -> str:
        """Link or create the user for a provider account; record the login. Returns the user id.

        Same provider account → same user; else a verified e-mail already linked → that user;
        else a new user. One sign-in per provider account at a time (across processes): two
        first logins racing would otherwise each create a user.
        """
        key = f"lock:sign-in:{profile.provider}:{profile.provider_user_id}"
        async with self._runtime.redis.lock(
            key, timeout=SIGN_IN_LOCK_SECONDS, blocking_timeout=SIGN_IN_LOCK_SECONDS
        ):
            return await self._link_or_create(profile, ip=ip, user_agent=user_agent)

    async def _link_or_create(
        self, profile: ProviderProfile, *, ip: str | None, user_agent: str | None
    ) -> str:
        email = profile.email.lower() if profile.email else None
        async with self._runtime.sessions.begin() as session:
            account = await _linked_user(session, profile)
            known = account.user_id if account else None
            if known is None and email and profile.email_verified:
                known = await _user_with_verified_email(session, email)
        result = await users_port(self._runtime).record_login(
            LoginRecord(
                user_id=str(known) if known else None,
                profile=LoginProfile(
                    provider=profile.provider,
                    nickname=profile.nickname,
                    email=email,
                    profile_image_url=profile.profile_image_url,
                ),
            )
        )
        user_id = parse_user_id(result.user_id)
        async with self._runtime.sessions.begin() as session:
            account = await _linked_user(session, profile)
            if account is None:
                session.add(
                    LinkedAccount(
                        user_id=user_id,
                        provider=profile.provider,
                        provider_user_id=profile.provider_user_id,
                        email=email,
                        email_verified=profile.email_verified,
                    )
                )
            else:
                account.user_id = user_id  # the old user may have deleted the account
                account.email, account.email_verified = email, profile.email_verified
            session.add(
                LoginAudit(
                    user_id=user_id,
                    provider=profile.provider,
                    ip=ip,
                    user_agent=(user_agent or "").replace("\x00", "")[:512] or None,
                )
            )
        if result.created:
            await character_port(self._runtime).ensure_mascot(result.user_id)
        log.info(
            "signed_in", provider=profile.provider, user_id=result.user_id, new_user=result.created
        )
        return result.user_id

    async def open_session(self, user_id: str, provider: str) -> SessionTokens:
        """A new session: a new token family."""
        family_id = uuid.uuid4().hex
        tokens = _pair(self._codec(), user_id, provider, family_id, None)
        async with self._runtime.sessions.begin() as session:
            session.add(_refresh_row(tokens, user_id, provider, family_id))
        return tokens

    async def rotate(self, token: str | None) -> SessionTokens:
        """Exchange a refresh token for a new pair in the same family.

        Presenting an already-rotated token revokes the family (RFC 9700 §4.14.2), except within
        a few seconds of its rotation: a browser firing parallel requests that all hit 401 sends
        the same cookie several times, which is not theft. Those reuses get the successor the
        first rotation made (the same refresh token id) with a fresh access token: the family
        never forks, whatever the number of parallel reuses.
        """
        codec = self._codec()
        if not token:
            raise Unauthorized(code="missing_refresh_token")
        try:
            identity = identity_from_claims(codec.verify(token, "refresh"))
        except InvalidToken as exc:
            raise Unauthorized(code="invalid_refresh_token") from exc
        try:
            revoked = await self._runtime.revocations.is_revoked(identity)
        except RedisError as exc:  # fail closed, as the request-identity guard does
            raise ServiceUnavailable(code="revocation_store_unavailable") from exc
        if revoked:
            raise Unauthorized(code="refresh_token_revoked")
        async with self._runtime.sessions.begin() as session:
            row = await session.scalar(
                select(RefreshToken).where(RefreshToken.jti == identity.jti).with_for_update()
            )
            if row is None or row.revoked_at is not None:
                raise Unauthorized(code="refresh_token_revoked")
            user_id, now = str(row.user_id), utcnow()
            if row.used_at is None:  # the first rotation: the successor is made here, once
                tokens = _pair(codec, user_id, row.provider, row.family_id, None)
                session.add(_refresh_row(tokens, user_id, row.provider, row.family_id))
                row.used_at, row.successor_jti = now, tokens.refresh.jti
                return tokens
            successor = await session.get(RefreshToken, row.successor_jti or "")
            reused = now - row.used_at > REFRESH_REUSE_GRACE
            revoking = revocations.family_entries([row.family_id], self._family_ttl)
            if reused:
                await session.execute(_revoke_rows([row.family_id]))
                await revocations.record(session, revoking)
        if reused:
            log.warning("refresh_token_reuse", user_id=user_id, family=row.family_id)
            await revocations.revoke(self._runtime, revoking)
            raise Unauthorized(code="refresh_token_reused")
        if successor is None or successor.revoked_at is not None:
            raise Unauthorized(code="refresh_token_revoked")
        return _pair(codec, user_id, row.provider, row.family_id, successor)

    @property
    def _family_ttl(self) -> int:
        return self._runtime.settings.auth_refresh_ttl_seconds

    async def _revoke_in_redis(self, family_ids: Collection[str]) -> None:
        """Reaches the access tokens of the families too (they carry ``fid``)."""
        for family_id in family_ids:
            await self._runtime.revocations.revoke_family(family_id, self._family_ttl)

    async def logout(self, access_token: str | None, refresh_token: str | None) -> None:
        """Revoke what the caller presented; never fails (the client loops on a failed logout)."""
        codec = self._runtime.tokens
        if codec is None:
            return
        access = _verified_or_none(codec, access_token, "access")
        refresh = _verified_or_none(codec, refresh_token, "refresh")
        families = {t.family_id for t in (access, refresh) if t and t.family_id}
        revoked = revocations.family_entries(families, self._family_ttl)
        if access and access.jti and access.expires_at:
            revoked.append(revocations.token_entry(access.jti, access.expires_at))
        # Recorded in the database first (refresh tokens and the outbox): with Redis down the
        # refresh token is dead at once and the access token is refused once Redis is back.
        await _best_effort("database", self._commit_revocation(families, revoked))
        await revocations.revoke(self._runtime, revoked)

    async def _commit_revocation(
        self, family_ids: Collection[str], revoked: list[revocations.Entry]
    ) -> None:
        async with self._runtime.sessions.begin() as session:
            if family_ids:
                await session.execute(_revoke_rows(family_ids))
            await revocations.record(session, revoked)

    async def forget_user(self, user_id: str) -> None:
        """Account deletion: end every session of the user, then drop its auth rows."""
        uid = parse_user_id(user_id)
        async with self._runtime.sessions.begin() as session:
            families = (
                await session.scalars(
                    select(RefreshToken.family_id).where(RefreshToken.user_id == uid).distinct()
                )
            ).all()
            await self._revoke_in_redis(families)
            for model in (RefreshToken, LoginAudit, LinkedAccount):
                await session.execute(delete(model).where(model.user_id == uid))
