"""Prometheus instruments of the authz process (its own registry: nothing else lives there)."""

from __future__ import annotations

from functools import cache

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=False)

DECISIONS = Counter(
    "eco2_authz_decisions",
    "Check decisions by result (allow, deny, error) and reason.",
    ["result", "reason"],
    registry=REGISTRY,
)
CHECK_SECONDS = Histogram(
    "eco2_authz_check_duration_seconds",
    "Time to decide one Check, inside the server.",
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
    registry=REGISTRY,
)
TOKEN_CACHE = Counter(
    "eco2_authz_token_cache",
    "Verified-token cache lookups (hit: no signature check needed).",
    ["result"],
    registry=REGISTRY,
)
REVOCATION_LOOKUPS = Counter(
    "eco2_authz_revocation_lookups",
    "Revocation checks by source (local set or Redis fallback) and result.",
    ["source", "result"],
    registry=REGISTRY,
)
REVOCATION_SYNCED = Gauge(
    "eco2_authz_revocation_synced",
    "1 while the local revoked set is subscribed and loaded, else 0 (Redis per request).",
    registry=REGISTRY,
)
REVOKED_ENTRIES = Gauge(
    "eco2_authz_revoked_entries", "Entries in the local revoked set.", registry=REGISTRY
)
KEY_FETCHES = Counter(
    "eco2_authz_jwks_fetches",
    "JWKS fetches by trigger (start, periodic, unknown_kid) and result.",
    ["trigger", "result"],
    registry=REGISTRY,
)

TOKEN_CACHE_HIT = TOKEN_CACHE.labels("hit")
TOKEN_CACHE_MISS = TOKEN_CACHE.labels("miss")


@cache
def decision_counter(result: str, reason: str) -> Counter:
    # Reasons are a small closed set (InvalidToken reasons + decision codes): safe to cache.
    return DECISIONS.labels(result, reason)


@cache
def revocation_counter(source: str, result: str) -> Counter:
    return REVOCATION_LOOKUPS.labels(source, result)
