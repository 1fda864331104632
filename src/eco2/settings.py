"""Typed settings from ``ECO2_*`` environment variables (plus the standard ``OPENAI_*``/``AWS_*``).

List-valued settings are comma-separated. ``get_settings()`` reads the environment once.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

CommaList = Annotated[list[str], NoDecode]

OAUTH_DEFAULT_URLS: dict[str, tuple[str, str, str]] = {
    "kakao": (
        "https://kauth.kakao.com/oauth/authorize",
        "https://kauth.kakao.com/oauth/token",
        "https://kapi.kakao.com/v2/user/me",
    ),
    "google": (
        "https://accounts.google.com/o/oauth2/v2/auth",
        "https://oauth2.googleapis.com/token",
        "https://openidconnect.googleapis.com/v1/userinfo",
    ),
    "naver": (
        "https://nid.naver.com/oauth2.0/authorize",
        "https://nid.naver.com/oauth2.0/token",
        "https://openapi.naver.com/v1/nid/me",
    ),
}


class ChatModelSettings(BaseModel):
    """One chat model the client may pick (``ECO2_CHAT_MODELS``): an OpenAI-compatible
    endpoint (``None``: ``OPENAI_BASE_URL``), the environment variable holding its key
    (``None``: ``OPENAI_API_KEY``) and the model id sent to it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str
    base_url: str | None = None
    api_key_env: str | None = None

    def api_key(self, settings: Settings) -> str | None:
        if self.api_key_env:
            return os.environ.get(self.api_key_env) or None
        return settings.openai_api_key


class OAuthProviderSettings(BaseModel):
    name: str
    client_id: str | None
    client_secret: str | None
    authorize_url: str
    token_url: str
    userinfo_url: str

    @property
    def enabled(self) -> bool:
        return bool(self.client_id)


