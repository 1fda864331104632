"""The CSV datasets parsed on the real files and on crafted rows (no database)."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import datetime

import pytest

from eco2.domains.location import categories, datasets, geo, hours

KECO_HEADER = [
    "positnSn",
    "positnNm",
    "positnRgnNm",
    "positnLotnoAddr",
    "positnRdnmAddr",
    "positnPstnAddExpln",
    "positnPstnLat",
    "positnPstnLot",
    "positnIntdcCn",
    "positnCnvncFcltSrvcExpln",
    "prkMthdExpln",
    "monSalsHrExplnCn",
    "tuesSalsHrExplnCn",
    "wedSalsHrExplnCn",
    "thurSalsHrExplnCn",
    "friSalsHrExplnCn",
    "satSalsHrExplnCn",
    "sunSalsHrExplnCn",
    "lhldySalsHrExplnCn",
    "lhldyDyoffCn",
    "tmprLhldyCn",
    "dyoffBgndeCn",
    "dyoffEnddtCn",
    "dyoffRsnExpln",
    "bscTelnoCn",
    "rprsTelnoCn",
    "telnoExpln",
    "indivTelnoCn",
    "lnkgHmpgUrlAddr",
    "indivRelSrchListCn",
    "comRelSrwrdListCn",
    "clctItemCn",
    "etcMttrCn",
]


def csv_bytes(header: list[str], rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def test_bundled_datasets_counts_and_reasons() -> None:
    result = datasets.parse(datasets.bundled_files())
    assert result.rows == 409 + 351
    reasons = Counter(s.reason for s in result.skipped)
    assert reasons == {
        "missing_coordinates": 9,
        "coordinates_outside_korea": 3,
        "unparseable_coordinates": 1,
    }
    assert all(s.source == "keco" for s in result.skipped)
    # Same name and road address: one place, the other key remembered.
    assert ("285", "286") in result.merged
    assert ("288", "358") in result.merged
    assert len(result.merged) == 8
    assert len(result.records) == 409 - 13 - 8 + 351
    sources = Counter(r.source for r in result.records)
    assert sources == {"keco": 388, "zerowaste": 351}
    for record in result.records:
        assert geo.in_korea(record.latitude, record.longitude)
        assert record.store_category in categories.STORE_CATEGORIES
        assert set(record.pickup_categories) <= set(categories.SITE_PICKUP)


def test_merged_duplicates_fold_their_items() -> None:
    records = {r.source_key: r for r in datasets.parse(datasets.bundled_files()).records}
    merged = records["285"]
    assert merged.merged_keys == ["286"]
    assert merged.collection_items == ["투명pet", "알루미늄 캔"]
    assert merged.pickup_categories == ["clear_pet", "can"]
    assert "286" not in records


def test_keco_row_is_normalised() -> None:
    records = {r.source_key: r for r in datasets.parse(datasets.bundled_files()).records}
    first = records["1"]
    assert first.name == "고양동 종합복지회관"
    assert first.road_address == "고양시 덕양구 혜음로 19-11"
    assert first.phone == "031-8075-2706"
    assert first.hours["tue"] == {"status": "open", "ranges": [["11:00", "14:00"]], "note": None}
    assert first.hours["mon"]["status"] == "closed"
    assert first.hours["holiday"]["status"] == "closed"
    assert first.pickup_categories == ["clear_pet", "colored_pet", "can", "paper", "plastic"]
    assert "\n" in (first.introduction or "")  # multi-line cell kept whole
    assert first.store_category == "public_dropbox"


def test_zerowaste_rows_use_kakao_coordinates_when_wgs84_is_missing() -> None:
    records = {r.source_key: r for r in datasets.parse(datasets.bundled_files()).records}
    fridge = records["780218107"]
    assert (fridge.latitude, fridge.longitude) == (37.53138753, 127.1325739)
    assert fridge.place_url == "https://place.map.kakao.com/1317010384"
    assert fridge.store_category == "refill_zero"
    # No lat/lon in the file, only Kakao map x/y: converted, within a metre of the truth.
    shop = records["392127054"]
    assert shop.name == "천연제작소"
    assert geo.in_korea(shop.latitude, shop.longitude)
    lat, lon = geo.wcongnamul_to_wgs84(529295, 1119990)
    assert abs(lat - 37.53138753) < 1e-5
    assert abs(lon - 127.1325739) < 1e-5
    # ADDRESS favourites: the address is in display1, the name in the memo.
    assert records["733490700"].road_address == "경남 거제시 옥포로23길 5"
    assert records["733490700"].name == "경남지역자활 리본 옥포점 매장"
    assert records["733490700"].store_category == "upcycle_recycle"
    assert records["448354937"].name == "틈새숲을"


def test_placeholders_mean_empty_and_rows_without_coordinates_are_reported() -> None:
    header = ["seq", "favoriteType", "memo", "display1", "display2", "x", "y", "lon", "lat", "key"]
    rows = [
        {"seq": "1", "favoriteType": "PLACE", "memo": "PHONE", "display1": "알맹상점",
         "display2": "ADDRESS", "x": "", "y": "", "lon": "126.9", "lat": "37.5", "key": "PLACE"},
        {"seq": "2", "favoriteType": "PLACE", "memo": "", "display1": "PLACE",
         "display2": "", "x": "", "y": "", "lon": "126.9", "lat": "37.5", "key": ""},
        {"seq": "3", "favoriteType": "PLACE", "memo": "", "display1": "좌표없는 가게",
         "display2": "", "x": "", "y": "", "lon": "", "lat": "", "key": ""},
    ]  # fmt: skip
    result = datasets.parse([("z.csv", csv_bytes(header, rows))])
    (record,) = result.records
    assert record.memo is None
    assert record.road_address is None
    assert record.place_url is None
    assert {(s.key, s.reason) for s in result.skipped} == {
        ("2", "missing_key_or_name"),
        ("3", "missing_coordinates"),
    }


def test_other_csvs_in_the_same_format_and_cp949_are_accepted() -> None:
    row = dict.fromkeys(KECO_HEADER, "")
    row.update(positnSn="9001", positnNm="새 회수기", positnPstnLat="37.5", positnPstnLot="127.0",
               clctItemCn="폐건전지\n형광등", rprsTelnoCn="02-123-4567")  # fmt: skip
    data = csv_bytes(KECO_HEADER, [row]).decode().encode("cp949")
    (record,) = datasets.parse([("new.csv", data)]).records
    assert record.pickup_categories == ["electronics", "general", "battery", "fluorescent"]
    assert record.phone == "02-123-4567"
    with pytest.raises(ValueError, match="CSV"):
        datasets.parse([("x.csv", b"a,b\n1,2\n")])


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("11:00 ~ 14:00", ("open", [["11:00", "14:00"]])),
        ("휴무", ("closed", [])),
        ("전체휴무", ("closed", [])),
        ("계약종료", ("closed", [])),
        ("상시", ("open", [["00:00", "24:00"]])),
        ("08시~22시", ("open", [["08:00", "22:00"]])),
        ("10시~22시 (하절기(7~9월) 10시~23시)", ("open", [["10:00", "22:00"]])),
        ("09:00 ~ 12:00,\n14:00 ~ 17:00", ("open", [["09:00", "12:00"], ["14:00", "17:00"]])),
        ("", ("unknown", [])),
        ("화목금 11~5", ("unknown", [])),
    ],
)
def test_opening_hours_cells(cell: str, expected: tuple[str, list[list[str]]]) -> None:
    day = hours.parse_day(cell)
    assert (day["status"], day["ranges"]) == expected


def seoul_moment(iso: str) -> hours.Moment:
    return hours.moment(datetime.fromisoformat(iso))


def test_today_is_computed_in_seoul_with_public_holidays() -> None:
    schedule = hours.weekly(
        {"mon": "09:00 ~ 18:00", "tue": "휴무", "wed": "09:00~18:00"}, ["휴무", "전체휴무"]
    )
    # 2026-11-30 is a Monday; 01:30 UTC is 10:30 in Seoul (the UTC date is the same day).
    monday = hours.today(schedule, seoul_moment("2026-11-30T01:30:00+00:00"))
    assert monday == hours.TodayHours(True, False, "09:00", "18:00")
    # Sunday 23:30 UTC is already Monday 08:30 in Seoul: before opening.
    early = hours.today(schedule, seoul_moment("2026-11-29T23:30:00+00:00"))
    assert (early.is_open, early.is_holiday) == (False, False)
    tuesday = hours.today(schedule, seoul_moment("2026-12-01T03:00:00+00:00"))
    assert (tuesday.is_open, tuesday.is_holiday) == (False, True)
    # 2026-03-02 (Monday) is the substitute holiday for 삼일절: closed on holidays.
    holiday = hours.today(schedule, seoul_moment("2026-03-02T03:00:00+00:00"))
    assert (holiday.is_open, holiday.is_holiday) == (False, True)
    assert hours.today({}, None) == hours.TodayHours(None, None, None, None)


def test_phones_are_normalised() -> None:
    assert datasets.extract_phones(
        ["031-8075-2706~2708\n고양시청", "850-6921(자원순환과)", "수퍼빈(1600-6217)"]
    ) == ["031-8075-2706", "1600-6217", "031-850-6921"]
    assert datasets.extract_phones(["02 123 4567", "010.1234.5678"]) == [
        "02-123-4567",
        "010-1234-5678",
    ]


def test_categories_from_items_and_keywords() -> None:
    items, found = categories.items_and_categories(
        "(플라스틱류)\n무색페트병\n유색 PET\n(캔류)\n알루미늄\n철\n"
        "(비닐류)\n비닐\n투명, 갈색,녹색병"
    )
    assert items[0] == "무색페트병"
    assert "(캔류)" not in items
    assert found == ["clear_pet", "colored_pet", "can", "glass", "general", "vinyl"]
    assert categories.client_pickup(found) == [
        "clear_pet",
        "colored_pet",
        "can",
        "glass",
        "general",
    ]
    assert categories.store_category("비건 빵, 무포장", "지구본") == "vegan_dining"
    assert categories.store_category("책방 내 리필스테이션", "주책방") == "book_workshop"
    assert categories.store_category(None, "나마스떼민박") == "lodging"
    assert categories.store_category(None, "에프", default="refill_zero") == "refill_zero"


def test_distance_text() -> None:
    assert geo.distance_text(349.6) == "350m"
    assert geo.distance_text(999.7) == "1.0km"
    assert geo.distance_text(1234) == "1.2km"
