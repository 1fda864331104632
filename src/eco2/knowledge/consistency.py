"""Cross-file checks the schema alone cannot express (every problem is reported, not just one)."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable

from eco2.knowledge.schema import Condition, Correction, Item, RulesDoc, Taxonomy

SLUG = re.compile(r"^[a-z0-9]+(?:_[a-z0-9]+)*$")


def check_knowledge(
    taxonomy: Taxonomy,
    rules: dict[str, RulesDoc],
    items: list[Item],
    defaults: list[Correction],
) -> list[str]:
    """Return human-readable problems; an empty list means the knowledge base is consistent."""
    minors = _minors_by_category(taxonomy)
    return [
        *_check_taxonomy(taxonomy),
        *_check_defaults(defaults),
        *_check_rules_coverage(taxonomy, rules),
        *(p for code, doc in rules.items() for p in _check_rules_doc(code, doc, minors)),
        *_check_items(items, minors),
        *_check_shared_terms(items),
    ]


def normalize_term(term: str) -> str:
    """Compare terms ignoring case and spaces ("택배 상자" == "택배상자")."""
    return "".join(term.split()).lower()


def _minors_by_category(taxonomy: Taxonomy) -> dict[tuple[str, str], set[str]]:
    return {
        (major.name, middle.name): set(middle.minors)
        for major in taxonomy.majors
        for middle in major.middles
    }


def _duplicates(values: Iterable[str]) -> list[str]:
    return sorted(value for value, count in Counter(values).items() if count > 1)


def _check_taxonomy(taxonomy: Taxonomy) -> list[str]:
    problems: list[str] = []
    middles = [middle for major in taxonomy.majors for middle in major.middles]
    for dup in _duplicates(major.name for major in taxonomy.majors):
        problems.append(f"taxonomy.yaml: major {dup!r} is listed twice")
    for dup in _duplicates(middle.name for middle in middles):
        problems.append(f"taxonomy.yaml: middle {dup!r} is listed twice")
    for dup in _duplicates(middle.code for middle in middles):
        problems.append(f"taxonomy.yaml: middle code {dup!r} is used twice")
    for major in taxonomy.majors:
        if not major.middles:
            problems.append(f"taxonomy.yaml: major {major.name!r} has no middle")
        for middle in major.middles:
            has_key = middle.pickup_category is not None
            if has_key != major.recyclable:
                problems.append(
                    f"taxonomy.yaml: {middle.name!r} pickup_category must be set exactly for "
                    "recyclable middles"
                )
    return problems


def _check_defaults(defaults: list[Correction]) -> list[str]:
    given = {c.condition for c in defaults}
    problems = [
        f"conditions.yaml: no default correction for {c.value!r}"
        for c in Condition
        if c not in given
    ]
    problems += [
        f"conditions.yaml: {c.condition.value!r} needs an insufficiency sentence"
        for c in defaults
        if not c.insufficiency
    ]
    return problems


def _check_rules_coverage(taxonomy: Taxonomy, rules: dict[str, RulesDoc]) -> list[str]:
    """Every recyclable middle and every other major needs its own rules document."""
    problems: list[str] = []
    for major in taxonomy.majors:
        expected = (
            [(middle.code, major.name, middle.name) for middle in major.middles]
            if major.recyclable
            else [(major.code, major.name, None)]
        )
        for code, major_name, middle_name in expected:
            doc = rules.get(code)
            label = f"{major_name} / {middle_name}" if middle_name else major_name
            if doc is None:
                problems.append(f"rules/{code}.yaml: missing rules document for {label}")
            elif (doc.major, doc.middle) != (major_name, middle_name):
                problems.append(f"rules/{code}.yaml: must describe {label}")
    return problems


def _check_rules_doc(
    code: str, doc: RulesDoc, minors: dict[tuple[str, str], set[str]]
) -> list[str]:
    where = f"rules/{code}.yaml"
    problems: list[str] = []
    if doc.code != code:
        problems.append(f"{where}: code {doc.code!r} differs from the file name")
    majors = {major for major, _ in minors}
    for look in doc.look_alikes:
        target_ok = look.major in majors and (
            look.middle is None or (look.major, look.middle) in minors
        )
        if not target_ok:
            problems.append(f"{where}: look-alike {look.item!r} points to an unknown category")
    for dup in _duplicates(c.condition.value for c in doc.corrections):
        problems.append(f"{where}: correction for {dup!r} is given twice")
    for corr in doc.corrections:
        if not corr.acceptable and not corr.insufficiency:
            problems.append(f"{where}: {corr.condition.value!r} needs an insufficiency sentence")
    return problems


def _check_items(items: list[Item], minors: dict[tuple[str, str], set[str]]) -> list[str]:
    problems = [f"items.yaml: id {dup!r} is used twice" for dup in _duplicates(i.id for i in items)]
    for item in items:
        if not SLUG.match(item.id):
            problems.append(f"items.yaml: id {item.id!r} must be a lowercase ASCII slug")
        known = minors.get((item.major, item.middle))
        if known is None:
            problems.append(f"items.yaml: {item.id}: unknown category {item.major} / {item.middle}")
        elif item.minor not in known:
            problems.append(f"items.yaml: {item.id}: minor {item.minor!r} not in {item.middle}")
        terms = {normalize_term(t) for t in (item.name, *item.synonyms)}
        for shared in item.shared_terms:
            if normalize_term(shared) not in terms:
                problems.append(f"items.yaml: {item.id}: shared term {shared!r} is not its term")
    return problems


def _check_shared_terms(items: list[Item]) -> list[str]:
    """A term naming items of two categories must be flagged on each of those items."""
    categories: defaultdict[str, set[tuple[str, str]]] = defaultdict(set)
    carriers: defaultdict[str, list[Item]] = defaultdict(list)
    for item in items:
        for term in {normalize_term(t) for t in (item.name, *item.synonyms)}:
            categories[term].add((item.major, item.middle))
            carriers[term].append(item)
    problems: list[str] = []
    for term, cats in sorted(categories.items()):
        if len(cats) < 2:
            continue
        unflagged = [
            i.id for i in carriers[term] if term not in {normalize_term(s) for s in i.shared_terms}
        ]
        if unflagged:
            problems.append(
                f"items.yaml: term {term!r} maps to {len(cats)} categories; flag it in "
                f"shared_terms of {', '.join(unflagged)}"
            )
    return problems
