"""Stories of the press feed, the part both the rules and the pages need: an article's MinHash
signature over word shingles (kept with the article in the store) and the grouping of articles
into stories by LSH bands of those signatures, the way :class:`datasketch.MinHashLSH` groups them.

An article joins the story (earliest first seen) of any earlier article sharing a band with it,
else starts its own: what ``detectors.press.stories.StoryGrouper`` does as articles arrive.
Pure: no database, no clock.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from datasketch import MinHash

# datasketch is imported where it is used: it brings scipy (a third of a second), which every
# process that reads the settings (each role, each command) would pay for otherwise

_WORD = re.compile(r"\w+", re.UNICODE)
NUM_PERM = 64
SIGNATURE_BYTES = NUM_PERM * 4  # one uint32 per permutation, big-endian
Item = TypeVar("Item")


def shingles(text: str, k: int = 3) -> set[str]:
    """Word k-shingles of the folded text (diacritics and case do not separate copies)."""
    folded = "".join(c for c in unicodedata.normalize("NFD", text.lower().replace("đ", "d"))
                     if unicodedata.category(c) != "Mn")
    words = _WORD.findall(folded)
    if len(words) < k:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i:i + k]) for i in range(len(words) - k + 1)}


def minhash(title: str, text: str) -> MinHash:
    """The MinHash of an article's title and text (what the story rules compare)."""
    from datasketch import MinHash

    mh = MinHash(num_perm=NUM_PERM)
    words = shingles(f"{title} {text}")
    if words:
        mh.update_batch([s.encode() for s in words])
    return mh


def signature(title: str, text: str) -> bytes | None:
    """The article's MinHash as bytes (kept in ``press_articles.signature``); None when it has no
    words (an empty signature would make every empty article one story)."""
    if not shingles(f"{title} {text}"):
        return None
    return minhash(title, text).hashvalues.astype(">u4").tobytes()


@lru_cache(maxsize=8)
def bands(threshold: float) -> tuple[tuple[int, int], ...]:
    """The (start, end) permutation ranges of the LSH bands datasketch picks for ``threshold``."""
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
    return tuple((int(a), int(b)) for a, b in lsh.hashranges)


def band_keys(sig: bytes, threshold: float) -> list[bytes]:
    """The keys of the signature's bands: two articles sharing one are candidates of one story."""
    return [bytes([i]) + sig[4 * a:4 * b] for i, (a, b) in enumerate(bands(threshold))]


@dataclass
class Grouped(Generic[Item]):
    """One story: its first seen and its items (in time order; the first gives the headline)."""

    first_seen: datetime
    items: list[Item] = field(default_factory=list)


def group(articles: Iterable[tuple[datetime, bytes | None, Item]], threshold: float) -> list[Grouped[Item]]:
    """Stories of ``(time, signature, item)`` taken in time order; an article without a signature
    is a story of its own."""
    stories: list[Grouped[Item]] = []
    index: dict[bytes, list[int]] = {}
    for when, sig, item in sorted(articles, key=lambda a: a[0]):
        keys: Sequence[bytes] = band_keys(sig, threshold) if sig and len(sig) == SIGNATURE_BYTES else ()
        near = {s for k in keys for s in index.get(k, ())}
        if near:
            at = min(near, key=lambda s: (stories[s].first_seen, s))
        else:
            at = len(stories)
            stories.append(Grouped(first_seen=when))
        stories[at].items.append(item)
        for k in keys:
            index.setdefault(k, []).append(at)
    return stories
