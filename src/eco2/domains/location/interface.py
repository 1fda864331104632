"""The location port: chat asks "where can I drop batteries near (lat, lon)?", in-process or
over HTTP to ``/internal/location/nearest``."""

from __future__ import annotations

from typing import Protocol

from eco2.domains.location.schemas import CenterEntry, NearestRequest, NearestResult
from eco2.domains.location.services import LocationService
from eco2.platform.runtime import Runtime


class LocationPort(Protocol):
    async def nearest(
        self,
        latitude: float,
        longitude: float,
        *,
        pickup_category: str | None = None,
        store_category: str | None = None,
        radius_m: int = 5000,
        limit: int = 5,
    ) -> list[CenterEntry]: ...


def _request(
    latitude: float,
    longitude: float,
    pickup_category: str | None,
    store_category: str | None,
    radius_m: int,
    limit: int,
) -> NearestRequest:
    return NearestRequest(
        latitude=latitude,
        longitude=longitude,
        pickup_category=pickup_category,
        store_category=store_category,
        radius_m=radius_m,
        limit=limit,
    )


class LocalLocation:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    @property
    def _service(self) -> LocationService:
        return self._runtime.service("location", LocationService)

    async def nearest(
        self,
        latitude: float,
        longitude: float,
        *,
        pickup_category: str | None = None,
        store_category: str | None = None,
        radius_m: int = 5000,
        limit: int = 5,
    ) -> list[CenterEntry]:
        request = _request(latitude, longitude, pickup_category, store_category, radius_m, limit)
        return await self._service.nearest(request)


class RemoteLocation:
    def __init__(self, runtime: Runtime) -> None:
        self._client = runtime.internal_client("location")

    async def nearest(
        self,
        latitude: float,
        longitude: float,
        *,
        pickup_category: str | None = None,
        store_category: str | None = None,
        radius_m: int = 5000,
        limit: int = 5,
    ) -> list[CenterEntry]:
        request = _request(latitude, longitude, pickup_category, store_category, radius_m, limit)
        result = await self._client.call("POST", "/nearest", json=request, into=NearestResult)
        return result.sites


def location_port(runtime: Runtime) -> LocationPort:
    return LocalLocation(runtime) if runtime.serves("location") else RemoteLocation(runtime)
