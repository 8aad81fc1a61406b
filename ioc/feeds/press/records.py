"""The press feed's record: one article of a local outlet, with what the city watches matched in it."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, Field

from ioc.records import Event

#: the catalogue that says the feed's topics (``flood``: "lũ lụt") in the reader's language
TERMS_DOMAIN = "press"

Term = Annotated[str, Field(min_length=1, max_length=128)]
Tone = Literal["negative", "neutral", "positive"]


class PressArticle(Event):
    """An article from an RSS 2.0 / Atom / RDF feed; ``source_id`` is the outlet, ``time`` its
    published (or first seen) time.

    ``text`` is the main text, plain (no markup: active content never reaches a record);
    ``hash`` is a digest of the normalised title and text (identical copies share it);
    ``places``, ``agencies``, ``topics`` are the watch-list entries matched in it, ``entities``
    the people, places and organisations named in it (``PER:``/``LOC:``/``ORG:`` + name) and
    ``tone`` the lexicon's verdict with its ``tone_score`` in [-1, 1].
    """

    kind: Literal["press.article"] = "press.article"
    outlet: Annotated[str, Field(min_length=1, max_length=256)]
    url: Annotated[str, Field(min_length=1, max_length=2048)]
    guid: Annotated[str, Field(max_length=2048)] = ""
    title: Annotated[str, Field(max_length=1024)]
    summary: Annotated[str, Field(max_length=16384)] = ""
    text: Annotated[str, Field(max_length=200_000)] = ""
    author: Annotated[str, Field(max_length=256)] = ""
    published: AwareDatetime | None = None
    language: Annotated[str, Field(max_length=16)] = "vi"
    hash: Annotated[str, Field(min_length=8, max_length=64)]
    places: Annotated[list[Term], Field(max_length=64)] = Field(default_factory=list)
    agencies: Annotated[list[Term], Field(max_length=64)] = Field(default_factory=list)
    topics: Annotated[list[Term], Field(max_length=64)] = Field(default_factory=list)
    terms: Annotated[list[Term], Field(max_length=256)] = Field(default_factory=list)
    entities: Annotated[list[Term], Field(max_length=32)] = Field(default_factory=list)  # "LOC:Phú Hội"
    tone: Tone = "neutral"
    tone_score: Annotated[float, Field(ge=-1, le=1)] = 0.0
    simulated: bool = False

    @property
    def key(self) -> str:
        """One key for every outlet: the press rules group one story across outlets (spreading,
        one negative-coverage alert a story), so in distributed mode, where rule state is kept per
        partition, every article must meet in one partition (keyed by outlet, a story carried by
        three outlets was three stories in three partitions). The press is a few hundred articles
        an hour: one partition carries it."""
        return "press"
