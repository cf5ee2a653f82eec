"""Central policy: one signed, versioned document that every agent applies (tightened locally)."""
