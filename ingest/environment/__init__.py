"""ingest/environment."""
