"""Ingest of citizens' field reports: the Open311 GeoReport v2 intake (a WSGI app)."""
