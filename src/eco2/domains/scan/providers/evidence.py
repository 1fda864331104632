"""Combine visual votes with words (the user's, OCR) into one observation.

The user's words, when they name an item, win: they know what they are holding. Otherwise
the visual votes decide, with OCR text (a product's label) as extra evidence.
"""

from __future__ import annotations

from eco2.domains.scan.providers.base import Observation, unclassified
from eco2.domains.scan.providers.conditions import conditions_in, item_words
from eco2.domains.scan.providers.matching import MIN_SCORE, find
from eco2.domains.scan.providers.text import from_match

Votes = dict[tuple[str, str], tuple[float, str]]
MIN_VOTE = 0.3
OCR_WEIGHT = 0.5


async def _add_ocr(votes: Votes, ocr: str) -> None:
    matches = await find(ocr)
    if not matches or matches[0].score < MIN_SCORE:
        return
    item = matches[0].item
    key = (item.major, item.middle)
    score, minor = votes.get(key, (0.0, item.minor))
    votes[key] = (score + OCR_WEIGHT, minor)


async def decide(
    votes: Votes,
    *,
    user_input: str | None,
    ocr: str,
    provider: str,
    evidence: tuple[str, ...],
) -> Observation:
    words = " ".join(filter(None, [user_input, ocr]))
    said = await find(item_words(user_input))
    if said and said[0].score >= MIN_SCORE:
        return from_match(said[0], words, provider, evidence)
    if ocr:
        await _add_ocr(votes, ocr)
    if not votes:
        return unclassified(provider, evidence)
    (major, middle), (score, minor) = max(votes.items(), key=lambda kv: kv[1][0])
    if score < MIN_VOTE:
        return unclassified(provider, evidence)
    return Observation(
        major=major,
        middle=middle,
        minor=minor,
        conditions=conditions_in(words),
        confidence=round(min(1.0, score), 3),
        evidence=evidence,
        provider=provider,
    )
