"""The knowledge base loads, is complete and consistent, and rejects broken documents."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from eco2.knowledge import (
    Condition,
    KnowledgeBase,
    KnowledgeError,
    Rule,
    load_knowledge,
)
from eco2.knowledge.base import DATA_DIR

RECYCLABLE = "재활용폐기물"
MAJORS = [
    "재활용폐기물",
    "일반종량제폐기물",
    "불연성종량제폐기물",
    "음식물류폐기물",
    "대형폐기물",
    "공사장생활폐기물",
    "생활계유해폐기물",
    "미분류",
]
# Frontend contract §5: middle_category -> map pickup filter key.
PICKUP = {
    "종이": "paper",
    "종이팩": "paper",
    "무색페트병": "clear_pet",
    "비닐류": "general",
    "유리병": "glass",
    "의류및원단": "textile",
    "플라스틱류": "plastic",
    "금속류": "general",
    "전지": "electronics",
    "조명제품": "general",
    "전기전자제품": "electronics",
    "발포합성수지": "general",
}


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load_knowledge()


def test_majors_and_recyclable_middles_match_the_contract(kb: KnowledgeBase) -> None:
    majors = [major.name for major in kb.taxonomy.majors]
    recyclable = {c.middle for c in kb.categories() if c.major == RECYCLABLE}
    assert majors == MAJORS
    assert recyclable == set(PICKUP)


def test_pickup_category_per_middle(kb: KnowledgeBase) -> None:
    assert {middle: kb.pickup_category(middle) for middle in PICKUP} == PICKUP
    assert kb.pickup_category("폐의약품") is None


def test_every_category_has_a_complete_rules_document(kb: KnowledgeBase) -> None:
    for category in kb.categories():
        doc = kb.rules_for(category.major, category.middle)
        assert doc.targets, category
        assert doc.common_steps, category
        assert doc.sub_kinds, category
        assert doc.rules, category
        assert set(doc.rules) <= set(Rule)


def test_rules_for_a_non_recyclable_major_needs_no_middle(kb: KnowledgeBase) -> None:
    assert kb.rules_for("생활계유해폐기물").code == "hazardous"
    assert kb.rules_for("생활계유해폐기물", "폐의약품").code == "hazardous"
    with pytest.raises(KeyError):
        kb.rules_for(RECYCLABLE)
    with pytest.raises(KeyError):
        kb.rules_for("없는분류")


def test_every_condition_has_a_correction_in_every_category(kb: KnowledgeBase) -> None:
    for category in kb.categories():
        for condition in Condition:
            correction = kb.correction(condition, category.major, category.middle)
            assert correction.correction
            assert correction.acceptable or correction.insufficiency


def test_category_specific_corrections_override_defaults(kb: KnowledgeBase) -> None:
    pet_cap = kb.correction(Condition.CAP_ATTACHED, RECYCLABLE, "무색페트병")
    assert pet_cap.acceptable  # clear PET goes out with the cap screwed back on
    broken_bottle = kb.correction(Condition.BROKEN_GLASS, RECYCLABLE, "유리병")
    assert "불연성" in broken_bottle.correction
    gas = kb.correction(Condition.GAS_LEFT, RECYCLABLE, "금속류")
    assert "구멍은 뚫지" in gas.correction
    default_label = kb.correction(Condition.LABEL_ATTACHED, "일반종량제폐기물")
    assert default_label.insufficiency


def test_item_count_and_lookup(kb: KnowledgeBase) -> None:
    assert len(kb.items()) >= 450
    assert kb.item("cardboard_box").middle == "종이"
    with pytest.raises(KeyError):
        kb.item("no_such_item")


@pytest.mark.parametrize(
    ("item_id", "major", "middle"),
    [
        ("receipt", "일반종량제폐기물", "일반종량제폐기물"),
        ("coated_flyer", "일반종량제폐기물", "일반종량제폐기물"),
        ("parchment_paper", "일반종량제폐기물", "일반종량제폐기물"),
        ("broken_glass", "불연성종량제폐기물", "불연성종량제폐기물"),
        ("ceramic_dish", "불연성종량제폐기물", "불연성종량제폐기물"),
        ("heat_resistant_glass", "불연성종량제폐기물", "불연성종량제폐기물"),
        ("dirty_delivery_container", "일반종량제폐기물", "일반종량제폐기물"),
        ("pump_part", "일반종량제폐기물", "일반종량제폐기물"),
        ("toothbrush", "일반종량제폐기물", "일반종량제폐기물"),
        ("ballpoint_pen", "일반종량제폐기물", "일반종량제폐기물"),
        ("rubber_gloves", "일반종량제폐기물", "일반종량제폐기물"),
        ("pills", "생활계유해폐기물", "폐의약품"),
        ("power_bank", RECYCLABLE, "전지"),
        ("chicken_bones", "일반종량제폐기물", "일반종량제폐기물"),
        ("peach_pit", "일반종량제폐기물", "일반종량제폐기물"),
        ("clam_shells", "일반종량제폐기물", "일반종량제폐기물"),
        ("eggshells", "일반종량제폐기물", "일반종량제폐기물"),
        ("tea_bag", "일반종량제폐기물", "일반종량제폐기물"),
        ("ice_pack", "일반종량제폐기물", "일반종량제폐기물"),
        ("umbrella", "일반종량제폐기물", "일반종량제폐기물"),
        ("duvet", "일반종량제폐기물", "일반종량제폐기물"),
        ("suitcase", "대형폐기물", "대형생활용품"),
        ("soju_bottle", RECYCLABLE, "유리병"),
        ("water_bottle_pet", RECYCLABLE, "무색페트병"),
        ("soymilk_carton", RECYCLABLE, "종이팩"),
    ],
)
def test_hard_cases_are_classified_as_the_guideline_says(
    kb: KnowledgeBase, item_id: str, major: str, middle: str
) -> None:
    item = kb.item(item_id)
    assert (item.major, item.middle) == (major, middle)


def test_special_instructions_carry_the_key_facts(kb: KnowledgeBase) -> None:
    assert "구멍은 뚫지" in (kb.item("butane_canister").note or "")
    assert "1599-0903" in (kb.item("refrigerator").note or "")
    assert "보증금" in (kb.item("soju_bottle").note or "")
    steps = " ".join(kb.rules_for(RECYCLABLE, "무색페트병").common_steps)
    assert "라벨" in steps
    assert "뚜껑을 다시 닫아" in steps


# --- broken documents are rejected with a clear message ------------------------------------


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(DATA_DIR, target)
    return target


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"fixture text not found in {path.name}: {old!r}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _load_error(data_dir: Path) -> str:
    with pytest.raises(KnowledgeError) as excinfo:
        load_knowledge(data_dir)
    return str(excinfo.value)


def test_schema_violation_names_file_and_path(data_copy: Path) -> None:
    _replace(data_copy / "rules" / "paper.yaml", "rules: [", "rules: [버린다, ")
    message = _load_error(data_copy)
    assert "paper.yaml" in message
    assert "$.rules[0]" in message


def test_unknown_key_is_rejected(data_copy: Path) -> None:
    _replace(data_copy / "rules" / "glass.yaml", "tips:", "tipz: [오타]\ntips:")
    message = _load_error(data_copy)
    assert "glass.yaml" in message
    assert "tipz" in message


def test_wrong_type_is_rejected(data_copy: Path) -> None:
    _replace(data_copy / "taxonomy.yaml", "recyclable: true", "recyclable: 네")
    message = _load_error(data_copy)
    assert "taxonomy.yaml" in message
    assert "recyclable" in message


def test_item_with_unknown_category_and_duplicate_id(data_copy: Path) -> None:
    items = data_copy / "items.yaml"
    _replace(
        items,
        "  - major: 재활용폐기물\n    middle: 종이\n",
        "  - major: 재활용폐기물\n    middle: 조이\n",
    )
    _replace(items, "{id: ramen_box,", "{id: cardboard_box,")
    message = _load_error(data_copy)
    assert "unknown category 재활용폐기물 / 조이" in message
    assert "id 'cardboard_box' is used twice" in message


def test_missing_rules_document(data_copy: Path) -> None:
    (data_copy / "rules" / "battery.yaml").unlink()
    message = _load_error(data_copy)
    assert "rules/battery.yaml: missing rules document for 재활용폐기물 / 전지" in message


def test_synonym_shared_by_two_categories_must_be_flagged(data_copy: Path) -> None:
    _replace(data_copy / "items.yaml", "[택배 박스, 박스,", "[택배 박스, 영수증, 박스,")
    message = _load_error(data_copy)
    assert "term '영수증' maps to 2 categories" in message
    assert "cardboard_box" in message
