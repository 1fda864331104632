"""Catalog seeding, collections and idempotent rewards."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from eco2.domains.character.catalog import BY_MIDDLE, CATALOG, MASCOT_CODE
from eco2.domains.character.models import Character, Ownership
from eco2.domains.character.schemas import CatalogCharacter, OwnedCharacter, Reward
from eco2.platform.ids import parse_user_id
from eco2.platform.runtime import Runtime


class CharacterService:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    async def seed_catalog(self) -> None:
        """Upsert the catalog at start-up; safe when many pods start at once."""
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

    async def catalog(self) -> list[CatalogCharacter]:
        async with self._runtime.sessions() as session:
            rows = await session.scalars(select(Character).order_by(Character.sort_order))
            return [
                CatalogCharacter(
                    code=c.code,
                    name=c.name,
                    type=c.type_label,
                    dialog=c.dialog,
                    middle_category=c.middle_category,
                )
                for c in rows
            ]

    async def ensure_mascot(self, user_id: str) -> None:
        async with self._runtime.sessions.begin() as session:
            await _own(session, user_id, MASCOT_CODE, "first-login")

    async def owned(self, user_id: str) -> list[OwnedCharacter]:
        """The user's collection, newest first; the mascot is always in it."""
        async with self._runtime.sessions.begin() as session:
            await _own(session, user_id, MASCOT_CODE, "first-login")
            rows = await session.execute(
                select(Ownership, Character)
                .join(Character, Character.code == Ownership.character_code)
                .where(Ownership.user_id == parse_user_id(user_id))
                .order_by(Ownership.acquired_at.desc(), Character.sort_order.desc())
            )
            return [
                OwnedCharacter(
                    id=str(o.id),
                    code=c.code,
                    name=c.name,
                    type=c.type_label,
                    dialog=c.dialog,
                    acquired_at=o.acquired_at,
                )
                for o, c in rows
            ]

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
