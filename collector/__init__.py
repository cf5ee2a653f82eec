"""Caseguard collector: receives events and runs the breach workflow."""
