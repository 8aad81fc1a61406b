"""Vietnamese article text: NFC normalisation, diacritic folding, word segmentation, watch-list
matching (with and without diacritics) and tone from the lexicon in ``tone_lexicon.tsv``.

Matching runs on the folded, lower-cased syllables: ``lũ lụt`` and ``lu lut`` both fold to
``lu lut`` and match the same watch entry. A syllable written with its diacritics must carry the
term's own (``chảy``, flows, is not ``cháy``, fire, though both fold to ``chay``); one written
without any matches every term that folds to it, and a term written without any matches all.
Segmentation is underthesea's bundled CRF (offline); tone counts lexicon words (matched the same
way), with a negator (``không``, ``chưa``...) within two words flipping the next sentiment word.

underthesea loads its models lazily into module globals, and not safely for threads: its
``word_tokenize`` publishes the model object before loading it, so a second thread's first call
meets a model without its featuriser (``'NoneType' object has no attribute 'process'``).
:func:`load_nlp` loads them once per process under a lock, before any use here; once loaded they
are safe to share between threads.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ioc.feeds.press.settings import PressOptions, WatchEntry

LEXICON = Path(__file__).with_name("tone_lexicon.tsv")
_WORD = re.compile(r"\w+", re.UNICODE)
NEGATORS = frozenset({"khong", "chua", "chang", "cha", "not", "no", "never", "khong he", "chua he"})


def normalise(text: str) -> str:
    """Unicode NFC, whitespace collapsed (composed and decomposed input compare equal)."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def fold(text: str) -> str:
    """Lower case without diacritics (``Lũ lụt Đông Ba`` -> ``lu lut dong ba``)."""
    decomposed = unicodedata.normalize("NFD", text.lower().replace("đ", "d").replace("Đ", "d"))
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")


#: underthesea's models are process globals; loading them is serialised by this lock (see the docstring)
_LOADING = threading.Lock()
_LOADED: set[str] = set()


def load_nlp(*, ner: bool = False) -> None:
    """Load underthesea's word segmenter (and with ``ner``, its sentence splitter, chunker and named
    entity tagger) once per process, safely when many threads ask at once: the first loads them
    while the others wait; later calls return at once."""
    wanted = {"segment", "ner"} if ner else {"segment"}
    if wanted <= _LOADED:
        return
    with _LOADING:
        if "segment" not in _LOADED:
            from underthesea import word_tokenize  # imported late: its import costs ~1 s

            word_tokenize("Huế")  # its first call loads the model
            _LOADED.add("segment")
        if ner and "ner" not in _LOADED:
            from underthesea import ner as tag
            from underthesea import sent_tokenize

            sent_tokenize("Huế.")
            tag("Huế")
            _LOADED.add("ner")


def segment(text: str) -> list[str]:
    """Words of Vietnamese text (multi-syllable words joined by a space), by underthesea."""
    load_nlp()
    from underthesea import word_tokenize

    return word_tokenize(text)


def syllables(text: str) -> list[str]:
    """The folded syllables of ``text``: the stream watch terms and the lexicon are looked up on."""
    return [fold(s) for s in _WORD.findall(normalise(text).lower())]


def written(text: str) -> list[str]:
    """The lower-cased syllables of ``text`` as written (with their diacritics), one per :func:`syllables`."""
    return _WORD.findall(normalise(text).lower())


TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")  # huyền, sắc, ngã, hỏi, nặng (combining)


def tone_key(syllable: str) -> tuple[str, str]:
    """A syllable's letters (with ă â ê ô ơ ư đ) and its tone mark, wherever the mark sits: the old and
    new placements (``hoả``/``hỏa``, ``thuỷ``/``thủy``) give the same key."""
    decomposed = unicodedata.normalize("NFD", syllable)
    return (unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in TONE_MARKS)),
            "".join(c for c in decomposed if c in TONE_MARKS))


def same_word(text: Sequence[str], folded: Sequence[str], term: Sequence[str]) -> bool:
    """Whether syllables as written in ``text`` (``folded``: the same, folded) mean ``term``'s: equal
    (the tone mark placed either way), or written without diacritics on either side."""
    return all(r == t or r == f or t == fold(t) or tone_key(r) == tone_key(t)
               for r, f, t in zip(text, folded, term, strict=True))


