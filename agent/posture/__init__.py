"""Device facts the collector needs to judge a loss: disk encryption, and the change detector
that reports posture at start-up and whenever it changes (also used for lock posture)."""
