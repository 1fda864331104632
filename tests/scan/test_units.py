"""Small pure pieces: provider choice, retry policy, situation tags from words."""

from __future__ import annotations

import pytest

from eco2.domains.scan.providers import local_model_installed, vision_name
from eco2.domains.scan.providers.conditions import conditions_in, item_words
from eco2.domains.scan.providers.retry import RetryPolicy, status_failure
from eco2.settings import Settings


def test_auto_picks_the_local_model_in_the_default_install() -> None:
    """Its packages are base dependencies (no torch): photos alone get a category offline."""
    assert local_model_installed()
    assert vision_name(Settings(vision_provider="auto")) == "local"
    assert vision_name(Settings(vision_provider="azure")) == "azure"


def test_backoff_is_bounded_and_honours_retry_after_up_to_the_cap() -> None:
    policy = RetryPolicy(attempts=3, base_delay=0.5, max_delay=4.0)
    for attempt in range(10):
        assert 0 < policy.delay(attempt, None) <= 4.0
    assert policy.delay(0, 2.0) == 2.0
    assert policy.delay(0, 120.0) == 4.0


@pytest.mark.parametrize(
    ("status", "code", "retryable"),
    [
        (429, "model_rate_limited", True),
        (500, "model_unavailable", True),
        (503, "model_unavailable", True),
        (401, "provider_not_configured", False),
        (400, "model_rejected", False),
    ],
)
def test_status_codes_map_to_stable_failures(status: int, code: str, retryable: bool) -> None:
    failure = status_failure(status)
    assert (failure.code, failure.retryable) == (code, retryable)


@pytest.mark.parametrize(
    ("words", "tags"),
    [
        ("생수병 라벨 안 뗐어요", {"label_attached"}),
        ("라벨은 떼고 뚜껑은 닫았어", {"cap_attached"}),
        ("깨끗이 헹궜어요", set()),
        ("컵라면 용기 국물이 남아있어", {"contents_left", "food_contamination"}),
        ("부탄가스 가스 덜 뺐어", {"gas_left"}),
        ("샴푸 펌프 그대로", {"pump_attached"}),
        ("건전지 들어있는 장난감", {"battery_inside"}),
        ("깨진 유리컵", {"broken_glass"}),
        (None, set()),
    ],
)
def test_conditions_from_words(words: str | None, tags: set[str]) -> None:
    assert set(conditions_in(words)) == tags


def test_item_words_drop_condition_phrases() -> None:
    kept = item_words("다 마신 생수 페트병 라벨 떼고 헹궜어요")
    assert "생수 페트병" in kept
    assert "라벨" not in kept
    assert "라벨" not in item_words("생수 페트병인데 라벨 안 뗐어요")
    assert item_words("라벨") == "라벨"


def test_unfinished_jobs_past_their_deadline_count_as_abandoned() -> None:
    from datetime import timedelta

    from eco2.domains.scan.models import Scan
    from eco2.domains.scan.store import abandoned
    from eco2.platform.db import utcnow

    old = Scan(status="running", created_at=utcnow() - timedelta(minutes=6))
    fresh = Scan(status="running", created_at=utcnow())
    done = Scan(status="completed", created_at=utcnow() - timedelta(hours=1))
    assert abandoned(old, lifetime=300.0)
    assert not abandoned(fresh, lifetime=300.0)
    assert not abandoned(done, lifetime=300.0)
