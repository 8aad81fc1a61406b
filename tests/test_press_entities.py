"""Named entities of press articles: the rule pass and underthesea's bundled ``ner`` (offline) on
hand-labelled sentences written for this test, scored alike; the rule pass is what articles carry."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.press.entities import rule_entities, underthesea_entities
from ingest.press.text import Matcher, normalise, segment
from ingest.press.worker import feed_options
from ioc.config import load_settings

LABELLED = Path(__file__).with_name("press_entity_sentences.tsv")


def labelled() -> list[tuple[str, set[str]]]:
    rows = [line.split("\t") for line in LABELLED.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]
    return [(sentence, {e.lower() for e in expected.split(";")}) for sentence, expected in rows]


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    settings = load_settings()
    return Matcher.build(feed_options(next(f for f in settings.feeds if f.kind == "press-simulator")))


def score(found: list[set[str]], expected: list[set[str]]) -> tuple[float, float]:
    hits = sum(len(f & e) for f, e in zip(found, expected, strict=True))
    return hits / max(1, sum(map(len, found))), hits / max(1, sum(map(len, expected)))


def test_rule_entities_on_hand_labelled_sentences(matcher: Matcher, capsys: pytest.CaptureFixture) -> None:
    rows = labelled()
    assert len(rows) >= 20
    found = [{e.lower() for e in rule_entities(segment(normalise(s)), matcher)} for s, _ in rows]
    precision, recall = score(found, [e for _, e in rows])
    theirs = [{e.lower() for e in underthesea_entities(normalise(s))} for s, _ in rows]
    u_precision, u_recall = score(theirs, [e for _, e in rows])
    with capsys.disabled():
        print(f"\npress entities, rules: precision {precision:.2f} recall {recall:.2f}; "
              f"underthesea ner: precision {u_precision:.2f} recall {u_recall:.2f} ({len(rows)} sentences)")
    assert precision >= 0.8 and recall >= 0.7


def test_entities_typed_by_cue_form_and_watch_list(matcher: Matcher) -> None:
    words = segment("Ông Nguyễn Văn An, Giám đốc Sở Xây dựng, kiểm tra cầu Trường Tiền và phường Phu Hoi.")
    assert rule_entities(words, matcher) == ["PER:Nguyễn Văn An", "ORG:Sở Xây dựng", "LOC:cầu Trường Tiền",
                                            "LOC:Phú Hội"]  # written without diacritics, watched
    # a sentence's first word, a weekday: capitalised, not entities
    assert rule_entities(segment("Những ngày qua, Chủ nhật nào cũng mưa."), matcher) == []
    # the watch list names the place however it is written
    assert rule_entities(segment("Mưa lớn ở phường Phú Hội."), matcher) == ["LOC:Phú Hội"]


def test_underthesea_ner_runs_offline_on_its_bundled_model() -> None:
    assert "PER:Nguyễn Văn An" in underthesea_entities("Ông Nguyễn Văn An làm việc tại Huế.")
