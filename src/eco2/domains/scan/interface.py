"""The scan port: chat runs a photo through the scan pipeline, in-process or over HTTP to
``/internal/scan/classify``."""

from __future__ import annotations

from typing import Protocol

from eco2.domains.scan.schemas import ClassifyRequest, InternalClassify, ScanResponse
from eco2.platform.runtime import Runtime


class ScanPort(Protocol):
    async def classify(
        self, user_id: str, image_url: str, user_input: str | None
    ) -> ScanResponse: ...


class LocalScan:
    """The process's own scan service (looked up per call: start-up order does not matter)."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    async def classify(self, user_id: str, image_url: str, user_input: str | None) -> ScanResponse:
        from eco2.domains.scan.services import ScanService

        service = self._runtime.service("scan", ScanService)
        return await service.classify(user_id, ClassifyRequest(image_url, user_input))


class RemoteScan:
    def __init__(self, runtime: Runtime) -> None:
        self._client = runtime.internal_client("scan")

    async def classify(self, user_id: str, image_url: str, user_input: str | None) -> ScanResponse:
        request = InternalClassify(user_id=user_id, image_url=image_url, user_input=user_input)
        return await self._client.call("POST", "/classify", json=request, into=ScanResponse)


def scan_port(runtime: Runtime) -> ScanPort:
    return LocalScan(runtime) if runtime.serves("scan") else RemoteScan(runtime)
