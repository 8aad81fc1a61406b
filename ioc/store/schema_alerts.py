"""Schema of the alert lifecycle: people and sessions, silences, incidents, escalation, notifications.

Migration 3. Adds to ``alerts`` what a duty officer's actions need (who
acknowledged it and when, the assignee, the silence holding it, how often
it reopened, the incident it belongs to, the processing times the shift
figures use) and the tables beside it. The same SQL at both capability
levels: none of these tables is a time series.
"""

from __future__ import annotations

import psycopg

from ioc.store.capabilities import Capabilities

ALERT_STATES = ("open", "acknowledged", "assigned", "resolved", "silenced", "reopened")
ROLES = ("viewer", "operator", "duty_officer", "analyst", "admin")


def apply_alert_lifecycle(conn: psycopg.Connection, caps: Capabilities) -> None:
    """Create the lifecycle's tables and columns (runs once, in the migration's transaction)."""
    states = ", ".join(f"'{s}'" for s in ALERT_STATES)
    roles = ", ".join(f"'{r}'" for r in ROLES)
    conn.execute(
        f"""
        CREATE TABLE incidents (
            id          bigserial PRIMARY KEY,
            group_key   text NOT NULL,
            detector    text NOT NULL,
            area        text,
            first_at    timestamptz NOT NULL,
            last_at     timestamptz NOT NULL,
            alerts      integer NOT NULL DEFAULT 0
        );
        CREATE INDEX incidents_group ON incidents (group_key, last_at DESC);

        CREATE TABLE users (
            name                text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9._-]{{1,64}}$'),
            display_name        text NOT NULL DEFAULT '',
            role                text NOT NULL CHECK (role IN ({roles})),
            password_hash       text NOT NULL,
            active              boolean NOT NULL DEFAULT true,
            failed_logins       integer NOT NULL DEFAULT 0,
            locked_until        timestamptz,
            created_at          timestamptz NOT NULL DEFAULT now(),
            password_changed_at timestamptz NOT NULL DEFAULT now(),
            last_login_at       timestamptz
        );

        CREATE TABLE user_sessions (
            token_hash   bytea PRIMARY KEY,
            username     text NOT NULL REFERENCES users (name) ON DELETE CASCADE,
            csrf_token   text NOT NULL,
            created_at   timestamptz NOT NULL,
            last_seen_at timestamptz NOT NULL,
            expires_at   timestamptz NOT NULL,
            revoked_at   timestamptz,
            remote_addr  text,
            user_agent   text
        );
        CREATE INDEX user_sessions_user ON user_sessions (username, expires_at DESC);

        CREATE TABLE silences (
            id          bigserial PRIMARY KEY,
            detector    text,
            source_id   text,
            area        text,
            severity    text,
            fingerprint text,
            starts_at   timestamptz NOT NULL,
            ends_at     timestamptz NOT NULL,
            created_by  text NOT NULL,
            reason      text NOT NULL CHECK (length(btrim(reason)) > 0),
            created_at  timestamptz NOT NULL DEFAULT now(),
            expired_at  timestamptz,
            expired_by  text,
            matched     integer NOT NULL DEFAULT 0,
            CHECK (ends_at > starts_at),
            CHECK (num_nonnulls(detector, source_id, area, severity, fingerprint) > 0)
        );
        CREATE INDEX silences_active ON silences (ends_at) WHERE expired_at IS NULL;

        ALTER TABLE alerts
            ADD COLUMN incident_id     bigint REFERENCES incidents (id),
            ADD COLUMN assignee        text,
            ADD COLUMN acknowledged_at timestamptz,
            ADD COLUMN acknowledged_by text,
            ADD COLUMN resolved_by     text,
            ADD COLUMN opened_at       timestamptz NOT NULL DEFAULT now(),
            ADD COLUMN closed_at       timestamptz,
            ADD COLUMN silence_id      bigint REFERENCES silences (id),
            ADD COLUMN silenced_until  timestamptz,
            ADD COLUMN reopened_count  integer NOT NULL DEFAULT 0,
            ADD CONSTRAINT alerts_state_known CHECK (state IN ({states}));
        COMMENT ON COLUMN alerts.opened_at IS
            'processing time the alert (re)appeared unacknowledged: escalation counts from here';
        COMMENT ON COLUMN alerts.closed_at IS 'processing time it was resolved (resolved_at is event time)';
        CREATE INDEX alerts_state ON alerts (state, severity) WHERE state <> 'resolved';
        CREATE INDEX alerts_incident ON alerts (incident_id);
        CREATE INDEX alerts_fingerprint_resolved ON alerts (fingerprint, resolved_at DESC)
            WHERE state = 'resolved';

        ALTER TABLE alert_audit ADD COLUMN details jsonb NOT NULL DEFAULT '{{}}'::jsonb;

        CREATE TABLE alert_escalations (
            alert_id    bigint NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
            episode     integer NOT NULL,
            kind        text NOT NULL CHECK (kind IN ('step', 'remind', 'remind_ack')),
            seq         integer NOT NULL,
            due_at      timestamptz NOT NULL,
            fired_at    timestamptz NOT NULL,
            target      text NOT NULL,
            PRIMARY KEY (alert_id, episode, kind, seq)
        );

        CREATE TABLE notifications (
            id              bigserial PRIMARY KEY,
            alert_id        bigint REFERENCES alerts (id) ON DELETE CASCADE,
            channel         text NOT NULL,
            recipient       text NOT NULL DEFAULT '',
            reason          text NOT NULL,
            subject         text NOT NULL,
            payload         jsonb NOT NULL,
            state           text NOT NULL DEFAULT 'pending'
                            CHECK (state IN ('pending', 'sent', 'failed')),
            attempts        integer NOT NULL DEFAULT 0,
            next_attempt_at timestamptz NOT NULL,
            last_error      text,
            created_at      timestamptz NOT NULL,
            sent_at         timestamptz
        );
        CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE state = 'pending';
        CREATE INDEX notifications_recent ON notifications (channel, id DESC);
        CREATE INDEX notifications_failed ON notifications (id) WHERE state = 'failed';

        CREATE TABLE notification_attempts (
            id              bigserial PRIMARY KEY,
            notification_id bigint NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
            at              timestamptz NOT NULL,
            ok              boolean NOT NULL,
            error           text,
            duration_ms     integer NOT NULL DEFAULT 0
        );
        CREATE INDEX notification_attempts_of ON notification_attempts (notification_id, at);
        """
    )
