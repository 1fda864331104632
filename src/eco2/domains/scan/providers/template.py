"""Offline, deterministic answers composed from the rules document and the detected conditions."""

from __future__ import annotations

from eco2.domains.scan.providers.base import Answer, Grounding, Observation
from eco2.knowledge import RulesDoc

MAX_STEPS = 6


def numbered(steps: list[str]) -> dict[str, str]:
    """``{"1": ..., "2": ...}``: integer-like keys keep their order in JS (contract §3.10)."""
    unique = list(dict.fromkeys(s.strip() for s in steps if s and s.strip()))
    return {str(i): step for i, step in enumerate(unique, start=1)}


def sub_kind_steps(rules: RulesDoc, minor: str) -> list[str]:
    for kind in rules.sub_kinds:
        if kind.name == minor or minor in kind.examples or kind.name in minor:
            return list(kind.steps)
    return []


def fixes(grounding: Grounding) -> tuple[list[str], list[str]]:
    """(correction steps, insufficiency sentences) of the detected conditions."""
    steps, problems = [], []
    for fix, why, acceptable in grounding.corrections.values():
        steps.append(fix)
        if not acceptable and why:
            problems.append(why)
    return steps, problems


def compose(observation: Observation, grounding: Grounding) -> Answer:
    rules = grounding.rules
    corrections, insufficiencies = fixes(grounding)
    steps = [
        *corrections,
        *([grounding.item_note] if grounding.item_note else []),
        *sub_kind_steps(rules, observation.minor),
        *rules.common_steps,
    ]
    return Answer(
        disposal_steps=numbered(steps[:MAX_STEPS]),
        insufficiencies=insufficiencies,
        user_answer=user_answer(observation, rules, insufficiencies),
        provider="template",
    )


def first_sentence(text: str) -> str:
    head, dot, _ = text.partition(". ")
    return head + "." if dot else text


def user_answer(observation: Observation, rules: RulesDoc, insufficiencies: list[str]) -> str:
    """At most three sentences: what it is, where it goes, what to fix first."""
    sentences = [f"{observation.minor}(으)로 보여요.", first_sentence(rules.summary)]
    if insufficiencies:
        sentences.append(f"다만 {first_sentence(insufficiencies[0])}")
    elif rules.tips:
        sentences.append(first_sentence(rules.tips[0]))
    return " ".join(sentences)


class TemplateAnswers:
    name = "template"

    async def answer(self, observation: Observation, grounding: Grounding) -> Answer:
        return compose(observation, grounding)
