"""Catalog seeding, collections and idempotent rewards."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import Uuid, any_, bindparam, delete, select
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from eco2.domains.character.catalog import BY_MIDDLE, CATALOG, MASCOT_CODE
from eco2.domains.character.models import Character, Ownership
from eco2.domains.character.schemas import CatalogCharacter, OwnedCharacter, Reward
from eco2.platform.batching import BatchLoader
from eco2.platform.ids import parse_user_id
from eco2.platform.runtime import Runtime

# Users' collections, newest first: read outside any transaction, batched with the
# collections other requests want at the same moment.
COLLECTIONS = (
    select(
        Ownership.user_id,
        Ownership.id,
        Character.code,
        Character.name,
        Character.type_label,
        Character.dialog,
        Ownership.acquired_at,
    )
    .join(Character, Character.code == Ownership.character_code)
    .where(Ownership.user_id == any_(bindparam("user_ids", type_=ARRAY(Uuid))))
    .order_by(Ownership.acquired_at.desc(), Character.sort_order.desc())
)


class CharacterService:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._collections = BatchLoader(self._read_collections)
        self._catalog: list[CatalogCharacter] = []

    async def seed_catalog(self) -> None:
        """Upsert the catalog at start-up (safe when many pods start at once) and keep it."""
        rows = [
            {
                "code": e.code,
                "name": e.name,
                "middle_category": e.middle_category,
                "type_label": e.type_label,
                "dialog": e.dialog,
                "sort_order": i,
            }
            for i, e in enumerate(CATALOG)
        ]
        stmt = insert(Character).values(rows)
        stmt = stmt.on_conflict_do_update(
            index_elements=[Character.code],
            set_={
                c: stmt.excluded[c]
                for c in ("name", "middle_category", "type_label", "dialog", "sort_order")
            },
        )
        async with self._runtime.sessions.begin() as session:
            await session.execute(stmt)
            seeded = await session.scalars(select(Character).order_by(Character.sort_order))
            self._catalog = [
                CatalogCharacter(
                    code=c.code,
                    name=c.name,
                    type=c.type_label,
                    dialog=c.dialog,
                    middle_category=c.middle_category,
                )
                for c in seeded
            ]

    async def catalog(self) -> list[CatalogCharacter]:
        """As seeded at start-up: the catalog changes only with a release."""
        return self._catalog

    async def ensure_mascot(self, user_id: str) -> None:
        async with self._runtime.sessions.begin() as session:
            await _own(session, user_id, MASCOT_CODE, "first-login")

    async def owned(self, user_id: str) -> list[OwnedCharacter]:
        """The user's collection, newest first; the mascot is always in it (given at the
        first sign-in, and again here should it be missing)."""
        owner = parse_user_id(user_id)
        owned = await self._collections.load(owner) or []
        if any(c.code == MASCOT_CODE for c in owned):
            return owned
        await self.ensure_mascot(user_id)
        return await self._collections.load(owner) or []

    async def _read_collections(
        self, user_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, list[OwnedCharacter]]:
        rows = await self._runtime.statements.read(COLLECTIONS, {"user_ids": list(user_ids)})
        collections: dict[uuid.UUID, list[OwnedCharacter]] = {}
        for row in rows:
            collections.setdefault(row.user_id, []).append(
                OwnedCharacter(
                    id=str(row.id),
                    code=row.code,
                    name=row.name,
                    type=row.type_label,
                    dialog=row.dialog,
                    acquired_at=row.acquired_at,
                )
            )
        return collections

    async def grant(self, user_id: str, middle_category: str, source_id: str) -> Reward | None:
        """Reward a good sort of ``middle_category``; ``None`` when no character matches it."""
        entry = BY_MIDDLE.get(middle_category)
        if entry is None:
            return None
        async with self._runtime.sessions.begin() as session:
            received = await _own(session, user_id, entry.code, source_id)
        return Reward(
            received=received,
            already_owned=not received,
            name=entry.name,
            dialog=entry.dialog,
            match_reason=f"{middle_category}을(를) 올바르게 분리배출했어요",
            type=entry.type_label,
        )

    async def forget_user(self, user_id: str) -> None:
        async with self._runtime.sessions.begin() as session:
            await session.execute(
                delete(Ownership).where(Ownership.user_id == parse_user_id(user_id))
            )


async def _own(session: AsyncSession, user_id: str, code: str, source_id: str | None) -> bool:
    """Give ``code`` to the user; True when ``source_id`` gave it (now, or on an earlier run
    of the same job: a retried grant reports what the first one did)."""
    owner = parse_user_id(user_id)
    stmt = (
        insert(Ownership)
        .values(id=uuid.uuid4(), user_id=owner, character_code=code, source_id=source_id)
        .on_conflict_do_nothing(index_elements=[Ownership.user_id, Ownership.character_code])
        .returning(Ownership.id)
    )
    if (await session.execute(stmt)).first() is not None:
        return True
    if source_id is None:
        return False
    given_by = await session.scalar(
        select(Ownership.source_id).where(
            Ownership.user_id == owner, Ownership.character_code == code
        )
    )
    return given_by == source_id
