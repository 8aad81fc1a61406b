"""The bus: publish with a key, subscribe as a consumer group, commit after processing.

Two implementations share :class:`ioc.bus.base.Bus`: the in-process bus of
the embedded mode (:mod:`ioc.bus.memory`) and Kafka (distributed mode).
"""

from ioc.bus.base import Bus, Message, Publisher, Subscription

__all__ = ["Bus", "Message", "Publisher", "Subscription"]
