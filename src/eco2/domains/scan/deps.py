"""The process-wide scan service: built when the domain starts, handed to handlers as
``scans: Scans``."""

from __future__ import annotations

from typing import TypeAlias

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide

from eco2.domains.scan.services import ScanService

Scans: TypeAlias = NamedDependency[ScanService]


async def start(app: Litestar) -> None:
    app.state.scan_service = await ScanService.start(app.state.runtime)


async def stop(app: Litestar) -> None:
    """Runs only after ``start`` succeeded (the app's domain lifecycle)."""
    service: ScanService = app.state.scan_service
    await service.close()


def provide_scans(state: State) -> ScanService:
    service: ScanService = state.scan_service
    return service


dependencies = {"scans": Provide(provide_scans, sync_to_thread=False)}
