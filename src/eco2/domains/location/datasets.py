"""CSV → clean site records (no database here): KECO points and the zero-waste map.

The format is detected from the header, so newer exports of either dataset load as they are.
Every dropped row is reported with a reason; duplicated places are merged into one record.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from eco2.domains.location import categories, geo, hours

BUNDLED = ("keco_recycle_compensation_sites.csv", "zerowaste_map.csv")
KECO_COLUMNS = {"positnSn", "positnNm", "positnPstnLat", "positnPstnLot"}
ZEROWASTE_COLUMNS = {"seq", "display1", "display2", "lat", "lon"}
PLACEHOLDERS = {"PLACE", "PHONE", "ADDRESS", "NULL", "NONE", "N/A", "-", "없음"}
KECO_DAYS = {
    "mon": "monSalsHrExplnCn",
    "tue": "tuesSalsHrExplnCn",
    "wed": "wedSalsHrExplnCn",
    "thu": "thurSalsHrExplnCn",
    "fri": "friSalsHrExplnCn",
    "sat": "satSalsHrExplnCn",
    "sun": "sunSalsHrExplnCn",
}
KECO_HOLIDAY_COLUMNS = ("lhldySalsHrExplnCn", "lhldyDyoffCn", "tmprLhldyCn")
# Korean words added to the search text so "배터리" finds a site listing 폐건전지.
CATEGORY_WORDS = {
    "clear_pet": "투명페트병 무색페트병 페트",
    "colored_pet": "유색페트병 페트",
    "can": "캔 알루미늄캔 철캔",
    "paper": "종이 폐지",
    "plastic": "플라스틱",
    "glass": "유리병 병",
    "textile": "의류 헌옷",
    "electronics": "전자제품 가전",
    "battery": "건전지 배터리 폐건전지",
    "fluorescent": "형광등",
    "styrofoam": "스티로폼",
    "vinyl": "비닐",
    "paper_pack": "종이팩 우유팩",
    "metal": "고철 금속",
}
_PHONE = re.compile(
    r"(?<!\d)(1[5-9]\d{2})[\s\-.]?(\d{4})(?!\d)"
    r"|(?<!\d)(?:(0(?:2|[3-6][1-5]|70|1[016789]))[\s\-.)]*)?(\d{3,4})[\s\-.]+(\d{4})(?!\d)"
)
_ADDRESS_START = re.compile(
    r"^(서울|부산|대구|인천|광주|대전|울산|세종|경기|강원|충북|충남|전북|전남|경북|경남|제주|"
    r"충청|전라|경상)\S*\s"
)
_HANDLE = re.compile(r"\s*@[\w.]+")


@dataclass(slots=True)
class SiteRecord:
    source: str
    source_key: str
    name: str
    latitude: float
    longitude: float
    store_category: str
    merged_keys: list[str] = field(default_factory=list)
    road_address: str | None = None
    lot_address: str | None = None
    location_note: str | None = None
    region: str | None = None
    pickup_categories: list[str] = field(default_factory=list)
    collection_items: list[str] = field(default_factory=list)
    phone: str | None = None
    phones: list[str] = field(default_factory=list)
    introduction: str | None = None
    memo: str | None = None
    homepage: str | None = None
    place_url: str | None = None
    kakao_place_id: str | None = None
    hours: dict[str, Any] = field(default_factory=dict)
    keywords: str = ""

    @property
    def natural_key(self) -> tuple[str, str]:
        return self.source, self.source_key

    def search_text(self) -> str:
        words = " ".join(CATEGORY_WORDS.get(c, "") for c in self.pickup_categories)
        parts = [self.name, self.road_address, self.lot_address, self.region, self.memo]
        # The location note names landmarks our addresses do not ("판교역 3번출구").
        parts += [*self.collection_items, self.keywords, words, self.location_note]
        return squash(" ".join(p for p in parts if p))

    def row(self) -> dict[str, Any]:
        """Column values for ``location.sites`` (without ids and timestamps)."""
        values = asdict(self)
        values.pop("keywords")
        values["search_text"] = self.search_text()
        values["content_hash"] = hashlib.sha256(
            json.dumps(values, sort_keys=True, ensure_ascii=False).encode()
        ).hexdigest()
        return values


@dataclass(frozen=True, slots=True)
class Skipped:
    source: str
    key: str
    name: str
    reason: str


@dataclass(slots=True)
class ParseResult:
    records: list[SiteRecord] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    merged: list[tuple[str, str]] = field(default_factory=list)  # (kept key, merged key)
    rows: int = 0


# --- cleaning -------------------------------------------------------------------------------


def squash(text: str) -> str:
    """Search form: NFC, lower case, no whitespace (Korean is often typed without spaces)."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFC", text)).lower()


