"""The Azure provider through the real SDK against a local fake Image Analysis server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from eco2.domains.scan.providers.vocabulary import LABELS
from eco2.knowledge import load_knowledge
from eco2.settings import Settings
from tests.fakes.models import FakeServer, Reply, azure_body, fake_azure
from tests.scan.conftest import IMAGE, classify, scan_settings

# The provider's SDK is a declared dependency; skip cleanly where it is not installed yet.
pytest.importorskip("azure.ai.vision.imageanalysis")

PET = azure_body(
    [("bottle", 0.98), ("plastic bottle", 0.95), ("water bottle", 0.9), ("indoor", 0.8)],
    caption="a plastic bottle on a table",
    objects=["bottle"],
)


@pytest.fixture
def azure_server() -> Iterator[FakeServer]:
    with fake_azure(Reply(PET)) as server:
        yield server


@pytest.fixture
def settings(base_settings: Settings, azure_server: FakeServer) -> Settings:
    return scan_settings(
        base_settings,
        vision_provider="azure",
        azure_vision_endpoint=azure_server.url,
        azure_vision_key="test-key",
        model_timeout_seconds=1.0,
    )


async def test_tags_vote_for_a_category(
    client: AsyncTestClient[Litestar], user_id: str, azure_server: FakeServer
) -> None:
    body = await classify(client)
    classification = body["pipeline_result"]["classification_result"]["classification"]
    assert classification["middle_category"] == "무색페트병"
    assert body["reward"]["name"] == "페티"
    (request,) = azure_server.script.requests
    assert request == {"url": IMAGE}
    (path,) = azure_server.script.paths
    assert "features=tags%2Cobjects%2Ccaption%2Cread" in path or "features=tags,objects" in path


async def test_ocr_text_and_user_words_count(
    client: AsyncTestClient[Litestar], user_id: str, azure_server: FakeServer
) -> None:
    azure_server.reply(Reply(azure_body([("indoor", 0.9)], lines=["서울우유 1000ml"])))
    body = await classify(client)
    assert (
        body["pipeline_result"]["classification_result"]["classification"]["middle_category"]
        == "종이팩"
    )
    azure_server.reply(Reply(PET))
    said = await classify(client, "이거 소주병이에요")
    assert (
        said["pipeline_result"]["classification_result"]["classification"]["middle_category"]
        == "유리병"
    )


async def test_service_errors_are_retried_then_fail_cleanly(
    client: AsyncTestClient[Litestar], user_id: str, azure_server: FakeServer
) -> None:
    azure_server.reply(Reply(status=429, headers={"retry-after": "0"}), Reply(PET))
    assert (await classify(client))["status"] == "completed"
    azure_server.reply(Reply({"error": {"code": "InternalServerError", "message": "x"}}, 500))
    failed = await classify(client)
    assert failed["error"]["code"] == "model_unavailable"
    assert failed["pipeline_result"] is None


def test_every_label_points_into_the_taxonomy() -> None:
    kb = load_knowledge()
    for label, target in LABELS.items():
        category = kb.category(target.major, target.middle)
        assert target.minor in category.minors, label
