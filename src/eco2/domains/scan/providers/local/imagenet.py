"""ImageNet-1k classes → taxonomy, for the offline image model, reviewed class by class.

The review, with the reason for every mapped class and for the household-looking classes left
out, is ``docs/local-vision-map.md``. In short: a class maps only where the thing it names goes
to one place under the Korean guideline (and the knowledge base's item for it agrees); a
weight below 1 marks classes whose pictures show more than one material ("pop bottle" may be
glass, ImageNet's "bottlecap" is mostly metal crown caps). Classes are named as in
``imagenet_classes.txt`` (index = line), so a typo fails at import, not silently. ImageNet's
"notebook" is a notebook computer, "file" a filing cabinet, "swab" a mop, "carton" a
corrugated box and "pot" a flowerpot (left out). Some classes also imply a situation tag (a
soap dispenser has a pump, a remote control holds batteries).
"""

from __future__ import annotations

from pathlib import Path

from eco2.domains.scan.providers.vocabulary import (
    BULKY_GOODS,
    ELEC,
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

CLASS_NAMES: tuple[str, ...] = tuple(
    Path(__file__).with_name("imagenet_classes.txt").read_text("utf-8").splitlines()
)

_GROUPS: list[tuple[Target, tuple[str, ...]]] = [
    # --- recyclables -------------------------------------------------------------------------
    (_t(PET, "먹는샘물 페트병"), ("water bottle",)),
    (_t(PET, "음료 페트병", 0.7), ("pop bottle",)),
    (_t(GLASS, "빈용기보증금 병", 0.9), ("beer bottle",)),
    (_t(GLASS, "음료·주류병"), ("wine bottle",)),
    (_t(PLASTIC, "세제·샴푸 용기"), ("soap dispenser", "lotion", "sunscreen")),
    (_t(PLASTIC, "병뚜껑", 0.5), ("bottlecap",)),
    (_t(PLASTIC, "일회용 배달용기·트레이", 0.5), ("tray",)),
    (_t(PLASTIC, "플라스틱 생활용품", 0.5), ("bucket", "ashcan", "shopping basket")),
    (_t(VINYL, "1회용 비닐봉투"), ("plastic bag",)),
    (_t(VINYL, "과자·라면 봉지", 0.8), ("packet",)),
    (_t(PAPER, "골판지", 0.8), ("carton",)),
    (_t(PAPER, "종이봉투·포장지"), ("envelope",)),
    (_t(PAPER, "복사지·인쇄용지", 0.5), ("menu",)),
    (_t(PAPER, "책자·노트"), ("book jacket", "comic book")),
    (_t(PAPER, "신문지", 0.7), ("crossword puzzle",)),
    (_t(METAL, "에어로졸 용기"), ("hair spray",)),
    (_t(METAL, "철캔", 0.6), ("milk can",)),
    (_t(METAL, "냄비·프라이팬"), ("frying pan", "wok", "Dutch oven", "caldron")),
    (
        _t(METAL, "고철"),
        (
            "hammer",
            "hatchet",
            "screwdriver",
            "carpenter's kit",
            "can opener",
            "corkscrew",
            "letter opener",
            "cleaver",
            "cocktail shaker",
            "padlock",
            "combination lock",
            "nail",
            "screw",
            "chain",
            "dumbbell",
            "barbell",
            "shovel",
        ),
    ),
    (_t(METAL, "고철", 0.6), ("ladle",)),
    (_t(METAL, "고철", 0.5), ("hook",)),
    (
        _t(TEXTILE, "의류"),
        (
            "jersey",
            "sweatshirt",
            "cardigan",
            "jean",
            "trench coat",
            "fur coat",
            "suit",
            "pajama",
            "miniskirt",
            "sock",
            "mitten",
            "apron",
            "abaya",
            "academic gown",
            "gown",
            "kimono",
            "lab coat",
            "military uniform",
            "cloak",
            "overskirt",
            "hoopskirt",
            "sarong",
            "stole",
            "vestment",
            "bikini",
            "maillot",
            "swimming trunks",
            "brassiere",
        ),
    ),
    (_t(TEXTILE, "의류", 0.6), ("bow tie", "Windsor tie", "bonnet", "cowboy hat", "sombrero")),
    (_t(TEXTILE, "신발"), ("running shoe", "sandal", "Loafer", "cowboy boot", "clog")),
    (_t(TEXTILE, "가방"), ("backpack", "purse", "mailbag")),
    (_t(TEXTILE, "수건·담요"), ("bath towel",)),
    (_t(TEXTILE, "원단·커튼", 0.6), ("handkerchief", "velvet")),
    (
        _t(ELEC, "정보통신기기"),
        (
            "cellular telephone",
            "dial telephone",
            "laptop",
            "notebook",
            "desktop computer",
            "monitor",
            "computer keyboard",
            "mouse",
            "joystick",
            "hand-held computer",
            "iPod",
            "modem",
            "hard disc",
        ),
    ),
    (_t(ELEC, "정보통신기기", 0.6), ("screen", "space bar")),
    (_t(ELEC, "대형가전"), ("television", "refrigerator", "washer")),
    (_t(ELEC, "중형가전"), ("dishwasher", "microwave", "printer", "sewing machine")),
    (_t(ELEC, "중형가전", 0.6), ("photocopier",)),
    (
        _t(ELEC, "소형가전"),
        (
            "toaster",
            "waffle iron",
            "Crock Pot",
            "espresso maker",
            "hand blower",
            "electric fan",
            "space heater",
            "vacuum",
            "iron",
            "radio",
            "remote control",
            "loudspeaker",
            "microphone",
            "cassette player",
            "CD player",
            "tape player",
            "projector",
            "Polaroid camera",
            "reflex camera",
            "power drill",
        ),
    ),
    (_t(ELEC, "소형가전", 0.6), ("digital clock", "wall clock", "digital watch", "stopwatch")),
    (_t(ELEC, "소형가전", 0.5), ("analog clock", "scale")),
    (_t(LIGHT, "LED 조명", 0.6), ("table lamp", "lampshade")),
    # --- bulky waste -------------------------------------------------------------------------
    (_t(FURNITURE, "소파·의자"), ("studio couch", "rocking chair", "folding chair")),
    (_t(FURNITURE, "책상·식탁"), ("desk", "dining table")),
    (_t(FURNITURE, "장롱·수납장"), ("bookcase", "chiffonier", "wardrobe", "china cabinet")),
    (
        _t(FURNITURE, "장롱·수납장", 0.6),
        ("chest", "entertainment center", "file", "medicine chest"),
    ),
    (_t(FURNITURE, "침대·매트리스"), ("four-poster", "crib")),
    (_t(FURNITURE, "침대·매트리스", 0.6), ("cradle", "bassinet")),
    (
        _t(BULKY_GOODS, "자전거·유모차"),
        ("mountain bike", "bicycle-built-for-two", "tricycle", "unicycle"),
    ),
    (_t(BULKY_GOODS, "카펫·매트", 0.6), ("prayer rug", "doormat")),
    # --- food waste (peels, cobs, husks and hard shells are general waste: left out) -------
    (
        _t(FOOD, "채소·과일"),
        (
            "banana",
            "orange",
            "lemon",
            "Granny Smith",
            "strawberry",
            "pomegranate",
            "fig",
            "custard apple",
            "head cabbage",
            "broccoli",
            "cauliflower",
            "zucchini",
            "spaghetti squash",
            "acorn squash",
            "butternut squash",
            "cucumber",
            "artichoke",
            "cardoon",
            "bell pepper",
            "mushroom",
        ),
    ),
    (_t(FOOD, "채소·과일", 0.5), ("jack-o'-lantern", "hen-of-the-woods", "bolete")),
    (
        _t(FOOD, "곡류·조리음식"),
        (
            "pizza",
            "cheeseburger",
            "hotdog",
            "carbonara",
            "French loaf",
            "bagel",
            "pretzel",
            "mashed potato",
            "potpie",
            "burrito",
            "guacamole",
            "consomme",
            "hot pot",
            "trifle",
            "dough",
        ),
    ),
    (_t(FOOD, "곡류·조리음식", 0.6), ("ice cream", "chocolate sauce")),
    (_t(FOOD, "육류·생선"), ("meat loaf",)),
    # --- general, non-combustible and hazardous waste ---------------------------------------
    (_t(GENERAL, "위생·일회용품"), ("toilet tissue", "paper towel", "diaper", "Band Aid")),
    (_t(GENERAL, "위생·일회용품", 0.7), ("mask",)),
    (
        _t(GENERAL, "복합재질 생활용품"),
        (
            "ballpoint",
            "fountain pen",
            "umbrella",
            "lighter",
            "lipstick",
            "perfume",
            "face powder",
            "sunglasses",
            "sunglass",
            "cassette",
        ),
    ),
    (
        _t(GENERAL, "복합재질 생활용품", 0.6),
        (
            "binder",
            "binoculars",
            "broom",
            "swab",
            "paintbrush",
            "pencil box",
            "pencil sharpener",
            "hair slide",
            "crash helmet",
        ),
    ),
    (
        _t(GENERAL, "고무·가죽·합성 제품", 0.6),
        ("rubber eraser", "wallet", "balloon", "bathing cap", "plunger", "dishrag", "wig"),
    ),
    (
        _t(GENERAL, "고무·가죽·합성 제품", 0.8),
        (
            "soccer ball",
            "basketball",
            "volleyball",
            "baseball",
            "tennis ball",
            "rugby ball",
            "golf ball",
            "ping-pong ball",
            "croquet ball",
            "puck",
        ),
    ),
    (_t(GENERAL, "솜·충전재 제품"), ("teddy", "pillow", "quilt")),
    (_t(GENERAL, "솜·충전재 제품", 0.6), ("sleeping bag",)),
    (_t(GENERAL, "기타 생활쓰레기"), ("candle", "matchstick")),
    (_t(GENERAL, "기타 생활쓰레기", 0.6), ("wooden spoon",)),
    (_t(GENERAL, "코팅·특수 종이", 0.6), ("jigsaw puzzle",)),
    (
        _t(NONCOMB, "도자기·사기그릇", 0.6),
        ("coffee mug", "cup", "plate", "soup bowl", "teapot", "vase", "whiskey jug"),
    ),
    (_t(NONCOMB, "내열·강화 유리", 0.6), ("beer glass", "goblet")),
    (_t(NONCOMB, "내열·강화 유리", 0.5), ("beaker", "coffeepot")),
    (_t(MEDICINE, "알약·가루약", 0.6), ("pill bottle",)),
]


def _indices(name: str) -> list[int]:
    found = [index for index, known in enumerate(CLASS_NAMES) if known == name]
    if not found:
        raise LookupError(f"not an ImageNet class: {name!r}")
    return found


IMAGENET: dict[int, Target] = {
    index: target for target, names in _GROUPS for name in names for index in _indices(name)
}
_IMPLIED_BY_NAME = {
    "soap dispenser": Condition.PUMP_ATTACHED,
    "perfume": Condition.PUMP_ATTACHED,
    "remote control": Condition.BATTERY_INSIDE,
    "digital clock": Condition.BATTERY_INSIDE,
    "wall clock": Condition.BATTERY_INSIDE,
    "digital watch": Condition.BATTERY_INSIDE,
    "stopwatch": Condition.BATTERY_INSIDE,
}
IMPLIED: dict[int, Condition] = {
    index: condition for name, condition in _IMPLIED_BY_NAME.items() for index in _indices(name)
}
