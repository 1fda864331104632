"""The location port (``location/interface.py``) both ways: chat's "where can I drop this
near me?"."""

from __future__ import annotations

import pytest

from eco2.domains.location.interface import LocalLocation, RemoteLocation, location_port
from eco2.platform.errors import AppError
from eco2.settings import Settings
from tests.fakes.split import SIDES, Cluster, port_caller
from tests.location.conftest import LAT, LON, load, ring


@pytest.mark.parametrize("side", SIDES)
async def test_nearest(side: str, settings: Settings, cluster: Cluster) -> None:
    await load(settings, ring())
    async with port_caller(side, settings, cluster, "location") as caller:
        places = location_port(caller.runtime)
        assert isinstance(places, caller.expect(LocalLocation, RemoteLocation))

        batteries = await caller.run(places.nearest(LAT, LON, pickup_category="battery"))
        refills = await caller.run(
            places.nearest(LAT, LON, store_category="refill_zero", radius_m=5000, limit=3)
        )
        closest = await caller.run(places.nearest(LAT, LON, radius_m=2000, limit=2))
        with pytest.raises(AppError) as unknown:
            await caller.run(places.nearest(LAT, LON, pickup_category="batteries"))

    assert [p.name for p in batteries] == ["오십미터 회수기"]
    assert batteries[0].distance_text == "50m"
    assert batteries[0].phone == "02-120-0000"
    assert [p.name for p in refills] == ["알맹상점 리필스테이션"]
    assert [p.name for p in closest] == ["오십미터 회수기", "삼백미터 회수기"]
    error = unknown.value
    assert (error.status_code, error.code, error.field) == (
        422,
        "invalid_category",
        "pickup_category",
    )
