"""Collected items → ``pickup_categories``; memo and name keywords → ``store_category``.

The web client knows nine pickup values (contract §5; ``eco2.knowledge.PICKUP_CATEGORIES``) and
renders anything else as an empty label, so lists sent to it keep only those nine; the finer
ones (battery, vinyl, ...) are stored next to their parent, filterable and shown in the detail.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from eco2.knowledge import PICKUP_CATEGORIES, PickupCategory

# Finer categories and the client category each one rolls up to (contract §5 mapping).
FINER_PICKUP: dict[str, PickupCategory] = {
    "battery": "electronics",
    "fluorescent": "general",
    "styrofoam": "general",
    "vinyl": "general",
    "paper_pack": "paper",
    "metal": "general",
}
# Every category a site may carry and a filter may name: the client's, then the finer ones.
SITE_PICKUP: tuple[str, ...] = (*PICKUP_CATEGORIES, *FINER_PICKUP)

STORE_CATEGORIES = (
    "refill_zero",
    "cafe_bakery",
    "vegan_dining",
    "upcycle_recycle",
    "book_workshop",
    "market_mart",
    "lodging",
    "public_dropbox",
    "general",
)

# First match wins for one item line; order matters (종이팩 before 종이, 비닐 before PE ...).
_ITEM_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("battery", ("건전지", "전지", "배터리")),
    ("fluorescent", ("형광등", "조명", "전구")),
    ("electronics", ("전자", "가전", "휴대폰", "핸드폰", "폐전기")),
    ("paper_pack", ("종이팩", "우유팩", "멸균", "살균", "두유팩")),
    ("vinyl", ("비닐",)),
    ("styrofoam", ("스티로폼", "발포", "아이스팩")),
    ("colored_pet", ("유색페트", "유색pet", "유색혼합pet", "pet(유색)")),
    ("plastic", ("판pet", "판페트")),
    ("clear_pet", ("투명페트", "투명패트", "무색페트", "투명pet", "무색pet", "페트병")),
    ("can", ("캔",)),
    ("metal", ("고철", "금속", "냄비", "병뚜껑")),
    ("glass", ("유리", "소주병", "맥주병", "녹색병", "갈색병", "기타병", "공병")),
    ("textile", ("의류", "헌옷", "옷", "섬유", "원단", "가방", "신발", "외류")),
    ("paper", ("종이", "서적", "신문", "박스", "책", "폐지")),
    (
        "plastic",
        ("플라스틱", "플리스틱", "햇반", "즉석밥", "빨대", "장난감", "블럭", "완구", "용기"),
    ),
)
_PLASTIC_CODES = {"pp", "pe", "ps", "other", "others", "hdpe", "ldpe", "pet"}
_GROUP_LINE = re.compile(r"^\((.+)\)$")


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


def _classify_line(line: str) -> str | None:
    squashed = _squash(line)
    for category, words in _ITEM_RULES:
        if any(word in squashed for word in words):
            return category
    codes = set(re.findall(r"[a-z]+", line.lower()))
    if codes == {"pet"}:
        return "clear_pet"
    if codes & _PLASTIC_CODES:
        return "plastic"
    if squashed in ("알루미늄", "철", "알루미늄캔", "철캔"):
        return "can"
    return None


def items_and_categories(raw: str | None) -> tuple[list[str], list[str]]:
    """KECO ``clctItemCn``: one item per line, ``(캔류)`` style lines head a group.

    Returns the cleaned item labels and the pickup categories (finer ones plus parents).
    A line nothing matches takes its group's category (``(캔류)`` → ``철`` is a can).
    """
    items: list[str] = []
    found: list[str] = []
    group: str | None = None
    for line in (raw or "").splitlines():
        line = " ".join(line.split())
        if not line:
            continue
        header = _GROUP_LINE.match(line)
        if header:
            group = _classify_line(header.group(1))
            continue
        items.append(line)
        category = _classify_line(line) or group
        if category:
            found.append(category)
    return items, with_parents(found)


def with_parents(categories: Iterable[str]) -> list[str]:
    """Unique categories in canonical order, each finer one joined by its client parent."""
    chosen = set(categories)
    chosen |= {FINER_PICKUP[c] for c in chosen if c in FINER_PICKUP}
    return [c for c in SITE_PICKUP if c in chosen]


def client_pickup(categories: Iterable[str]) -> list[str]:
    chosen = set(categories)
    return [c for c in PICKUP_CATEGORIES if c in chosen]


def categories_in_text(text: str) -> list[str]:
    """Pickup categories named in free text (keywords, a memo), e.g. ``투명페트병, 캔``."""
    parts = re.split(r"[,/\n·∙]+", text or "")
    return with_parents(c for part in parts if (c := _classify_line(part)))


_STORE_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("lodging", ("숙소", "게스트하우스", "호텔", "스테이", "민박", "펜션", "여관", "호스텔")),
    (
        "book_workshop",
        ("책방", "서점", "서가", "도서관", "공방", "워크샵", "워크숍", "체험", "교육"),
    ),
    ("vegan_dining", ("비건", "채식", "식당", "레스토랑", "밥집", "키친", "쿡")),
    ("cafe_bakery", ("카페", "커피", "빵", "베이커리", "케이크", "디저트", "짜이", "티룸", "찻집")),
    (
        "upcycle_recycle",
        (
            "업사이클",
            "재활용",
            "되살림",
            "되돌림",
            "리본",
            "자원회수",
            "수거",
            "리사이클",
            "리퍼브",
            "재사용",
            "자활",
        ),
    ),
    (
        "market_mart",
        ("마켓", "마트", "시장", "한살림", "생협", "농산물", "상회", "식품", "미곡", "텃밭"),
    ),
    ("public_dropbox", ("수거함", "회수기", "행정복지센터", "주민센터")),
    (
        "refill_zero",
        (
            "리필",
            "제로웨이스트",
            "제로 웨이스트",
            "제웨",
            "무포장",
            "알맹",
            "용기",
            "상점",
            "가게",
            "샵",
            "숍",
        ),
    ),
)


def store_category(memo: str | None, name: str | None, default: str = "general") -> str:
    """The memo speaks first (it describes the place), then the name, then the default."""
    for text in (memo, name):
        squashed = _squash(text or "").replace("스테이션", "station")
        if not squashed:
            continue
        for category, words in _STORE_RULES:
            if any(_squash(word) in squashed for word in words):
                return category
    return default