@dataclass(frozen=True)
class Matcher:
    """The watch lists compiled: folded term syllables -> (group, entry name)."""

    terms: dict[tuple[str, ...], list[tuple[str, str, tuple[str, ...]]]]  # folded -> (group, name, written)
    longest: int
    entries: dict[tuple[str, str], WatchEntry] = field(default_factory=dict)

    @classmethod
    def build(cls, options: PressOptions) -> Matcher:
        terms: dict[tuple[str, ...], list[tuple[str, str, tuple[str, ...]]]] = {}
        entries: dict[tuple[str, str], WatchEntry] = {}
        for group in ("places", "agencies", "titles", "topics"):
            for entry in getattr(options, group):
                entries[(group, entry.name)] = entry
                for term in (entry.name, *entry.terms):
                    key, as_written = tuple(syllables(term)), tuple(written(term))
                    if key and (group, entry.name, as_written) not in terms.setdefault(key, []):
                        terms[key].append((group, entry.name, as_written))
        return cls(terms, max((len(k) for k in terms), default=0), entries)

    def match(self, words: list[str], as_written: list[str] | None = None) -> dict[str, list[str]]:
        """Watch entries found in the folded syllables ``words`` (``as_written``: the same syllables
        with their diacritics; without it, diacritics are ignored): group -> sorted entry names."""
        found: dict[str, set[str]] = {"places": set(), "agencies": set(), "titles": set(), "topics": set()}
        for i in range(len(words)):
            for n in range(1, min(self.longest, len(words) - i) + 1):
                for group, name, term in self.terms.get(tuple(words[i:i + n]), ()):
                    if as_written is None or same_word(as_written[i:i + n], words[i:i + n], term):
                        found[group].add(name)
        return {g: sorted(v) for g, v in found.items()}

    def department(self, group: str, name: str) -> str:
        entry = self.entries.get((group, name))
        return entry.department if entry else ""


Lexicon = dict[tuple[str, ...], list[tuple[tuple[str, ...], float]]]


@lru_cache(maxsize=4)
def load_lexicon(path: Path = LEXICON) -> Lexicon:
    """The tone lexicon: folded phrase -> [(phrase as written, weight)] (negative < 0 < positive);
    ``#`` lines are comments."""
    lexicon: Lexicon = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        try:
            phrase, weight = line.rsplit("\t", 1)
            lexicon.setdefault(tuple(syllables(phrase)), []).append((tuple(written(phrase)), float(weight)))
        except ValueError as exc:
            raise ValueError(f"{path}:{number}: expected 'phrase<TAB>weight', got {line!r}") from exc
    return lexicon


def _weight(lexicon: Lexicon, folded: list[str], as_written: list[str] | None) -> float | None:
    for phrase, weight in lexicon.get(tuple(folded), ()):
        if as_written is None or same_word(as_written, folded, phrase):
            return weight
    return None


def tone(words: list[str], lexicon: Lexicon | None = None,
         as_written: list[str] | None = None) -> tuple[str, float]:
    """Tone of folded syllables ``words`` (``as_written``: with their diacritics, which must then
    agree with the lexicon's): (``negative``/``neutral``/``positive``, score in [-1, 1])."""
    lexicon = load_lexicon() if lexicon is None else lexicon
    longest = max((len(k) for k in lexicon), default=1)
    score, hits, negate_until, i = 0.0, 0, -1, 0
    while i < len(words):
        if words[i] in NEGATORS:
            negate_until = i + 3
            i += 1
            continue
        for n in range(min(longest, len(words) - i), 0, -1):
            weight = _weight(lexicon, words[i:i + n], None if as_written is None else as_written[i:i + n])
            if weight is not None:
                score += -weight if i <= negate_until else weight
                hits += 1
                i += n - 1
                break
        i += 1
    if not hits:
        return "neutral", 0.0
    value = max(-1.0, min(1.0, score / (hits + 1)))
    return ("negative" if value <= -0.2 else "positive" if value >= 0.2 else "neutral"), round(value, 3)


@dataclass(frozen=True)
class Understanding:
    """What the text of one article says to the city."""

    words: list[str]
    matches: dict[str, list[str]]
    tone: str
    tone_score: float


def understand(title: str, text: str, matcher: Matcher, *, segmented: bool = True) -> Understanding:
    """Normalise, segment, match and weigh one article (title weighs like the text)."""
    body = normalise(f"{title}. {text}")
    words = segment(body) if segmented else body.split()
    as_written = [s for w in words for s in written(w)]
    folded = [fold(s) for s in as_written]
    label, score = tone(folded, as_written=as_written)
    return Understanding(words, matcher.match(folded, as_written), label, score)


def all_terms(entries: Iterable[WatchEntry]) -> list[str]:
    return [t for e in entries for t in e.terms]