def _split_commas(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ECO2_", extra="ignore", frozen=True)

    env: Literal["local", "dev", "prod"] = "local"
    database_url: str | None = None
    redis_url: str | None = None
    data_dir: Path = Path("./.eco2")
    waste_index_dir: Path | None = None
    public_base_url: str = "http://localhost:8000"
    # The web client's dev server (vite) runs on 5173, over https with a self-signed certificate.
    cors_origins: CommaList = Field(
        default_factory=lambda: ["http://localhost:5173", "https://localhost:5173"]
    )
    cookie_domain: str | None = None
    cookie_secure: bool | None = None
    log_level: str = "INFO"
    log_json: bool | None = None

    # Identity
    auth_signing_keys: str | None = None
    auth_issuer: str = "eco2"
    auth_audience: str = "eco2-api"
    auth_access_ttl_seconds: int = Field(default=15 * 60, gt=0)
    auth_refresh_ttl_seconds: int = Field(default=14 * 24 * 3600, gt=0)
    auth_state_ttl_seconds: int = Field(default=600, gt=0)
    auth_leeway_seconds: int = Field(default=30, ge=0)
    auth_trust_gateway: bool = False
    auth_redirect_uris: CommaList = Field(default_factory=list)
    auth_http_timeout_seconds: float = 10.0
    auth_kakao_client_id: str | None = None
    auth_kakao_client_secret: str | None = None
    auth_kakao_authorize_url: str = OAUTH_DEFAULT_URLS["kakao"][0]
    auth_kakao_token_url: str = OAUTH_DEFAULT_URLS["kakao"][1]
    auth_kakao_userinfo_url: str = OAUTH_DEFAULT_URLS["kakao"][2]
    auth_google_client_id: str | None = None
    auth_google_client_secret: str | None = None
    auth_google_authorize_url: str = OAUTH_DEFAULT_URLS["google"][0]
    auth_google_token_url: str = OAUTH_DEFAULT_URLS["google"][1]
    auth_google_userinfo_url: str = OAUTH_DEFAULT_URLS["google"][2]
    auth_naver_client_id: str | None = None
    auth_naver_client_secret: str | None = None
    auth_naver_authorize_url: str = OAUTH_DEFAULT_URLS["naver"][0]
    auth_naver_token_url: str = OAUTH_DEFAULT_URLS["naver"][1]
    auth_naver_userinfo_url: str = OAUTH_DEFAULT_URLS["naver"][2]

    # Edge input policy (every request) and slow clients
    json_max_bytes: int = Field(default=1024 * 1024, gt=0)
    json_max_depth: int = Field(default=32, ge=2, le=1000)
    body_min_rate_bytes: int = Field(default=1024, gt=0)  # per second, after the grace
    body_grace_seconds: float = Field(default=10.0, gt=0)

    # Deadlines on the stores: a stalled PostgreSQL or Redis fails a request fast (503)
    db_connect_timeout_seconds: float = Field(default=3.0, gt=0)
    db_statement_timeout_seconds: float = Field(default=5.0, gt=0)
    db_pool_timeout_seconds: float = Field(default=3.0, gt=0)
    db_pool_size: int = Field(default=20, ge=1)  # per process, and as many again under a burst
    redis_connect_timeout_seconds: float = Field(default=2.0, gt=0)
    redis_socket_timeout_seconds: float = Field(default=2.0, gt=0)
    redis_pool_timeout_seconds: float = Field(default=2.0, gt=0)
    redis_health_check_seconds: int = Field(default=10, ge=0)

    # Locations: import the bundled datasets at start when the table is empty (default: local)
    location_import_on_start: bool | None = None
    # Kakao Local (keyword and address search) in place search and autocomplete, with a key
    kakao_rest_api_key: str | None = None
    kakao_local_url: str = "https://dapi.kakao.com"
    kakao_timeout_seconds: float = Field(default=3.0, gt=0)
    kakao_cache_seconds: int = Field(default=600, ge=1)

    # Info: the news feed (contract §7), collected from RSS/Atom feeds per category and, with
    # credentials, the Naver News Search API. An unreachable source is logged and skipped.
    news_feeds_environment: CommaList = Field(
        default_factory=lambda: ["https://www.korea.kr/rss/dept_mcee.xml"]  # 기후에너지환경부
    )
    news_feeds_energy: CommaList = Field(
        default_factory=lambda: [
            "https://www.energy-news.co.kr/rss/allArticle.xml",  # 에너지신문
            "https://www.electimes.com/rss/allArticle.xml",  # 전기신문
        ]
    )
    news_feeds_ai: CommaList = Field(
        default_factory=lambda: [
            "https://www.aitimes.com/rss/allArticle.xml",  # AI타임스
            "https://www.korea.kr/rss/dept_msit.xml",  # 과학기술정보통신부
        ]
    )
    news_naver_client_id: str | None = None
    news_naver_client_secret: str | None = None
    news_naver_url: str = "https://openapi.naver.com/v1/search/news.json"
    news_naver_queries: CommaList = Field(
        default_factory=lambda: ["environment=분리배출 재활용", "energy=재생에너지", "ai=인공지능"]
    )
    news_collect_interval_seconds: int = Field(default=1800, ge=0)  # 0: no schedule
    news_retention_days: int = Field(default=30, ge=1)
    news_fetch_timeout_seconds: float = Field(default=10.0, gt=0)
    news_max_feed_bytes: int = Field(default=2 * 1024 * 1024, gt=0)
    news_page_lookups_per_run: int = Field(default=30, ge=0)  # og:image fetches per run
    news_fetch_private_hosts: bool = False

    # Images: `local` (files under the data dir, served by this app) or `s3` (+ AWS_* env)
    image_storage: Literal["local", "s3"] = "local"
    image_s3_bucket: str | None = None
    image_s3_endpoint_url: str | None = None
    image_public_base_url: str | None = None
    image_max_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    image_upload_ttl_seconds: int = Field(default=600, gt=0, le=7 * 24 * 3600)
    image_allowed_hosts: CommaList = Field(default_factory=list)
    image_presign_rate_limit: int = Field(default=30, ge=1)  # presigns per user per window
    image_presign_rate_window_seconds: int = Field(default=60, gt=0)

    # Scan: vision `auto` (best offline provider installed: local, else text) | openai | azure |
    # local | text; answers `template` (offline) | openai. OPENAI_API_KEY / OPENAI_BASE_URL are
    # the standard variables, so any OpenAI-compatible server works.
    vision_provider: Literal["auto", "openai", "azure", "local", "text"] = "auto"
    answer_provider: Literal["template", "openai"] = "template"
    openai_api_key: str | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_API_KEY", "ECO2_OPENAI_API_KEY")
    )
    openai_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_BASE_URL", "ECO2_OPENAI_BASE_URL")
    )
    openai_vision_model: str = "gpt-4.1-mini"
    openai_answer_model: str = "gpt-4.1-mini"
    azure_vision_endpoint: str | None = None
    azure_vision_key: str | None = None
    model_timeout_seconds: float = Field(default=30.0, gt=0)
    model_max_attempts: int = Field(default=3, ge=1, le=6)
    model_max_connections: int = Field(default=2000, ge=1)
    scan_timeout_seconds: float = Field(default=90.0, gt=0)
    scan_image_fetch_timeout_seconds: float = Field(default=10.0, gt=0)
    scan_events_ttl_seconds: int = Field(default=3600, gt=0)
    scan_rate_limit: int = Field(default=30, ge=1)  # scans (sync and job) per user per window
    scan_rate_window_seconds: int = Field(default=60, gt=0)

    # Chat: answers `offline` (intent rules, knowledge retrieval, Korean templates) | `openai`
    # (chat completions with tool calling and token streaming; OPENAI_* as for scan).
    chat_provider: Literal["offline", "openai"] = "offline"
    openai_chat_model: str = "gpt-4.1-mini"
    chat_rate_limit: int = Field(default=20, ge=1)  # messages per user per window
    chat_rate_window_seconds: int = Field(default=60, gt=0)
    chat_history_messages: int = Field(default=6, ge=2, le=40)  # recent messages in a prompt
    chat_timeout_seconds: float = Field(default=60.0, gt=0)
    chat_events_ttl_seconds: int = Field(default=3600, gt=0)
    chat_keepalive_seconds: float = Field(default=15.0, gt=0)
    # The models a message may pick (contract §7: gpt-5.2, gemini-3-flash-preview), as JSON:
    # {"name": {"model": id, "base_url": url, "api_key_env": VAR}}; others get the default.
    chat_models: dict[str, ChatModelSettings] = Field(default_factory=dict)

    # Background jobs (scan, chat answers, account erasure) on Redis Streams (streaq): `eco2
    # serve` also runs the workers unless jobs_in_process is false; `eco2 worker` runs them alone.
    jobs_in_process: bool = True
    jobs_concurrency: int = Field(default=1000, ge=1)  # jobs a process runs at once, per queue
    jobs_max_attempts: int = Field(default=3, ge=1, le=10)  # crashes included
    jobs_idle_timeout_seconds: float = Field(default=5.0, ge=1)  # a dead worker's jobs: retaken
    jobs_drain_seconds: float = Field(default=30.0, ge=0)  # on SIGTERM: to finish running jobs
    stream_max_per_user: int = Field(default=10, ge=1)  # open SSE streams per user
    idempotency_ttl_seconds: int = Field(default=3600, gt=0)  # Idempotency-Key memory

    # Service-to-service calls between split pods
    internal_token: str | None = None
    service_urls: CommaList = Field(default_factory=list)

    # Envoy ext_authz server (`eco2 authz`): keys from the JWKS URL, else the local keys above
    authz_jwks_url: str | None = None
    authz_jwks_refresh_seconds: float = Field(default=300.0, gt=0)
    authz_jwks_min_refetch_seconds: float = Field(default=10.0, ge=0)
    authz_fail_open: bool = False
    # also sizes the app's own cache when it verifies tokens itself (no gateway)
    authz_token_cache_size: int = Field(default=10_000, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _default_env(cls, values: Any) -> Any:
        """Unset ECO2_ENV means ``local`` only on the embedded default; with a real database
        it means ``prod``, so a forgotten variable never enables local-only behaviour."""
        if isinstance(values, dict) and not values.get("env"):
            values = {**values, "env": "prod" if values.get("database_url") else "local"}
        return values

    @field_validator(
        "cors_origins",
        "auth_redirect_uris",
        "service_urls",
        "image_allowed_hosts",
        "news_feeds_environment",
        "news_feeds_energy",
        "news_feeds_ai",
        "news_naver_queries",
        mode="before",
    )
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return _split_commas(value)

    @field_validator("cors_origins", "auth_redirect_uris")
    @classmethod
    def _no_trailing_slash(cls, value: list[str]) -> list[str]:
        return [item.rstrip("/") for item in value]

    @field_validator("public_base_url", "image_public_base_url")
    @classmethod
    def _strip_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    @model_validator(mode="after")
    def _service_urls_are_pairs(self) -> Settings:
        for entry in self.service_urls:
            if "=" not in entry:
                raise ValueError(f"ECO2_SERVICE_URLS entry {entry!r} is not name=url")
        return self

    @model_validator(mode="after")
    def _naver_queries_are_pairs(self) -> Settings:
        for entry in self.news_naver_queries:
            category, _, query = entry.partition("=")
            if category.strip() not in ("environment", "energy", "ai") or not query.strip():
                raise ValueError(f"ECO2_NEWS_NAVER_QUERIES entry {entry!r} is not category=query")
        return self

    def news_feeds(self) -> list[tuple[str, str]]:
        """(category, feed URL) pairs, in category order."""
        return [
            (category, url)
            for category in ("environment", "energy", "ai")
            for url in getattr(self, f"news_feeds_{category}")
        ]

    def naver_queries(self) -> list[tuple[str, str]]:
        """(category, query) pairs when Naver credentials are set, else none."""
        if not (self.news_naver_client_id and self.news_naver_client_secret):
            return []
        pairs = [entry.partition("=") for entry in self.news_naver_queries]
        return [(category.strip(), query.strip()) for category, _, query in pairs]

    @property
    def secure_cookies(self) -> bool:
        return self.cookie_secure if self.cookie_secure is not None else self.env != "local"

    @property
    def json_logs(self) -> bool:
        return self.log_json if self.log_json is not None else self.env != "local"

    @property
    def imports_locations_on_start(self) -> bool:
        if self.location_import_on_start is not None:
            return self.location_import_on_start
        return self.env == "local"

    @property
    def knowledge_index_dir(self) -> Path:
        """Where item embeddings the package does not ship are cached (computing them takes
        ~25 s; the package ships those of its own items)."""
        return self.waste_index_dir or self.data_dir / "waste-index"

    @property
    def default_origin(self) -> str:
        return self.cors_origins[0] if self.cors_origins else self.public_base_url

    def service_url(self, domain: str) -> str | None:
        for entry in self.service_urls:
            name, _, url = entry.partition("=")
            if name.strip() == domain:
                return url.strip().rstrip("/")
        return None

    def oauth(self, provider: str) -> OAuthProviderSettings:
        values = {
            key: getattr(self, f"auth_{provider}_{key}")
            for key in ("client_id", "client_secret", "authorize_url", "token_url", "userinfo_url")
        }
        return OAuthProviderSettings(name=provider, **values)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
