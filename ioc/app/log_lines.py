"""One log record, one line: text a request or a record carries into a message (a path with ``%0A``,
a name with a NUL) is escaped, so it can never forge a line of its own in the log a reader trusts.

Only the message is escaped; a traceback appended to it keeps its lines.
"""

from __future__ import annotations

import logging
import re

# every C0 control character but the tab, and DEL: CR and LF would start a forged line
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f]")


def _escaped(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape").decode("ascii")  # LF -> \n, NUL -> \x00


def one_line(text: str) -> str:
    """``text`` with every control character but the tab written as its escape."""
    return _CONTROL.sub(_escaped, text)


class OneLineFormatter(logging.Formatter):
    """A :class:`logging.Formatter` whose messages never span lines (see the module's docstring)."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        message = record.message
        record.message = one_line(message)
        try:
            return super().formatMessage(record)
        finally:
            record.message = message


def configure(level: int) -> None:
    """Log to standard error at ``level``, a record a line, as every ``ioc`` command does."""
    handler = logging.StreamHandler()
    handler.setFormatter(OneLineFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])
