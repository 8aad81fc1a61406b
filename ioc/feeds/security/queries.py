"""What the security officer's page reads: per-minute counts, top sources and accounts, latest events."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from psycopg_pool import ConnectionPool


def _rows(pool: ConnectionPool, sql: str, args: dict[str, Any],
          keys: tuple[str, ...]) -> list[dict[str, Any]]:
    with pool.connection() as conn:
        return [dict(zip(keys, r, strict=True)) for r in conn.execute(sql, args).fetchall()]


def per_minute(pool: ConnectionPool, since: datetime) -> list[dict[str, Any]]:
    """Events per minute and category since ``since`` (from the rollup)."""
    return _rows(pool, "SELECT bucket, category, sum(events), sum(failures) FROM security_events_1m "
                       "WHERE bucket >= %(since)s GROUP BY 1, 2 ORDER BY 1", {"since": since},
                 ("bucket", "category", "events", "failures"))


def top_sources(pool: ConnectionPool, since: datetime, limit: int = 10) -> list[dict[str, Any]]:
    """The addresses with the most failed or hostile events since ``since``."""
    return _rows(pool, "SELECT src_ip, sum(failures), sum(events) FROM security_events_1m "
                       "WHERE bucket >= %(since)s AND src_ip <> '' GROUP BY 1 "
                       "ORDER BY 2 DESC, 3 DESC LIMIT %(limit)s", {"since": since, "limit": limit},
                 ("src_ip", "failures", "events"))


def targeted_accounts(pool: ConnectionPool, since: datetime, limit: int = 10) -> list[dict[str, Any]]:
    """Accounts with the most failed logins since ``since``, and from how many addresses."""
    return _rows(pool, "SELECT username, count(*), count(DISTINCT src_ip) FROM security_events "
                       "WHERE time >= %(since)s AND action = 'login' AND outcome = 'failure' "
                       "AND username IS NOT NULL GROUP BY 1 ORDER BY 2 DESC LIMIT %(limit)s",
                 {"since": since, "limit": limit}, ("username", "failures", "sources"))


_EVENT_KEYS = ("time", "host", "digest", "log", "action", "outcome", "src_ip", "dest_ip", "dest_port", "user",
               "signature", "signature_id", "severity", "category", "url", "raw", "simulated", "vhost")


def latest(pool: ConnectionPool, limit: int = 100, *, src_ip: str | None = None, host: str | None = None,
           signature_id: int | None = None, since: datetime | None = None,
           until: datetime | None = None) -> list[dict[str, Any]]:
    """The newest events, newest first; only those of a source address, a logging host, a signature
    and a time span when given (what an alert's events are)."""
    where = [f"{column} = %({column})s" for column, value in
             (("src_ip", src_ip), ("host", host), ("signature_id", signature_id)) if value is not None]
    where += [clause for clause, value in (("time >= %(since)s", since), ("time <= %(until)s", until))
              if value is not None]
    sql = ("SELECT time, host, digest, log, action, outcome, src_ip, dest_ip, dest_port, username, "
           "signature, signature_id, severity, category, url, raw, simulated, vhost FROM security_events "
           f"{'WHERE ' + ' AND '.join(where) if where else ''} ORDER BY time DESC LIMIT %(limit)s")
    return _rows(pool, sql, {"limit": limit, "src_ip": src_ip, "host": host, "signature_id": signature_id,
                             "since": since, "until": until}, _EVENT_KEYS)


def summary(pool: ConnectionPool, now: datetime) -> dict[str, Any]:
    """Events and failures in the last hour, open security alerts, whether any data is simulated."""
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT coalesce(sum(events), 0), coalesce(sum(failures), 0) FROM security_events_1m "
            "WHERE bucket >= %s", (now - timedelta(hours=1),)).fetchone()
        alerts = conn.execute("SELECT count(*) FROM alerts WHERE detector = 'security' "
                              "AND state <> 'resolved'").fetchone()
        simulated = conn.execute("SELECT EXISTS (SELECT 1 FROM security_events WHERE simulated "
                                 "AND time >= %s)", (now - timedelta(days=1),)).fetchone()
    return {"events": int(row[0]) if row else 0, "failures": int(row[1]) if row else 0,
            "open_alerts": int(alerts[0]) if alerts else 0, "simulated": bool(simulated and simulated[0])}
