"""The public administrative services feed: one-stop-shop dossiers ("hồ sơ một cửa") and their deadlines."""

from __future__ import annotations

from ioc.feeds.base import FeedSpec
from ioc.feeds.services.records import DossierEvent
from ioc.feeds.services.schema import DOSSIER_EVENTS, RAW_SERVICES_TABLES, apply_services
from ioc.feeds.services.settings import ServicesOptions, ServicesRules
from ioc.store.tables import Migration

SPEC = FeedSpec(
    name="services",
    rule_titles={
        "services": "Dossier past its deadline",
    },
    title="Public administrative services",
    short_title="Public services",
    events=(DossierEvent,),
    topics={"services.dossier": "ioc.services.dossiers"},
    tables=(DOSSIER_EVENTS,),
    migrations=(Migration(1, "dossier events, current dossiers, daily and monthly rollups", apply_services),),
    raw_tables=RAW_SERVICES_TABLES,
    rules=ServicesRules,
    options=ServicesOptions,
    kinds=frozenset({"services-http", "services-csv"}),
)
