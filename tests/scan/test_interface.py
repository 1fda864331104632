"""The scan port (``scan/interface.py``) both ways: chat runs a photo through the scan
pipeline (over HTTP that is ``RemoteScan``, the scan process granting the reward through the
character process)."""

from __future__ import annotations

import uuid

import pytest

from eco2.domains.scan.interface import LocalScan, RemoteScan, scan_port
from eco2.platform.errors import AppError
from eco2.settings import Settings
from tests.fakes.db import count
from tests.fakes.split import SIDES, Cluster, port_caller
from tests.scan.conftest import IMAGE


@pytest.mark.parametrize("side", SIDES)
async def test_classify(side: str, settings: Settings, cluster: Cluster) -> None:
    user_id = str(uuid.uuid4())
    async with port_caller(side, settings, cluster, "scan", "character") as caller:
        scans = scan_port(caller.runtime)
        assert isinstance(scans, caller.expect(LocalScan, RemoteScan))

        clean = await caller.run(scans.classify(user_id, IMAGE, "라벨 뗀 생수 페트병"))
        again = await caller.run(scans.classify(user_id, IMAGE, "라벨 뗀 생수 페트병"))
        with pytest.raises(AppError) as elsewhere:
            await caller.run(scans.classify(user_id, "https://evil.example/a.png", None))

    assert clean.status == "completed"
    assert clean.pipeline_result is not None
    classification = clean.pipeline_result.classification_result.classification
    assert (classification.major_category, classification.middle_category) == (
        "재활용폐기물",
        "무색페트병",
    )
    assert clean.reward is not None
    assert (clean.reward.name, clean.reward.received) == ("페티", True)
    assert again.reward is not None
    assert again.reward.already_owned
    assert await count(settings, "scan.scans", user_id) == 2
    assert await count(settings, "character.ownerships", user_id) == 1
    error = elsewhere.value
    assert (error.status_code, error.code, error.field) == (
        422,
        "image_url_not_allowed",
        "image_url",
    )
