"""Getting events from the outbox to the collector: codec, credentials, retry rules, sender."""