def clean(value: str | None) -> str | None:
    """Trim, collapse blank lines; placeholders (``PLACE``, ``PHONE``...) become ``None``."""
    if value is None:
        return None
    text = unicodedata.normalize("NFC", value).replace("\r\n", "\n").replace("\r", "\n")
    lines = [" ".join(line.split()) for line in text.split("\n")]
    text = "\n".join(line for line in lines if line).strip()
    if not text or text.upper() in PLACEHOLDERS:
        return None
    return text


def one_line(value: str | None) -> str | None:
    text = clean(value)
    return " ".join(text.split()) if text else None


def format_phone(digits: str) -> str:
    if digits.startswith("02"):
        return f"02-{digits[2:-4]}-{digits[-4:]}"
    if len(digits) == 8:  # 1600-6217
        return f"{digits[:4]}-{digits[4:]}"
    return f"{digits[:3]}-{digits[3:-4]}-{digits[-4:]}"


def extract_phones(texts: Iterable[str | None]) -> list[str]:
    """Korean phone numbers from free text, normalised (``031-8075-2706``), first wins.

    A number written without its area code (``850-6921(자원순환과)``) takes the area code of
    the first full number found; ``2706~2708`` ranges keep their first number.
    """
    found: list[str] = []
    area: str | None = None
    local_only: list[str] = []
    for text in texts:
        for m in _PHONE.finditer(text or ""):
            if m.group(1):
                found.append(format_phone(m.group(1) + m.group(2)))
            elif m.group(3):
                area = area or m.group(3)
                found.append(format_phone(m.group(3) + m.group(4) + m.group(5)))
            else:
                local_only.append(m.group(4) + m.group(5))
    for local in local_only:
        if area and not any(p.replace("-", "").endswith(local) for p in found):
            found.append(format_phone(area + local))
    return list(dict.fromkeys(found))


# --- formats --------------------------------------------------------------------------------


def detect_format(header: Iterable[str]) -> str | None:
    columns = {c.strip().lstrip("\ufeff") for c in header}
    if columns >= KECO_COLUMNS:
        return "keco"
    if columns >= ZEROWASTE_COLUMNS:
        return "zerowaste"
    return None


def _coordinates(lat_raw: str | None, lon_raw: str | None) -> tuple[float, float] | str:
    if not (lat_raw or "").strip() or not (lon_raw or "").strip():
        return "missing_coordinates"
    lat, lon = geo.parse_degree(lat_raw), geo.parse_degree(lon_raw)
    if lat is None or lon is None:
        return "unparseable_coordinates"
    if not geo.in_korea(lat, lon):
        return "coordinates_outside_korea"
    return lat, lon


