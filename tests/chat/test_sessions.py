"""Session API and the legacy call: shapes, paging, ownership and clear 4xx on bad input."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.chat.conftest import LEGACY, ask, send, stream
from tests.conftest import dev_login

CHAT = "/api/v1/chat"


async def test_legacy_call_creates_and_continues_a_session(
    client: AsyncTestClient[Litestar], user_id: str
) -> None:
    first = await ask(client, "우유팩 어떻게 버려요?")
    assert set(first) == {"session_id", "user_answer"}
    assert "종이팩" in first["user_answer"]
    second = await ask(client, "고마워요", first["session_id"])
    assert second["session_id"] == first["session_id"]
    detail = (await client.get(f"{CHAT}/{first['session_id']}")).json()
    assert [m["role"] for m in detail["messages"]] == ["user", "assistant", "user", "assistant"]
    assert detail["messages"][0]["content"] == "우유팩 어떻게 버려요?"


async def test_legacy_bad_input(client: AsyncTestClient[Litestar], user_id: str) -> None:
    cases = [
        ({"message": "", "temperature": 0.2, "image_url": None}, "empty_message"),
        ({"temperature": 0.2, "image_url": None}, "validation_error"),
        ({"message": "a" * 2001, "temperature": 0.2, "image_url": None}, "validation_error"),
        ({"message": "hi", "temperature": 5, "image_url": None}, "validation_error"),
        ({"message": "", "image_url": "https://evil.example/x.png"}, "image_url_not_allowed"),
    ]
    for body, code in cases:
        response = await client.post(LEGACY, json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["error"]["code"] == code
    response = await client.post(
        LEGACY, content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    missing = await client.post(LEGACY, json={"message": "hi", "session_id": "nope"})
    assert missing.status_code == 404


async def test_session_crud_and_paging(client: AsyncTestClient[Litestar], user_id: str) -> None:
    created = await client.post(CHAT, json={"title": "첫 대화"})
    assert created.status_code == 201
    chat = created.json()
    assert set(chat) == {"id", "title", "created_at"}
    assert chat["title"] == "첫 대화"
    assert (await client.post(CHAT)).status_code == 201  # no body: untitled
    listing = (await client.get(CHAT, params={"limit": 1})).json()
    assert len(listing["chats"]) == 1
    assert listing["next_cursor"]
    rest = (await client.get(CHAT, params={"limit": 1, "cursor": listing["next_cursor"]})).json()
    assert rest["next_cursor"] is None
    assert {c["id"] for c in listing["chats"] + rest["chats"]} >= {chat["id"]}
    summary = rest["chats"][0] if rest["chats"][0]["id"] == chat["id"] else listing["chats"][0]
    assert set(summary) == {
        "id",
        "title",
        "preview",
        "message_count",
        "last_message_at",
        "created_at",
    }

    renamed = await client.patch(f"{CHAT}/{chat['id']}", json={"title": "이름 바꿈"})
    assert renamed.status_code == 200
    assert renamed.json()["title"] == "이름 바꿈"
    assert (await client.patch(f"{CHAT}/{chat['id']}", json={"title": ""})).status_code == 422
    assert (await client.patch(f"{CHAT}/{chat['id']}", json={})).status_code == 422

    for text in ("페트병", "캔", "유리병"):
        job = await send(client, chat["id"], text)
        await stream(client, job["stream_url"])
    page = (await client.get(f"{CHAT}/{chat['id']}", params={"limit": 4})).json()
    assert page["has_more"]
    assert len(page["messages"]) == 4
    assert page["messages"][-1]["role"] == "assistant"  # newest page, oldest first inside
    older = (
        await client.get(f"{CHAT}/{chat['id']}", params={"limit": 4, "cursor": page["next_cursor"]})
    ).json()
    assert not older["has_more"]
    assert older["messages"][0]["content"] == "페트병"
    assert (await client.get(f"{CHAT}/{chat['id']}", params={"cursor": "@@"})).status_code == 422
    assert (await client.get(CHAT, params={"limit": 0})).status_code == 422

    deleted = await client.delete(f"{CHAT}/{chat['id']}")
    assert deleted.status_code == 200
    assert (await client.get(f"{CHAT}/{chat['id']}")).status_code == 404


async def test_other_users_chats_are_not_found(
    client: AsyncTestClient[Litestar], user_id: str
) -> None:
    chat = (await client.post(CHAT, json={})).json()
    job = await send(client, chat["id"], "건전지")
    await stream(client, job["stream_url"])
    await dev_login(client, "다른사람")
    for method, url in [
        ("GET", f"{CHAT}/{chat['id']}"),
        ("PATCH", f"{CHAT}/{chat['id']}"),
        ("DELETE", f"{CHAT}/{chat['id']}"),
        ("POST", f"{CHAT}/{chat['id']}/messages"),
        ("GET", job["stream_url"]),
        ("GET", f"{CHAT}/not-a-uuid"),
    ]:
        response = await client.request(method, url, json={"title": "x", "message": "hi"})
        assert response.status_code == 404, (method, url, response.text)
    assert (await client.get(CHAT)).json()["chats"] == []
    response = await client.post(LEGACY, json={"message": "hi", "session_id": chat["id"]})
    assert response.status_code == 404


async def test_send_message_bad_input(client: AsyncTestClient[Litestar], user_id: str) -> None:
    chat = (await client.post(CHAT, json={})).json()
    url = f"{CHAT}/{chat['id']}/messages"
    assert (await client.post(url, json={"message": ""})).json()["error"]["code"] == "empty_message"
    bad_location = {"message": "근처 수거함", "user_location": {"latitude": 200, "longitude": 0}}
    assert (await client.post(url, json=bad_location)).status_code == 422
    image_only = await client.post(url, json={"image_url": "https://cdn.eco2.test/a.png"})
    assert image_only.status_code == 202


async def test_chat_needs_login(client: AsyncTestClient[Litestar]) -> None:
    assert (await client.get(CHAT)).status_code == 401
    assert (await client.post(LEGACY, json={"message": "hi"})).status_code == 401
