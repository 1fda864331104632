"""Answers that read well in both clients: rendered with a CommonMark implementation
(markdown-it-py) as the session API's client renders them, and with the legacy client's own
two replacements (contract §3.11) as it shows ``user_answer``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from markdown_it import MarkdownIt

from eco2.domains.character.schemas import CatalogCharacter, OwnedCharacter
from eco2.domains.chat import replies
from eco2.domains.chat.korean import attach
from eco2.domains.chat.render import bold, escape, fix_bold, legacy_html
from eco2.domains.chat.tools import Characters, Lookup
from eco2.domains.location.schemas import CenterEntry
from eco2.knowledge import load_knowledge
from eco2.settings import Settings
from tests.chat.conftest import ask, chat_settings, send, stream
from tests.fakes.models import FakeServer, Reply, fake_openai, text_chunks

CHAT = "/api/v1/chat"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
COMMONMARK = MarkdownIt("commonmark")
# A particle written both ways means the right one was not chosen.
BOTH_WAYS = re.compile(r"\((은|는|이|가|을|를|으|와|과)\)|은\(는\)|을\(를\)|이\(가\)|\(으\)로")


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def shown(html: str) -> _Text:
    parsed = _Text()
    parsed.feed(html)
    return parsed


def legacy_client(answer: str) -> str:
    """What the 69ed87e client does to ``user_answer`` before setting it as innerHTML."""
    bolded = re.sub(r"\*\*([^*]+)\*\*", r'<span class="font-semibold">\1</span>', answer)
    return re.sub(r"([A-Za-z가-힣]\. )", r"\1<br/>", bolded)


def check_markdown(answer: str) -> str:
    """Rendered as CommonMark: every bold closed, no particle written both ways; the text."""
    rendered = shown(COMMONMARK.render(answer))
    text = "".join(rendered.text)
    assert "**" not in text, answer
    assert not BOTH_WAYS.search(text), answer
    assert set(rendered.tags) <= {"p", "strong", "ol", "ul", "li"}, rendered.tags
    return text


def check_legacy(answer: str) -> None:
    html = legacy_client(legacy_html(answer))
    rendered = shown(html)
    assert "**" not in "".join(rendered.text)
    assert set(rendered.tags) <= {"span", "br"}


# --- particles -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "with_final", "expected"),
    [
        ("페트병", "은", "페트병은"),
        ("생수병", "이", "생수병이"),
        ("종이", "은", "종이는"),
        ("우유팩", "을", "우유팩을"),
        ("캔", "을", "캔을"),
        ("유리", "을", "유리를"),
        ("무색페트병", "으로", "무색페트병으로"),
        ("일반종량제폐기물", "으로", "일반종량제폐기물로"),  # ㄹ takes 로
        ("종이", "으로", "종이로"),
        ("금속류", "으로", "금속류로"),
        ("병(투명)", "은", "병(투명)은"),  # read without the parenthesis
        ("PET", "은", "PET는"),  # 티
        ("CD", "을", "CD를"),  # 디
        ("PVC", "으로", "PVC로"),
        ("3", "이", "3이"),  # 삼
        ("10", "은", "10은"),  # 십
        ("2", "을", "2를"),  # 이
        ("배리", "을", "배리를"),
        ("이코", "이에요", "이코예요"),
        ("고무장갑", "과", "고무장갑과"),
        ("", "은", "는"),
    ],
)
def test_particles_follow_the_final_syllable(word: str, with_final: str, expected: str) -> None:
    assert attach(word, with_final) == expected


# --- bold that CommonMark closes -----------------------------------------------------------


@pytest.mark.parametrize(
    "word",
    ["재활용폐기물(무색페트병)", "우유팩(멸균팩)", '"따옴표"', "A&B", "*별표*", "병.", "(괄호)"],
)
@pytest.mark.parametrize("after", ["로", "은 ", ".", ""])
def test_bold_closes_wherever_it_stands(word: str, after: str) -> None:
    html = COMMONMARK.render(f"앞{bold(escape(word))}{after}")
    assert "<strong>" in html
    assert "**" not in html


def test_a_models_bold_is_rewritten_to_close() -> None:
    """The issue's example: CommonMark leaves ``**…(…)**로`` literal."""
    broken = "**재활용폐기물(무색페트병)**로 배출해요."
    assert "**" in COMMONMARK.render(broken)
    assert "**" not in COMMONMARK.render(fix_bold(broken))


def test_escaped_text_stays_text() -> None:
    hostile = "**굵게** _기울임_ [링크](javascript:alert(1)) <img src=x onerror=alert(1)> # 제목"
    html = COMMONMARK.render(escape(hostile))
    assert shown(html).tags == ["p"]
    assert "".join(shown(html).text).strip() == hostile


