"""Prometheus instruments of the authz process (its own registry: nothing else lives there)."""

from __future__ import annotations

from functools import cache

from prometheus_client import CollectorRegistry, Counter, Histogram

from eco2.platform.revocations import revocation_metrics
from eco2.platform.verified_tokens import token_cache_counter

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
# The kernel's caches (shared with the app), exported under this process's names.
TOKEN_CACHE = token_cache_counter("eco2_authz", REGISTRY)
REVOCATIONS = revocation_metrics("eco2_authz", REGISTRY)
KEY_FETCHES = Counter(
    "eco2_authz_jwks_fetches",
    "JWKS fetches by trigger (start, periodic, unknown_kid) and result.",
    ["trigger", "result"],
    registry=REGISTRY,
)


@cache
def decision_counter(result: str, reason: str) -> Counter:
    # Reasons are a small closed set (InvalidToken reasons + decision codes): safe to cache.
    return DECISIONS.labels(result, reason)
