"""Korean-aware lexical matching: morphemes (kiwipiepy) plus character bigrams.

Morphemes catch the words people use ("뼈", "택배"); character bigrams over the text with spaces
removed catch compounds Kiwi splits oddly ("봉다리"), spacing differences ("택배 박스" /
"택배박스") and one-syllable typos ("택베상자"). Each item is scored by its best-matching alias
(name or synonym), so an item with many synonyms is not favoured just for having many words.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path

import msgspec

from eco2 import kiwi_process
from eco2.kiwi_process import KiwiProcess, Token
from eco2.knowledge.schema import Item

log = logging.getLogger(__name__)

Features = dict[str, float]

MORPH_WEIGHT = 1.0
BIGRAM_WEIGHT = 0.5
CARRIER = "버리려는데요"  # neutral sentence ending used to tokenize aliases in context
CATEGORY_ALIAS_WEIGHT = 0.6  # a category label match ranks below any name/synonym match
# Content parts of speech: nouns, roots, foreign words, numbers, verb/adjective stems.
CONTENT_TAGS = ("NNG", "NNP", "NR", "SL", "SN", "XR", "VV", "VA")
NOUN_TAGS = ("NNG", "NNP", "SL")
COMPOUND_TAGS = (*NOUN_TAGS, "XPN", "XSN", "SN")  # pieces a written compound is made of
# Words every disposal question contains; they say nothing about the item.
_STOP_WORDS = """
버리 버림 배출 분리 분리수거 수거 쓰레기 쓰레기통 처리 처분 폐기 방법 어디 어떻게 어떡하 뭐 무엇
하 되 있 없 같 맞 넣 주 보 알 모르 쓰 먹 마시 나오 오 가 받 이 그 저 것 거 때 궁금 질문 문의 종류 요
고장 정리 교체
"""
STOP_FORMS = frozenset(_STOP_WORDS.split())
_PUNCT = re.compile(r"[^\w]+")

# The content morphemes of each text (many at once: Kiwi analyses a batch much faster).
Tokenize = Callable[[Sequence[str]], list[list[str]]]
# Content morphemes already known for some texts (the aliases' table, shipped or cached).
Morphemes = Mapping[str, list[str]]


class LexicalIndex:
    """Scores items against a query by IDF-weighted feature overlap with their best alias.

    ``known``: the aliases' morphemes from :func:`alias_morphemes`, so building the index needs
    no tokenizer (Kiwi then loads only for the first query)."""

    def __init__(
        self,
        items: Sequence[Item],
        tokenize: Tokenize | None = None,
        known: Morphemes | None = None,
    ) -> None:
        self._tokenize = tokenize or default_tokenize
        self._n_items = len(items)
        weighted = [(n, text, w) for n, item in enumerate(items) for text, w in _aliases(item)]
        aliases = list(
            zip(
                [n for n, _, _ in weighted],
                self.alias_features([t for _, t, _ in weighted], known),
                strict=True,
            )
        )
        self._idf = _idf(aliases)
        self._alias_item = [n for n, _ in aliases]
        self._alias_weight = [w for _, _, w in weighted]
        self._alias_mass = [sum(w * self._idf[f] for f, w in feats.items()) for _, feats in aliases]
        self._postings: defaultdict[str, list[int]] = defaultdict(list)
        for alias_id, (_, feats) in enumerate(aliases):
            for feature in feats:
                self._postings[feature].append(alias_id)

    def features(self, text: str, morphemes: list[str] | None = None) -> Features:
        """The text's features (``morphemes``: its morphemes, when already known)."""
        feats: Features = {}
        for morph in self._tokenize([text])[0] if morphemes is None else morphemes:
            feats[f"m:{morph}"] = MORPH_WEIGHT
        for gram in char_bigrams(text):
            feats.setdefault(f"c:{gram}", BIGRAM_WEIGHT)
        return feats

    def alias_features(self, aliases: list[str], known: Morphemes | None = None) -> list[Features]:
        """Features of each alias alone and inside a sentence: Kiwi splits compounds by context
        ("김치냉장고" alone is one morpheme, in "김치냉장고 버리려는데" it is 김치 + 냉장고).
        What ``known`` lacks is tokenized all at once (one call per alias cost seconds)."""
        known = known or {}
        in_sentence = self._tokenize_unknown([in_context(alias) for alias in aliases], known)
        alone = self._tokenize_unknown(aliases, known)
        return [
            {f"m:{m}": MORPH_WEIGHT for m in context} | self.features(alias, morphemes)
            for alias, context, morphemes in zip(aliases, in_sentence, alone, strict=True)
        ]

    def _tokenize_unknown(self, texts: list[str], known: Morphemes) -> list[list[str]]:
        unknown = list(dict.fromkeys(t for t in texts if t not in known))
        computed = dict(zip(unknown, self._tokenize(unknown), strict=True)) if unknown else {}
        return [known[t] if t in known else computed[t] for t in texts]

    async def morphemes_async(self, text: str) -> list[str]:
        """The text's content morphemes for :meth:`scores`, awaited on an event loop."""
        if self._tokenize is not default_tokenize:
            return self._tokenize([text])[0]
        return await query_morphemes(text)

    def scores(self, text: str, morphemes: list[str] | None = None) -> list[float]:
        """Per-item score in [0, 1]: the share of the query's known evidence the item explains
        (``morphemes``: the text's, when already known)."""
        features = self.features(text, morphemes).items()
        query = {f: w * self._idf[f] for f, w in features if f in self._idf}
        total = sum(query.values())
        best = [0.0] * self._n_items
        if total == 0:
            return best
        matched: defaultdict[int, float] = defaultdict(float)
        for feature, weight in query.items():
            for alias_id in self._postings[feature]:
                matched[alias_id] += weight
        for alias_id, mass in matched.items():
            item = self._alias_item[alias_id]
            score = _alias_score(mass, self._alias_mass[alias_id]) * self._alias_weight[alias_id]
            best[item] = max(best[item], score / total)
        return best


