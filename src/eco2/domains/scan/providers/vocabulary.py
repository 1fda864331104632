"""English visual labels (Azure tags/objects/captions) → taxonomy categories.

Reviewed by hand against the Ministry of Environment's guideline: a label only maps where the
thing it names almost always goes to one place. Ambiguous labels ("bottle", "box") carry a
lower weight so a more specific label or the user's words can outvote them. Every target is
checked against the taxonomy by a test.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from itertools import pairwise

R = "재활용폐기물"
GENERAL = ("일반종량제폐기물", "일반종량제폐기물")
NONCOMB = ("불연성종량제폐기물", "불연성종량제폐기물")
FOOD = ("음식물류폐기물", "음식물류폐기물")


@dataclass(frozen=True, slots=True)
class Target:
    major: str
    middle: str
    minor: str
    weight: float = 1.0


def _t(major_middle: tuple[str, str], minor: str, weight: float = 1.0) -> Target:
    return Target(major_middle[0], major_middle[1], minor, weight)


PAPER, PACK, PET = (R, "종이"), (R, "종이팩"), (R, "무색페트병")
PLASTIC, VINYL, FOAM = (R, "플라스틱류"), (R, "비닐류"), (R, "발포합성수지")
GLASS, METAL, TEXTILE = (R, "유리병"), (R, "금속류"), (R, "의류및원단")
BATTERY, LIGHT, ELEC = (R, "전지"), (R, "조명제품"), (R, "전기전자제품")
FURNITURE, BULKY_GOODS = ("대형폐기물", "가구류"), ("대형폐기물", "대형생활용품")
MEDICINE = ("생활계유해폐기물", "폐의약품")

LABELS: dict[str, Target] = {
    # paper and cartons
    "cardboard": _t(PAPER, "골판지"),
    "cardboard box": _t(PAPER, "골판지"),
    "carton": _t(PAPER, "골판지", 0.6),
    "box": _t(PAPER, "골판지", 0.4),
    "paper": _t(PAPER, "복사지·인쇄용지", 0.6),
    "newspaper": _t(PAPER, "신문지"),
    "book": _t(PAPER, "책자·노트"),
    "notebook paper": _t(PAPER, "책자·노트"),
    "envelope": _t(PAPER, "복사지·인쇄용지"),
    "paper cup": _t(PAPER, "종이컵"),
    "paper bag": _t(PAPER, "종이봉투·포장지"),
    "milk carton": _t(PACK, "일반팩"),
    "juice box": _t(PACK, "멸균팩"),
    # bottles and containers
    "plastic bottle": _t(PET, "먹는샘물 페트병"),
    "water bottle": _t(PET, "먹는샘물 페트병"),
    "bottled water": _t(PET, "먹는샘물 페트병"),
    "soft drink": _t(PET, "음료 페트병", 0.6),
    "bottle": _t(PET, "음료 페트병", 0.4),
    "plastic": _t(PLASTIC, "플라스틱 생활용품", 0.4),
    "plastic container": _t(PLASTIC, "폴리프로필렌(PP) 용기"),
    "food container": _t(PLASTIC, "일회용 배달용기·트레이", 0.7),
    "tray": _t(PLASTIC, "일회용 배달용기·트레이", 0.5),
    "detergent": _t(PLASTIC, "세제·샴푸 용기"),
    "shampoo": _t(PLASTIC, "세제·샴푸 용기"),
    "bottle cap": _t(PLASTIC, "병뚜껑"),
    "plastic bag": _t(VINYL, "1회용 비닐봉투"),
    "bag": _t(VINYL, "1회용 비닐봉투", 0.3),
    "plastic wrap": _t(VINYL, "랩·필름류"),
    "bubble wrap": _t(VINYL, "에어캡"),
    "snack": _t(VINYL, "과자·라면 봉지", 0.6),
    "styrofoam": _t(FOAM, "스티로폼 상자"),
    "polystyrene": _t(FOAM, "스티로폼 상자"),
    "foam": _t(FOAM, "가전 포장재", 0.6),
    "glass bottle": _t(GLASS, "음료·주류병"),
    "wine bottle": _t(GLASS, "음료·주류병"),
    "beer bottle": _t(GLASS, "빈용기보증금 병"),
    "glass": _t(GLASS, "음료·주류병", 0.5),
    "jar": _t(GLASS, "식품·소스병", 0.7),
    "tin can": _t(METAL, "철캔"),
    "can": _t(METAL, "알루미늄캔", 0.8),
    "beverage can": _t(METAL, "알루미늄캔"),
    "aluminum can": _t(METAL, "알루미늄캔"),
    "aerosol": _t(METAL, "에어로졸 용기"),
    "spray can": _t(METAL, "에어로졸 용기"),
    "frying pan": _t(METAL, "냄비·프라이팬"),
    "pot": _t(METAL, "냄비·프라이팬", 0.6),
    "metal": _t(METAL, "고철", 0.5),
    # textiles
    "clothing": _t(TEXTILE, "의류"),
    "shirt": _t(TEXTILE, "의류"),
    "t-shirt": _t(TEXTILE, "의류"),
    "jeans": _t(TEXTILE, "의류"),
    "jacket": _t(TEXTILE, "의류"),
    "shoe": _t(TEXTILE, "신발"),
    "footwear": _t(TEXTILE, "신발"),
    "sneakers": _t(TEXTILE, "신발"),
    "backpack": _t(TEXTILE, "가방"),
    "handbag": _t(TEXTILE, "가방"),
    "towel": _t(TEXTILE, "수건·담요"),
    # batteries, lighting, electronics
    "battery": _t(BATTERY, "일차전지"),
    "power bank": _t(BATTERY, "이차전지"),
    "light bulb": _t(LIGHT, "LED 조명"),
    "fluorescent lamp": _t(LIGHT, "직관형 형광등"),
    "lamp": _t(LIGHT, "LED 조명", 0.5),
    "laptop": _t(ELEC, "정보통신기기"),
    "computer": _t(ELEC, "정보통신기기"),
    "mobile phone": _t(ELEC, "정보통신기기"),
    "cell phone": _t(ELEC, "정보통신기기"),
    "smartphone": _t(ELEC, "정보통신기기"),
    "keyboard": _t(ELEC, "정보통신기기"),
    "computer mouse": _t(ELEC, "정보통신기기"),
    "television": _t(ELEC, "대형가전"),
    "refrigerator": _t(ELEC, "대형가전"),
    "washing machine": _t(ELEC, "대형가전"),
    "microwave oven": _t(ELEC, "중형가전"),
    "electronics": _t(ELEC, "소형가전", 0.6),
    "hair dryer": _t(ELEC, "소형가전"),
    "headphones": _t(ELEC, "소형가전"),
    # not recyclable
    "food": _t(FOOD, "곡류·조리음식", 0.6),
    "fruit": _t(FOOD, "채소·과일"),
    "vegetable": _t(FOOD, "채소·과일"),
    "banana": _t(FOOD, "채소·과일"),
    "bone": _t(GENERAL, "딱딱한 음식 찌꺼기"),
    "eggshell": _t(GENERAL, "딱딱한 음식 찌꺼기"),
    "receipt": _t(GENERAL, "코팅·특수 종이"),
    "tissue": _t(GENERAL, "위생·일회용품"),
    "diaper": _t(GENERAL, "위생·일회용품"),
    "toothbrush": _t(GENERAL, "복합재질 생활용품"),
    "pen": _t(GENERAL, "복합재질 생활용품"),
    "rubber glove": _t(GENERAL, "고무·가죽·합성 제품"),
    "umbrella": _t(GENERAL, "복합재질 생활용품"),
    "stuffed toy": _t(GENERAL, "솜·충전재 제품"),
    "teddy bear": _t(GENERAL, "솜·충전재 제품"),
    "pillow": _t(GENERAL, "솜·충전재 제품"),
    "ceramic": _t(NONCOMB, "도자기·사기그릇"),
    "porcelain": _t(NONCOMB, "도자기·사기그릇"),
    "plate": _t(NONCOMB, "도자기·사기그릇", 0.6),
    "mug": _t(NONCOMB, "도자기·사기그릇", 0.6),
    "broken glass": _t(NONCOMB, "깨진 유리"),
    "mirror": _t(NONCOMB, "판유리·거울"),
    "sofa": _t(FURNITURE, "소파·의자"),
    "couch": _t(FURNITURE, "소파·의자"),
    "chair": _t(FURNITURE, "소파·의자"),
    "mattress": _t(FURNITURE, "침대·매트리스"),
    "table": _t(FURNITURE, "책상·식탁", 0.6),
    "suitcase": _t(BULKY_GOODS, "여행용 가방"),
    "bicycle": _t(BULKY_GOODS, "자전거·유모차"),
    "pill": _t(MEDICINE, "알약·가루약"),
    "medicine": _t(MEDICINE, "알약·가루약"),
}

_WORD = re.compile(r"[a-z][a-z\-]*")


def label_targets(label: str) -> list[Target]:
    """A whole-label match, else the matches of its two- and one-word parts."""
    text = label.lower().strip()
    if text in LABELS:
        return [LABELS[text]]
    words = _WORD.findall(text)
    pairs = [f"{a} {b}" for a, b in pairwise(words)]
    found = [LABELS[p] for p in pairs if p in LABELS]
    return found or [LABELS[w] for w in words if w in LABELS]


def vote(labels: list[tuple[str, float]]) -> dict[tuple[str, str], tuple[float, str]]:
    """(major, middle) → (summed confidence × weight, best minor) over the labels."""
    scores: defaultdict[tuple[str, str], float] = defaultdict(float)
    minors: dict[tuple[str, str], tuple[float, str]] = {}
    for label, confidence in labels:
        for target in label_targets(label):
            key = (target.major, target.middle)
            weight = confidence * target.weight
            scores[key] += weight
            if weight > minors.get(key, (0.0, ""))[0]:
                minors[key] = (weight, target.minor)
    return {key: (score, minors[key][1]) for key, score in scores.items()}
