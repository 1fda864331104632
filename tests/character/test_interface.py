"""The character port (``character/interface.py``) both ways: auth's first-login mascot,
scan's rewards, chat's look at the catalog and a user's collection."""

from __future__ import annotations

import uuid

import pytest

from eco2.domains.character.interface import LocalCharacter, RemoteCharacter, character_port
from eco2.platform.errors import AppError
from eco2.settings import Settings
from tests.fakes.split import SIDES, Cluster, port_caller


@pytest.mark.parametrize("side", SIDES)
async def test_character_port(side: str, settings: Settings, cluster: Cluster) -> None:
    user_id = str(uuid.uuid4())
    async with port_caller(side, settings, cluster, "character") as caller:
        characters = character_port(caller.runtime)
        assert isinstance(characters, caller.expect(LocalCharacter, RemoteCharacter))

        catalog = await caller.run(characters.catalog())
        await caller.run(characters.ensure_mascot(user_id))
        first = await caller.run(characters.grant(user_id, "종이", "scan:1"))
        repeat = await caller.run(characters.grant(user_id, "종이", "scan:2"))
        nothing = await caller.run(characters.grant(user_id, "음식물류", "scan:3"))
        owned = await caller.run(characters.owned(user_id))
        with pytest.raises(AppError) as malformed:
            await caller.run(characters.grant("not-a-uuid", "종이", "scan:4"))

    assert len(catalog) == 13
    assert catalog[0].name == "이코"
    assert catalog[0].middle_category is None
    assert first is not None
    assert (first.received, first.already_owned) == (True, False)
    assert first.name == "페이피"
    assert repeat is not None
    assert (repeat.received, repeat.already_owned) == (False, True)
    assert nothing is None
    assert [c.name for c in owned] == ["페이피", "이코"]
    assert (malformed.value.status_code, malformed.value.code) == (404, "user_not_found")
