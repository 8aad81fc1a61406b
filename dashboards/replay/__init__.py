"""``/replay/``: analysts replay a recorded period, watch the city as of a time cursor, back-test rules."""

from dashboards.replay.page import create_replay_page

__all__ = ["create_replay_page"]
