"""The Kafka bus itself: client options (defaults, security), topic creation, publishers, subscriptions."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kafka import KafkaAdminClient
from kafka import errors as kerr

from ioc.bus.kafka.errors import KafkaBusError, describe
from ioc.bus.kafka.publisher import KafkaPublisher
from ioc.bus.kafka.subscription import KafkaSubscription
from ioc.config import BusSettings

#: Producer defaults: durable (all in-sync replicas, idempotent) and batched for throughput.
PRODUCER_DEFAULTS: dict[str, Any] = {
    "acks": "all",
    "enable_idempotence": True,
    "linger_ms": 10,
    "batch_size": 64 * 1024,
    "max_block_ms": 10_000,
    "delivery_timeout_ms": 120_000,
}

#: Consumer defaults suited to production; tests pass shorter session timeouts.
CONSUMER_DEFAULTS: dict[str, Any] = {
    "session_timeout_ms": 45_000,
    "heartbeat_interval_ms": 3_000,
    "max_poll_records": 5_000,
    "max_poll_interval_ms": 300_000,
}

#: Settings fixed by the bus contract: the caller cannot override them.
_CONSUMER_FIXED: dict[str, Any] = {
    "enable_auto_commit": False,
    "auto_offset_reset": "earliest",
    # Topics are created by the bus with the configured partition count,
    # never implicitly by a metadata request with the broker's default.
    "allow_auto_create_topics": False,
}


def security_options(settings: BusSettings) -> dict[str, Any]:
    """The SASL/SSL settings as kafka-python client options (unset ones left out)."""
    sec = settings.security
    out: dict[str, Any] = {"security_protocol": sec.security_protocol}
    for name in ("sasl_mechanism", "sasl_plain_username", "sasl_plain_password",
                 "ssl_cafile", "ssl_certfile", "ssl_keyfile"):
        value = getattr(sec, name)
        if value is not None:
            out[name] = value
    return out

class KafkaBus:
    """A :class:`ioc.bus.base.Bus` on a Kafka cluster (or any Kafka-protocol broker).

    ``client_options`` go to every client (producer, consumers, admin), e.g.
    ``request_timeout_ms``, ``bootstrap_timeout_ms`` or a known ``api_version``
    (which skips the version probe when a client is built).
    ``producer_options`` and ``consumer_options`` go to one kind of client and
    override :data:`PRODUCER_DEFAULTS` / :data:`CONSUMER_DEFAULTS`; tests use
    ``consumer_options={"session_timeout_ms": 6000, "heartbeat_interval_ms": 1000}``.
    With ``manage_topics=False`` the bus never creates topics (they are
    provisioned by the cluster's operators).
    """

    def __init__(
        self,
        settings: BusSettings,
        client_id: str = "ioc",
        *,
        client_options: Mapping[str, Any] | None = None,
        producer_options: Mapping[str, Any] | None = None,
        consumer_options: Mapping[str, Any] | None = None,
        manage_topics: bool = True,
        replication_factor: int = -1,
    ) -> None:
        self.settings = settings
        self.client_id = client_id
        self.partitions = settings.partitions
        self.namespace = settings.namespace
        self.manage_topics = manage_topics
        self.replication_factor = replication_factor
        self._client_options = dict(client_options or {})
        self._producer_options = dict(producer_options or {})
        self._consumer_options = dict(consumer_options or {})
        self._admin: KafkaAdminClient | None = None
        self._admin_lock = threading.Lock()
        self._known_topics: set[str] = set()
        self._closed = False

    # -- names and client settings ------------------------------------------------------------
    def physical(self, topic: str) -> str:
        """The broker-side name of ``topic`` (with the namespace prefix, if any)."""
        return f"{self.namespace}.{topic}" if self.namespace else topic

    def logical(self, topic: str) -> str:
        """The bus-side name of a broker topic (namespace prefix removed)."""
        prefix = f"{self.namespace}." if self.namespace else ""
        return topic[len(prefix):] if prefix and topic.startswith(prefix) else topic

    def _common(self, role: str) -> dict[str, Any]:
        return {
            "bootstrap_servers": self.settings.bootstrap_servers.split(","),
            "client_id": f"{self.client_id}-{role}",
            **security_options(self.settings),
            **self._client_options,
        }

    def producer_config(self) -> dict[str, Any]:
        """The options a publisher's ``KafkaProducer`` is built with."""
        return {**self._common("producer"), **PRODUCER_DEFAULTS, **self._producer_options}

    def consumer_config(self, group: str) -> dict[str, Any]:
        """The options a subscription's ``KafkaConsumer`` in ``group`` is built with."""
        return {**self._common("consumer"), **CONSUMER_DEFAULTS, **self._consumer_options,
                **_CONSUMER_FIXED, "group_id": self.physical(group)}

    def admin_config(self) -> dict[str, Any]:
        """The options of the admin client that creates topics."""
        return self._common("admin")

    # -- topics --------------------------------------------------------------------------------
    def ensure_topics(self, topics: Iterable[str]) -> None:
        """Create the (logical) ``topics`` that do not exist yet, with ``settings.partitions``.

        Raises :class:`KafkaBusError` when the broker cannot be reached or refuses.
        """
        wanted = [self.physical(t) for t in topics]
        missing = [t for t in dict.fromkeys(wanted) if t not in self._known_topics]
        if not missing or not self.manage_topics:
            self._known_topics.update(missing)
            return
        with self._admin_lock:
            missing = [t for t in missing if t not in self._known_topics]
            if not missing:
                return
            if self._closed:
                raise KafkaBusError("the Kafka bus is closed")
            try:
                if self._admin is None:
                    self._admin = KafkaAdminClient(**self.admin_config())
                spec = {t: {"num_partitions": self.partitions,
                            "replication_factor": self.replication_factor} for t in missing}
                result = self._admin.create_topics(spec, raise_errors=False)
            except kerr.KafkaError as exc:
                raise KafkaBusError(
                    f"cannot create topics {missing} on Kafka at {self.settings.bootstrap_servers}: "
                    f"{describe(exc)}") from exc
            for entry in result.get("topics", []):
                code = entry.get("error_code", 0)
                if code and code != kerr.TopicAlreadyExistsError.errno:
                    err = kerr.for_code(code)
                    raise KafkaBusError(
                        f"cannot create topic {entry.get('name')!r}: {err.__name__} "
                        f"({entry.get('error_message') or 'no message'})")
            self._known_topics.update(missing)

    # -- the Bus protocol ----------------------------------------------------------------------
    def publisher(self) -> KafkaPublisher:
        """A new publisher (one ``KafkaProducer``; thread-safe)."""
        return KafkaPublisher(self)

    def subscribe(self, topics: Sequence[str], group: str) -> KafkaSubscription:
        """Join ``group`` as a new member reading ``topics`` (created first if missing)."""
        self.ensure_topics(topics)
        return KafkaSubscription(self, tuple(topics), group)

    def close(self) -> None:
        """Close the admin client; publishers and subscriptions are closed by their owners."""
        with self._admin_lock:
            self._closed = True
            admin, self._admin = self._admin, None
        if admin is not None:
            admin.close()

