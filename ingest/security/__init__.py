"""Security feed ingest: syslog (RFC 3164/5424, RFC 6587 framing), log files and Suricata EVE."""
