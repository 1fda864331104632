"""Korean particles chosen by the word they follow: 은/는, 이/가, 을/를, 과/와, (으)로.

The choice follows the last sound: a final consonant (받침) takes 은, 이, 을, 과, 으로; none
takes 는, 가, 를, 와, 로; for (으)로 a final ㄹ behaves as none (물로, 봉투로, 병으로). A word
ending in a parenthesis is read without it (병(투명) → 병), digits and Latin letters as they are
read aloud (3 → 삼, 10 → 십, PET → 티, CD → 디).
"""

from __future__ import annotations

import re

PARTICLES = {"은": "는", "이": "가", "을": "를", "과": "와", "으로": "로", "이에요": "예요"}
_HANGUL_FIRST, _HANGUL_LAST = 0xAC00, 0xD7A3
_RIEUL = 8  # the final ㄹ's index among the 28 finals
# How digits end when read (일 이 삼 사 오 육 칠 팔 구): the final's index, 0 for none.
_DIGIT_FINAL = {
    "1": _RIEUL,
    "2": 0,
    "3": 16,
    "4": 0,
    "5": 0,
    "6": 1,
    "7": _RIEUL,
    "8": _RIEUL,
    "9": 0,
}
# Latin letters read with a final consonant: 엘 엠 엔 알 (ㄹ for L and R).
_LETTER_FINAL = {"l": _RIEUL, "m": 16, "n": 4, "r": _RIEUL}
_TRAILING = re.compile(r"(\s*\([^()]*\))+\s*$|[\s\"'’”.,!?~·…]+$")


def final_consonant(word: str) -> int | None:
    """Index (1 to 27) of the last sound's final consonant, 0 for none, None if unknown."""
    word = _TRAILING.sub("", word.strip()) or word.strip()
    if not word:
        return None
    last = word[-1]
    if _HANGUL_FIRST <= ord(last) <= _HANGUL_LAST:
        return (ord(last) - _HANGUL_FIRST) % 28
    if last.isdigit():
        return 1 if last == "0" else _DIGIT_FINAL[last]  # 영, 십, 백, 천, 만: all 받침
    if last.isascii() and last.isalpha():
        return _LETTER_FINAL.get(last.lower(), 0)
    return None


def particle(word: str, with_final: str) -> str:
    """The particle that follows ``word``: ``with_final`` (은, 이, 을, 과, 으로, 이에요) after a
    final consonant, its pair otherwise; unknown endings get the pair (은(는) never shows)."""
    final = final_consonant(word)
    without_final = PARTICLES[with_final]
    if final is None or final == 0:
        return without_final
    if with_final == "으로" and final == _RIEUL:
        return without_final
    return with_final


def attach(word: str, with_final: str) -> str:
    return word + particle(word, with_final)
