"""The process-wide scan service as a dependency: ``scans: Scans``."""

from __future__ import annotations

from typing import TypeAlias

from litestar.datastructures import State
from litestar.di import NamedDependency, Provide

from eco2.domains.scan.services import ScanService

Scans: TypeAlias = NamedDependency[ScanService]


def provide_scans(state: State) -> ScanService:
    service: ScanService = state.scan_service
    return service


dependencies = {"scans": Provide(provide_scans, sync_to_thread=False)}