def keco_record(row: dict[str, str]) -> SiteRecord | Skipped:
    key, name = (one_line(row.get("positnSn")) or ""), one_line(row.get("positnNm")) or ""
    if not key or not name:
        return Skipped("keco", key, name, "missing_key_or_name")
    coords = _coordinates(row.get("positnPstnLat"), row.get("positnPstnLot"))
    if isinstance(coords, str):
        return Skipped("keco", key, name, coords)
    items, pickup = categories.items_and_categories(clean(row.get("clctItemCn")))
    keywords = " ".join(filter(None, (clean(row.get(c)) for c in _KECO_KEYWORDS)))
    if not pickup:
        pickup = categories.categories_in_text(keywords)
    phone_columns = ("rprsTelnoCn", "bscTelnoCn", "indivTelnoCn", "telnoExpln")
    phones = extract_phones(clean(row.get(c)) for c in phone_columns)
    schedule = hours.weekly(
        {day: clean(row.get(column)) for day, column in KECO_DAYS.items()},
        [clean(row.get(c)) for c in KECO_HOLIDAY_COLUMNS],
    )
    notes = [clean(row.get(c)) for c in ("etcMttrCn", "positnCnvncFcltSrvcExpln", "prkMthdExpln")]
    return SiteRecord(
        source="keco",
        source_key=key,
        name=name,
        latitude=coords[0],
        longitude=coords[1],
        store_category="public_dropbox",
        road_address=one_line(row.get("positnRdnmAddr")),
        lot_address=one_line(row.get("positnLotnoAddr")),
        location_note=one_line(row.get("positnPstnAddExpln")),
        region=one_line(row.get("positnRgnNm")),
        pickup_categories=pickup,
        collection_items=items,
        phone=phones[0] if phones else None,
        phones=phones,
        introduction=clean(row.get("positnIntdcCn")),
        memo="\n".join(n for n in notes if n) or None,
        homepage=_url(row.get("lnkgHmpgUrlAddr")),
        hours=schedule,
        keywords=keywords,
    )


_KECO_KEYWORDS = ("indivRelSrchListCn", "comRelSrwrdListCn")


def _url(raw: str | None) -> str | None:
    text = one_line(raw)
    if not text or " " in text or "." not in text:
        return None
    text = text.replace(",", ".")
    return text if text.startswith(("http://", "https://")) else f"https://{text}"


def _looks_like_address(text: str | None) -> bool:
    return (
        bool(text) and bool(_ADDRESS_START.match(text or "")) and bool(re.search(r"\d", text or ""))
    )


def _name_and_address(row: dict[str, str]) -> tuple[str | None, str | None, str | None]:
    """(name, road address, lot address) for both PLACE and ADDRESS favourites.

    ADDRESS favourites put an address in ``display1`` (the name is then in the memo) or a
    name with the address in brackets (``틈새숲을(경북 경주시 진현로2길 39)``).
    """
    display1, display2 = one_line(row.get("display1")), one_line(row.get("display2"))
    memo = one_line(row.get("memo"))
    if (row.get("favoriteType") or "").strip().upper() != "ADDRESS":
        return display1, display2, None
    bracket = re.match(r"^(.+?)\((.+)\)$", display1 or "")
    if bracket and _looks_like_address(bracket.group(2)):
        return bracket.group(1).strip(), bracket.group(2).strip(), display2
    if _looks_like_address(display1):
        name = (memo or "").split(",")[0].strip() or display1
        return name, display1, display2
    road = memo if _looks_like_address(memo) else None
    return display1, road, display2


def _display_name(raw: str) -> str:
    """Drop Instagram handles and phone numbers that people typed into the name."""
    name = _HANDLE.sub("", raw)
    name = _PHONE.sub("", name)
    return " ".join(name.split()) or raw


def _zerowaste_coordinates(row: dict[str, str]) -> tuple[float, float] | str:
    coords = _coordinates(row.get("lat"), row.get("lon"))
    if not isinstance(coords, str):
        return coords
    x, y = geo.parse_degree(row.get("x")), geo.parse_degree(row.get("y"))
    if coords == "missing_coordinates" and x is not None and y is not None:
        lat, lon = geo.wcongnamul_to_wgs84(x, y)
        if geo.in_korea(lat, lon):
            return lat, lon
        return "coordinates_outside_korea"
    return coords


def zerowaste_record(row: dict[str, str]) -> SiteRecord | Skipped:
    key = one_line(row.get("seq")) or ""
    name, road, lot = _name_and_address(row)
    if not key or not name:
        return Skipped("zerowaste", key, name or "", "missing_key_or_name")
    coords = _zerowaste_coordinates(row)
    if isinstance(coords, str):
        return Skipped("zerowaste", key, name, coords)
    memo = clean(row.get("memo"))
    kakao_key = one_line(row.get("key"))
    kakao_id = kakao_key if kakao_key and kakao_key.isdigit() else None
    phones = extract_phones([row.get("display1"), memo])
    return SiteRecord(
        source="zerowaste",
        source_key=key,
        name=_display_name(name),
        latitude=coords[0],
        longitude=coords[1],
        store_category=categories.store_category(memo, name, default="refill_zero"),
        road_address=road,
        lot_address=lot,
        pickup_categories=categories.categories_in_text(memo or ""),
        phone=phones[0] if phones else None,
        phones=phones,
        memo=memo,
        place_url=f"https://place.map.kakao.com/{kakao_id}" if kakao_id else None,
        kakao_place_id=kakao_id,
        keywords=kakao_key or "",
    )


