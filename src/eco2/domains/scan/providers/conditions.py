"""Situation tags read from words (the user's text, OCR, a caption).

Each tag has patterns that assert the condition and patterns that deny it ("라벨 뗐어요").
A denial wins, so "라벨은 떼고 뚜껑은 닫았어" yields only ``cap_attached``.
"""

from __future__ import annotations

import re

from eco2.knowledge import Condition

_ASSERT: dict[Condition, str] = {
    Condition.CONTENTS_LEFT: (
        r"(내용물|음료|물|국물|액체|세제|샴푸)\S*\s*(이|가)?\s*(남|들어\s*있|차\s*있)"
    ),
    Condition.FOOD_CONTAMINATION: (
        r"(음식|기름|양념|소스|국물|케첩|마요)\S*\s*(이|가)?\s*(묻|배|남|범벅)|더러|오염"
    ),
    Condition.LABEL_ATTACHED: (
        r"(라벨|스티커|비닐\s*포장)\S*\s*(이|가|을|를)?\s*(붙|(안|못)\s*(떼|뗐|뗀)|그대로|있)"
    ),
    Condition.CAP_ATTACHED: (
        r"(뚜껑|마개)\S*\s*(이|가|을|를)?\s*(닫|붙|달려|있|그대로|(안|못)\s*(빼|뺐|뺀|땄))"
    ),
    Condition.PUMP_ATTACHED: r"펌프|스프링",
    Condition.MIXED_MATERIAL: r"섞여|복합\s*재질|붙어\s*있는\s*(다른|여러)",
    Condition.BROKEN_GLASS: r"깨진|깨졌|깨져|금\s*간|조각",
    Condition.GAS_LEFT: r"가스\S*\s*(이|가)?\s*(남|(덜|안|못)\s*(빼|뺐|뺀)|있)",
    Condition.BATTERY_INSIDE: (
        r"(배터리|건전지|전지)\S*\s*(이|가)?\s*(들어|있|(안|못)\s*(빼|뺐|뺀)|그대로)"
    ),
    Condition.BULKY: r"대형|커다란|엄청\s*큰",
}
_DENY: dict[Condition, str] = {
    Condition.CONTENTS_LEFT: r"(비웠|비운|비우고|다\s*마신|다\s*먹은)",
    Condition.FOOD_CONTAMINATION: r"(헹궜|헹군|헹구고|씻었|씻은|씻고|깨끗)",
    Condition.LABEL_ATTACHED: (
        r"(라벨|스티커)\S*\s*(은|는|을|를|도)?\s*(뗐|뗀|떼고|제거|벗겼|벗긴|없)"
    ),
    Condition.CAP_ATTACHED: r"(뚜껑|마개)\S*\s*(은|는|을|를|도)?\s*(뺐|뺀|빼고|분리|땄|없)",
    Condition.PUMP_ATTACHED: r"펌프\S*\s*(은|는|을|를|도)?\s*(뺐|뺀|빼고|분리|없)",
    Condition.GAS_LEFT: r"가스\S*\s*(은|는|을|를|도)?\s*(뺐|뺀|빼고|다\s*쓴|없)",
    Condition.BATTERY_INSIDE: r"(배터리|건전지|전지)\S*\s*(은|는|을|를|도)?\s*(뺐|뺀|빼고|분리|없)",
}
_ASSERT_RE = {c: re.compile(p) for c, p in _ASSERT.items()}
_DENY_RE = {c: re.compile(p) for c, p in _DENY.items()}


def conditions_in(text: str | None) -> tuple[Condition, ...]:
    """Tags the words assert and do not deny, in the enum's order."""
    if not text:
        return ()
    found = []
    for condition in Condition:
        asserted = _ASSERT_RE.get(condition)
        denied = _DENY_RE.get(condition)
        if asserted and asserted.search(text) and not (denied and denied.search(text)):
            found.append(condition)
    return tuple(found)


def item_words(text: str | None) -> str:
    """The text without its condition phrases ("라벨 떼고", "헹궜어요"): what names the item."""
    if not text:
        return ""
    stripped = text
    for pattern in (*_ASSERT_RE.values(), *_DENY_RE.values()):
        stripped = pattern.sub(" ", stripped)
    stripped = " ".join(stripped.split())
    return stripped if len(stripped) >= 2 else text
