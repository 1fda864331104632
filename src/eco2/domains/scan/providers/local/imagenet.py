"""ImageNet-1k classes → taxonomy, for the offline image model.

Reviewed by hand: only classes whose objects belong to one place in the Korean guideline are
mapped; lookalikes that ImageNet names ambiguously get a lower weight ("pop bottle" may be
glass, "cup" is usually a ceramic teacup). Note ImageNet's "notebook" is a notebook computer
and "pot" a flowerpot (unmapped). Some classes also imply a situation tag (a soap dispenser
has a pump, a remote control holds batteries). A test checks every target exists.
"""

from __future__ import annotations

from eco2.domains.scan.providers.vocabulary import (
    BULKY_GOODS,
    ELEC,
    FOAM,
    FOOD,
    FURNITURE,
    GENERAL,
    GLASS,
    LIGHT,
    MEDICINE,
    METAL,
    NONCOMB,
    PAPER,
    PET,
    PLASTIC,
    TEXTILE,
    VINYL,
    Target,
    _t,
)
from eco2.knowledge import Condition

_GROUPS: list[tuple[Target, dict[int, str]]] = [
    (_t(PET, "먹는샘물 페트병"), {898: "water bottle"}),
    (_t(PET, "음료 페트병", 0.7), {737: "pop bottle"}),
    (_t(GLASS, "빈용기보증금 병"), {440: "beer bottle"}),
    (_t(GLASS, "음료·주류병"), {907: "wine bottle", 901: "whiskey jug"}),
    (_t(PLASTIC, "폴리에틸렌(PE) 용기", 0.7), {899: "water jug"}),
    (_t(PLASTIC, "세제·샴푸 용기"), {804: "soap dispenser", 631: "lotion", 838: "sunscreen"}),
    (_t(PLASTIC, "병뚜껑"), {455: "bottlecap"}),
    (_t(PLASTIC, "일회용 배달용기·트레이", 0.6), {868: "tray"}),
    (_t(PLASTIC, "플라스틱 생활용품", 0.5), {463: "bucket", 412: "ashcan"}),
    (_t(VINYL, "1회용 비닐봉투"), {728: "plastic bag"}),
    (_t(VINYL, "과자·라면 봉지", 0.8), {692: "packet"}),
    (_t(FOAM, "스티로폼 상자", 0.4), {519: "crate"}),
    (_t(PAPER, "골판지", 0.8), {478: "carton"}),
    (_t(PAPER, "복사지·인쇄용지"), {549: "envelope", 922: "menu"}),
    (_t(PAPER, "책자·노트"), {921: "book jacket", 917: "comic book", 446: "binder"}),
    (_t(PAPER, "신문지", 0.7), {918: "crossword puzzle"}),
    (_t(METAL, "에어로졸 용기"), {585: "hair spray"}),
    (_t(METAL, "철캔", 0.6), {653: "milk can"}),
    (
        _t(METAL, "냄비·프라이팬"),
        {567: "frying pan", 909: "wok", 544: "Dutch oven", 469: "caldron"},
    ),
    (
        _t(TEXTILE, "의류"),
        {
            610: "jersey",
            841: "sweatshirt",
            474: "cardigan",
            608: "jean",
            869: "trench coat",
            568: "fur coat",
            834: "suit",
            697: "pajama",
            655: "miniskirt",
            806: "sock",
        },
    ),
    (
        _t(TEXTILE, "신발"),
        {770: "running shoe", 774: "sandal", 630: "Loafer", 514: "cowboy boot", 502: "clog"},
    ),
    (_t(TEXTILE, "가방"), {414: "backpack", 748: "purse", 636: "mailbag"}),
    (_t(TEXTILE, "수건·담요"), {434: "bath towel"}),
    (
        _t(ELEC, "정보통신기기"),
        {
            487: "cellular telephone",
            620: "laptop",
            681: "notebook computer",
            527: "desktop computer",
            664: "monitor",
            508: "computer keyboard",
            673: "mouse",
            590: "hand-held computer",
            605: "iPod",
            662: "modem",
        },
    ),
    (_t(ELEC, "대형가전"), {851: "television", 760: "refrigerator", 897: "washer"}),
    (_t(ELEC, "중형가전"), {534: "dishwasher", 651: "microwave", 742: "printer"}),
    (
        _t(ELEC, "소형가전"),
        {
            859: "toaster",
            589: "hand blower",
            545: "electric fan",
            882: "vacuum",
            606: "iron",
            811: "space heater",
            550: "espresso maker",
            754: "radio",
            761: "remote control",
            632: "loudspeaker",
            482: "cassette player",
            485: "CD player",
        },
    ),
    (_t(LIGHT, "LED 조명", 0.6), {846: "table lamp", 619: "lampshade"}),
    (_t(FURNITURE, "소파·의자"), {831: "studio couch", 765: "rocking chair", 559: "folding chair"}),
    (_t(FURNITURE, "책상·식탁"), {526: "desk", 532: "dining table"}),
    (
        _t(FURNITURE, "장롱·수납장"),
        {453: "bookcase", 493: "chiffonier", 894: "wardrobe", 495: "china cabinet"},
    ),
    (_t(FURNITURE, "침대·매트리스"), {564: "four-poster", 520: "crib"}),
    (_t(BULKY_GOODS, "자전거·유모차"), {671: "mountain bike", 444: "tandem bicycle"}),
    (
        _t(FOOD, "채소·과일"),
        {
            954: "banana",
            950: "orange",
            951: "lemon",
            948: "Granny Smith",
            949: "strawberry",
            953: "pineapple",
            957: "pomegranate",
            952: "fig",
            936: "head cabbage",
            937: "broccoli",
            938: "cauliflower",
            939: "zucchini",
            943: "cucumber",
            945: "bell pepper",
            947: "mushroom",
            987: "corn",
        },
    ),
    (
        _t(FOOD, "곡류·조리음식"),
        {
            963: "pizza",
            933: "cheeseburger",
            934: "hotdog",
            959: "carbonara",
            930: "French loaf",
            931: "bagel",
            932: "pretzel",
            935: "mashed potato",
            964: "potpie",
            965: "burrito",
        },
    ),
    (_t(GENERAL, "위생·일회용품"), {999: "toilet tissue", 700: "paper towel", 529: "diaper"}),
    (
        _t(GENERAL, "복합재질 생활용품"),
        {418: "ballpoint", 563: "fountain pen", 879: "umbrella", 626: "lighter"},
    ),
    (_t(GENERAL, "고무·가죽·합성 제품", 0.6), {767: "rubber eraser", 893: "wallet"}),
    (_t(GENERAL, "솜·충전재 제품"), {850: "teddy", 721: "pillow", 750: "quilt"}),
    (
        _t(NONCOMB, "도자기·사기그릇", 0.6),
        {504: "coffee mug", 923: "plate", 809: "soup bowl", 849: "teapot", 883: "vase", 968: "cup"},
    ),
    (_t(NONCOMB, "내열·강화 유리", 0.6), {441: "beer glass", 572: "goblet"}),
    (_t(MEDICINE, "알약·가루약", 0.6), {720: "pill bottle"}),
]

IMAGENET: dict[int, tuple[str, Target]] = {
    index: (name, target) for target, classes in _GROUPS for index, name in classes.items()
}
IMPLIED: dict[int, Condition] = {804: Condition.PUMP_ATTACHED, 761: Condition.BATTERY_INSIDE}