def in_context(alias: str) -> str:
    return f"{alias} {CARRIER}"


def _alias_score(matched: float, alias_mass: float) -> float:
    coverage = min(1.0, matched / alias_mass)
    return matched * (0.5 + 0.5 * coverage)  # prefer aliases matched completely


def char_bigrams(text: str) -> set[str]:
    compact = _PUNCT.sub("", text.lower())
    return {compact[i : i + 2] for i in range(len(compact) - 1)}


def alias_texts(items: Sequence[Item]) -> list[str]:
    """Every text an index over ``items`` tokenizes: each alias alone and in context."""
    aliases = [text for item in items for text, _ in _aliases(item)]
    return [*aliases, *map(in_context, aliases)]


def _aliases(item: Item) -> list[tuple[str, float]]:
    """Name and synonyms in full; the category labels weakly, for queries like "가구" or "비닐"."""
    names = [(alias, 1.0) for alias in (item.name, *item.synonyms)]
    return [*names, (f"{item.minor} {item.middle}", CATEGORY_ALIAS_WEIGHT)]


def _idf(aliases: list[tuple[int, Features]]) -> dict[str, float]:
    """Document frequency counted per item (all aliases of one item form one document)."""
    per_item: defaultdict[int, set[str]] = defaultdict(set)
    for item, feats in aliases:
        per_item[item].update(feats)
    df = Counter(f for feats in per_item.values() for f in feats)
    n = len(per_item)
    return {f: math.log(1 + n / count) for f, count in df.items()}


def analyzer() -> KiwiProcess | None:
    """The process's one Kiwi (its model takes about half a gigabyte), in a child process of
    its own (see ``eco2.kiwi_process``; servers start it before importing the app): shared by
    everything that needs Korean morphemes; None without kiwipiepy."""
    kiwi = kiwi_process.shared()
    if kiwi is None:
        _warn_no_kiwi()
    return kiwi


@lru_cache(maxsize=1)
def _warn_no_kiwi() -> None:
    log.warning("kiwipiepy is not installed: Korean morphemes fall back to word splitting")


@lru_cache(maxsize=1)
def morpheme_tokenizer() -> Tokenize:
    """Kiwi content morphemes; a plain word split if kiwipiepy is not installed."""
    kiwi = analyzer()
    if kiwi is None:
        return _word_splits

    def tokenize(texts: Sequence[str]) -> list[list[str]]:
        return _content_morphemes(kiwi.tokenize([text.lower() for text in texts]))

    return tokenize


async def query_morphemes(text: str) -> list[str]:
    """:func:`default_tokenize` of one text, awaited: the loop runs on while Kiwi analyses."""
    kiwi = analyzer()
    if kiwi is None:
        return _word_splits([text])[0]
    return _content_morphemes(await kiwi.tokenize_async([text.lower()]))[0]


def _content_morphemes(analysed: list[list[Token]]) -> list[list[str]]:
    return [[form for form, tag, _, _ in tokens if _is_content(tag, form)] for tokens in analysed]


