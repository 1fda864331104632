"""The body of `eco2 data import-locations`: parse, upsert with a progress bar, print a summary."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from eco2.domains.location import datasets, services
from eco2.domains.location.schemas import ImportReport
from eco2.platform.db import async_url
from eco2.settings import Settings

REASONS = {
    "missing_coordinates": "좌표 없음",
    "unparseable_coordinates": "좌표 형식 오류",
    "coordinates_outside_korea": "국내 범위를 벗어난 좌표",
    "missing_key_or_name": "ID 또는 이름 없음",
}


async def import_files(
    settings: Settings, files: list[Path], progress: services.Progress | None = None
) -> ImportReport:
    loaded = datasets.load_files(files) if files else datasets.bundled_files()
    parsed = datasets.parse(loaded)
    engine = create_async_engine(async_url(settings.database_url or ""))
    try:
        async with async_sessionmaker(engine).begin() as session:
            return await services.import_parsed(session, parsed, progress)
    finally:
        await engine.dispose()


def run_import(settings: Settings, files: list[Path], console: Console) -> ImportReport:
    started = time.perf_counter()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task("장소 가져오는 중", total=None)

        def advance(count: int) -> None:
            bar.update(task, advance=count)

        report = asyncio.run(import_files(settings, files, advance))
        bar.update(task, total=report.imported + report.updated + report.unchanged)
    console.print(summary(report, time.perf_counter() - started))
    return report


def summary(report: ImportReport, seconds: float) -> Table:
    table = Table(title=f"장소 가져오기: {report.rows}행, {seconds:.2f}초")
    table.add_column("결과")
    table.add_column("건수", justify="right")
    table.add_row("새로 추가 (imported)", str(report.imported))
    table.add_row("갱신 (updated)", str(report.updated))
    table.add_row("변경 없음 (unchanged)", str(report.unchanged))
    table.add_row("중복 병합 (merged)", str(report.merged))
    for reason, count in sorted(report.skipped.items()):
        table.add_row(f"건너뜀: {REASONS.get(reason, reason)} ({reason})", str(count))
    return table