# --- every answer the offline assistant composes --------------------------------------------


def test_every_item_answer_reads_well_in_both_clients() -> None:
    kb = load_knowledge()
    for item in kb.items():
        rules = kb.rules_for(item.major, item.middle)
        lookup = Lookup(item.name, item, rules, False, [])
        answer = replies.disposal(lookup, f"{item.name} 어떻게 버려요?")
        text = check_markdown(answer)
        assert text.startswith(attach(item.name, "은")), answer
        check_legacy(answer)
        # Paragraphs and the list stay apart: nothing after the steps runs into the last one.
        html = COMMONMARK.render(answer)
        last_step = html.split("</li>")[-2] if "</li>" in html else ""
        assert "기억해 주세요" not in last_step
        assert "참고" not in last_step


def test_other_answers_read_well_in_both_clients() -> None:
    place = CenterEntry(
        id=1, name="알맹상점(리필)", source="zerowaste", road_address="서울 마포구 월드컵로 49",
        lot_address=None, latitude=37.5, longitude=126.9, distance_km=0.35,
        distance_text="350m", store_category="refill_zero", pickup_categories=[], phone=None,
        place_url=None, kakao_place_id=None, is_open=None, is_holiday=None, start_time=None,
        end_time=None,
    )  # fmt: skip
    catalog = [
        CatalogCharacter(name="이코", code="eco", type="main", dialog="", middle_category=None),
        CatalogCharacter(
            name="페티", code="pet", type="x", dialog="", middle_category="무색페트병"
        ),
        CatalogCharacter(name="배리", code="bat", type="x", dialog="", middle_category="전지"),
    ]
    owned = [
        OwnedCharacter(id="1", name="이코", code="eco", type="main", dialog="", acquired_at=NOW)
    ]
    answers = [
        replies.GREETING,
        replies.THANKS,
        replies.GENERAL,
        replies.OFF_TOPIC,
        replies.ASK_PLACE,
        replies.no_answer("<우주선> 엔진 [부품]"),
        replies.nearby([place], "폐건전지"),
        replies.nearby([], "형광등"),
        replies.characters(Characters(catalog, owned), asked_owned=False),
    ]
    for answer in answers:
        check_markdown(answer)
        check_legacy(answer)
    assert "형광등을 받는" in check_markdown(replies.nearby([], "형광등"))
    assert "무색페트병을 올바르게" in check_markdown(answers[-1])
    assert "전지를 올바르게" in check_markdown(answers[-1])


# --- through the API ------------------------------------------------------------------------


async def test_the_item_is_named_as_the_user_named_it(
    client: AsyncTestClient[Litestar], user_id: str
) -> None:
    chat = (await client.post(CHAT, json={})).json()
    job = await send(client, chat["id"], "페트병은 어떻게 버려요?")
    answer = (await stream(client, job["stream_url"]))[-1]["data"]["result"]["answer"]
    assert answer.startswith("**페트병**은 재활용폐기물 중 **무색페트병**으로 분류돼요.")
    assert "생수병" not in answer
    text = check_markdown(answer)
    assert text.startswith("페트병은 재활용폐기물 중 무색페트병으로 분류돼요.")
    stored = (await client.get(f"{CHAT}/{chat['id']}")).json()["messages"][-1]
    assert stored["content"] == answer
    legacy = (await ask(client, "페트병은 어떻게 버려요?"))["user_answer"]
    assert legacy == legacy_html(answer)
    assert "<br/><br/>1. 내용물을 비우고" in legacy
    check_legacy(answer)


@pytest.fixture
def llm() -> Iterator[FakeServer]:
    with fake_openai(Reply(chunks=text_chunks("안녕"))) as server:
        yield server


async def test_a_models_answer_is_fixed_for_commonmark(
    base_settings: Settings, llm: FakeServer
) -> None:
    from eco2.app import create_app
    from tests.conftest import dev_login

    llm.reply(
        Reply(chunks=text_chunks("페트병은 **재활용폐기물(무색페트병)**로 배출해요.\n\n1. 비워요"))
    )
    settings = chat_settings(
        base_settings, chat_provider="openai", openai_api_key="sk-test", openai_base_url=llm.url
    )
    async with AsyncTestClient(create_app(settings=settings), base_url="http://t.local") as client:
        await dev_login(client)
        chat = (await client.post(CHAT, json={})).json()
        job = await send(client, chat["id"], "페트병 어떻게 버려?")
        answer = (await stream(client, job["stream_url"]))[-1]["data"]["result"]["answer"]
    assert answer == "페트병은 **재활용폐기물**(무색페트병)로 배출해요.\n\n1. 비워요"
    check_markdown(answer)
