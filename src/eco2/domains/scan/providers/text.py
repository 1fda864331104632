"""``text``: classify from the user's words alone (offline, no image model)."""

from __future__ import annotations

from eco2.domains.scan.providers.base import Observation, ScanInput, unclassified
from eco2.domains.scan.providers.conditions import conditions_in, item_words
from eco2.domains.scan.providers.matching import MIN_SCORE, Match, find


def from_match(match: Match, text: str, provider: str, evidence: tuple[str, ...]) -> Observation:
    item = match.item
    return Observation(
        major=item.major,
        middle=item.middle,
        minor=item.minor,
        conditions=conditions_in(text),
        confidence=round(min(1.0, max(0.0, match.score)), 3),
        evidence=(*evidence, f"item:{item.id}"),
        item_id=item.id,
        provider=provider,
    )


async def observe_text(text: str | None, provider: str) -> Observation:
    matches = await find(item_words(text))
    if not matches or matches[0].score < MIN_SCORE:
        return unclassified(provider, (f"text:{text}",) if text else ())
    return from_match(matches[0], text or "", provider, (f"text:{text}",))


class TextVision:
    """The user's description is the only evidence; a photo alone stays unclassified."""

    name = "text"

    async def observe(self, scan: ScanInput) -> Observation:
        return await observe_text(scan.user_input, self.name)
