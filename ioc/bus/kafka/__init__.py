"""The Kafka bus of the distributed mode, on kafka-python 3.

Same contract as the in-process bus (:mod:`ioc.bus.memory`): keyed records
(the key is the source id, so a source keeps its partition and its order),
consumer groups that split the partitions, and at-least-once delivery with
offsets committed only for what :meth:`KafkaSubscription.poll` returned.

- Publishing is asynchronous; :meth:`KafkaPublisher.flush` waits for every
  acknowledgement (``acks='all'``, idempotent producer) and raises
  :class:`KafkaPublishError` if any record failed, so no failure is lost.
- Topics are created on first use with ``settings.partitions`` partitions
  (an existing topic is left as it is); ``settings.namespace``, when set,
  prefixes every topic name and consumer group id on the broker (so two
  namespaces on one cluster never share a group or its rebalances) and is
  stripped again from the :class:`~ioc.bus.base.Message` topics a
  subscription returns.
- A commit never moves the offset of a partition this member no longer
  owns: a rebalance drops the tracking of the partitions that moved (those
  the member keeps keep their position in kafka-python 3, and their
  tracking), and a commit the group coordinator refuses is logged, never
  raised; the messages of moved partitions are redelivered to their owners.
- :meth:`KafkaSubscription.rewind` goes back to the committed offsets, for
  a worker whose processing of a polled batch failed.

Split by job: :mod:`.bus` (client options, topics), :mod:`.publisher`, :mod:`.subscription`,
:mod:`.errors`.
"""

from __future__ import annotations

from ioc.bus.kafka.bus import CONSUMER_DEFAULTS, PRODUCER_DEFAULTS, KafkaBus, security_options
from ioc.bus.kafka.errors import KafkaBusError, KafkaPublishError
from ioc.bus.kafka.publisher import KafkaPublisher
from ioc.bus.kafka.subscription import KafkaSubscription

__all__ = ["CONSUMER_DEFAULTS", "PRODUCER_DEFAULTS", "KafkaBus", "KafkaBusError", "KafkaPublishError",
           "KafkaPublisher", "KafkaSubscription", "security_options"]
