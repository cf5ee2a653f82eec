"""Caseguard agent: runs on each staff laptop."""
