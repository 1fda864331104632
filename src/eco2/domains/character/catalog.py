"""The catalog. Names are fixed by the web client (contract §5); codes are ours."""

from __future__ import annotations

from typing import NamedTuple


class CatalogEntry(NamedTuple):
    code: str
    name: str
    middle_category: str | None
    type_label: str
    dialog: str


MASCOT_CODE = "eco"

CATALOG: tuple[CatalogEntry, ...] = (
    CatalogEntry(
        MASCOT_CODE,
        "이코",
        None,
        "마스코트",
        "안녕! 나는 이코야. 오늘도 같이 지구를 가볍게 만들어 볼까?",
    ),
    CatalogEntry(
        "paper",
        "페이피",
        "종이",
        "종이",
        "테이프랑 스티커는 떼어 줘! 그래야 내가 새 종이로 다시 태어나.",
    ),
    CatalogEntry(
        "paper_pack",
        "팩토리",
        "종이팩",
        "종이팩",
        "나는 일반 종이랑 달라! 헹궈서 펼친 다음 종이팩끼리 모아 줘.",
    ),
    CatalogEntry(
        "clear_pet",
        "페티",
        "무색페트병",
        "무색페트병",
        "라벨 벗기고 꾹 눌러서 뚜껑 닫으면 옷으로도 변신할 수 있어!",
    ),
    CatalogEntry(
        "vinyl", "비니", "비닐류", "비닐류", "과자 봉지도 나야! 내용물 털고 흩날리지 않게 모아 줘."
    ),
    CatalogEntry(
        "glass",
        "글래시",
        "유리병",
        "유리병",
        "뚜껑은 따로, 안은 깨끗이! 깨진 유리는 나랑 같이 못 가.",
    ),
    CatalogEntry(
        "textile",
        "코튼",
        "의류및원단",
        "의류및원단",
        "아직 입을 만한 옷이면 의류수거함으로 보내 줘. 젖지 않게!",
    ),
    CatalogEntry(
        "plastic",
        "플리",
        "플라스틱류",
        "플라스틱류",
        "음식물은 싹 헹구고, 다른 재질 부품은 떼어서 넣어 줘!",
    ),
    CatalogEntry(
        "metal",
        "메탈리",
        "금속류",
        "금속류",
        "캔은 비우고 헹궈 줘. 부탄가스는 가스를 끝까지 빼야 안전해!",
    ),
    CatalogEntry(
        "battery",
        "배리",
        "전지",
        "전지",
        "다 쓴 건전지랑 보조배터리는 꼭 전용수거함으로! 불나면 큰일이야.",
    ),
    CatalogEntry(
        "lighting",
        "라이티",
        "조명제품",
        "조명제품",
        "형광등은 깨지지 않게 조심조심 전용수거함에 넣어 줘.",
    ),
    CatalogEntry(
        "electronics",
        "일렉",
        "전기전자제품",
        "전기전자제품",
        "큰 가전은 무상 방문수거, 작은 가전은 수거함이면 충분해!",
    ),
    CatalogEntry(
        "styrofoam",
        "폼이",
        "발포합성수지",
        "발포합성수지",
        "테이프랑 스티커 떼고, 음식 묻은 건 깨끗이 씻어서 보내 줘!",
    ),
)

BY_MIDDLE = {e.middle_category: e for e in CATALOG if e.middle_category}
