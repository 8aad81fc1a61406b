"""What it means that the store is not answering, for every part that waits it out or says so."""

from __future__ import annotations

import psycopg

#: the store down, restarting or shutting down, or its pool exhausted (``AdminShutdown`` and
#: ``psycopg_pool.PoolTimeout`` are kinds of ``OperationalError``). A value the store refused (a NUL
#: in a text, a date that is none) is not one: that is the fault of what was sent.
STORE_UNAVAILABLE: tuple[type[Exception], ...] = (psycopg.OperationalError,)
