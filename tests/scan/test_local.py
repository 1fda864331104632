"""The offline image model in the default install (no torch): real weights, photos fetched
from an image host, the reviewed mapping and its abstain threshold."""

from __future__ import annotations

import asyncio
import io
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar import Litestar, Response, get
from litestar.params import FromPath
from litestar.testing import AsyncTestClient
from PIL import Image, ImageDraw

from eco2.domains.scan.providers import local
from eco2.domains.scan.providers.base import ScanInput
from eco2.domains.scan.providers.local import (
    ABSTAIN_BELOW,
    LocalVision,
    load_model,
    predict,
    sure,
    votes,
)
from eco2.domains.scan.providers.local.imagenet import _GROUPS, CLASS_NAMES, IMAGENET
from eco2.knowledge import load_knowledge
from eco2.settings import Settings
from tests.fakes.live import serve
from tests.scan.conftest import classify, scan_settings

PHOTOS = Path(__file__).parents[1] / "data" / "photos"
WATER_BOTTLE = CLASS_NAMES.index("water bottle")


def sample_photos() -> dict[str, bytes]:
    """The photos in ``tests/data/photos`` (sources and licences in its README)."""
    return {
        p.name: p.read_bytes() for p in sorted(PHOTOS.glob("*")) if p.suffix in {".jpg", ".webp"}
    }


def drawing() -> bytes:
    """Two flat rectangles: nothing the model should claim to recognise."""
    image = Image.new("RGB", (320, 480), (235, 240, 245))
    ImageDraw.Draw(image).rectangle((110, 60, 210, 420), fill=(120, 170, 220))
    out = io.BytesIO()
    image.save(out, "JPEG")
    return out.getvalue()


@get("/{name:str}", media_type="application/octet-stream")
async def image(name: FromPath[str]) -> Response[bytes]:
    bodies = {
        **sample_photos(),
        "drawing.jpg": drawing(),
        "big.jpg": b"\xff" * 200_000,
        "text.jpg": b"not an image",
    }
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
        vision_provider="auto",  # picks `local`: the model ships with the default install
        image_allowed_hosts=[image_host.removeprefix("http://")],
        image_max_bytes=100_000,
    )


def test_model_gives_imagenet_probabilities() -> None:
    top = predict(sample_photos()["pet_bottle.jpg"])
    assert len(top) == 5
    assert top[0][0] == WATER_BOTTLE
    probabilities = [p for _, p in top]
    assert probabilities == sorted(probabilities, reverse=True)
    assert 0.0 < sum(probabilities) <= 1.0


def test_votes_follow_the_reviewed_mapping() -> None:
    pop_bottle, soap = CLASS_NAMES.index("pop bottle"), CLASS_NAMES.index("soap dispenser")
    found, implied = votes([(WATER_BOTTLE, 0.7), (pop_bottle, 0.2), (soap, 0.05)])
    (best, (score, minor)) = max(found.items(), key=lambda kv: kv[1][0])
    assert best == ("재활용폐기물", "무색페트병")
    assert minor == "먹는샘물 페트병"
    assert score == pytest.approx(0.7 + 0.2 * 0.7)
    assert implied == ()
    assert votes([(CLASS_NAMES.index("remote control"), 0.9)])[1] == ("battery_inside",)


def test_below_the_threshold_the_model_abstains() -> None:
    weak = {("재활용폐기물", "무색페트병"): (ABSTAIN_BELOW - 0.01, "먹는샘물 페트병")}
    assert sure(weak) == {}
    strong = {("재활용폐기물", "무색페트병"): (ABSTAIN_BELOW, "먹는샘물 페트병")}
    assert sure(strong) == strong
    assert sure({}) == {}


def test_every_imagenet_target_is_in_the_taxonomy() -> None:
    kb = load_knowledge()
    for index, target in IMAGENET.items():
        category = kb.category(target.major, target.middle)
        assert target.minor in category.minors, (index, CLASS_NAMES[index])
        assert 0 < target.weight <= 1


def test_each_class_is_reviewed_once() -> None:
    names = Counter(name for _, group in _GROUPS for name in group)
    assert [name for name, n in names.items() if n > 1] == []
    assert len(CLASS_NAMES) == 1000


async def test_a_pet_bottle_photo_is_classified_without_any_words(
    client: AsyncTestClient[Litestar], user_id: str, image_host: str
) -> None:
    """What the web clients send: a photo and no ``user_input``."""
    body = await classify(client, image_url=f"{image_host}/pet_bottle.jpg")
    result = body["pipeline_result"]["classification_result"]
    assert result["provider"] == "local"
    assert result["classification"]["major_category"] == "재활용폐기물"
    assert result["classification"]["middle_category"] == "무색페트병"
    assert load_model.cache_info().currsize == 1  # built when the scan domain started


async def test_an_unsure_photo_ends_on_the_not_recognised_page(
    client: AsyncTestClient[Litestar], user_id: str, image_host: str
) -> None:
    body = await classify(client, image_url=f"{image_host}/drawing.jpg")
    assert body["status"] == "completed"
    assert body["pipeline_result"] is None
    assert body["reward"] is None


async def test_the_users_words_win(
    client: AsyncTestClient[Litestar], user_id: str, image_host: str
) -> None:
    body = await classify(client, "콜라 캔", image_url=f"{image_host}/pet_bottle.jpg")
    result = body["pipeline_result"]["classification_result"]
    assert result["provider"] == "local"
    assert result["classification"]["middle_category"] == "금속류"


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


async def test_inference_runs_in_the_bounded_pool_off_the_event_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    running, peak, threads = 0, 0, set()
    lock = threading.Lock()

    def counted(data: bytes) -> list[tuple[int, float]]:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
            threads.add(threading.current_thread().name)
        try:
            return predict(data)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(local, "predict", counted)
    vision = LocalVision(workers=2)
    photo = sample_photos()["frying_pan.webp"]

    async def image_bytes() -> bytes:
        return photo

    try:
        scans = [vision.observe(ScanInput("u", None, image_bytes)) for _ in range(6)]
        observations = await asyncio.gather(*scans)
    finally:
        await vision.close()
    assert {o.middle for o in observations} == {"금속류"}
    assert peak == 2
    assert all(name.startswith("eco2-local-vision") for name in threads)
