"""Named entities of an article: people (PER), places (LOC) and organisations (ORG), as ``TYPE:Name``.

Two passes, chosen by ``[feeds.options] entities``:

* ``rules`` (the default): over underthesea's segmented words (the ones the article was already
  cut into), capitalised word sequences typed by the word before them (``phường``, ``chợ``,
  ``sông`` … a place; ``Sở``, ``Ban``, ``Công an`` … an organisation, the cue included;
  ``ông``, ``Chủ tịch`` … a person) or by their form (a Vietnamese surname first: a person; an
  all-capitals abbreviation: an organisation); a sequence that is a watch-list term takes the
  entry's name and the group's type. A capitalised sequence with no cue, no watch entry and no
  person's form is left out (a sentence's first word, a weekday, a brand).
* ``underthesea``: underthesea's ``ner`` (its CRF model bundled in the wheel, so it works offline),
  B-/I- tags joined into spans. Measured on ``tests/press_entity_sentences.tsv`` beside the rules
  (bench/RESULTS.md): it labels many place names as people and is ~30 ms an article.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from ingest.press.text import Matcher, load_nlp, same_word, syllables, written

Method = Literal["rules", "underthesea"]
MAX_ENTITIES = 32

LOC_CUES = frozenset({
    "phường", "xã", "huyện", "tỉnh", "thành phố", "quận", "thị xã", "thị trấn", "thôn", "làng", "chợ",
    "sông", "cầu", "đường", "phố", "núi", "đèo", "biển", "bãi biển", "cửa biển", "đầm", "phá", "hồ",
    "kiệt", "hẻm", "lăng", "chùa", "bến", "đảo", "khu", "tổ dân phố", "bản", "ấp", "vùng"})
#: a place's kind that is not part of its name (``phường Phú Hội`` is Phú Hội, ``sông Hương`` is sông Hương)
ADMINISTRATIVE = frozenset({"phường", "xã", "huyện", "tỉnh", "thành phố", "quận", "thị xã", "thị trấn",
                            "thôn", "làng", "tổ dân phố", "bản", "ấp", "khu", "vùng"})
ORG_CUES = frozenset({
    "sở", "ban", "ubnd", "hđnd", "công an", "bộ", "cục", "chi cục", "trung tâm", "bệnh viện", "trường",
    "công ty", "tổng công ty", "đội", "hội", "ủy ban", "uỷ ban", "viện", "báo", "đài", "ngân hàng",
    "phòng", "văn phòng", "tòa án", "toà án", "viện kiểm sát", "đảng ủy", "đảng uỷ", "mặt trận"})
PER_CUES = frozenset({
    "ông", "bà", "anh", "chị", "em", "cháu", "cụ", "chủ tịch", "phó chủ tịch", "giám đốc",
    "phó giám đốc", "bí thư", "phó bí thư", "trưởng", "bác sĩ", "thượng tá", "đại tá", "trung tá",
    "thiếu tá", "đại úy", "đại uý", "nghệ sĩ", "nhạc sĩ", "ca sĩ", "nhà thơ", "thầy", "cô"})
SURNAMES = frozenset({
    "nguyễn", "trần", "lê", "phạm", "hoàng", "huỳnh", "phan", "vũ", "võ", "đặng", "bùi", "đỗ", "hồ",
    "ngô", "dương", "lý", "trịnh", "đinh", "lâm", "mai", "trương", "tôn", "thái", "hà", "lưu", "đoàn"})
GROUP_TYPE = {"places": "LOC", "agencies": "ORG"}  # a title (Chủ tịch UBND) names no one
_STOPS = frozenset({".", "!", "?", ":", ";", "…", '"', "“", "”"})


def _capitalised(word: str) -> bool:
    return word[:1].isupper()


def _all_capitalised(word: str) -> bool:
    return all(_capitalised(s) for s in word.split())


def _proper(words: Sequence[str]) -> str:
    """The capitalised syllables of ``words`` up to the first that is not (``Hương dâng`` -> ``Hương``)."""
    kept: list[str] = []
    for word in words:
        for s in word.split():
            if not _capitalised(s):
                return " ".join(kept)
            kept.append(s)
    return " ".join(kept)


def _acronym(word: str) -> bool:
    letters = [c for c in word if c.isalpha()]
    return 2 <= len(letters) <= 6 and all(c.isupper() for c in letters) and " " not in word


def _watched(span: str, matcher: Matcher | None) -> tuple[str, str] | None:
    if matcher is None:
        return None
    folded = syllables(span)
    for group, name, term in matcher.terms.get(tuple(folded), ()):
        if group in GROUP_TYPE and same_word(written(span), folded, term):
            return GROUP_TYPE[group], name
    return None


def rule_entities(words: Sequence[str], matcher: Matcher | None = None) -> list[str]:
    """Entities of segmented ``words`` (underthesea's ``word_tokenize`` output), rule-based."""
    found: dict[str, None] = {}
    i, start_of_sentence = 0, True
    while i < len(words):
        word = words[i]
        if word in _STOPS:
            i, start_of_sentence = i + 1, True
            continue
        cue = word.lower()
        if _capitalised(word) and cue in ORG_CUES and i + 1 < len(words) and _capitalised(words[i + 1]):
            j = i + 1
            while j < len(words) and _capitalised(words[j]) and words[j] not in _STOPS:
                j += 1
            span = " ".join(words[i:j])
            kind, name = (_watched(span, matcher) or _watched(" ".join(words[i + 1:j]), matcher)
                          or ("ORG", span))
            found[f"{kind}:{name}"] = None
            i, start_of_sentence = j, False
            continue
        if not _capitalised(word) or (cue in LOC_CUES | PER_CUES and i + 1 < len(words)):
            i, start_of_sentence = i + 1, False
            continue
        j = i + 1  # a capitalised sequence: words[i:j]
        while (j < len(words) and _capitalised(words[j]) and words[j] not in _STOPS
               and words[j].split()[0].lower() not in SURNAMES):
            j += 1
        span = _proper(words[i:j])
        before = words[i - 1].lower() if i > 0 else ""
        watched = _watched(span, matcher)
        if watched:
            found[f"{watched[0]}:{watched[1]}"] = None
        elif _acronym(span):
            found[f"ORG:{span}"] = None
        elif before in LOC_CUES:
            found[f"LOC:{span}" if before in ADMINISTRATIVE else f"LOC:{before} {span}"] = None
        elif before in PER_CUES or (words[i].split()[0].lower() in SURNAMES and 2 <= len(span.split()) <= 4
                                    and _all_capitalised(span)):
            found[f"PER:{span}"] = None
        elif not start_of_sentence and before in ORG_CUES:
            found[f"ORG:{words[i - 1]} {span}"] = None
        i, start_of_sentence = j, False
    return list(found)[:MAX_ENTITIES]


def underthesea_entities(text: str) -> list[str]:
    """Entities by underthesea's bundled CRF ``ner`` (sentence by sentence, B-/I- spans joined)."""
    load_nlp(ner=True)  # once, under a lock: its models are not safe to load from two threads
    from underthesea import ner, sent_tokenize

    found: dict[str, None] = {}
    for sentence in sent_tokenize(text):
        kind, span = "", []
        for token in [*ner(sentence), ("", "", "", "O")]:
            word, tag = token[0], token[-1]
            if tag.startswith("I-") and kind == tag[2:]:
                span.append(word)
                continue
            if span and kind in ("PER", "LOC", "ORG"):
                found[f"{kind}:{' '.join(span)}"] = None
            kind, span = (tag[2:], [word]) if tag.startswith("B-") else ("", [])
    return list(found)[:MAX_ENTITIES]


def entities(words: Sequence[str], text: str, matcher: Matcher | None, method: Method = "rules") -> list[str]:
    """The article's entities by ``method`` (``words``: its segmented words; ``text``: as written)."""
    return underthesea_entities(text) if method == "underthesea" else rule_entities(words, matcher)