def default_tokenize(texts: Sequence[str]) -> list[list[str]]:
    """:func:`morpheme_tokenizer`, loading Kiwi on the first call rather than on import."""
    return morpheme_tokenizer()(texts)


# --- the aliases' morphemes, computed once (Kiwi takes seconds over ~5,000 texts) -----------


class MorphemeTable(msgspec.Struct, frozen=True):
    tokenizer: str  # what produced it: see tokenizer_identity()
    morphemes: dict[str, list[str]]


def tokenizer_identity() -> str | None:
    """Kiwi's and its model's versions and the content filter: what the morphemes depend on;
    None without kiwipiepy (word splitting is cheap: nothing to keep)."""
    if importlib.util.find_spec("kiwipiepy") is None:
        return None
    stop_words = " ".join(sorted(STOP_FORMS))
    return (
        f"kiwipiepy {version('kiwipiepy')} model {version('kiwipiepy_model')} "
        f"tags {' '.join(CONTENT_TAGS)} stop {stop_words}"
    )


def morphemes_file(texts: Sequence[str], identity: str) -> str:
    """The table's file name for these texts and this tokenizer (both hashed)."""
    digest = hashlib.sha256(identity.encode())
    for text in texts:
        digest.update(b"\0" + text.encode())
    return f"waste-morphemes-{digest.hexdigest()[:16]}.json"


def alias_morphemes(items: Sequence[Item], cache_dir: Path | None, bundled_dir: Path) -> Morphemes:
    """The morphemes of every alias text of ``items``: from ``cache_dir`` or the package's
    ``bundled_dir``, else computed now with Kiwi (and kept in ``cache_dir``)."""
    identity = tokenizer_identity()
    if identity is None:
        return {}
    texts = alias_texts(items)
    name = morphemes_file(texts, identity)
    for path in (p for p in (cache_dir, bundled_dir) if p is not None):
        with contextlib.suppress(OSError, msgspec.DecodeError):
            table = msgspec.json.decode((path / name).read_bytes(), type=MorphemeTable)
            if table.tokenizer == identity:
                return table.morphemes
    morphemes = dict(zip(texts, default_tokenize(texts), strict=True))
    if cache_dir is not None:
        write_morphemes(cache_dir / name, MorphemeTable(identity, morphemes))
    return morphemes


def write_morphemes(path: Path, table: MorphemeTable) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    partial.write_bytes(msgspec.json.encode(table))
    partial.replace(path)  # atomic: a concurrent reader never sees a half-written file


def nouns(text: str) -> list[str]:
    """The nouns of a text as written, in order: a compound stays whole ("재활용", "폐플라스틱",
    "데이터센터": Kiwi's pieces joined where no space separates them), case kept ("AI")."""
    kiwi = analyzer()
    if kiwi is None:
        return _word_nouns(text)
    return _joined_nouns(text, kiwi.tokenize([text])[0])


async def nouns_async(text: str) -> list[str]:
    """:func:`nouns` for an event loop, which runs on while Kiwi analyses."""
    kiwi = analyzer()
    if kiwi is None:
        return _word_nouns(text)
    return _joined_nouns(text, (await kiwi.tokenize_async([text]))[0])


def _word_nouns(text: str) -> list[str]:
    return [w for w in _PUNCT.sub(" ", text).split() if len(w) > 1]


def _joined_nouns(text: str, tokens: list[Token]) -> list[str]:
    found: list[str] = []
    start = end = -1
    has_noun = False
    for token in [*tokens, None]:
        tag = token[1].split("-")[0] if token is not None else ""
        if token is not None and tag in COMPOUND_TAGS and (token[2] == end or start < 0):
            start = token[2] if start < 0 else start
            end, has_noun = token[2] + token[3], has_noun or tag in NOUN_TAGS
            continue
        if has_noun:
            found.append(text[start:end])
        start, end, has_noun = -1, -1, False
        if token is not None and tag in COMPOUND_TAGS:
            start, end, has_noun = token[2], token[2] + token[3], tag in NOUN_TAGS
    return found


def _is_content(tag: str, form: str) -> bool:
    return tag.split("-")[0] in CONTENT_TAGS and form not in STOP_FORMS


def _word_splits(texts: Sequence[str]) -> list[list[str]]:
    return [
        [w for w in _PUNCT.sub(" ", text.lower()).split() if w not in STOP_FORMS] for text in texts
    ]
