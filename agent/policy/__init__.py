"""Central policy on the agent: verified, merged with local settings (tighten only), applied live."""
