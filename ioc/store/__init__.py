"""The store: schema and migrations, batched writer, queries, embedded PostgreSQL."""
