"""Importing into PostgreSQL: idempotent upserts, updates, merged duplicates, the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from eco2.cli import main
from eco2.domains.location import datasets
from eco2.domains.location.cli import import_files
from eco2.domains.location.models import Site
from eco2.settings import Settings, get_settings
from tests.location.conftest import session_for


async def count_sites(settings: Settings) -> int:
    async with session_for(settings) as session:
        return int(await session.scalar(select(func.count()).select_from(Site)) or 0)


async def test_import_is_idempotent_and_merges(settings: Settings, tmp_path: Path) -> None:
    first = await import_files(settings, [])
    assert (first.imported, first.updated, first.unchanged, first.merged) == (739, 0, 0, 8)
    assert first.skipped == {
        "missing_coordinates": 9,
        "coordinates_outside_korea": 3,
        "unparseable_coordinates": 1,
    }
    second = await import_files(settings, [])
    assert (second.imported, second.updated, second.unchanged) == (0, 0, 739)
    assert await count_sites(settings) == 739
    async with session_for(settings) as session:
        kept = await session.scalar(select(Site).where(Site.source_key == "285"))
        assert kept is not None
        assert kept.merged_keys == ["286"]
        assert await session.scalar(select(Site).where(Site.source_key == "286")) is None
        ids_before = dict((await session.execute(select(Site.source_key, Site.id))).all())
    # A newer export of the same dataset: one renamed place is updated in place (same id).
    (name, data), _ = datasets.bundled_files()
    changed = tmp_path / name
    changed.write_bytes(data.replace("고양동 종합복지회관".encode(), "고양동 복지회관".encode(), 1))
    third = await import_files(settings, [changed])
    assert (third.imported, third.updated, third.unchanged) == (0, 1, 387)
    async with session_for(settings) as session:
        renamed = await session.scalar(select(Site).where(Site.source_key == "1"))
        assert renamed is not None
        assert renamed.name == "고양동 복지회관"
        assert renamed.id == ids_before["1"]


def test_cli_prints_a_summary(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for key, value in {
        "ECO2_DATABASE_URL": settings.database_url or "",
        "ECO2_REDIS_URL": settings.redis_url or "",
        "ECO2_DATA_DIR": str(tmp_path),
        "ECO2_ENV": "dev",
    }.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    zerowaste = tmp_path / "zerowaste.csv"
    zerowaste.write_bytes(datasets.bundled_files()[1][1])
    try:
        result = CliRunner().invoke(main, ["data", "import-locations", str(zerowaste)])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "imported" in result.output
    assert "351" in result.output
