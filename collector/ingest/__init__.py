"""Ingest logic that does not depend on the wire or the database."""
