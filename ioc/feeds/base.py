"""What a feed declares about itself, in one place: the seam every feed goes through.

A feed is one package per layer: ``ioc/feeds/<name>/`` (its records, tables, migrations,
settings models: this declaration), ``ingest/<name>/`` (its workers), ``detectors/<name>/``
(its rules) and ``dashboards/<name>/`` (its page), each with one line in its layer's
registry. The core derives from the registered :class:`FeedSpec` objects the event union,
the topics, the writer's tables, the migrations, retention and the ``[rules.<name>]`` and
``[feeds.<name>]`` sections of the settings; nothing feed-specific is listed by hand.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from ioc.store.tables import Migration, TableSpec

if TYPE_CHECKING:  # the event union is built from the feeds: no import cycle at run time
    from ioc.events import Event


@dataclass(frozen=True)
class FeedSpec:
    """Everything the core needs to know of one feed.

    * ``name``: the feed's namespace: its topics are ``ioc.<name>.<...>``, its migrations are
      numbered 1, 2, ... in this namespace (recorded as ``(name, version)``), its rules live
      under ``[rules.<name>]`` and its feed-wide options under ``[feeds.<name>]``.
    * ``events``: the record types it publishes (each with a unique ``kind`` literal).
    * ``topics``: the topic of each of its kinds, ``kind -> topic``.
    * ``broadcast``: those of its topics every detector process reads in full.
    * ``tables``: how its records are written (one :class:`TableSpec` per stored kind).
    * ``migrations``: its schema steps, in its own namespace; ``after`` names the namespaces
      (``"core"`` or other feeds) whose migrations must run first.
    * ``raw_tables``: tables whose old rows retention drops (rollups are kept longer).
    * ``rules``: the pydantic model of ``[rules.<name>]`` (``extra="forbid"``), or ``None``.
    * ``options``: the pydantic model of ``[feeds.<name>]`` (``extra="forbid"``), or ``None``.
    * ``kinds``: the ``[[feeds]]`` entry kinds its ingest package builds workers for.
    * ``title``: message-catalogue id of the feed's display name.
    * ``short_title``: message-catalogue id of its name in a narrow column (the console's Feed
      column); ``title`` when empty.
    * ``fan_out``: ``(record, settings) -> [(topic, key, wire bytes)]``: extra copies of a record
      that ingest (and a replay) publish beside it, e.g. vessel positions keyed by map cell.
    * ``refresh``: ``(connection, capabilities) -> rows``: keeps its rollups current where they are
      not continuous aggregates (the scheduler runs it); ``rollup_tables`` are kept ten times
      longer than raw rows by retention.
    * ``rule_titles``: its rules' detectors (each signal's ``detector``), each with the
      message-catalogue id of what pages and reports call it ("Threshold exceeded", not
      ``threshold``). The console files their alerts under this feed and links them to its page.
    """

    name: str
    title: str = ""
    short_title: str = ""
    events: tuple[type[Event], ...] = ()
    topics: Mapping[str, str] = field(default_factory=dict)
    broadcast: frozenset[str] = frozenset()
    tables: tuple[TableSpec, ...] = ()
    migrations: tuple[Migration, ...] = ()
    after: tuple[str, ...] = ("core",)
    raw_tables: tuple[str, ...] = ()
    rules: type[BaseModel] | None = None
    options: type[BaseModel] | None = None
    kinds: frozenset[str] = frozenset()
    fan_out: Callable[[Event, Any], Iterable[tuple[str, str, bytes]]] | None = None
    refresh: Callable[[Any, Any], int] | None = None
    rollup_tables: tuple[str, ...] = ()
    rule_titles: Mapping[str, str] = field(default_factory=dict)

    @property
    def detectors(self) -> frozenset[str]:
        """The names of its rules' detectors."""
        return frozenset(self.rule_titles)
