"""``POST /api/v1/scan/classify`` on the offline providers: the web client's exact contract."""

from __future__ import annotations

import re

from litestar import Litestar
from litestar.testing import AsyncTestClient

from eco2.settings import Settings
from tests.fakes.db import sql
from tests.scan.conftest import CLASSIFY, IMAGE, classify


def assert_contract(body: dict[str, object]) -> None:
    """What the client reads (contract §3.10): nesting, string steps, explicit reward key."""
    assert "reward" in body
    result = body["pipeline_result"]
    assert isinstance(result, dict)
    classification = result["classification_result"]["classification"]
    for key in ("major_category", "middle_category", "minor_category"):
        assert isinstance(classification[key], str)
        assert classification[key]
    steps = result["final_answer"]["disposal_steps"]
    assert isinstance(steps, dict)
    assert steps
    assert list(steps) == [str(i) for i in range(1, len(steps) + 1)]
    assert all(isinstance(v, str) and v for v in steps.values())
    assert isinstance(result["final_answer"]["insufficiencies"], list)


async def test_clean_recyclable_gets_a_reward(
    client: AsyncTestClient[Litestar], user_id: str
) -> None:
    body = await classify(client, "다 마신 생수 페트병 라벨 떼고 헹궜어요")
    assert_contract(body)
    classification = body["pipeline_result"]["classification_result"]["classification"]
    assert classification["major_category"] == "재활용폐기물"
    assert classification["middle_category"] == "무색페트병"
    assert body["pipeline_result"]["final_answer"]["insufficiencies"] == []
    assert body["reward"]["name"] == "페티"
    assert body["reward"]["received"] is True
    assert body["status"] == "completed"
    assert body["error"] is None


async def test_insufficiency_means_explicit_null_reward(
    client: AsyncTestClient[Litestar], user_id: str
) -> None:
    response = await client.post(
        CLASSIFY, json={"image_url": IMAGE, "user_input": "생수 페트병인데 라벨 안 뗐어요"}
    )
    assert b'"reward":null' in response.content
    body = response.json()
    assert_contract(body)
    answer = body["pipeline_result"]["final_answer"]
    assert answer["insufficiencies"]
    assert all("라벨" in s for s in answer["insufficiencies"])
    assert "라벨" in answer["disposal_steps"]["1"]


async def test_non_recyclable_has_no_reward(
    client: AsyncTestClient[Litestar], user_id: str
) -> None:
    body = await classify(client, "치킨 먹고 남은 뼈")
    assert_contract(body)
    classification = body["pipeline_result"]["classification_result"]["classification"]
    assert classification["major_category"] == "일반종량제폐기물"
    assert body["reward"] is None


async def test_unrecognised_photo_has_null_pipeline_result(
    client: AsyncTestClient[Litestar], user_id: str
) -> None:
    body = await classify(client)  # the web client never sends user_input
    assert body["pipeline_result"] is None
    assert body["reward"] is None
    assert body["status"] == "completed"


async def test_reward_is_granted_once_per_character(
    client: AsyncTestClient[Litestar], user_id: str, settings: Settings
) -> None:
    first = await classify(client, "우유팩 헹궈서 펼쳤어요")
    second = await classify(client, "우유팩 헹궈서 펼쳤어요")
    assert first["reward"]["received"] is True
    assert second["reward"]["received"] is False
    assert second["reward"]["already_owned"] is True
    rows = await sql(
        settings,
        "SELECT count(*) FROM character.ownerships"
        " WHERE user_id = :u AND character_code = 'paper_pack'",
        u=user_id,
    )
    assert rows[0][0] == 1


async def test_every_scan_is_stored_with_timings(
    client: AsyncTestClient[Litestar], user_id: str, settings: Settings
) -> None:
    body = await classify(client, "택배 박스")
    rows = await sql(
        settings,
        "SELECT status, middle_category, timings, answer, reward, mode"
        " FROM scan.scans WHERE id = :i",
        i=body["task_id"],
    )
    status, middle, timings, answer, reward, mode = rows[0]
    assert (status, middle, mode) == ("completed", "종이", "sync")
    assert set(timings) >= {"vision", "rule", "answer", "reward"}
    assert answer["disposal_steps"] == body["pipeline_result"]["final_answer"]["disposal_steps"]
    assert reward["name"] == "페이피"


async def test_requires_sign_in(client: AsyncTestClient[Litestar]) -> None:
    response = await client.post(CLASSIFY, json={"image_url": IMAGE})
    assert response.status_code == 401


async def test_image_url_off_the_allowed_hosts_is_refused(
    client: AsyncTestClient[Litestar], user_id: str
) -> None:
    for url in (
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:5432/",
        "https://cdn.eco2.test.evil.example/x.png",
        "https://user:pw@cdn.eco2.test/x.png",
        "file:///etc/passwd",
        "http://testserver.local/metrics",  # the app's own host, not a stored image
        "http://testserver.local/internal/users/erase",
        " https://cdn.eco2.test/x.png",
    ):
        response = await client.post(CLASSIFY, json={"image_url": url})
        assert response.status_code == 422, url
        assert response.json()["error"]["code"] == "image_url_not_allowed"
    jobs = await client.post("/api/v1/scan", json={"image_url": "http://10.0.0.1/x.png"})
    assert jobs.status_code == 422


async def test_step_durations_are_exported(client: AsyncTestClient[Litestar], user_id: str) -> None:
    await classify(client, "우유팩")
    metrics = (await client.get("/metrics")).text
    for step in ("vision", "rule", "answer", "reward"):
        assert f'eco2_scan_step_duration_seconds_count{{step="{step}"}}' in metrics


async def test_template_answer_is_at_most_three_sentences(
    client: AsyncTestClient[Litestar], user_id: str
) -> None:
    for words in ("보조배터리", "생수 페트병인데 라벨 안 뗐어요", "치킨 뼈", "소파", "우유팩"):
        body = await classify(client, words)
        answer = body["pipeline_result"]["final_answer"]["user_answer"]
        sentences = [s for s in re.split(r"(?<=[.!?])\s+", answer.strip()) if s]
        assert 1 <= len(sentences) <= 3, answer


async def test_confidence_is_a_probability(client: AsyncTestClient[Litestar], user_id: str) -> None:
    body = await classify(client, "보조배터리")
    assert 0.0 <= body["pipeline_result"]["classification_result"]["confidence"] <= 1.0