_PARSERS = {"keco": keco_record, "zerowaste": zerowaste_record}


# --- files ----------------------------------------------------------------------------------


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp949"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValueError("CSV 파일 인코딩을 알 수 없습니다 (UTF-8 또는 CP949).")


def read_rows(data: bytes) -> tuple[str, list[dict[str, str]]]:
    """(format, rows) of one CSV file; multi-line quoted cells are kept whole."""
    reader = csv.DictReader(io.StringIO(_decode(data), newline=""))
    fmt = detect_format(reader.fieldnames or [])
    if fmt is None:
        raise ValueError(f"알 수 없는 CSV 형식입니다: {', '.join(reader.fieldnames or [])[:200]}")
    return fmt, list(reader)


def bundled_files() -> list[tuple[str, bytes]]:
    folder = resources.files("eco2.domains.location") / "data"
    return [(name, (folder / name).read_bytes()) for name in BUNDLED]


def load_files(paths: Iterable[Path]) -> list[tuple[str, bytes]]:
    return [(str(path), Path(path).read_bytes()) for path in paths]


def parse(files: Iterable[tuple[str, bytes]]) -> ParseResult:
    result = ParseResult()
    records: list[SiteRecord] = []
    for _, data in files:
        fmt, rows = read_rows(data)
        parser = _PARSERS[fmt]
        for row in rows:
            result.rows += 1
            parsed = parser(row)
            if isinstance(parsed, Skipped):
                result.skipped.append(parsed)
            else:
                records.append(parsed)
    result.records = list(_merge(records, result))
    return result


def _same_place_key(record: SiteRecord) -> tuple[str, ...]:
    """Records of one source naming the same place: same name and address (or spot)."""
    name = squash(record.name)
    if record.kakao_place_id:
        return (record.source, "kakao", record.kakao_place_id)
    if record.road_address:
        return (record.source, name, squash(record.road_address))
    return (record.source, name, f"{record.latitude:.4f}", f"{record.longitude:.4f}")


def _merge(records: list[SiteRecord], result: ParseResult) -> Iterator[SiteRecord]:
    """Keep the first record of each place (lowest key), folding the others into it."""
    by_key: dict[tuple[str, str], SiteRecord] = {}
    by_place: dict[tuple[str, ...], SiteRecord] = {}
    ordered = sorted(records, key=lambda r: (r.source, _sortable(r.source_key)))
    for record in ordered:
        kept = by_key.get(record.natural_key) or by_place.get(_same_place_key(record))
        if kept is None:
            by_key[record.natural_key] = by_place[_same_place_key(record)] = record
            continue
        if record.natural_key != kept.natural_key:
            result.merged.append((kept.source_key, record.source_key))
            kept.merged_keys = sorted({*kept.merged_keys, record.source_key}, key=_sortable)
        _fold(kept, record)
    yield from by_key.values()


def _fold(kept: SiteRecord, other: SiteRecord) -> None:
    kept.collection_items = list(dict.fromkeys([*kept.collection_items, *other.collection_items]))
    kept.pickup_categories = categories.with_parents(
        [*kept.pickup_categories, *other.pickup_categories]
    )
    kept.phones = list(dict.fromkeys([*kept.phones, *other.phones]))
    kept.phone = kept.phone or other.phone
    for attr in ("road_address", "lot_address", "location_note", "introduction", "homepage"):
        if not getattr(kept, attr):
            setattr(kept, attr, getattr(other, attr))


def _sortable(key: str) -> tuple[int, str]:
    return (int(key), "") if key.isdigit() else (10**18, key)
